# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pure logic for /etc/docker/daemon.json: parse, validate, plan, render, redact, and find the
daemon.json keys that dockerd is also given as command-line flags (systemd unit, drop-ins,
environment files). Nothing here touches the host: callers pass file contents in."""

from __future__ import annotations

import copy
import difflib
import ipaddress
import json
import os.path
import re
import shlex
import typing as t
from dataclasses import dataclass, field

from ansible_collections.bulwark.hardening.plugins.module_utils._secrets import MASK, mask_url_passwords, url_passwords
from ansible_collections.bulwark.hardening.plugins.module_utils._daemon_json_schema import (
    BOOL,
    DICT,
    DICT_BOOL,
    DICT_DICT,
    DICT_STR,
    HOST_SCHEMES,
    INT,
    LIST_DICT,
    LIST_STR,
    NESTED_FLAGS,
    NON_NEGATIVE_INT_KEYS,
    OTHER_BOOL_FLAGS,
    SCHEMA,
    STR,
    KeySpec,
)

__all__ = [
    "REDACTED",
    "SCHEMA",
    "Conflict",
    "DaemonJsonError",
    "FlagUse",
    "Plan",
    "conflicts_message",
    "dockerd_flag_uses",
    "dockerd_supports_validate",
    "environment_files",
    "find_conflicts",
    "merge_managed",
    "normalize_allow_unknown",
    "parse_daemon_json",
    "plan",
    "redact",
    "render_daemon_json",
    "secret_values",
    "validate_settings",
]

REDACTED = MASK

AllowUnknown = t.Union[bool, frozenset[str]]


class DaemonJsonError(ValueError):
    """Bad user input or bad file content; the message is shown to the user as is."""


# --------------------------------------------------------------------------- parse / render


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NonJsonConstantError(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _object_without_duplicates(pairs: list[tuple[str, t.Any]]) -> dict[str, t.Any]:
    result: dict[str, t.Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _reject_constant(name: str) -> t.NoReturn:
    raise _NonJsonConstantError(name)


def _decode(data: bytes) -> str:
    # Like dockerd: UTF-16 and UTF-8 with a byte order mark are accepted, UTF-8 is the default.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    return data.decode("utf-8-sig")


def _json_kind(value: t.Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def parse_daemon_json(data: bytes | str, path: str) -> dict[str, t.Any]:
    """Parse the content of a daemon.json file.

    An empty (or whitespace-only) file is ``{}``, as dockerd reads it. Raises DaemonJsonError
    for content dockerd would not read: invalid JSON, a top level that is not an object,
    duplicate keys, NaN/Infinity, or bytes that are not UTF-8/UTF-16.
    """
    if isinstance(data, bytes):
        try:
            text = _decode(data)
        except UnicodeDecodeError as exc:
            raise DaemonJsonError(
                f"daemon.json at {path} is not valid UTF-8 (byte {exc.start}); nothing was changed."
            ) from exc
    else:
        text = data
    if not text.strip():
        return {}
    try:
        value = json.loads(text, object_pairs_hook=_object_without_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise DaemonJsonError(
            f"daemon.json at {path} is not valid JSON (line {exc.lineno}, column {exc.colno}); nothing was changed."
        ) from exc
    except _DuplicateKeyError as exc:
        raise DaemonJsonError(
            f"daemon.json at {path} has the key '{exc.key}' more than once; remove the duplicate"
            " by hand. Nothing was changed."
        ) from exc
    except _NonJsonConstantError as exc:
        raise DaemonJsonError(
            f"daemon.json at {path} is not valid JSON ({exc.name} is not a JSON value); nothing was changed."
        ) from exc
    except RecursionError as exc:
        raise DaemonJsonError(f"daemon.json at {path} is nested too deeply to be read; nothing was changed.") from exc
    if not isinstance(value, dict):
        raise DaemonJsonError(
            f"daemon.json at {path} is not valid: the top level is {_json_kind(value)},"
            " not an object; nothing was changed."
        )
    return value


def render_daemon_json(config: t.Mapping[str, t.Any]) -> str:
    """The canonical file content: indent 2, one key per line, sorted keys, trailing newline."""
    return json.dumps(config, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def _canonical(value: t.Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------- secrets

_SECRET_KEY_RE = re.compile(r"(?i)(passw(or)?d|passphrase|secret|token|credential|api[-_]?key)")


def _is_secret_key(key: str) -> bool:
    return bool(_SECRET_KEY_RE.search(key))


def redact(value: t.Any, key: str = "") -> t.Any:
    """A copy of ``value`` safe to show: values of secret-looking keys replaced by REDACTED,
    passwords inside URLs (``http://user:password@proxy``) masked.

    No daemon.json key is a secret as such; proxy URLs with credentials are the real case.
    """
    if key and _is_secret_key(key):
        return REDACTED
    if isinstance(value, t.Mapping):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return mask_url_passwords(value)
    return value


def secret_values(value: t.Any, key: str = "") -> set[str]:
    """The secret strings inside ``value`` (for AnsibleModule.no_log_values)."""
    found: set[str] = set()
    if isinstance(value, t.Mapping):
        for k, v in value.items():
            found |= secret_values(v, k)
    elif isinstance(value, (list, tuple)):
        for v in value:
            found |= secret_values(v, key)
    elif isinstance(value, str):
        if key and _is_secret_key(key) and value:
            found.add(value)
        found.update(url_passwords(value))
    return found


# --------------------------------------------------------------------------- validation


def _type_name(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, t.Mapping):
        return "dict"
    return type(value).__name__


def _shown(value: t.Any, secret: bool) -> str:
    if secret or value is None:
        return ""
    text = repr(value) if isinstance(value, str) else _canonical(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f" ({text})"


def _type_error(where: str, expected: str, value: t.Any, secret: bool = False) -> DaemonJsonError:
    got = _type_name(value)
    hint = ""
    if not secret and expected == "str" and got in ("int", "float", "bool"):
        hint = f"; write it as a string, e.g. '{_canonical(value)}'"
    elif not secret and isinstance(value, str) and _unquoted_json(value, expected):
        hint = "; write it without quotes"
    return DaemonJsonError(f"{where}: expected {expected}, got {got}{_shown(value, secret)}{hint}.")


def _unquoted_json(text: str, expected: str) -> bool:
    """Whether ``text`` without its quotes would be the JSON value ``expected`` asks for."""
    if expected == "bool":
        return text.strip().lower() in ("true", "false")
    return expected == "int" and text.strip().lstrip("-").isdigit()


def _is_int(value: t.Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_scalar(where: str, expected: str, value: t.Any, secret: bool = False) -> None:
    ok = {
        "bool": isinstance(value, bool),
        "int": _is_int(value),
        "str": isinstance(value, str),
        "dict": isinstance(value, t.Mapping),
    }[expected]
    if not ok:
        raise _type_error(where, expected, value, secret)


def _check_type(where: str, type_: str, value: t.Any, secret: bool) -> None:
    if type_ in (BOOL, INT, STR, DICT):
        _check_scalar(where, type_, value, secret)
        return
    if type_ in (LIST_STR, LIST_DICT):
        if not isinstance(value, (list, tuple)):
            raise _type_error(where, type_, value, secret)
        element = "str" if type_ == LIST_STR else "dict"
        for index, item in enumerate(value):
            _check_scalar(f"{where}[{index}]", element, item, secret)
        return
    # dict[str,X]
    if not isinstance(value, t.Mapping):
        raise _type_error(where, type_, value, secret)
    element = {DICT_STR: "str", DICT_BOOL: "bool", DICT_DICT: "dict"}[type_]
    for member, item in value.items():
        _check_scalar(f"{where}.{member}", element, item, secret or _is_secret_key(str(member)))


def _suggest(name: str, candidates: t.Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(name, sorted(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _flag_to_key() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for key, spec in SCHEMA.items():
        for flag in spec.flag_names(key):
            if len(flag) > 1:
                mapping.setdefault(flag, key)
    return mapping


_FLAG_TO_KEY = _flag_to_key()


def _check_userns_remap(where: str, value: str) -> None:
    user = value.split(":", 1)[0].strip()
    if user in ("root", "0"):
        raise DaemonJsonError(
            f"{where}: '{value}' is not allowed; use 'default' or 'USER[:GROUP]' of an unprivileged user."
        )


def _check_hosts(where: str, value: list[str]) -> None:
    for index, host in enumerate(value):
        scheme, sep, _rest = host.strip().partition("://")
        if not host.strip():
            raise DaemonJsonError(f"{where}[{index}]: an empty address is not allowed.")
        if sep and scheme not in HOST_SCHEMES:
            allowed = ", ".join(f"{s}://" for s in HOST_SCHEMES)
            raise DaemonJsonError(
                f"{where}[{index}]: '{host}' uses the scheme '{scheme}'; dockerd listens on"
                f" {allowed} addresses only."
            )


def _check_pairs(what: str, example: str) -> t.Callable[[str, list[str]], None]:
    def check(where: str, value: list[str]) -> None:
        for index, item in enumerate(value):
            name, sep, rest = item.partition("=")
            if not sep or not name.strip() or (what == "exec-opt" and not rest.strip()):
                raise DaemonJsonError(f"{where}[{index}]: '{item}' is not a valid {what}; use '{example}'.")

    return check


def _check_dns(where: str, value: list[str]) -> None:
    for index, item in enumerate(value):
        try:
            ipaddress.ip_address(item)
        except ValueError:
            raise DaemonJsonError(f"{where}[{index}]: '{item}' is not an IP address.") from None


def _check_address_pools(where: str, value: list[t.Mapping[str, t.Any]]) -> None:
    for index, pool in enumerate(value):
        here = f"{where}[{index}]"
        unknown = sorted(set(pool) - {"base", "size"})
        if unknown or "base" not in pool or "size" not in pool:
            raise DaemonJsonError(f"{here}: expected an object with 'base' (a CIDR) and 'size' (a prefix length).")
        _check_scalar(f"{here}.base", "str", pool["base"])
        _check_scalar(f"{here}.size", "int", pool["size"])
        try:
            network = ipaddress.ip_network(pool["base"], strict=False)
        except ValueError:
            raise DaemonJsonError(f"{here}.base: '{pool['base']}' is not a CIDR such as '172.30.0.0/16'.") from None
        if not network.prefixlen <= pool["size"] <= network.max_prefixlen:
            raise DaemonJsonError(
                f"{here}.size: {pool['size']} must be between the prefix length of base"
                f" ({network.prefixlen}) and {network.max_prefixlen}."
            )


def _check_ulimits(where: str, value: t.Mapping[str, t.Mapping[str, t.Any]]) -> None:
    for name, limit in value.items():
        here = f"{where}.{name}"
        members = {str(k).lower(): v for k, v in limit.items()}
        unknown = sorted(set(members) - {"name", "hard", "soft"})
        if unknown or "hard" not in members or "soft" not in members:
            example = json.dumps({"Name": name, "Hard": 64000, "Soft": 64000})
            raise DaemonJsonError(f"{here}: expected an object with 'Name', 'Hard' and 'Soft', e.g. {example}.")
        for member in ("hard", "soft"):
            _check_scalar(f"{here}.{member.capitalize()}", "int", members[member])
        if "name" in members and members["name"] != name:
            raise DaemonJsonError(f"{here}.Name: '{members['name']}' must be the same as the key '{name}'.")
        if members["soft"] > members["hard"] >= 0:
            raise DaemonJsonError(
                f"{here}: Soft ({members['soft']}) must not be greater than Hard ({members['hard']})."
            )


_SEMANTIC_CHECKS: dict[str, t.Callable[[str, t.Any], None]] = {
    "userns-remap": _check_userns_remap,
    "hosts": _check_hosts,
    "labels": _check_pairs("label", "key=value"),
    "exec-opts": _check_pairs("exec-opt", "opt=value"),
    "dns": _check_dns,
    "default-address-pools": _check_address_pools,
    "default-ulimits": _check_ulimits,
}


def _check_known(where: str, key: str, spec: KeySpec, value: t.Any) -> None:
    _check_type(where, spec.type, value, secret=_is_secret_key(key))
    if spec.choices and value not in spec.choices:
        raise DaemonJsonError(f"{where}: '{value}' is not allowed; use one of: {', '.join(spec.choices)}.")
    if key in NON_NEGATIVE_INT_KEYS and value < 0:
        raise DaemonJsonError(f"{where}: {value} is negative; use 0 or more.")
    if spec.subkeys:
        for member in value:
            if member not in spec.subkeys:
                close = _suggest(member, spec.subkeys)
                tip = f"did you mean '{close}'? " if close else ""
                raise DaemonJsonError(f"{where}: unknown member '{member}'; {tip}allowed: {', '.join(spec.subkeys)}.")
    check = _SEMANTIC_CHECKS.get(key)
    if check is not None:
        check(where, value)


def normalize_allow_unknown(value: t.Any) -> AllowUnknown:
    """The allow_unknown_keys option: a bool, or a list of key names."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return frozenset(value)
    raise DaemonJsonError(
        f"allow_unknown_keys: expected a bool or a list of key names, got {_type_name(value)}"
        f"{_shown(value, False)}."
    )


def _allowed(key: str, allow_unknown: AllowUnknown) -> bool:
    if isinstance(allow_unknown, bool):
        return allow_unknown
    return key in allow_unknown


def validate_settings(
    settings: t.Mapping[str, t.Any], allow_unknown: AllowUnknown = False, option: str = "settings"
) -> list[str]:
    """Check key names, value types and cheap semantics of the keys to set.

    Returns warnings (deprecated or removed keys). Raises DaemonJsonError naming every bad key.
    """
    errors: list[str] = []
    warnings: list[str] = []
    for key in sorted(settings):
        value = settings[key]
        where = f"{option}.{key}"
        try:
            if value is None:
                raise DaemonJsonError(f"{where}: the value is null; to delete the key, list it in remove.")
            spec = SCHEMA.get(key)
            if spec is None:
                if not _allowed(key, allow_unknown):
                    close = _FLAG_TO_KEY.get(key) or _suggest(key, SCHEMA)
                    tip = f"; did you mean '{close}'?" if close else "."
                    raise DaemonJsonError(
                        f"{option}: unknown daemon.json key '{key}'{tip} If your dockerd knows"
                        " this key, list it in allow_unknown_keys."
                    )
                continue
            _check_known(where, key, spec, value)
            if spec.note:
                warnings.append(f"{where}: {spec.note}.")
        except DaemonJsonError as exc:
            errors.append(str(exc))
    if errors:
        raise DaemonJsonError(" ".join(errors))
    return warnings


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """What applying ``settings`` and ``remove`` to ``before`` gives.

    ``before``/``after`` are whole files; ``item_status`` has every managed key
    (``"ok"`` or ``"changed"``).
    """

    changed: bool
    before: dict[str, t.Any]
    after: dict[str, t.Any]
    changed_keys: tuple[str, ...]
    item_status: dict[str, str]
    managed_keys: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def diff(self) -> dict[str, dict[str, t.Any]]:
        """Before/after of the managed keys only, with secrets redacted."""
        return {
            "before": redact({k: self.before[k] for k in self.managed_keys if k in self.before}),
            "after": redact({k: self.after[k] for k in self.managed_keys if k in self.after}),
        }


def plan(
    current: t.Mapping[str, t.Any],
    settings: t.Mapping[str, t.Any] | None = None,
    remove: t.Iterable[str] = (),
    *,
    allow_unknown: AllowUnknown = False,
) -> Plan:
    """Set ``settings``, delete ``remove``, keep every other key of ``current`` untouched.

    A key's value is compared as a whole (a dict such as ``log-opts`` is replaced, not merged);
    dict members compare regardless of order, lists in order, and ``true`` differs from ``1``.
    """
    settings = dict(settings or {})
    remove_keys = sorted(set(remove))
    warnings = validate_settings(settings, allow_unknown)
    both = [key for key in remove_keys if key in settings]
    if both:
        verb = "is" if len(both) == 1 else "are"
        raise DaemonJsonError(
            f"remove: {', '.join(repr(k) for k in both)} {verb} also in settings; a key is either set or removed."
        )
    after = copy.deepcopy(dict(current))
    item_status: dict[str, str] = {}
    for key in sorted(settings):
        wanted = settings[key]
        if key in after and _canonical(after[key]) == _canonical(wanted):
            item_status[key] = "ok"
        else:
            after[key] = copy.deepcopy(wanted)
            item_status[key] = "changed"
    for key in remove_keys:
        if key in after:
            del after[key]
            item_status[key] = "changed"
        else:
            item_status[key] = "ok"
    changed_keys = tuple(sorted(k for k, status in item_status.items() if status == "changed"))
    return Plan(
        changed=bool(changed_keys),
        before=copy.deepcopy(dict(current)),
        after=after,
        changed_keys=changed_keys,
        item_status=dict(sorted(item_status.items())),
        managed_keys=tuple(sorted(item_status)),
        warnings=tuple(warnings),
    )


def merge_managed(
    current: t.Mapping[str, t.Any], settings: t.Mapping[str, t.Any], remove: t.Iterable[str] = ()
) -> dict[str, t.Any]:
    """The resulting file content; keys we do not manage are kept."""
    return plan(current, settings, remove, allow_unknown=True).after


# --------------------------------------------------------------------------- dockerd flags

# systemd unit directories, highest priority first (a unit file in an earlier one masks the same
# name in a later one; drop-ins with the same file name likewise).
UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/lib/systemd/system",
    "/usr/lib/systemd/system",
)


@dataclass(frozen=True)
class Origin:
    """Where a word of the dockerd command line comes from."""

    source: str
    line: int
    via: str  # "ExecStart", or the name of the environment variable (e.g. DOCKER_OPTS)


@dataclass(frozen=True)
class _Word:
    text: str
    origin: Origin
    raw_index: int | None  # index among the ExecStart words as written (None: from a variable)


@dataclass(frozen=True)
class _Command:
    source: str
    line: int
    prefix: str
    raw_words: tuple[str, ...]
    words: tuple[_Word, ...]


@dataclass(frozen=True)
class FlagUse:
    """One dockerd flag on the effective command line."""

    name: str  # long or short name without dashes, as written
    text: str  # as written, e.g. "-H fd://" or "--icc=false"
    value: str | None
    origin: Origin
    raw_indices: tuple[int, ...]
    command: _Command | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Conflict:
    """A daemon.json key that dockerd also gets as a flag: dockerd refuses to start."""

    key: str  # "hosts", or "proxies.http-proxy"
    flag: str
    source: str
    line: int
    via: str
    fix: str

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "key": self.key,
            "flag": self.flag,
            "source": self.source,
            "line": self.line,
            "via": self.via,
            "fix": self.fix,
        }


def _logical_lines(text: str) -> t.Iterator[tuple[int, str]]:
    """(first line number, text) of each logical line: continuations joined, comments dropped."""
    pending: str | None = None
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if pending is None:
            if not line or line[0] in "#;":
                continue
            start, pending = number, ""
        elif line[:1] in ("#", ";"):
            continue  # systemd ignores comment lines inside a continuation
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield start, (pending + line).strip()
        pending = None
    if pending:
        yield start, pending.strip()


def _service_directives(text: str) -> list[tuple[str, str, int]]:
    """(key, value, line) of the assignments in the [Service] section of a unit file."""
    result = []
    section = ""
    for number, line in _logical_lines(text):
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip()
            continue
        key, sep, value = line.partition("=")
        if sep and section == "Service":
            result.append((key.strip(), value.strip(), number))
    return result


def _split(value: str) -> list[str]:
    try:
        return shlex.split(value, posix=True)
    except ValueError:  # unbalanced quotes: systemd would refuse it too; split on blanks
        return value.split()


def _dir_rank(directory: str) -> int:
    directory = directory.rstrip("/")
    return UNIT_DIRS.index(directory) if directory in UNIT_DIRS else len(UNIT_DIRS)


def _is_unit(path: str) -> bool:
    return path.endswith(".service") and not os.path.dirname(path).endswith(".d")


def _is_dropin(path: str) -> bool:
    return path.endswith(".conf") and os.path.dirname(path).endswith(".service.d")


def _unit_files(sources: t.Mapping[str, str]) -> list[str]:
    """The files systemd reads for the unit, in order: the unit file, then its drop-ins."""
    units = sorted((p for p in sources if _is_unit(p)), key=lambda p: (_dir_rank(os.path.dirname(p)), p))
    dropins: dict[str, str] = {}
    for path in sorted(
        (p for p in sources if _is_dropin(p)), key=lambda p: (_dir_rank(os.path.dirname(os.path.dirname(p))), p)
    ):
        dropins.setdefault(os.path.basename(path), path)
    return units[:1] + [dropins[name] for name in sorted(dropins)]


@dataclass
class _UnitState:
    exec_start: list[tuple[str, int, str]] = field(default_factory=list)  # (source, line, value)
    environment: list[tuple[str, int, str]] = field(default_factory=list)
    environment_files: list[str] = field(default_factory=list)


def _unit_state(sources: t.Mapping[str, str]) -> _UnitState | None:
    files = _unit_files(sources)
    if not files:
        return None
    state = _UnitState()
    for path in files:
        for key, value, number in _service_directives(sources[path]):
            if key == "ExecStart":
                if value:
                    state.exec_start.append((path, number, value))
                else:
                    state.exec_start = []  # "ExecStart=" resets the list
            elif key == "Environment":
                if value:
                    state.environment.append((path, number, value))
                else:
                    state.environment = []
            elif key == "EnvironmentFile":
                if value:
                    state.environment_files.extend(_split(value))
                else:
                    state.environment_files = []
    return state


def environment_files(sources: t.Mapping[str, str]) -> list[str]:
    """The EnvironmentFile= paths of the effective unit (without the optional ``-`` prefix)."""
    state = _unit_state(sources)
    if state is None:
        return []
    return [path.lstrip("-") for path in state.environment_files]


_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _env_file_assignments(text: str) -> t.Iterator[tuple[str, str, int]]:
    for number, line in _logical_lines(text):
        assignment = line[len("export ") :].lstrip() if line.startswith("export ") else line
        name, sep, value = assignment.partition("=")
        name = name.strip()
        if sep and _ENV_NAME_RE.fullmatch(name):
            yield name, " ".join(_split(value)), number


def _environment(state: _UnitState, sources: t.Mapping[str, str]) -> dict[str, tuple[str, Origin]]:
    env: dict[str, tuple[str, Origin]] = {}
    for source, number, value in state.environment:
        for assignment in _split(value):
            name, sep, val = assignment.partition("=")
            if sep and _ENV_NAME_RE.fullmatch(name):
                env[name] = (val, Origin(source, number, name))
    # Variables from EnvironmentFile= override Environment=, files in the order given.
    for path in state.environment_files:
        text = sources.get(path.lstrip("-"))
        if text is None:
            continue
        for name, val, number in _env_file_assignments(text):
            env[name] = (val, Origin(path.lstrip("-"), number, name))
    return env


_WHOLE_VAR_RE = re.compile(r"\$(?:([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\})")
_BRACED_VAR_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _command(source: str, line: int, value: str, env: t.Mapping[str, tuple[str, Origin]]) -> _Command:
    stripped = value.lstrip("@-:+!")
    prefix = value[: len(value) - len(stripped)]
    raw_words = _split(stripped)
    words: list[_Word] = []
    here = Origin(source, line, "ExecStart")
    for index, raw in enumerate(raw_words):
        if "@" in prefix and index == 1:
            continue  # argv[0] given separately
        whole = _WHOLE_VAR_RE.fullmatch(raw)
        if whole and whole.group(1):
            # "$VAR" alone is replaced by the value split at whitespace (nothing when unset).
            val, origin = env.get(whole.group(1), ("", here))
            words.extend(_Word(part, origin, None) for part in val.split())
            continue
        text = _BRACED_VAR_RE.sub(lambda m: env.get(m.group(1), ("", here))[0], raw)
        words.append(_Word(text, here, index))
    return _Command(source, line, prefix, tuple(raw_words), tuple(words))


def _commands(sources: t.Mapping[str, str]) -> list[_Command]:
    state = _unit_state(sources)
    if state is not None:
        env = _environment(state, sources)
        return [_command(source, line, value, env) for source, line, value in state.exec_start]
    # No unit (sysvinit, upstart): DOCKER_OPTS of the environment files is what dockerd gets.
    commands = []
    for path in sorted(sources):
        for name, value, number in _env_file_assignments(sources[path]):
            if name == "DOCKER_OPTS":
                origin = Origin(path, number, name)
                words = tuple(_Word(part, origin, None) for part in value.split())
                commands.append(_Command(path, number, "", (), words))
    return commands


def _bool_flags() -> frozenset[str]:
    names = set(OTHER_BOOL_FLAGS)
    for key, spec in SCHEMA.items():
        if spec.type == BOOL:
            names.update(spec.flag_names(key))
    return frozenset(names)


_BOOL_FLAGS = _bool_flags()


def _flag_uses(command: _Command) -> list[FlagUse]:
    uses = []
    words = command.words
    index = 1 if words and not words[0].text.startswith("-") else 0  # skip the program
    while index < len(words):
        word = words[index]
        text = word.text
        index += 1
        if text == "--":
            break
        if text.startswith("--") and len(text) > 2:
            name, sep, value = text[2:].partition("=")
            candidates = [name]
            taken: list[_Word] = [word]
            flag_value: str | None = value if sep else None
        elif text.startswith("-") and len(text) > 1:
            # Short flags; booleans may be combined ("-Dl debug" is -D plus -l debug).
            letters = text[1:]
            candidates = []
            taken = [word]
            flag_value = None
            for pos, letter in enumerate(letters):
                candidates.append(letter)
                if letter not in _BOOL_FLAGS:
                    rest = letters[pos + 1 :]
                    if rest:
                        flag_value = rest[1:] if rest.startswith("=") else rest
                    break
            name = candidates[-1]
            for letter in candidates[:-1]:
                uses.append(_use(letter, f"-{letter}", None, [word], command))
        else:
            continue  # dockerd takes no positional arguments; ignore
        if flag_value is None and not _takes_no_value(name, words, index) and index < len(words):
            taken.append(words[index])
            flag_value = words[index].text
            index += 1
        shown = " ".join(w.text for w in taken)
        uses.append(_use(name, shown, flag_value, taken, command))
    return uses


def _takes_no_value(name: str, words: t.Sequence[_Word], index: int) -> bool:
    if name in _BOOL_FLAGS:
        return True
    if name in _FLAG_TO_KEY or name in NESTED_FLAGS or _short_flag_key(name):
        return False
    # A flag we do not know: it takes a value unless the next word is another flag.
    return index >= len(words) or words[index].text.startswith("-")


def _short_flag_key(name: str) -> str | None:
    if len(name) != 1:
        return None
    for key, spec in SCHEMA.items():
        if name in spec.flag_names(key):
            return key
    return None


def _use(name: str, text: str, value: str | None, taken: list[_Word], command: _Command) -> FlagUse:
    origin = taken[0].origin
    raw = tuple(w.raw_index for w in taken if w.raw_index is not None)
    return FlagUse(name, text, value, origin, raw, command)


def dockerd_flag_uses(sources: t.Mapping[str, str]) -> list[FlagUse]:
    """The flags dockerd is started with, from the contents of unit files, drop-ins and
    environment files (``{path: text}``).

    Unit files (``*.service``) and drop-ins (``*.service.d/*.conf``) are merged as systemd does:
    the unit file from the highest-priority directory, then drop-ins by file name; an empty
    ``ExecStart=`` clears the earlier ones. ``$VAR`` words are expanded from ``Environment=`` and
    from ``EnvironmentFile=`` files present in ``sources``. Without any unit file, ``DOCKER_OPTS``
    of the other files is used (sysvinit style).
    """
    uses: list[FlagUse] = []
    for command in _commands(sources):
        uses.extend(_flag_uses(command))
    return uses


def _flag_targets(name: str) -> list[tuple[str, str | None]]:
    if name in NESTED_FLAGS:
        key, member = NESTED_FLAGS[name]
        return [(key, member)]
    targets: list[tuple[str, str | None]] = [
        (key, None) for key, spec in SCHEMA.items() if name in spec.flag_names(key)
    ]
    if not targets and len(name) > 1 and name not in OTHER_BOOL_FLAGS:
        targets.append((name, None))  # a key we do not know, spelled like its flag
    return targets


def _join_words(words: t.Iterable[str]) -> str:
    return " ".join(w if re.fullmatch(r"[^\s'\"\\;]+", w) else shlex.quote(w) for w in words)


def _fix(use: FlagUse, key: str, removable: t.Collection[int]) -> str:
    top = key.split(".", 1)[0]
    if use.origin.via != "ExecStart":
        return (
            f"remove '{redact(use.text)}' from {use.origin.via} in {use.origin.source}"
            f" (line {use.origin.line}), or do not set '{top}' in daemon.json."
        )
    command = use.command
    if command is None:  # only flags from DOCKER_OPTS without a unit have no command line
        return f"do not set '{top}' in daemon.json."
    kept = [w for i, w in enumerate(command.raw_words) if i not in removable]
    exec_start = command.prefix + _join_words(kept)
    fix = (
        "override ExecStart in a systemd drop-in, e.g."
        " /etc/systemd/system/docker.service.d/override.conf with the lines '[Service]',"
        f" 'ExecStart=' and 'ExecStart={redact(exec_start)}', then run"
        f" 'systemctl daemon-reload'; or do not set '{top}' in daemon.json."
    )
    if top == "hosts" and (use.value or "").startswith("fd://"):
        fix += " To keep socket activation, list 'fd://' in hosts."
    return fix


def find_conflicts(config: t.Mapping[str, t.Any], uses: t.Sequence[FlagUse]) -> list[Conflict]:
    """The keys of ``config`` that are also given as dockerd flags (dockerd refuses to start
    with these, whatever the values: moby/moby#25471)."""
    found: list[tuple[FlagUse, str]] = []
    for use in uses:
        for key, member in _flag_targets(use.name):
            if key not in config:
                continue
            if member is None:
                found.append((use, key))
            elif isinstance(config[key], t.Mapping) and member in config[key]:
                found.append((use, f"{key}.{member}"))
    # One suggested ExecStart per command line, without every conflicting flag of it.
    removable: dict[int, set[int]] = {}
    for use, _key in found:
        if use.command is not None:
            removable.setdefault(id(use.command), set()).update(use.raw_indices)
    conflicts = []
    seen = set()
    for use, key in found:
        item = (key, use.text, use.origin)
        if item in seen:
            continue
        seen.add(item)
        fix = _fix(use, key, removable.get(id(use.command), set()))
        conflicts.append(Conflict(key, redact(use.text), use.origin.source, use.origin.line, use.origin.via, fix))
    return conflicts


def conflicts_message(conflicts: t.Sequence[Conflict], path: str) -> str:
    """One message for the user: what conflicts where, and how to fix it."""
    parts = [
        f"'{c.key}' in {path} is also given to dockerd as '{c.flag}' ({c.via} in {c.source},"
        f" line {c.line}); fix: {c.fix}"
        for c in conflicts
    ]
    return (
        "dockerd refuses to start when a directive is both a flag and a daemon.json key"
        " (moby/moby#25471): " + " ".join(parts) + " Nothing was changed."
    )


def dockerd_supports_validate(help_text: str) -> bool:
    """Whether ``dockerd --help`` lists ``--validate`` (Docker Engine 23 and later)."""
    return bool(re.search(r"(^|\s)--validate\b", help_text))
