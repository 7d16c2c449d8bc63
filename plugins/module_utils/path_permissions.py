# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Plan owner, group and mode of a list of paths: pure, no host access.

The ``path_permissions`` module stats the paths, resolves user and group names, and hands the
records to these functions; they validate the entries and decide, path by path, what has to
change. The module then applies the changes. Nothing here reads the file system or the user
database: lookups are passed in as callables and paths arrive as ``StatRecord`` values.
"""

from __future__ import annotations

import posixpath
import re
import typing as t
from dataclasses import dataclass, field, replace

PRESENT_ONLY = "present_only"
REQUIRED = "required"
STATES = (PRESENT_ONLY, REQUIRED)

# Kinds of StatRecord.
FILE = "file"
DIRECTORY = "directory"
LINK = "link"
OTHER = "other"  # socket, FIFO, device

OK = "ok"
CHANGED = "changed"
ABSENT = "absent"

SETID_BITS = 0o6000  # S_ISUID | S_ISGID: the kernel clears them on chown of a non-directory
_MODE_RE = re.compile(r"^[0-7]{3,5}\Z")


class PathPermissionsError(ValueError):
    """Bad user input or host state; the message is shown to the user as is."""


@dataclass(frozen=True)
class Account:
    """A resolved owner or group: the id to set and the name to show."""

    id: int
    name: str


@dataclass(frozen=True)
class PathSpec:
    """One validated entry of the ``paths`` option."""

    index: int
    path: str
    name: str = ""  # what item_status is keyed by; the path when empty
    owner: str | None = None
    group: str | None = None
    mode: int | None = None
    mode_max: bool = False
    recurse: bool = False
    state: str = PRESENT_ONLY
    # Set by resolve_accounts().
    owner_account: Account | None = None
    group_account: Account | None = None

    @property
    def where(self) -> str:
        return f"paths[{self.index}]"

    @property
    def norm(self) -> str:
        return normalize_path(self.path)


@dataclass(frozen=True)
class StatRecord:
    """What the module found at one path (``lstat``, or ``stat`` when following a symlink)."""

    path: str
    kind: str
    uid: int
    gid: int
    mode: int  # permission bits only (stat.S_IMODE)
    owner: str  # the user name of uid, or the number as a string
    group: str  # the group name of gid, or the number as a string

    def perms(self) -> dict[str, str]:
        return {"owner": self.owner, "group": self.group, "mode": format_mode(self.mode)}


@dataclass(frozen=True)
class Absent:
    """Nothing at the path; ``reason`` says why, for the error of a required path."""

    reason: str = "does not exist"


@dataclass(frozen=True)
class Change:
    """What to do to one path. ``None`` leaves that attribute alone."""

    path: str
    kind: str
    # True for an entry's own path when follow is true: act on the symlink's target.
    follow: bool
    uid: int | None
    gid: int | None
    # Set after the chown. Also the current mode when a chown would clear setuid/setgid bits
    # that the entry does not manage, so that the mode stays what the plan says.
    chmod: int | None
    before: dict[str, str]
    after: dict[str, str]


@dataclass(frozen=True)
class EntryPlan:
    """The outcome for one entry of ``paths``."""

    spec: PathSpec
    status: str
    before: dict[str, str] | None
    after: dict[str, str] | None
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()

    def result(self) -> dict[str, t.Any]:
        out: dict[str, t.Any] = {
            "path": self.spec.path,
            "status": self.status,
            "before": self.before,
            "after": self.after,
        }
        if self.spec.recurse and self.status != ABSENT:
            out["changed_beneath"] = [c.path for c in self.changes if normalize_path(c.path) != self.spec.norm]
        return out


@dataclass(frozen=True)
class Plan:
    entries: tuple[EntryPlan, ...]
    changed: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "changed", any(entry.status == CHANGED for entry in self.entries))

    @property
    def changes(self) -> tuple[Change, ...]:
        return tuple(change for entry in self.entries for change in entry.changes)

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(warning for entry in self.entries for warning in entry.warnings)

    def item_status(self) -> dict[str, str]:
        """``{name: "ok" | "changed" | "absent"}`` for every entry, keyed by its name (the path as given
        when the entry has none), so that a report finds its item wherever the file lives."""
        return {entry.spec.name or entry.spec.path: entry.status for entry in self.entries}

    def results(self) -> list[dict[str, t.Any]]:
        return [entry.result() for entry in self.entries]

    def diff(self) -> dict[str, dict[str, dict[str, str]]]:
        """Owner, group and mode before and after, of every path that changes (recursion included)."""
        changes = self.changes
        return {
            "before": {change.path: change.before for change in changes},
            "after": {change.path: change.after for change in changes},
        }


def format_mode(mode: int) -> str:
    """``0o644`` -> ``"0644"``."""
    return f"{mode:04o}"


def normalize_path(path: str) -> str:
    return posixpath.normpath(path)


def parse_mode(value: t.Any, where: str) -> int:
    """An octal mode string (``"0644"``, ``"644"``, ``"2755"``) as an int; anything else raises."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise PathPermissionsError(
            f"{where}: {value!r} is not a mode; give an octal mode as a quoted string, such as '0644'."
        )
    if isinstance(value, int):
        raise PathPermissionsError(
            f"{where}: {value} is a number, not a string; quote the mode, such as '0644' (YAML reads an unquoted"
            " 0644 as the decimal number 420, and 644 as six hundred and forty-four)."
        )
    if not _MODE_RE.match(value) or int(value, 8) > 0o7777:
        raise PathPermissionsError(
            f"{where}: {value!r} is not an octal mode; give three or four octal digits, such as '0644' or '2750'"
            " (symbolic modes such as 'u=rw,go=r' are not supported)."
        )
    return int(value, 8)


def directory_mode(mode: int) -> int:
    """The mode of a directory in a recursion: ``mode`` plus search (x) wherever it has read (r).

    ``0o444`` -> ``0o555``, ``0o640`` -> ``0o750``, like the ``X`` of chmod.
    """
    return mode | ((mode & 0o444) >> 2)


def parse_specs(entries: t.Sequence[t.Mapping[str, t.Any]]) -> tuple[PathSpec, ...]:
    """Validate the ``paths`` option. Every problem is reported at once; nothing is changed."""
    problems: list[str] = []
    specs: list[PathSpec] = []
    seen: dict[str, int] = {}
    names: dict[str, int] = {}
    for index, entry in enumerate(entries):
        where = f"paths[{index}]"
        name = entry.get("name") or ""
        if not isinstance(name, str) or any(ord(ch) < 32 for ch in name):
            problems.append(f"{where}.name: {name!r} is not a one-line name")
            continue
        if name and name in names:
            problems.append(f"{where}.name: {name!r} is also paths[{names[name]}].name; give each entry its own")
            continue
        if name:
            names[name] = index
        path = entry.get("path")
        if not isinstance(path, str) or not path or "\x00" in path:
            problems.append(f"{where}.path: {path!r} is not a path")
            continue
        if not posixpath.isabs(path):
            problems.append(
                f"{where}.path: {path!r} is not absolute; give the full path, such as /etc/docker/daemon.json"
            )
            continue
        norm = normalize_path(path)
        if norm in seen:
            problems.append(f"{where}.path: {path} is also paths[{seen[norm]}].path; list each path once")
            continue
        seen[norm] = index
        mode = None
        if entry.get("mode") is not None:
            try:
                mode = parse_mode(entry["mode"], f"{where}.mode")
            except PathPermissionsError as exc:
                problems.append(str(exc).rstrip("."))
                continue
        state = entry.get("state") or PRESENT_ONLY
        if state not in STATES:
            problems.append(f"{where}.state: {state!r} is not one of {', '.join(STATES)}")
            continue
        mode_max = bool(entry.get("mode_max"))
        if mode_max and mode is None:
            problems.append(f"{where}.mode_max: true needs {where}.mode, the most permissive mode allowed")
            continue
        owner, group = entry.get("owner"), entry.get("group")
        for key, value in (("owner", owner), ("group", group)):
            if value is not None and (not isinstance(value, str) or not value):
                problems.append(f"{where}.{key}: {value!r} is not a name or a numeric id")
        specs.append(
            PathSpec(
                index=index,
                path=path,
                name=name,
                owner=owner,
                group=group,
                mode=mode,
                mode_max=mode_max,
                recurse=bool(entry.get("recurse")),
                state=state,
            )
        )
    if problems:
        raise PathPermissionsError("; ".join(problems) + ". Nothing was changed.")
    return tuple(specs)


def resolve_accounts(
    specs: t.Iterable[PathSpec],
    user: t.Callable[[str], Account | None],
    group: t.Callable[[str], Account | None],
) -> tuple[PathSpec, ...]:
    """Look up every owner and group (the module passes ``pwd``/``grp`` lookups).

    Raises naming every entry whose user or group does not exist.
    """
    problems: list[str] = []
    resolved: list[PathSpec] = []
    for spec in specs:
        owner_account = user(spec.owner) if spec.owner is not None else None
        group_account = group(spec.group) if spec.group is not None else None
        if spec.owner is not None and owner_account is None:
            problems.append(f"{spec.where}.owner: user {spec.owner!r} does not exist on this host")
        if spec.group is not None and group_account is None:
            problems.append(f"{spec.where}.group: group {spec.group!r} does not exist on this host")
        resolved.append(replace(spec, owner_account=owner_account, group_account=group_account))
    if problems:
        raise PathPermissionsError(
            "; ".join(problems)
            + ". Create it first or fix the name (a numeric id is used as it is). Nothing was changed."
        )
    return tuple(resolved)


def _covering_spec(path: str, specs: t.Sequence[PathSpec]) -> PathSpec | None:
    """The most specific entry for ``path``: its own entry, else the deepest recursive one above it."""
    norm = normalize_path(path)
    best: PathSpec | None = None
    for spec in specs:
        base = spec.norm
        covers = norm == base or (spec.recurse and norm.startswith(base.rstrip("/") + "/"))
        if covers and (best is None or len(base) > len(best.norm)):
            best = spec
    return best


def _wanted_mode(spec: PathSpec, record: StatRecord) -> int | None:
    if spec.mode is None or record.kind == LINK:
        return None
    allowed = directory_mode(spec.mode) if spec.recurse and record.kind == DIRECTORY else spec.mode
    return record.mode & allowed if spec.mode_max else allowed


def plan_record(spec: PathSpec, record: StatRecord, follow: bool) -> tuple[Change | None, dict[str, str]]:
    """The change one path needs (None when it has the wanted owner, group and mode), and its after state."""
    uid = gid = None
    after = record.perms()
    if spec.owner_account is not None and spec.owner_account.id != record.uid:
        uid = spec.owner_account.id
        after["owner"] = spec.owner_account.name
    if spec.group_account is not None and spec.group_account.id != record.gid:
        gid = spec.group_account.id
        after["group"] = spec.group_account.name
    mode = _wanted_mode(spec, record)
    chmod = None
    if mode is not None and mode != record.mode:
        chmod = mode
        after["mode"] = format_mode(mode)
    elif (uid is not None or gid is not None) and record.kind in (FILE, OTHER) and record.mode & SETID_BITS:
        chmod = record.mode  # put back what chown clears
    if uid is None and gid is None and after["mode"] == format_mode(record.mode):
        return None, after
    return (
        Change(
            path=record.path,
            kind=record.kind,
            follow=follow,
            uid=uid,
            gid=gid,
            chmod=chmod,
            before=record.perms(),
            after=after,
        ),
        after,
    )


def plan_paths(
    specs: t.Sequence[PathSpec],
    found: t.Mapping[int, StatRecord | Absent],
    beneath: t.Mapping[int, t.Sequence[StatRecord]] | None = None,
    follow: bool = True,
) -> Plan:
    """Plan every entry.

    ``found`` maps each entry's index to its record (``stat`` when ``follow``, else ``lstat``) or
    to ``Absent``. ``beneath`` maps the index of a recursive entry to the ``lstat`` records of
    everything under its directory. Beneath, symlinks are left alone, and a path that has its own
    entry, or is under a deeper recursive entry, is planned by that entry only.

    Raises, naming every entry, when a required path is missing or a recursive entry is not a
    directory; nothing is planned then.
    """
    beneath = beneath or {}
    problems: list[str] = []
    entries: list[EntryPlan] = []
    for spec in specs:
        record = found.get(spec.index, Absent())
        if isinstance(record, Absent):
            if spec.state == REQUIRED:
                problems.append(
                    f"{spec.where}.path: {spec.path} {record.reason} and {spec.where}.state is 'required'; create it"
                    " first, or use state 'present_only' to skip a missing path"
                )
            entries.append(EntryPlan(spec=spec, status=ABSENT, before=None, after=None))
            continue
        if spec.recurse and record.kind != DIRECTORY:
            problems.append(
                f"{spec.where}.recurse: true, but {spec.path} is a {record.kind}"
                f"{' and follow is false' if record.kind == LINK else ''}; recurse applies to directories only"
            )
            continue
        warnings: list[str] = []
        if record.kind == LINK and spec.mode is not None:
            warnings.append(
                f"{spec.where}: {spec.path} is a symlink and follow is false, so its mode is not managed (Linux has"
                " no symlink modes); only its owner and group are."
            )
        top, after = plan_record(spec, record, follow=follow)
        changes = [top] if top is not None else []
        for child in beneath.get(spec.index, ()):
            if child.kind == LINK or _covering_spec(child.path, specs) is not spec:
                continue
            change = plan_record(spec, child, follow=False)[0]
            if change is not None:
                changes.append(change)
        entries.append(
            EntryPlan(
                spec=spec,
                status=CHANGED if changes else OK,
                before=record.perms(),
                after=after,
                changes=tuple(changes),
                warnings=tuple(warnings),
            )
        )
    if problems:
        raise PathPermissionsError("; ".join(problems) + ". Nothing was changed.")
    return Plan(entries=tuple(entries))
