# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""auditd file watches: the rules file, the rules the kernel has, and what to do about the gap.

A benchmark control such as CIS-Docker 1.1.3 ("audit dockerd") is in effect only when the kernel
has the watch; a rules file in ``rules.d`` is what makes it survive a reboot. So the plan compares
both: the file as it should be, and the watches of our key that ``auditctl -l`` lists. Rules of
other keys are never touched. Nothing here runs a command or touches a file.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

__all__ = [
    "AuditRulesError",
    "AuditPlan",
    "Watch",
    "kernel_watches",
    "plan_audit_rules",
    "render_rules",
    "rule_line",
    "validate_key",
    "validate_watches",
]

# auditctl -w PATH: one word, no blank (auditctl splits a rules file line on blanks).
_PATH = re.compile(r"^/[^\s\x00]*\Z")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
# auditctl keys: printable, no blank; kept short so that `-k` stays readable in logs.
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,30}\Z")
# `-w /path -p rwxa -k key` as the kernel reports a watch, or its syscall form
# `-a always,exit -F dir=/path -F perm=rwxa -F key=key` (path= for a file).
_W_FORM = re.compile(r"^-w (?P<path>\S+) -p (?P<perm>[rwxa]+)(?: -k (?P<key>\S+))?\Z")
_F_FORM = re.compile(r"^-a always,exit(?: -F arch=\S+)? -F (?:path|dir)=(?P<path>\S+) -F perm=(?P<perm>[rwxa]+)(?: -F key=(?P<key>\S+))?\Z")
_PERMISSIONS = "rwxa"  # what `-w PATH` without -p means
HEADER = "## Managed by bulwark.hardening; local changes are overwritten."


class AuditRulesError(ValueError):
    """The input cannot be used; the message names the option and entry and is shown as is."""


@dataclasses.dataclass(frozen=True)
class Watch:
    name: str  # the stable name a report item is keyed by ("dockerd"), not the path
    path: str


def _describe(value: t.Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def validate_key(key: t.Any) -> str:
    if not isinstance(key, str) or not _KEY.match(key):
        raise AuditRulesError(
            f"key must be 1 to 31 letters, digits, '-' or '_' (starting with a letter or digit), not {_describe(key)}."
        )
    return key


def validate_watches(watches: t.Any) -> list[Watch]:
    """``[{name, path}]``: names unique, paths absolute, one word, without '..', each watched once."""
    if not isinstance(watches, list) or not watches:
        raise AuditRulesError(f"watches must be a non-empty list of {{name, path}}, not {_describe(watches)}.")
    result: list[Watch] = []
    names: dict[str, int] = {}
    paths: dict[str, int] = {}
    for index, entry in enumerate(watches):
        where = f"watches[{index}]"
        if not isinstance(entry, t.Mapping) or set(entry) - {"name", "path"} or "path" not in entry:
            raise AuditRulesError(f"{where} must be a mapping with path and name, not {_describe(entry)}.")
        path = entry["path"]
        if not isinstance(path, str) or not _PATH.match(path):
            raise AuditRulesError(
                f"{where}.path must be an absolute path without blanks, newlines or NUL bytes, not {_describe(path)}."
            )
        if "/../" in f"{path}/" or "/./" in f"{path}/" or (len(path) > 1 and path.endswith("/")) or "//" in path:
            raise AuditRulesError(f"{where}.path {path!r} must be written plainly (no '.', '..', '//' or trailing '/').")
        name = entry.get("name") or path
        if not isinstance(name, str) or not (_NAME.match(name) or _PATH.match(name)):
            raise AuditRulesError(f"{where}.name must be a word of letters, digits, '.', '-' or '_', not {_describe(name)}.")
        if path in paths:
            raise AuditRulesError(f"{where}.path {path!r} is also watches[{paths[path]}].path; watch a path once.")
        if name in names:
            raise AuditRulesError(f"{where}.name {name!r} is also watches[{names[name]}].name; names are unique.")
        names[name], paths[path] = index, index
        result.append(Watch(name=name, path=path))
    return result


def render_rules(watches: t.Iterable[Watch], key: str) -> bytes:
    """The rules file: one ``-w PATH -k KEY`` per watch (every access: read, write, exec, attributes)."""
    lines = [HEADER, f"## Watches for the key {key}."]
    lines += [rule_line(watch, key) for watch in watches]
    return ("\n".join(lines) + "\n").encode()


def kernel_watches(listing: str, key: str) -> dict[str, str]:
    """The watches of KEY in ``auditctl -l`` output: ``{path: permissions}``. Other keys are ignored."""
    found: dict[str, str] = {}
    for line in listing.splitlines():
        match = _W_FORM.match(line.strip()) or _F_FORM.match(line.strip())
        if match and match.group("key") == key:
            found[match.group("path")] = match.group("perm")
    return found


@dataclasses.dataclass(frozen=True)
class AuditPlan:
    content: bytes  # the rules file as it should be
    file_changed: bool
    to_add: tuple[Watch, ...]  # not in the kernel (or with fewer permissions)
    to_remove: tuple[str, ...]  # paths the kernel watches for our key that are no longer wanted
    item_status: dict[str, str]

    @property
    def kernel_changed(self) -> bool:
        return bool(self.to_add or self.to_remove)


def plan_audit_rules(
    watches: t.Sequence[Watch],
    key: str,
    current_file: bytes | None,
    kernel: dict[str, str] | None,
    *,
    load: bool = True,
    loadable: t.Callable[[str], bool] = lambda path: True,
) -> AuditPlan:
    """What to write and load, and the status of each watch.

    KERNEL is None when the kernel's rules cannot be read (no auditctl, or the kernel refuses the
    host's requests): nothing can be in effect then. Without LOAD the kernel is only read. A watch
    the kernel lacks and that LOADABLE says it cannot take (path and directory missing) is absent.
    """
    wanted = render_rules(watches, key)
    file_changed = current_file != wanted
    written = set((current_file or b"").decode(errors="replace").splitlines())
    if kernel is None:
        return AuditPlan(wanted, file_changed, (), (), {watch.name: "not-in-effect" for watch in watches})
    missing = [w for w in watches if not set(_PERMISSIONS) <= set(kernel.get(w.path, ""))]
    status: dict[str, str] = {}
    to_add: list[Watch] = []
    for watch in watches:
        if watch in missing and not loadable(watch.path):
            status[watch.name] = "absent"
        elif watch in missing and not load:
            status[watch.name] = "not-in-effect"
        elif watch in missing:
            status[watch.name] = "changed"
            to_add.append(watch)
        else:
            status[watch.name] = "ok" if rule_line(watch, key) in written else "changed"
    wanted_paths = {w.path for w in watches}
    to_remove = tuple(sorted(path for path in kernel if path not in wanted_paths)) if load else ()
    return AuditPlan(wanted, file_changed, tuple(to_add), to_remove, status)


def rule_line(watch: Watch, key: str) -> str:
    return f"-w {watch.path} -k {key}"
