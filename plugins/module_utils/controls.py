# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The control catalog and the per-host control report, as pure functions.

``meta/controls.yml`` lists every control the collection enforces. Role tasks name the controls
they enforce at the end of their name (``Disable inter-container communication | CIS-Docker 2.2``);
the ``controls_report`` callback turns task outcomes into one status per control and host.
Nothing here touches the host or the file system: callers read the YAML and pass the parsed data.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import typing as t

if t.TYPE_CHECKING:  # pragma: no cover - the ledger only reads a waiver's fields
    from ansible_collections.bulwark.hardening.plugins.module_utils.waivers import Waiver

# 2: rows carry benchmark, section, waiver and observed; hosts carry their waivers and result;
# the report carries fail_on, previous and changes.
SCHEMA_VERSION = 2

# Worst first: when several tasks touch one control on one host, the first of these wins.
STATUS_ORDER: tuple[str, ...] = ("fail", "drift", "fixed", "pass", "waived", "n/a")
# A control of a role that ran on a host but that no task reported: a defect of the role.
NOT_CHECKED = "not-checked"
REPORT_STATUSES: tuple[str, ...] = STATUS_ORDER + (NOT_CHECKED,)
# What makes a run fail (the exit-code policy): a failing control, any control not in effect, or nothing.
FAIL_ON: tuple[str, ...] = ("fail", "drift", "never")

_RANK = {status: rank for rank, status in enumerate(STATUS_ORDER)}

# "CIS-Docker 2.2", "CIS-K8s 1.2.16": benchmark key, one space, dotted number.
_SPACED_ID = re.compile(
    r"^(?P<bench>[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)*) (?P<num>[0-9]+(?:\.[0-9]+)*)\Z"
)
# "BWK-1": our own controls, numbered with whole numbers.
_DASHED_ID = re.compile(r"^(?P<bench>BWK)-(?P<num>[0-9]+)\Z")
_BARE_NUMBER = re.compile(r"^[0-9]+(?:\.[0-9]+)*\Z")
_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]*\Z")
_VARIABLE_NAME = re.compile(r"^[a-z_][a-z0-9_]*\Z")
_NATURAL_CHUNK = re.compile(r"([0-9]+)")

_TASK_ID_SEPARATOR = " | "
_CONTROL_KEYS = ("id", "title", "role", "variable", "waived_when", "item", "verify", "note")
_REQUIRED_CONTROL_KEYS = ("id", "title", "role", "variable", "verify")
_BENCHMARK_KEYS = ("title", "version")
_MSG_LIMIT = 300


class ControlCatalogError(ValueError):
    """The control catalog is malformed; the message names the entry and field and is shown as is."""


class ControlIdError(ValueError):
    """A task name ends with a control id list that cannot be read; the message says why."""


@dataclasses.dataclass(frozen=True)
class Benchmark:
    key: str
    title: str
    version: str


@dataclasses.dataclass(frozen=True)
class Control:
    id: str
    title: str
    role: str
    variable: str
    waived_when: t.Any
    item: str | None
    verify: str
    note: str | None = None  # why the default waives it, or what else a reader of the report must know
    waivable: bool = (
        True  # False when the catalog gives no waived_when: no value turns the control off
    )

    @property
    def benchmark(self) -> str:
        return split_control_id(self.id)[0]


@dataclasses.dataclass(frozen=True)
class Catalog:
    benchmarks: t.Mapping[str, Benchmark]
    controls: tuple[Control, ...]

    def get(self, control_id: str) -> Control | None:
        for control in self.controls:
            if control.id == control_id:
                return control
        return None

    def for_role(self, role: str) -> list[Control]:
        return sorted(
            (c for c in self.controls if c.role == role),
            key=lambda c: natural_key(c.id),
        )

    def for_benchmark(self, key: str) -> list[Control]:
        return sorted(
            (c for c in self.controls if c.benchmark == key),
            key=lambda c: natural_key(c.id),
        )

    @property
    def roles(self) -> list[str]:
        return sorted({c.role for c in self.controls})

    def benchmarks_as_dict(self) -> dict[str, dict[str, str]]:
        return {
            key: {"title": b.title, "version": b.version}
            for key, b in self.benchmarks.items()
        }


def _describe(value: t.Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def split_control_id(control_id: str) -> tuple[str, str]:
    """Return ``(benchmark key, number)`` of a well-formed control id, or raise ``ValueError``."""
    match = _SPACED_ID.match(control_id) or _DASHED_ID.match(control_id)
    if not match:
        raise ValueError(
            f"{control_id!r} is not a control id; use '<benchmark> <number>' (e.g. 'CIS-Docker 2.2') or 'BWK-<n>'."
        )
    return match.group("bench"), match.group("num")


def natural_key(text: str) -> tuple[t.Any, ...]:
    """Sort key that orders ``CIS-Docker 2.9`` before ``CIS-Docker 2.10``."""
    return tuple(
        (0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk)
        for chunk in _NATURAL_CHUNK.split(text)
        if chunk
    )


def _require_str(value: t.Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ControlCatalogError(
            f"{where}: expected a non-empty string, got {_describe(value)}."
        )
    return value


def _load_benchmarks(data: t.Any) -> dict[str, Benchmark]:
    if not isinstance(data, dict) or not data:
        raise ControlCatalogError(
            f"benchmarks: expected a mapping of benchmark key to {{title, version}}, got {_describe(data)}."
        )
    benchmarks: dict[str, Benchmark] = {}
    for key, entry in data.items():
        where = f"benchmarks[{key!r}]"
        if not isinstance(key, str) or not re.match(
            r"^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z][A-Za-z0-9]*)*\Z", key
        ):
            raise ControlCatalogError(
                f"{where}: the key must be letters and digits, dash separated (e.g. 'CIS-Docker', 'BWK')."
            )
        if not isinstance(entry, dict):
            raise ControlCatalogError(
                f"{where}: expected a mapping with title and version, got {_describe(entry)}."
            )
        unknown = sorted(str(k) for k in entry if k not in _BENCHMARK_KEYS)
        if unknown:
            raise ControlCatalogError(
                f"{where}: unknown key(s) {', '.join(unknown)}; allowed: title, version."
            )
        title = _require_str(entry.get("title"), f"{where}.title")
        version = entry.get("version")
        if not isinstance(version, str) or not version.strip():
            raise ControlCatalogError(
                f'{where}.version: expected a string, got {_describe(version)}; quote it in YAML (version: "1").'
            )
        benchmarks[key] = Benchmark(key=key, title=title, version=version)
    return benchmarks


def _load_control(
    index: int, entry: t.Any, benchmarks: t.Mapping[str, Benchmark]
) -> Control:
    if not isinstance(entry, dict):
        raise ControlCatalogError(
            f"controls[{index}]: expected a mapping, got {_describe(entry)}."
        )
    raw_id = entry.get("id")
    named = f" ({raw_id})" if isinstance(raw_id, str) and raw_id else ""

    def where(field: str | None = None) -> str:
        return f"controls[{index}]{'.' + field if field else ''}{named}"

    unknown = sorted(str(k) for k in entry if k not in _CONTROL_KEYS)
    if unknown:
        raise ControlCatalogError(
            f"{where()}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_CONTROL_KEYS)}."
        )
    missing = [k for k in _REQUIRED_CONTROL_KEYS if k not in entry]
    if missing:
        raise ControlCatalogError(f"{where()}: missing key(s) {', '.join(missing)}.")

    control_id = _require_str(raw_id, where("id"))
    try:
        bench, _number = split_control_id(control_id)
    except ValueError as exc:
        raise ControlCatalogError(f"{where('id')}: {exc}") from None
    if bench not in benchmarks:
        raise ControlCatalogError(
            f"{where('id')}: benchmark {bench!r} is not declared under benchmarks"
            f" (declared: {', '.join(sorted(benchmarks))})."
        )

    title = _require_str(entry["title"], where("title"))
    role = _require_str(entry["role"], where("role"))
    if not _ROLE_NAME.match(role):
        raise ControlCatalogError(
            f"{where('role')}: {role!r} is not a role name; use the short name of a role under roles/"
            " (e.g. 'docker_daemon')."
        )
    variable = _require_str(entry["variable"], where("variable"))
    if not _VARIABLE_NAME.match(variable) or not variable.startswith(f"{role}_"):
        raise ControlCatalogError(
            f"{where('variable')}: {variable!r} must be a variable of role {role!r}, named '{role}_*'."
        )
    waived_when = entry.get("waived_when")
    if waived_when is not None and not isinstance(
        waived_when, (bool, int, float, str, list)
    ):
        raise ControlCatalogError(
            f"{where('waived_when')}: expected null, a boolean, a number, a string or a list, got {_describe(waived_when)}."
        )
    item = entry.get("item")
    if item is not None:
        item = _require_str(item, where("item"))
    verify = _require_str(entry["verify"], where("verify"))
    note = entry.get("note")
    if note is not None:
        note = _require_str(note, where("note")).strip()
    return Control(
        id=control_id,
        title=title.strip(),
        role=role,
        variable=variable,
        waived_when=waived_when,
        item=item,
        verify=verify.strip(),
        note=note,
        waivable="waived_when" in entry,
    )


def load_catalog(data: t.Any) -> Catalog:
    """Validate the parsed ``meta/controls.yml`` and return it as a ``Catalog``."""
    if not isinstance(data, dict):
        raise ControlCatalogError(
            f"the catalog must be a mapping with benchmarks and controls, got {_describe(data)}."
        )
    unknown = sorted(str(k) for k in data if k not in ("benchmarks", "controls"))
    if unknown:
        raise ControlCatalogError(
            f"unknown top-level key(s) {', '.join(unknown)}; allowed: benchmarks, controls."
        )
    benchmarks = _load_benchmarks(data.get("benchmarks"))
    raw_controls = data.get("controls")
    if not isinstance(raw_controls, list):
        raise ControlCatalogError(
            f"controls: expected a list of controls, got {_describe(raw_controls)}."
        )
    controls: list[Control] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(raw_controls):
        control = _load_control(index, entry, benchmarks)
        if control.id in first_index:
            raise ControlCatalogError(
                f"controls[{index}].id ({control.id}): duplicate of controls[{first_index[control.id]}]; ids are unique."
            )
        first_index[control.id] = index
        controls.append(control)
    return Catalog(benchmarks=benchmarks, controls=tuple(controls))


def parse_control_ids(task_name: str) -> list[str]:
    """Return the control ids a task name ends with, in order, without duplicates.

    The convention is ``<imperative name> | <id>, <id>, ...``. An id is ``<benchmark> <number>``
    or ``BWK-<n>``; a bare number continues the benchmark of the id before it, so
    ``CIS-Docker 2.2, 2.13`` means ``CIS-Docker 2.2, CIS-Docker 2.13``. A name without the
    separator, or whose last part does not start with an id, names no control (returns ``[]``).
    A last part that starts with an id but goes on with something else raises ``ControlIdError``.
    """
    if not isinstance(task_name, str) or _TASK_ID_SEPARATOR not in task_name:
        return []
    tail = task_name.rsplit(_TASK_ID_SEPARATOR, 1)[1]
    tokens = [token.strip() for token in tail.split(",")]
    if not tokens or not (_SPACED_ID.match(tokens[0]) or _DASHED_ID.match(tokens[0])):
        return []
    ids: list[str] = []
    prefix = ""  # "CIS-Docker " or "BWK-": what a bare number continues
    for token in tokens:
        match = _SPACED_ID.match(token) or _DASHED_ID.match(token)
        if match:
            prefix = token[: match.start("num")]
            control_id = token
        elif _BARE_NUMBER.match(token) and prefix:
            if prefix.endswith("-") and "." in token:
                bench = prefix[:-1]
                raise ControlIdError(
                    f"task {task_name!r}: {token!r} cannot continue {bench}-<n>; {bench} numbers are whole."
                )
            control_id = prefix + token
        else:
            raise ControlIdError(
                f"task {task_name!r}: {token!r} is not a control id; after ' | ' list ids such as"
                " 'CIS-Docker 2.2, 2.13, BWK-1', separated by commas."
            )
        if control_id not in ids:
            ids.append(control_id)
    return ids


def normalize_role_name(name: str | None) -> str | None:
    """``bulwark.hardening.docker_daemon`` and ``docker_daemon`` are the same role."""
    if not name:
        return None
    return name.rsplit(".", 1)[-1]


def worst_status(first: str, second: str) -> str:
    """The worse of two statuses of ``STATUS_ORDER``."""
    return first if _RANK[first] <= _RANK[second] else second


def _short(text: t.Any) -> str | None:
    if text is None:
        return None
    line = str(text).strip().splitlines()[0] if str(text).strip() else ""
    if not line:
        return None
    return line if len(line) <= _MSG_LIMIT else line[: _MSG_LIMIT - 3] + "..."


@dataclasses.dataclass(frozen=True)
class TaskOutcome:
    """What one task did on one host, reduced to what the control status needs."""

    state: str  # ok, changed, failed, unreachable, skipped
    check_mode: bool
    item_status: t.Mapping[str, t.Any] | None = None
    false_condition: str | None = None
    msg: str | None = None

    _STATES: t.ClassVar[tuple[str, ...]] = (
        "ok",
        "changed",
        "failed",
        "unreachable",
        "skipped",
    )

    def __post_init__(self) -> None:
        if self.state not in self._STATES:
            raise ValueError(
                f"state: {self.state!r} is not one of {', '.join(self._STATES)}."
            )

    @classmethod
    def from_result(
        cls, result: t.Mapping[str, t.Any], event: str, check_mode: bool
    ) -> TaskOutcome:
        """Build an outcome from a callback event (ok, failed, unreachable, skipped) and the result dict.

        Loop results are folded: an item counts as changed if any loop item changed it.
        """
        loop = [r for r in result.get("results") or [] if isinstance(r, t.Mapping)]
        item_status = _merge_item_status([result] + loop)
        false_condition = result.get("false_condition")
        if false_condition is None:
            false_condition = next(
                (
                    r["false_condition"]
                    for r in loop
                    if r.get("false_condition") is not None
                ),
                None,
            )
        msg = result.get("msg")
        if event == "failed" and loop:
            msg = next((r.get("msg") for r in loop if r.get("failed")), msg)
        if event == "ok":
            changed = bool(result.get("changed")) or any(r.get("changed") for r in loop)
            state = "changed" if changed else "ok"
        else:
            state = event
        return cls(
            state=state,
            check_mode=check_mode,
            item_status=item_status,
            false_condition=None if false_condition is None else str(false_condition),
            msg=_short(msg),
        )


def _merge_item_status(
    results: t.Iterable[t.Mapping[str, t.Any]],
) -> dict[str, str] | None:
    merged: dict[str, str] | None = None
    for result in results:
        status = result.get("item_status")
        if not isinstance(status, t.Mapping):
            continue
        merged = {} if merged is None else merged
        for key, value in status.items():
            if merged.get(str(key)) != "changed":
                merged[str(key)] = str(value)
    return merged


def _mentions(text: str | None, name: str) -> bool:
    return (
        bool(text)
        and re.search(
            rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])", text or ""
        )
        is not None
    )


def control_status(control: Control, outcome: TaskOutcome) -> tuple[str, str | None]:
    """Return ``(status, message or None)`` of one control from one task outcome."""
    changed_status = "drift" if outcome.check_mode else "fixed"
    if outcome.state in ("failed", "unreachable"):
        prefix = "host unreachable" if outcome.state == "unreachable" else "task failed"
        return "fail", f"{prefix}: {outcome.msg}" if outcome.msg else prefix
    if outcome.state == "skipped":
        if _mentions(outcome.false_condition, control.variable):
            return "waived", f"skipped: {outcome.false_condition}"
        reason = outcome.false_condition or outcome.msg
        return "n/a", f"skipped: {reason}" if reason else "skipped"
    if outcome.item_status is not None and control.item:
        item_state = outcome.item_status.get(control.item)
        if item_state is None:
            return (
                "waived",
                f"the role did not manage {control.item!r} ({control.variable})",
            )
        if item_state == "changed":
            verb = "would change" if outcome.check_mode else "changed"
            return changed_status, f"{control.item!r} {verb}"
        if item_state == "ok":
            return "pass", None
        if item_state == "stale":
            # As asked in the file, but the running process does not run it: not in effect.
            return "drift", f"{control.item!r} is as asked in the file but not in the running process"
        if item_state == "not-in-effect":
            # Written, but the live system does not have it and cannot be given it (audit rules
            # where the kernel refuses them): never a pass.
            reason = f": {outcome.msg}" if outcome.msg else ""
            return "fail", f"{control.item!r} is not in effect on the live system{reason}"
        if item_state == "finding":
            # An audit found what the control forbids on the live system (a risky RBAC grant).
            reason = f": {outcome.msg}" if outcome.msg else ""
            return "fail", f"{control.item!r} has open findings{reason}"
        if item_state == NOT_CHECKED:
            return NOT_CHECKED, f"{control.item!r} was not checked{': ' + outcome.msg if outcome.msg else ''}"
        if item_state == "absent":
            # A file the benchmark names that this platform does not have (a Red Hat path on
            # Debian, a socket of a service that is not installed): nothing to enforce.
            return "n/a", f"{control.item} does not exist on the host"
        return (
            "fail",
            f"item_status[{control.item!r}] is {item_state!r}; expected 'ok', 'changed', 'stale', 'not-in-effect',"
            " 'finding', 'not-checked' or 'absent'",
        )
    if outcome.state == "changed":
        return changed_status, None
    return "pass", None


@dataclasses.dataclass
class _Entry:
    status: str
    msg: str | None
    tasks: list[str]


@dataclasses.dataclass
class _HostState:
    controls: dict[str, _Entry] = dataclasses.field(default_factory=dict)
    roles: set[str] = dataclasses.field(default_factory=set)
    waivers: dict[str, Waiver] = dataclasses.field(default_factory=dict)
    unreachable: bool = False


class ControlLedger:
    """Collects control statuses host by host and builds the report model.

    The model is a plain dict, so the JSON, JUnit and HTML reports are all rendered from it::

        {"schema": 2, "generated": "...", "check_mode": true, "fail_on": "fail",
         "catalog": {"benchmarks": {...}},
         "hosts": {"web1": {"unreachable": false, "result": "pass", "summary": {"fail": 0, ...},
                            "waivers": [...],
                            "controls": [{"id", "benchmark", "section", "title", "role", "status",
                                          "tasks", "msg"?, "waiver"?, "observed"?}]}},
         "previous": {"generated": "..."} or null,
         "changes": [{"host", "id", "title", "from", "to"}],
         "unknown_ids": [...]}
    """

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._hosts: dict[str, _HostState] = {}
        self._unknown: set[str] = set()

    def _host(self, host: str) -> _HostState:
        return self._hosts.setdefault(host, _HostState())

    def add_host(self, host: str) -> None:
        self._host(host)

    def role_ran(self, host: str, role: str | None) -> None:
        name = normalize_role_name(role)
        if name:
            self._host(host).roles.add(name)

    def mark_unreachable(self, host: str) -> None:
        self._host(host).unreachable = True

    def set_waivers(self, host: str, waivers: t.Iterable[Waiver]) -> None:
        """The inventory's waivers that apply to this host (the role guard resolves them)."""
        self._host(host).waivers = {waiver.id: waiver for waiver in waivers}

    def record(
        self,
        host: str,
        control_ids: t.Iterable[str],
        task_name: str,
        outcome: TaskOutcome,
    ) -> list[str]:
        """Record one task outcome for the controls it names; return the ids the catalog does not know."""
        state = self._host(host)
        unknown: list[str] = []
        for control_id in control_ids:
            control = self.catalog.get(control_id)
            if control is None:
                unknown.append(control_id)
                self._unknown.add(control_id)
                continue
            status, msg = control_status(control, outcome)
            entry = state.controls.get(control_id)
            if entry is None:
                state.controls[control_id] = _Entry(
                    status=status, msg=msg, tasks=[task_name]
                )
                continue
            if task_name not in entry.tasks:
                entry.tasks.append(task_name)
            if worst_status(status, entry.status) != entry.status:
                entry.status, entry.msg = status, msg
        return unknown

    def build_report(
        self,
        *,
        check_mode: bool,
        generated: str,
        fail_on: str | None = None,
        previous: t.Mapping[str, t.Any] | None = None,
    ) -> dict[str, t.Any]:
        """The report model; ``generated`` (ISO 8601) is also the day waivers are checked against."""
        today = datetime.datetime.fromisoformat(generated).date()
        hosts: dict[str, t.Any] = {}
        for host in sorted(self._hosts, key=natural_key):
            state = self._hosts[host]
            rows: list[dict[str, t.Any]] = []
            for control_id, entry in state.controls.items():
                control = self.catalog.get(control_id)
                if control is None:  # record() keeps catalog ids only
                    continue
                rows.append(_row(control, entry.status, entry.tasks, entry.msg))
            for role in sorted(state.roles):
                for control in self.catalog.for_role(role):
                    if control.id not in state.controls:
                        msg = f"no task of role {role} reported this control"
                        rows.append(_row(control, NOT_CHECKED, [], msg))
            if not rows and not state.unreachable:
                continue  # a host that only ran tasks of no control (localhost's checks) has nothing to report
            rows = [_apply_waiver(row, state.waivers.get(row["id"]), today) for row in rows]
            rows.sort(key=lambda row: natural_key(row["id"]))
            summary = {status: 0 for status in REPORT_STATUSES}
            for row in rows:
                summary[row["status"]] += 1
            hosts[host] = {
                "unreachable": state.unreachable,
                "result": host_result(summary, state.unreachable),
                "summary": summary,
                "waivers": [
                    state.waivers[key].as_dict()
                    for key in sorted(state.waivers, key=natural_key)
                ],
                "controls": rows,
            }
        return {
            "schema": SCHEMA_VERSION,
            "generated": generated,
            "check_mode": bool(check_mode),
            "fail_on": fail_on,
            "catalog": {"benchmarks": self.catalog.benchmarks_as_dict()},
            "hosts": hosts,
            "previous": _previous_summary(previous),
            "changes": changes_since(previous, hosts),
            "unknown_ids": sorted(self._unknown, key=natural_key),
        }


def control_section(control_id: str) -> str:
    """The benchmark section a control belongs to: its id without the last number.

    ``CIS-Docker 2.2`` is in ``CIS-Docker 2``, ``CIS-K8s 1.2.16`` in ``CIS-K8s 1.2``, ``BWK-3`` in ``BWK``.
    """
    bench, number = split_control_id(control_id)
    parent = number.rpartition(".")[0]
    return f"{bench} {parent}" if parent else bench


def _row(
    control: Control, status: str, tasks: list[str], msg: str | None
) -> dict[str, t.Any]:
    row: dict[str, t.Any] = {
        "id": control.id,
        "benchmark": control.benchmark,
        "section": control_section(control.id),
        "title": control.title,
        "role": control.role,
        "status": status,
        "tasks": list(tasks),
    }
    if msg:
        row["msg"] = msg
    if status == "waived":
        # Turned off by its role variable (skipped, or the item left unmanaged): the variable is the reason.
        row["waiver"] = {
            "source": "variable",
            "variable": control.variable,
            "reason": f"turned off by {control.variable}",
        }
    return row


def _apply_waiver(
    row: dict[str, t.Any], waiver: Waiver | None, today: datetime.date
) -> dict[str, t.Any]:
    """An inventory waiver makes the row waived, or failing once it has expired; ``observed`` keeps what was found."""
    if waiver is None:
        return row
    row = dict(row, observed=row["status"])
    row["waiver"] = {
        "source": "inventory",
        "reason": waiver.reason,
        "expires": waiver.expires.isoformat(),
    }
    if waiver.expired(today):
        row["status"] = "fail"
        row["msg"] = f"the waiver expired on {waiver.expires.isoformat()} ({waiver.reason}); found: {row['observed']}"
    else:
        row["status"] = "waived"
        row["msg"] = f"waived until {waiver.expires.isoformat()}: {waiver.reason}; found: {row['observed']}"
    return row


def host_result(summary: t.Mapping[str, int], unreachable: bool = False) -> str:
    """One word per host: ``fail`` (a control fails or was not checked), ``drift`` (one is not in effect), ``pass``."""
    if unreachable or summary.get("fail") or summary.get(NOT_CHECKED):
        return "fail"
    if summary.get("drift"):
        return "drift"
    return "pass"


def failing_hosts(report: t.Mapping[str, t.Any], fail_on: str) -> dict[str, list[str]]:
    """The hosts that make the run fail under the policy ``fail_on``, with the ids that do."""
    if fail_on not in FAIL_ON:
        raise ValueError(f"fail_on: {fail_on!r} is not one of {', '.join(FAIL_ON)}.")
    if fail_on == "never":
        return {}
    bad = {"fail", NOT_CHECKED} | ({"drift"} if fail_on == "drift" else set())
    result: dict[str, list[str]] = {}
    for host, data in (report.get("hosts") or {}).items():
        ids = [row["id"] for row in data.get("controls") or [] if row.get("status") in bad]
        if ids or data.get("unreachable"):
            result[host] = ids
    return result


def host_summary(data: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """What an AWX workflow branches on for one host: its result, the counts, and the ids that matter."""
    rows = data.get("controls") or []

    def ids(status: str) -> list[str]:
        return [row["id"] for row in rows if row.get("status") == status]

    return {
        "result": data.get("result") or host_result(data.get("summary") or {}, bool(data.get("unreachable"))),
        "unreachable": bool(data.get("unreachable")),
        "summary": dict(data.get("summary") or {}),
        "fail": ids("fail"),
        "drift": ids("drift"),
        "not_checked": ids(NOT_CHECKED),
        "waived": ids("waived"),
    }


def run_result(report: t.Mapping[str, t.Any]) -> str:
    """The worst host result of a report: ``fail``, ``drift`` or ``pass`` (no host is a pass)."""
    results = {host_summary(data)["result"] for data in (report.get("hosts") or {}).values()}
    return next((word for word in ("fail", "drift") if word in results), "pass")


def _statuses(report: t.Mapping[str, t.Any] | None) -> dict[str, dict[str, str]] | None:
    """``{host: {id: status}}`` of a report read back from disk, or None when it is not one of ours."""
    if not isinstance(report, t.Mapping) or report.get("schema") not in (1, SCHEMA_VERSION):
        return None
    hosts = report.get("hosts")
    if not isinstance(hosts, t.Mapping):
        return None
    result: dict[str, dict[str, str]] = {}
    for host, data in hosts.items():
        rows = data.get("controls") if isinstance(data, t.Mapping) else None
        if not isinstance(rows, list):
            return None
        result[str(host)] = {
            str(row["id"]): str(row["status"])
            for row in rows
            if isinstance(row, t.Mapping) and "id" in row and "status" in row
        }
    return result


def _previous_summary(previous: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    if _statuses(previous) is None:
        return None
    return {"generated": previous.get("generated"), "check_mode": previous.get("check_mode")}


def changes_since(
    previous: t.Mapping[str, t.Any] | None, hosts: t.Mapping[str, t.Any]
) -> list[dict[str, t.Any]]:
    """What changed per host and control since the previous report (nothing without one).

    A host the previous report did not have is not compared: every control would read as new.
    """
    before = _statuses(previous)
    if before is None:
        return []
    changes: list[dict[str, t.Any]] = []
    for host, data in hosts.items():
        if host not in before:
            continue
        now = {row["id"]: row for row in data["controls"]}
        for control_id in sorted(set(now) | set(before[host]), key=natural_key):
            was = before[host].get(control_id)
            row = now.get(control_id)
            status = row["status"] if row else None
            if was != status:
                changes.append(
                    {
                        "host": host,
                        "id": control_id,
                        "title": row["title"] if row else None,
                        "from": was,
                        "to": status,
                    }
                )
    return changes


def render_text(report: t.Mapping[str, t.Any]) -> str:
    """Render the report model as one plain-text table per host (columns: id, status, title)."""
    mode = (
        "check mode: drift = would change"
        if report.get("check_mode")
        else "apply mode: fixed = changed now"
    )
    lines = [f"Controls report ({mode})"]
    hosts = report.get("hosts") or {}
    if not hosts:
        lines.append("(no hosts)")
    for host, data in hosts.items():
        counts = ", ".join(
            f"{count} {status}" for status, count in data["summary"].items() if count
        )
        marker = " [unreachable]" if data.get("unreachable") else ""
        lines.append("")
        lines.append(f"{host}{marker}: {counts or 'no controls reported'}")
        rows = data["controls"]
        if not rows:
            continue
        id_width = max(len("ID"), *(len(row["id"]) for row in rows))
        status_width = max(len("STATUS"), *(len(row["status"]) for row in rows))
        lines.append(f"  {'ID'.ljust(id_width)}  {'STATUS'.ljust(status_width)}  TITLE")
        for row in rows:
            lines.append(
                f"  {row['id'].ljust(id_width)}  {row['status'].ljust(status_width)}  {row['title']}{_waiver_note(row)}"
            )
    previous = report.get("previous")
    if previous:
        changes = report.get("changes") or []
        lines.append("")
        lines.append(f"Since the previous report ({previous.get('generated')}): {len(changes) or 'no'} change(s)")
        for change in changes:
            lines.append(f"  {change['host']}  {change['id']}  {change['from'] or '-'} -> {change['to'] or '-'}")
    unknown = report.get("unknown_ids") or []
    if unknown:
        lines.append("")
        lines.append(f"Ids in task names but not in the catalog: {', '.join(unknown)}")
    return "\n".join(lines) + "\n"


def waiver_text(row: t.Mapping[str, t.Any]) -> str | None:
    """The waiver of a row in words, for every report: its reason, and its expiry when it has one."""
    waiver = row.get("waiver")
    if not waiver:
        return None
    if waiver.get("expires"):
        verb = "expired on" if row.get("status") == "fail" else "until"
        return f"{waiver['reason']} ({verb} {waiver['expires']})"
    return str(waiver["reason"])


def _waiver_note(row: t.Mapping[str, t.Any]) -> str:
    text = waiver_text(row)
    return f"  [waiver: {text}]" if text else ""
