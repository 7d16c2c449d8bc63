#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: path_permissions
short_description: Set owner, group and mode of many paths in one task
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Sets the owner, group and mode of every path in O(paths), for example the Docker files of CIS Docker Benchmark
    section 3 (the systemd units, C(/etc/docker), C(daemon.json), the socket, the TLS files).
  - One task reads every path once and changes only what differs, so a converged run is one C(stat) per path.
  - Checks every entry, resolves every user and group, and reads every path before it changes anything; a bad mode,
    an unknown user or group, or a missing required path fails the task, naming the entry, with nothing changed.
  - Never creates a path. A missing path is reported with the status V(absent), unless its O(paths[].state) is
    V(required), which makes it an error.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows owner, group and mode of every path that changes, including paths under a recursive entry.
  idempotent:
    support: full
options:
  paths:
    description:
      - The paths and what their owner, group and mode must be. Each entry needs at least one of O(paths[].owner),
        O(paths[].group) and O(paths[].mode); attributes that are not given are left alone.
      - Each path may be listed once. A path that has its own entry is handled by that entry only, even when it is also
        under a recursive entry.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - The absolute path.
        type: path
        required: true
      name:
        description:
          - A stable name for the entry, which RV(item_status) is keyed by instead of the path, so that a compliance
            report finds the entry wherever the file lives (a TLS directory or daemon.json moved by a variable).
          - Names are unique within O(paths).
        type: str
      owner:
        description:
          - The user that must own the path, as a name or a numeric id.
        type: str
      group:
        description:
          - The group that must own the path, as a name or a numeric id.
        type: str
      mode:
        description:
          - The mode, as a quoted octal string of three or four digits, such as V("0644") or V("2750"). It is set exactly,
            special bits (setuid, setgid, sticky) included, unless O(paths[].mode_max=true).
          - A number is refused, because YAML reads an unquoted C(0644) as the number 420. Symbolic modes are not
            supported.
        type: raw
      mode_max:
        description:
          - Treat O(paths[].mode) as the most permissive mode allowed, as the CIS Benchmarks say ("644 or more
            restrictive"), instead of the exact mode.
          - Only the bits that O(paths[].mode) does not have are removed; a path with V(0600) keeps it when O(paths[].mode)
            is V(0644), and a path with V(0664) gets V(0644).
          - Requires O(paths[].mode).
        type: bool
        default: false
      recurse:
        description:
          - Apply O(paths[].owner), O(paths[].group) and O(paths[].mode) to everything under the path too. The path must be a
            directory.
          - Directories (the path itself included) get O(paths[].mode) plus search (C(x)) wherever it has read (C(r)), like
            the C(X) of C(chmod), so that V("0444") gives files C(0444) and directories C(0555).
          - Symlinks under the directory are neither followed nor changed.
        type: bool
        default: false
      state:
        description:
          - V(present_only) changes the path only if it exists; a missing path gets the status V(absent), which is not an
            error.
          - V(required) makes a missing path an error.
        type: str
        choices: [present_only, required]
        default: present_only
  follow:
    description:
      - When a path in O(paths) is a symlink, act on its target (for example a systemd unit linked into
        C(/etc/systemd/system)). A symlink whose target is missing counts as a missing path.
      - When V(false), the owner and group of the symlink itself are set and its mode is not managed (Linux has no
        symlink modes).
      - Symlinks under a recursive entry are never followed.
    type: bool
    default: true
notes:
  - The kernel clears the setuid and setgid bits of a file when its owner or group changes; when the entry does not set
    the mode, the module puts the bits back, so the mode stays what it was.
  - A path is checked again (same file system object) just before it is changed; a path replaced in between fails the
    task.
seealso:
  - module: ansible.builtin.file
  - name: CIS Docker Benchmark
    description: Section 3, Docker daemon configuration files.
    link: https://www.cisecurity.org/benchmark/docker
"""

EXAMPLES = r"""
- name: Set ownership and permissions of the Docker files | CIS-Docker 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.15, 3.16, 3.17, 3.18
  bulwark.hardening.path_permissions:
    paths:
      - {path: /lib/systemd/system/docker.service, owner: root, group: root, mode: "0644", mode_max: true}
      - {path: /lib/systemd/system/docker.socket, owner: root, group: root, mode: "0644", mode_max: true}
      - {path: /etc/docker, owner: root, group: root, mode: "0755", mode_max: true, state: required}
      - {path: /etc/docker/daemon.json, owner: root, group: root, mode: "0644", mode_max: true}
      - {path: /var/run/docker.sock, owner: root, group: docker, mode: "0660", mode_max: true}
      - {path: /etc/docker/certs.d, owner: root, group: root, mode: "0444", mode_max: true, recurse: true}
  register: __docker_daemon_permissions

- name: Keep the TLS private key to root
  bulwark.hardening.path_permissions:
    paths:
      - path: /etc/docker/certs/server-key.pem
        owner: root
        group: root
        mode: "0400"
        state: required

- name: Audit only (check mode), showing what would change
  bulwark.hardening.path_permissions:
    paths:
      - {path: /etc/default/docker, owner: root, group: root, mode: "0644", mode_max: true}
  check_mode: true
  diff: true
"""

RETURN = r"""
paths:
  description:
    - One entry per entry of O(paths), in the same order.
  returned: success
  type: list
  elements: dict
  sample:
    - path: /etc/docker/daemon.json
      status: changed
      before: {"owner": "root", "group": "root", "mode": "0666"}
      after: {"owner": "root", "group": "root", "mode": "0644"}
    - path: /etc/default/docker
      status: absent
      before: null
      after: null
  contains:
    path:
      description: The path, as given.
      type: str
      sample: /etc/docker/daemon.json
    status:
      description:
        - V(ok) when nothing had to change, V(changed) when the path (or something under a recursive entry) was, or in
          check mode would be, changed, V(absent) when the path does not exist.
      type: str
      choices: [ok, changed, absent]
      sample: changed
    before:
      description:
        - Owner, group and mode (four octal digits) of the path as they were; of the symlink's target when O(follow=true).
        - V(null) when the path is absent.
      type: dict
      sample: {"owner": "root", "group": "root", "mode": "0666"}
    after:
      description:
        - Owner, group and mode of the path after the task (in check mode, what they would be).
        - V(null) when the path is absent.
      type: dict
      sample: {"owner": "root", "group": "root", "mode": "0644"}
    changed_beneath:
      description:
        - The paths under a recursive entry that were (or would be) changed.
      type: list
      elements: str
      returned: when O(paths[].recurse=true) and the path exists
      sample: ["/etc/docker/certs.d/registry.example:5000/ca.crt"]
item_status:
  description:
    - Every entry of O(paths), by its O(paths[].name) or else its path as given, with V(ok), V(changed) or V(absent),
      as in RV(paths[].status). Compliance reports read this.
  returned: success
  type: dict
  sample: {"daemon.json": "changed", "/etc/default/docker": "absent", "/etc/docker": "ok"}
diff:
  description:
    - Owner, group and mode of every path that changes (paths under recursive entries included), before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: Owner, group and mode of each changed path as they were.
      type: dict
      sample: {"/etc/docker/daemon.json": {"owner": "root", "group": "root", "mode": "0666"}}
    after:
      description: Owner, group and mode of each changed path as they are (or would be) after the task.
      type: dict
      sample: {"/etc/docker/daemon.json": {"owner": "root", "group": "root", "mode": "0644"}}
  sample:
    before: {"/etc/docker/daemon.json": {"owner": "root", "group": "root", "mode": "0666"}}
    after: {"/etc/docker/daemon.json": {"owner": "root", "group": "root", "mode": "0644"}}
"""

import errno
import grp
import os
import pwd
import stat
import typing as t

from ansible.module_utils.common.text.converters import to_native

from ansible_collections.bulwark.hardening.plugins.module_utils._io import impossible_account
from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.path_permissions import (
    DIRECTORY,
    FILE,
    LINK,
    OTHER,
    Absent,
    Account,
    Change,
    PathPermissionsError,
    StatRecord,
    parse_specs,
    plan_paths,
    resolve_accounts,
)

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "paths": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {
            "path": {"type": "path", "required": True},
            "name": {"type": "str"},
            "owner": {"type": "str"},
            "group": {"type": "str"},
            "mode": {"type": "raw"},
            "mode_max": {"type": "bool", "default": False},
            "recurse": {"type": "bool", "default": False},
            "state": {"type": "str", "choices": ["present_only", "required"], "default": "present_only"},
        },
        "required_one_of": [("owner", "group", "mode")],
        "required_if": [("mode_max", True, ("mode",))],
    },
    "follow": {"type": "bool", "default": True},
}


def lookup_user(value: str) -> Account | None:
    if impossible_account(value):
        return None
    if value.isdigit():
        try:
            return Account(int(value), pwd.getpwuid(int(value)).pw_name)
        except KeyError:
            return Account(int(value), value)
    try:
        entry = pwd.getpwnam(value)
    except KeyError:
        return None
    return Account(entry.pw_uid, entry.pw_name)


def lookup_group(value: str) -> Account | None:
    if impossible_account(value):
        return None
    if value.isdigit():
        try:
            return Account(int(value), grp.getgrgid(int(value)).gr_name)
        except KeyError:
            return Account(int(value), value)
    try:
        entry = grp.getgrnam(value)
    except KeyError:
        return None
    return Account(entry.gr_gid, entry.gr_name)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid: int) -> str:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _kind(st: os.stat_result) -> str:
    if stat.S_ISLNK(st.st_mode):
        return LINK
    if stat.S_ISDIR(st.st_mode):
        return DIRECTORY
    if stat.S_ISREG(st.st_mode):
        return FILE
    return OTHER


def to_record(path: str, st: os.stat_result) -> StatRecord:
    return StatRecord(
        path=path,
        kind=_kind(st),
        uid=st.st_uid,
        gid=st.st_gid,
        mode=stat.S_IMODE(st.st_mode),
        owner=_user_name(st.st_uid),
        group=_group_name(st.st_gid),
    )


def stat_path(path: str, follow: bool) -> tuple[StatRecord | Absent, os.stat_result | None]:
    """The record of an entry's path and its stat result (for the identity check before a change)."""
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except FileNotFoundError:
        if follow and os.path.islink(path):
            return Absent(f"is a symlink to a missing target ({to_native(os.readlink(path))})"), None
        return Absent(), None
    except NotADirectoryError:
        return Absent("does not exist (a parent is not a directory)"), None
    return to_record(path, st), st


def walk(top: str) -> tuple[list[StatRecord], dict[str, os.stat_result]]:
    """``lstat`` records of everything under the directory ``top``; symlinks are not followed."""
    records: list[StatRecord] = []
    stats: dict[str, os.stat_result] = {}

    def fail(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(top, onerror=fail):
        for name in sorted(dirnames) + sorted(filenames):
            path = os.path.join(dirpath, name)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue  # removed while walking: nothing to fix
            records.append(to_record(path, st))
            stats[path] = st
        dirnames.sort()
    return records, stats


def apply(change: Change, expected: os.stat_result | None) -> None:
    """Change one path, after checking that it is still the object that was planned."""
    follow = change.follow
    st = os.stat(change.path) if follow else os.lstat(change.path)
    if expected is not None and (st.st_dev, st.st_ino, stat.S_IFMT(st.st_mode)) != (
        expected.st_dev,
        expected.st_ino,
        stat.S_IFMT(expected.st_mode),
    ):
        raise PathPermissionsError(f"{change.path} was replaced while the task ran; run it again.")
    if change.uid is not None or change.gid is not None:
        uid = -1 if change.uid is None else change.uid
        gid = -1 if change.gid is None else change.gid
        os.chown(change.path, uid, gid, follow_symlinks=follow)
    if change.chmod is not None and change.kind != LINK:
        os.chmod(change.path, change.chmod)


def main() -> None:
    module = strict_module(ARGUMENT_SPEC, supports_check_mode=True)
    follow: bool = module.params["follow"]

    # Keyed like the changes: (path, whether the path's symlink is followed).
    stats: dict[tuple[str, bool], os.stat_result] = {}
    try:
        specs = resolve_accounts(parse_specs(module.params["paths"]), lookup_user, lookup_group)
        found: dict[int, StatRecord | Absent] = {}
        beneath: dict[int, list[StatRecord]] = {}
        for spec in specs:
            record, st = stat_path(spec.path, follow)
            found[spec.index] = record
            if st is not None:
                stats[(spec.path, follow)] = st
            if spec.recurse and isinstance(record, StatRecord) and record.kind == DIRECTORY:
                beneath[spec.index], below = walk(spec.path)
                for path, child in below.items():
                    stats.setdefault((path, False), child)
        plan = plan_paths(specs, found, beneath, follow=follow)
    except PathPermissionsError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(
            msg=f"cannot read {to_native(exc.filename)}: {to_native(exc.strerror)}; nothing was changed.",
            errno=errno.errorcode.get(exc.errno or 0, exc.errno),
        )

    for warning in plan.warnings:
        module.warn(warning)

    if plan.changed and not module.check_mode:
        done: list[str] = []
        for change in plan.changes:
            try:
                apply(change, stats.get((change.path, change.follow)))
            except (OSError, PathPermissionsError) as exc:
                reason = to_native(exc.strerror) if isinstance(exc, OSError) else str(exc)
                module.fail_json(
                    msg=f"cannot change {change.path}: {reason}. Changed before the error: {', '.join(done) or 'nothing'}.",
                    changed=bool(done),
                    changed_paths=done,
                )
            done.append(change.path)

    output: dict[str, t.Any] = {
        "changed": plan.changed,
        "paths": plan.results(),
        "item_status": plan.item_status(),
    }
    if module._diff:
        output["diff"] = plan.diff()
    module.exit_json(**output)


if __name__ == "__main__":
    main()
