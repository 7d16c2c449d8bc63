# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pure logic for Kubernetes static pod manifests (kubeadm's /etc/kubernetes/manifests/*.yaml):
parse the manifest, edit the flags of one container (set, remove, merge comma-separated lists),
add hostPath volumes for the files the flags name, read flag names out of ``--help`` text, and
render the result. Nothing here touches the host: callers pass file contents and command
output in."""

from __future__ import annotations

import copy
import difflib
import hashlib
import posixpath
import re
import traceback
import typing as t
from dataclasses import dataclass, field

from ansible_collections.bulwark.hardening.plugins.module_utils._secrets import MASK
from ansible_collections.bulwark.hardening.plugins.module_utils._yaml import YamlError, load_yaml

try:
    import yaml
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

__all__ = [
    "DEFAULT_LIST_FLAGS",
    "DEFAULT_MAP_FLAGS",
    "HAS_YAML",
    "HOST_PATH_TYPES",
    "OUTPUT_FLAGS",
    "WRITABLE_FLAGS",
    "YAML_IMPORT_ERROR",
    "Plan",
    "Request",
    "StaticPodError",
    "VolumeSpec",
    "build_request",
    "check_backup_dir",
    "check_flags_known",
    "container_program",
    "input_paths",
    "log_glob",
    "parse_help_flags",
    "process_flags",
    "stale_items",
    "parse_manifest",
    "parse_version",
    "plan",
    "render_manifest",
    "select_container",
    "volume_name",
]

# Flags whose value is a comma-separated set: set merges into them unless replace_lists.
DEFAULT_LIST_FLAGS = (
    "enable-admission-plugins",
    "disable-admission-plugins",
    "authorization-mode",
    "tls-cipher-suites",
)
# Flags whose value is a comma-separated map of key=value: set replaces the value of a key it
# names and keeps the others (feature gates: --feature-gates=A=true,B=false).
DEFAULT_MAP_FLAGS = ("feature-gates", "runtime-config")
# Flags naming a file the component writes: their automatic mount is not read-only.
WRITABLE_FLAGS = frozenset(("audit-log-path", "log-file", "log-dir"))
# Flags naming what the component creates itself (files it writes, its data and certificate
# directories): their paths need not exist before the pod starts.
OUTPUT_FLAGS = WRITABLE_FLAGS | frozenset(("data-dir", "wal-dir", "cert-dir"))
HOST_PATH_TYPES = ("DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice", "")
VOLUME_PREFIX = "bulwark-"

_FLAG_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_DNS_LABEL_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z")
# pflag --help: "  -h, --help   help for ..." and "      --anonymous-auth   Enables ...";
# description lines that wrap are indented far deeper and never start with a dash.
_HELP_FLAG_RE = re.compile(r"^[ \t]{0,12}(?:-[A-Za-z0-9], )?--([A-Za-z0-9][A-Za-z0-9._-]*)(?=[\s=\[]|$)", re.M)


_ABSENT = object()  # a flag the container does not have, unlike a flag without a value (None)


class StaticPodError(ValueError):
    """Bad user input or bad manifest content; the message is shown to the user as is."""


# --------------------------------------------------------------------------- the request


@dataclass(frozen=True)
class VolumeSpec:
    """One entry of the ``volumes`` option: a hostPath volume and its mount."""

    name: str
    host_path: str
    mount_path: str
    read_only: bool = True
    type: str = "DirectoryOrCreate"


@dataclass
class Request:
    """The validated edits: flag values are strings, or None for a flag without a value."""

    set: dict[str, str | None] = field(default_factory=dict)
    remove: tuple[str, ...] = ()
    list_flags: frozenset[str] = frozenset(DEFAULT_LIST_FLAGS)
    map_flags: frozenset[str] = frozenset(DEFAULT_MAP_FLAGS)
    replace_lists: bool = False
    remove_list_items: dict[str, tuple[str, ...]] = field(default_factory=dict)
    volumes: tuple[VolumeSpec, ...] = ()
    auto_mount: bool = True
    annotations: dict[str, str] = field(default_factory=dict)
    conflicts: tuple[str, ...] = ()
    required: tuple[str, ...] = ()


def _type_name(value: t.Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, t.Mapping):
        return "dict"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _check_name(where: str, name: t.Any) -> str:
    if not isinstance(name, str):
        raise StaticPodError(f"{where}: flag names are strings, got {_type_name(name)} ({name!r}).")
    if name.startswith("-"):
        raise StaticPodError(f"{where}: give flag names without dashes, '{name.lstrip('-')}' instead of '{name}'.")
    if "=" in name:
        raise StaticPodError(f"{where}: '{name}' is not a flag name; give the value separately, without '='.")
    if not _FLAG_NAME_RE.match(name):
        raise StaticPodError(f"{where}: '{name}' is not a flag name (letters, digits, '-', '_' and '.').")
    return name


def _scalar(where: str, value: t.Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise StaticPodError(f"{where}: a {_type_name(value)} is not allowed here; give a string, number or bool.")


def flag_value(where: str, value: t.Any) -> str | None:
    """The text of a flag value: bool -> true/false, list -> comma-joined, None -> no value."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return ",".join(_scalar(f"{where}[{index}]", item) for index, item in enumerate(value))
    if isinstance(value, t.Mapping):
        raise StaticPodError(
            f"{where}: a dict is not a flag value; give a string, number, bool, list, or null for a flag without a value."
        )
    return _scalar(where, value)


def _items(value: str | None) -> list[str]:
    """The members of a comma-separated value, without blanks."""
    if not value:
        return []
    return [item.strip() for item in value.split(",") if item.strip()]


def _item_list(where: str, value: t.Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(_items(value))
    if not isinstance(value, (list, tuple)):
        raise StaticPodError(f"{where}: expected a list of items, got {_type_name(value)}.")
    items: list[str] = []
    for index, item in enumerate(value):
        items.extend(_items(_scalar(f"{where}[{index}]", item)))
    return tuple(items)


def _absolute(where: str, value: t.Any) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise StaticPodError(f"{where}: {value!r} is not an absolute path.")
    return posixpath.normpath(value)


def _volume_spec(index: int, entry: t.Any) -> VolumeSpec:
    where = f"volumes[{index}]"
    if not isinstance(entry, t.Mapping):
        raise StaticPodError(f"{where}: expected a dict with name, host_path and mount_path.")
    name = entry.get("name")
    if not isinstance(name, str) or len(name) > 63 or not _DNS_LABEL_RE.match(name):
        raise StaticPodError(
            f"{where}.name: {name!r} is not a valid volume name; use at most 63 lower-case letters, digits"
            " and '-', starting and ending with a letter or digit."
        )
    host_path = _absolute(f"{where}.host_path", entry.get("host_path"))
    mount_path = entry.get("mount_path")
    mount_path = host_path if mount_path is None else _absolute(f"{where}.mount_path", mount_path)
    type_ = entry.get("type")
    type_ = "DirectoryOrCreate" if type_ is None else type_
    if type_ not in HOST_PATH_TYPES:
        allowed = ", ".join(repr(x) for x in HOST_PATH_TYPES)
        raise StaticPodError(f"{where}.type: {type_!r} is not a hostPath type; use one of {allowed}.")
    read_only = entry.get("read_only")
    return VolumeSpec(name, host_path, mount_path, True if read_only is None else bool(read_only), type_)


def build_request(
    set_: t.Mapping[str, t.Any] | None = None,
    remove: t.Sequence[str] | None = None,
    list_flags: t.Sequence[str] | None = None,
    replace_lists: bool = False,
    remove_list_items: t.Mapping[str, t.Any] | None = None,
    volumes: t.Sequence[t.Mapping[str, t.Any]] | None = None,
    auto_mount: bool = True,
    annotations: t.Mapping[str, t.Any] | None = None,
    conflicts: t.Sequence[str] | None = None,
    required: t.Sequence[str] | None = None,
    map_flags: t.Sequence[str] | None = None,
) -> Request:
    """Validate and normalise the module options (names as the options, ``set_`` for set)."""
    wanted = {_check_name("set", name): flag_value(f"set.{name}", value) for name, value in (set_ or {}).items()}
    removed = tuple(_check_name("remove", name) for name in (remove or ()))
    lists = frozenset(
        _check_name("list_flags", name) for name in (DEFAULT_LIST_FLAGS if list_flags is None else list_flags)
    )
    items = {
        _check_name("remove_list_items", name): _item_list(f"remove_list_items.{name}", value)
        for name, value in (remove_list_items or {}).items()
    }
    both = sorted(set(wanted) & set(removed))
    if both:
        raise StaticPodError(f"set and remove: {', '.join(both)} cannot be both set and removed.")
    both = sorted(set(items) & set(removed))
    if both:
        raise StaticPodError(f"remove_list_items and remove: {', '.join(both)} cannot be both edited and removed.")
    for name, drop in items.items():
        clash = [item for item in _items(wanted.get(name)) if item in drop]
        if clash:
            raise StaticPodError(
                f"set.{name} and remove_list_items.{name}: {', '.join(clash)} cannot be both added and removed."
            )
    specs = tuple(_volume_spec(index, entry) for index, entry in enumerate(volumes or ()))
    for attr in ("name", "mount_path"):
        seen: set[str] = set()
        for index, spec in enumerate(specs):
            value = getattr(spec, attr)
            if value in seen:
                raise StaticPodError(f"volumes[{index}].{attr}: {value} is given twice.")
            seen.add(value)
    notes = {}
    for key, value in (annotations or {}).items():
        if not isinstance(key, str) or not key:
            raise StaticPodError(f"annotations: {key!r} is not an annotation key.")
        notes[key] = _scalar(f"annotations.{key}", value)
    owned = tuple(_check_name("conflicts", name) for name in (conflicts or ()))
    needed = tuple(_check_name("required_flags", name) for name in (required or ()))
    maps = frozenset(_check_name("map_flags", name) for name in (DEFAULT_MAP_FLAGS if map_flags is None else map_flags))
    both = sorted(lists & maps)
    if both:
        raise StaticPodError(f"list_flags and map_flags: {', '.join(both)} cannot be both.")
    for name in maps:
        bad = [item for item in _items(wanted.get(name)) if "=" not in item.strip("=")]
        if bad:
            raise StaticPodError(f"set.{name}: {', '.join(bad)} is not key=value; {name} is a map of key=value items.")
    both = sorted(set(needed) & set(removed))
    if both:
        raise StaticPodError(f"required_flags and remove: {', '.join(both)} cannot be both required and removed.")
    return Request(
        wanted, removed, lists, maps, bool(replace_lists), items, specs, bool(auto_mount), notes, owned, needed
    )


# --------------------------------------------------------------------------- the manifest


def parse_manifest(text: str, path: str) -> dict[str, t.Any]:
    """The pod of a static pod manifest. Raises StaticPodError for invalid YAML, anything that
    is not ``kind: Pod``, and pods without containers."""
    if not HAS_YAML:
        raise StaticPodError("PyYAML is needed to read static pod manifests; install it on the target.")
    try:
        pod = load_yaml(text, path)
    except YamlError as exc:
        raise StaticPodError(f"{exc}; nothing was changed.") from exc
    if pod is None:
        raise StaticPodError(f"{path} is empty; nothing was changed.")
    if not isinstance(pod, dict):
        raise StaticPodError(
            f"{path} is not a Kubernetes object (the top level is a {_type_name(pod)}); nothing was changed."
        )
    if pod.get("kind") != "Pod":
        raise StaticPodError(
            f"{path} is not a static pod manifest: kind is {pod.get('kind')!r}, not 'Pod'; nothing was changed."
        )
    spec = pod.get("spec")
    containers = spec.get("containers") if isinstance(spec, dict) else None
    if (
        not isinstance(containers, list)
        or not containers
        or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in containers)
    ):
        raise StaticPodError(f"{path} has no list of named containers in spec.containers; nothing was changed.")
    return pod


def container_program(container: t.Mapping[str, t.Any]) -> str | None:
    """The base name of the program a container runs (the first item of its command), if it says."""
    command = container.get("command")
    if isinstance(command, list) and command and isinstance(command[0], str) and command[0]:
        return posixpath.basename(command[0])
    return None


def select_container(pod: t.Mapping[str, t.Any], name: str | None, path: str) -> dict[str, t.Any]:
    """The container called ``name``, or the pod's only container when ``name`` is None."""
    containers = pod["spec"]["containers"]
    names = [c["name"] for c in containers]
    if name is None:
        if len(containers) == 1:
            return t.cast("dict[str, t.Any]", containers[0])
        raise StaticPodError(
            f"container: the pod in {path} has several containers ({', '.join(names)}); name the one to edit."
        )
    for container in containers:
        if container["name"] == name:
            return t.cast("dict[str, t.Any]", container)
    raise StaticPodError(f"container: the pod in {path} has no container '{name}'; it has: {', '.join(names)}.")


def manifest_for_diff(text: str, path: str) -> str:
    """The manifest as a diff may show it: every container's env values masked (they may be
    tokens or passwords); the text as it is when it cannot be read as a pod."""
    try:
        pod = parse_manifest(text, path)
    except StaticPodError:
        return text
    for container in (pod.get("spec") or {}).get("containers") or []:
        for entry in container.get("env") or [] if isinstance(container, dict) else []:
            if isinstance(entry, dict) and "value" in entry:
                entry["value"] = MASK
    return render_manifest(pod)


def render_manifest(pod: t.Mapping[str, t.Any]) -> str:
    """The manifest text, keys in the order they are in (kubeadm's order is kept)."""
    return str(yaml.safe_dump(pod, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 30))


def _set_key(mapping: dict[str, t.Any], key: str, value: t.Any) -> None:
    """Add ``key``; in sorted position when the keys are sorted (kubeadm writes them so)."""
    keys = list(mapping)
    if key in mapping or keys != sorted(keys):
        mapping[key] = value
        return
    items = list(mapping.items())
    position = next((i for i, k in enumerate(keys) if k > key), len(keys))
    items.insert(position, (key, value))
    mapping.clear()
    mapping.update(items)


def _insert_named(mapping: dict[str, t.Any], key: str, item: dict[str, t.Any]) -> None:
    """Add ``item`` to the list ``mapping[key]``, by name when the list is sorted by name."""
    items = mapping.get(key)
    if not isinstance(items, list):
        _set_key(mapping, key, [item])
        return
    names = [str(x.get("name", "")) if isinstance(x, dict) else "" for x in items]
    position = len(items)
    if names == sorted(names):
        position = next((i for i, n in enumerate(names) if n > item["name"]), len(items))
    items.insert(position, item)


# --------------------------------------------------------------------------- flags


@dataclass
class _Arg:
    """One flag (one or two list items: ``--a=b``, ``--a``, ``--a b``) or another item."""

    tokens: tuple[t.Any, ...]
    name: str | None = None
    value: str | None = None


def _render_flag(name: str, value: str | None) -> str:
    return f"--{name}" if value is None else f"--{name}={value}"


def _parse_args(tokens: t.Sequence[t.Any]) -> list[_Arg]:
    args: list[_Arg] = []
    index = 0
    rest = False  # after "--": no more flags
    while index < len(tokens):
        token = tokens[index]
        index += 1
        body = ""
        if not rest and isinstance(token, str) and token.startswith("-"):
            body = token[2:] if token.startswith("--") else token[1:]
        name, sep, value = body.partition("=")
        if not name:
            rest = rest or token == "--"
            args.append(_Arg((token,)))
            continue
        if sep:
            args.append(_Arg((token,), name, value))
            continue
        following = tokens[index] if index < len(tokens) else None
        if isinstance(following, str) and (following == "-" or not following.startswith("-")):
            args.append(_Arg((token, following), name, following))
            index += 1
        elif isinstance(following, (int, float)) and not isinstance(following, bool):
            args.append(_Arg((token, following), name, str(following)))
            index += 1
        else:
            args.append(_Arg((token,), name, None))
    return args


@dataclass
class _Part:
    key: str  # "command" or "args"
    head: list[t.Any]  # the program name in command
    args: list[_Arg]


class _Argv:
    """The flags of one container (``command`` after the program, then ``args``), editable."""

    def __init__(self, container: dict[str, t.Any], where: str) -> None:
        self.parts: list[_Part] = []
        for key, skip in (("command", 1), ("args", 0)):
            tokens = container.get(key)
            if tokens is None:
                continue
            if not isinstance(tokens, list):
                raise StaticPodError(f"{where}: {key} is not a list; nothing was changed.")
            self.parts.append(_Part(key, list(tokens[:skip]), _parse_args(tokens[skip:])))

    def _flags(self) -> t.Iterator[tuple[_Part, _Arg]]:
        for part in self.parts:
            for arg in part.args:
                if arg.name is not None:
                    yield part, arg

    def values(self, list_flags: t.Collection[str]) -> dict[str, str | None]:
        """{name: effective value}: the last one wins, repeated list flags add up."""
        values: dict[str, str | None] = {}
        for _part, arg in self._flags():
            name = t.cast(str, arg.name)
            if name in values and name in list_flags and arg.value is not None:
                values[name] = ",".join(_items(values[name]) + _items(arg.value))
            else:
                values[name] = arg.value
        return values

    def replace(self, name: str, value: str | None) -> None:
        """The first occurrence of the flag gets the value, the others go."""
        first = True
        for part in self.parts:
            kept = []
            for arg in part.args:
                if arg.name == name:
                    if not first:
                        continue
                    first = False
                    arg = _Arg((_render_flag(name, value),), name, value)
                kept.append(arg)
            part.args = kept

    def delete(self, name: str) -> None:
        for part in self.parts:
            part.args = [arg for arg in part.args if arg.name != name]

    def add(self, name: str, value: str | None) -> None:
        """Append the flag to the list that holds the flags; in sorted position if it is sorted."""
        with_flags = [p for p in self.parts if any(a.name is not None for a in p.args)]
        if with_flags:
            part = with_flags[-1]
        elif self.parts:
            part = self.parts[-1]
        else:
            part = _Part("args", [], [])
            self.parts.append(part)
        names = [a.name for a in part.args if a.name is not None]
        position = len(part.args)
        if names == sorted(names):
            position = next((i for i, a in enumerate(part.args) if a.name is not None and a.name > name), position)
        part.args.insert(position, _Arg((_render_flag(name, value),), name, value))

    def tokens(self) -> list[str]:
        return [str(token) for part in self.parts for arg in part.args for token in arg.tokens]

    def store(self, container: dict[str, t.Any]) -> None:
        for part in self.parts:
            tokens = part.head + [token for arg in part.args for token in arg.tokens]
            if part.key in container or tokens:
                _set_key(container, part.key, tokens)


def _same(before: str | None, after: str | None) -> bool:
    # A bare "--flag" is "--flag=true" to pflag (and an error for a flag that needs a value).
    return before == after or {before, after} == {None, "true"}


def _pairs(value: str | None) -> dict[str, str]:
    """The key=value items of a map flag, in order; a repeated key: the last one wins, as in pflag."""
    return dict(item.split("=", 1) if "=" in item else (item, "") for item in _items(value))


def _apply_flags(argv: _Argv, request: Request) -> None:
    for name, value in request.set.items():
        current = argv.values(request.list_flags)
        wanted = value
        if name in request.map_flags and value is not None and name in current and not request.replace_lists:
            merged = {**_pairs(current[name]), **_pairs(value)}
            same = merged == _pairs(current[name])
            wanted = current[name] if same else ",".join(f"{key}={item}" for key, item in merged.items())
        elif name in request.list_flags and value is not None:
            wanted = ",".join(_items(value))
            if name in current and not request.replace_lists:
                old = _items(current[name])
                new = [item for item in _items(value) if item not in old]
                wanted = ",".join(old + new) if new else current[name]
            elif name in current and _items(current[name]) == _items(wanted):
                wanted = current[name]  # the same items, spelled with blanks
        if name not in current:
            argv.add(name, wanted)
        elif not _same(current[name], wanted):
            argv.replace(name, wanted)
    for name in request.remove:
        argv.delete(name)
    for name, drop in request.remove_list_items.items():
        current = argv.values(request.list_flags)
        old = _items(current.get(name))
        kept = [item for item in old if item not in drop]
        if kept == old:
            continue
        if kept:
            argv.replace(name, ",".join(kept))
        else:
            argv.delete(name)


# --------------------------------------------------------------------------- volumes


def volume_name(directory: str, taken: t.Collection[str]) -> str:
    """A DNS-label volume name for a host directory, e.g. ``bulwark-etc-kubernetes-audit``,
    at most 63 characters, not in ``taken``. The same directory and names give the same name."""
    slug = re.sub(r"[^a-z0-9]+", "-", directory.lower()).strip("-") or "root"
    base = VOLUME_PREFIX + slug
    if len(base) > 63:
        digest = hashlib.sha256(directory.encode("utf-8")).hexdigest()[:8]
        base = base[:54].rstrip("-") + "-" + digest
    name = base
    number = 2
    while name in taken:
        suffix = f"-{number}"
        name = base[: 63 - len(suffix)].rstrip("-") + suffix
        number += 1
    return name


def _named(items: t.Any, name: str) -> dict[str, t.Any] | None:
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def _host_path(volume: t.Any) -> str | None:
    host_path = volume.get("hostPath") if isinstance(volume, dict) else None
    path = host_path.get("path") if isinstance(host_path, dict) else None
    return posixpath.normpath(path) if isinstance(path, str) and path else None


def _mounts(container: t.Mapping[str, t.Any]) -> list[dict[str, t.Any]]:
    mounts = container.get("volumeMounts")
    return [m for m in mounts if isinstance(m, dict)] if isinstance(mounts, list) else []


def _mount_path(mount: t.Mapping[str, t.Any]) -> str | None:
    path = mount.get("mountPath")
    return posixpath.normpath(path) if isinstance(path, str) and path else None


def _new_mount(path: str, name: str, read_only: bool) -> dict[str, t.Any]:
    mount: dict[str, t.Any] = {"mountPath": path, "name": name}
    if read_only:
        mount["readOnly"] = True  # kubeadm leaves readOnly out when it is false
    return mount


def _apply_volume(spec: dict[str, t.Any], container: dict[str, t.Any], volume: VolumeSpec, index: int) -> bool:
    """Make the volume and its mount as ``volume`` says; True when the volume is new."""
    host_path = {"path": volume.host_path, "type": volume.type} if volume.type else {"path": volume.host_path}
    existing = _named(spec.get("volumes"), volume.name)
    added = existing is None
    if existing is None:
        _insert_named(spec, "volumes", {"hostPath": host_path, "name": volume.name})
    elif existing.get("hostPath") != host_path:
        hp = existing.get("hostPath")
        if not (isinstance(hp, dict) and hp.get("path") == volume.host_path and hp.get("type", "") == volume.type):
            existing.clear()
            existing.update({"hostPath": host_path, "name": volume.name})
    for mount in _mounts(container):
        if _mount_path(mount) == volume.mount_path and mount.get("name") != volume.name:
            raise StaticPodError(
                f"volumes[{index}].mount_path: {volume.mount_path} is already the mountPath of the volume"
                f" '{mount.get('name')}' in container '{container['name']}'; use that name or another path."
            )
    mount = _named(container.get("volumeMounts"), volume.name)
    if mount is None:
        _insert_named(container, "volumeMounts", _new_mount(volume.mount_path, volume.name, volume.read_only))
        return added
    if mount.get("mountPath") != volume.mount_path:
        mount["mountPath"] = volume.mount_path
    if bool(mount.get("readOnly", False)) != volume.read_only:
        if volume.read_only:
            mount["readOnly"] = True
        else:
            mount.pop("readOnly")
    return added


def _covered(path: str, mounts: t.Iterable[t.Mapping[str, t.Any]], writable: bool) -> bool:
    for mount in mounts:
        mount_path = _mount_path(mount)
        if mount_path is None or (writable and mount.get("readOnly")):
            continue
        if path == mount_path or path.startswith(mount_path.rstrip("/") + "/"):
            return True
    return False


def _auto_mount(
    spec: dict[str, t.Any], container: dict[str, t.Any], request: Request, values: t.Mapping[str, str | None]
) -> list[str]:
    """Mount the directory of every absolute path that a flag of ``set`` names, unless a mount
    of the container covers it already. Returns the names of the volumes added."""
    added: list[str] = []
    for name in request.set:
        writable = name in WRITABLE_FLAGS
        for item in _items(values.get(name)):
            if not item.startswith("/"):
                continue
            path = posixpath.normpath(item)
            if _covered(path, _mounts(container), writable):
                continue
            directory = posixpath.dirname(path)
            if directory == "/":
                raise StaticPodError(
                    f"set.{name}: {path} is directly in /; auto_mount does not mount the root directory. Use a file"
                    " in a directory of its own, or give the volume in volumes."
                )
            if writable and directory.count("/") < 3:
                # /var/log or /etc writable in the pod would let the component rewrite what is beside its file.
                raise StaticPodError(
                    f"set.{name}: {path} would mount {directory} writable into the pod; give the file a directory of"
                    f" its own at least three levels deep (such as /var/log/kubernetes/audit/), or give the volume"
                    " in volumes."
                )
            for mount in _mounts(container):
                if _mount_path(mount) == directory:  # read-only, or path would be covered
                    raise StaticPodError(
                        f"set.{name}: {container['name']} writes to {path}, but {directory} is mounted read-only"
                        f" (volume '{mount.get('name')}'); choose another directory, or give volumes an entry"
                        f" name={mount.get('name')} host_path={directory} read_only=false."
                    )
            volumes = spec.get("volumes") if isinstance(spec.get("volumes"), list) else []
            same = [v for v in volumes if _host_path(v) == directory and isinstance(v.get("name"), str)]
            if same:
                volume = str(same[0]["name"])
            else:
                taken = {str(v.get("name")) for v in volumes if isinstance(v, dict)}
                volume = volume_name(directory, taken)
                _insert_named(
                    spec, "volumes", {"hostPath": {"path": directory, "type": "DirectoryOrCreate"}, "name": volume}
                )
                added.append(volume)
            _insert_named(container, "volumeMounts", _new_mount(directory, volume, not writable))
    return added


# --------------------------------------------------------------------------- plan


@dataclass
class Plan:
    """The outcome of the edits: ``after`` is a new pod, ``before`` is the pod given."""

    changed: bool
    before: dict[str, t.Any]
    after: dict[str, t.Any]
    container: str
    args: list[str]
    before_args: list[str]  # what the container runs now: what it must run again after a rollback
    flags_added: list[str]
    flags_changed: dict[str, dict[str, str | None]]
    flags_removed: list[str]
    volumes_added: list[str]
    flags: dict[str, str | None]  # every flag of the container after the edits, as name -> value
    item_status: dict[str, str]  # per flag named in the request: ok or changed


def _check_conflicts(before: t.Mapping[str, str | None], request: Request, path: str) -> None:
    """A flag in ``conflicts`` that the manifest sets to another value is the user's own file
    (an OIDC issuer's authentication configuration, PodSecurity defaults): replacing it would lose it."""
    for name in request.conflicts:
        if name in request.set and name in before and not _same(before[name], request.set[name]):
            raise StaticPodError(
                f"conflicts: {path} already sets --{name}={before[name]}, which this change would replace with"
                f" {request.set[name]}; merge what that file holds into the new one or leave the flag alone."
                " Nothing was changed."
            )


def _set_annotations(pod: dict[str, t.Any], annotations: t.Mapping[str, str]) -> None:
    if not annotations:
        return
    metadata = pod.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        _set_key(pod, "metadata", metadata)
    current = metadata.get("annotations")
    if not isinstance(current, dict):
        current = {}
        _set_key(metadata, "annotations", current)
    for key, value in annotations.items():
        if current.get(key) != value:
            _set_key(current, key, value)


def plan(pod: dict[str, t.Any], request: Request, container: str | None = None, path: str = "the manifest") -> Plan:
    """Apply ``request`` to a copy of ``pod`` (as ``parse_manifest`` returns it)."""
    after = copy.deepcopy(pod)
    target = select_container(after, container, path)
    argv = _Argv(target, f"container '{target['name']}' in {path}")
    before_args = argv.tokens()
    before_values = argv.values(request.list_flags)
    _check_conflicts(before_values, request, path)
    _apply_flags(argv, request)
    argv.store(target)
    after_values = argv.values(request.list_flags)
    missing = [name for name in request.required if name not in after_values]
    if missing:
        raise StaticPodError(
            f"required_flags: container '{target['name']}' in {path} has no {', '.join('--' + n for n in missing)};"
            " this change does not make what they name (kubeadm does). Nothing was changed."
        )

    spec = after["spec"]
    volumes_added = [v.name for i, v in enumerate(request.volumes) if _apply_volume(spec, target, v, i)]
    if request.auto_mount:
        volumes_added += _auto_mount(spec, target, request, after_values)
    _set_annotations(after, request.annotations)

    return Plan(
        changed=after != pod,
        before=pod,
        after=after,
        container=target["name"],
        args=argv.tokens(),
        before_args=before_args,
        flags_added=[n for n in after_values if n not in before_values],
        flags_changed={
            n: {"before": before_values[n], "after": v}
            for n, v in after_values.items()
            if n in before_values and before_values[n] != v
        },
        flags_removed=[n for n in before_values if n not in after_values],
        volumes_added=volumes_added,
        flags=after_values,
        item_status=_item_status(request, before_values, after_values),
    )


def _item_status(
    request: Request, before: t.Mapping[str, str | None], after: t.Mapping[str, str | None]
) -> dict[str, str]:
    """ok or changed for each flag the request names, and for each item of a list flag as
    ``flag/item`` (``enable-admission-plugins/NodeRestriction``): one flag often carries several
    controls, and each must be reported on its own."""
    status = {}
    for name in dict.fromkeys([*request.set, *request.remove, *request.remove_list_items]):
        status[name] = "ok" if before.get(name, _ABSENT) == after.get(name, _ABSENT) else "changed"
    for name in request.required:  # present, or plan() would have refused the request
        status.setdefault(name, "ok")
    for name, value in request.set.items():
        if name in request.list_flags:
            had = _items(before.get(name))
            for item in _items(value):
                status[f"{name}/{item}"] = "ok" if item in had else "changed"
        elif name in request.map_flags:
            had_pairs = _pairs(before.get(name))
            for key, item in _pairs(value).items():
                status[f"{name}/{key}"] = "ok" if had_pairs.get(key) == item else "changed"
    for name, drop in request.remove_list_items.items():
        had = _items(before.get(name))
        for item in drop:
            status[f"{name}/{item}"] = "changed" if item in had else "ok"
    return status


def process_flags(argv: t.Sequence[str], list_flags: t.Collection[str] = DEFAULT_LIST_FLAGS) -> dict[str, str | None]:
    """The flags a running process was started with (ARGV as in /proc/<pid>/cmdline), name -> value."""
    return _Argv({"args": list(argv[1:])}, "the process").values(list_flags)


def stale_items(request: Request, plan_: Plan, live: t.Mapping[str, str | None]) -> dict[str, str]:
    """PLAN's item_status with ``stale`` for each item that is as asked in the manifest but not in
    the running process, whose flags are LIVE: the control is not in effect. An item is in effect
    when the running process already has what the request asks of it."""
    in_effect = _item_status(request, live, plan_.flags)
    return {
        key: "stale" if state == "ok" and in_effect.get(key, "ok") != "ok" else state
        for key, state in plan_.item_status.items()
    }


def input_paths(request: Request, written: t.Collection[str] = ()) -> list[tuple[str, str]]:
    """(flag, path) for each flag of ``set`` whose value is one absolute path that the pod reads:
    not one it writes or creates (OUTPUT_FLAGS), and not one of WRITTEN, the files this change
    writes. Each must exist before the pod starts, or the pod fails on the node."""
    written = {posixpath.normpath(path) for path in written}
    paths = []
    for name, value in request.set.items():
        if name in OUTPUT_FLAGS or not value or not value.startswith("/") or "," in value:
            continue
        path = posixpath.normpath(value)
        if path not in written:
            paths.append((name, path))
    return paths


def log_glob(pod: t.Mapping[str, t.Any], container: str) -> str:
    """kubelet's log files of CONTAINER of a static pod: /var/log/pods/<ns>_<pod>-<node>_<uid>/<container>/<n>.log."""
    metadata = pod.get("metadata") if isinstance(pod.get("metadata"), dict) else {}
    namespace = metadata.get("namespace") or "default"
    name = metadata.get("name") or container
    return f"/var/log/pods/{namespace}_{name}-*/{container}/*.log"


# --------------------------------------------------------------------------- --help, backup directory


def parse_help_flags(text: str) -> frozenset[str]:
    """The long flag names that a pflag ``--help`` text lists (kube-apiserver, kubelet, ...)."""
    return frozenset(_HELP_FLAG_RE.findall(text))


def parse_version(text: str) -> str | None:
    """The first line of ``--version`` output, such as ``Kubernetes v1.37.2``."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()[:200]
    return None


def check_flags_known(names: t.Iterable[str], known: t.Collection[str], binary: str, version: str | None) -> None:
    """Raise StaticPodError naming the flags of ``names`` that ``known`` lacks, with the closest
    known names."""
    unknown = [name for name in names if name not in known]
    if not unknown:
        return
    shown = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
        shown.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    what = f"{binary} ({version})" if version else binary
    raise StaticPodError(
        f"set: {what} does not know the flag{'s' if len(unknown) > 1 else ''} {', '.join(shown)}; nothing was changed."
        f" Flags that {binary} no longer has belong in remove; for a deprecated flag that --help hides,"
        " set validate_flags to false."
    )


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def check_backup_dir(backup_dir: str, manifest_dirs: t.Iterable[str]) -> None:
    """Refuse a backup directory that is (inside) the manifests directory: kubelet would run
    every backup copy there as one more pod (kubernetes/kubernetes#55596)."""
    if not backup_dir.startswith("/"):
        raise StaticPodError(f"backup_dir: {backup_dir} is not an absolute path.")
    backup_dir = posixpath.normpath(backup_dir)
    for directory in manifest_dirs:
        directory = posixpath.normpath(directory)
        if _inside(backup_dir, directory):
            raise StaticPodError(
                f"backup_dir: {backup_dir} is {'' if backup_dir == directory else 'inside '}the manifests directory"
                f" {directory}; kubelet would start a backup copy there as a second pod (kubernetes/kubernetes#55596)."
                " Use a directory outside it, such as /var/backups/bulwark/static-pods. Nothing was changed."
            )
