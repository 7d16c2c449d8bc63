#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_rules
short_description: auditd file watches in a rules file and in the running kernel, reported per watch
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Writes one rules file (for C(/etc/audit/rules.d/), which C(augenrules) compiles at boot) with a C(-w PATH -k KEY)
    line per watch, and makes the kernel's watches of O(key) the same, adding what it lacks with C(auditctl -w) and
    removing watches of O(key) that are no longer wanted with C(auditctl -W). Rules of other keys, in the kernel and
    in other files, are left alone.
  - Reads the kernel's rules (C(auditctl -l)) before and after, so a watch is reported V(ok) only when the kernel has
    it. Where the kernel's rules cannot be read - no C(auditctl), or the kernel refuses the host's audit requests, as
    it does for a container outside the host's PID namespace - the file is still written, the task does not fail, and
    every watch is reported V(not-in-effect) with the reason in RV(msg).
  - A watch whose path and parent directory do not exist cannot be loaded (C(auditctl) refuses it) and is reported
    V(absent).
  - Validates every option before anything is written.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details: Reads the file and the kernel's rules and reports what it would write and load; changes neither.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  path:
    description:
      - The rules file. Written root:root 0640, atomically.
    type: path
    required: true
  key:
    description:
      - The audit key of every watch (C(-k)); the module owns the kernel's watches of this key.
    type: str
    required: true
  watches:
    description:
      - What to watch, for every access (read, write, execute, attribute change).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description:
          - An absolute path, written plainly, without blanks.
        type: str
        required: true
      name:
        description:
          - The stable name the watch is reported by in RV(item_status) (V(dockerd) rather than C(/usr/sbin/dockerd)).
            Defaults to the path.
        type: str
  load:
    description:
      - Make the kernel's watches of O(key) match O(watches) now. With V(false), only the file is written; what the
        kernel lacks is reported V(not-in-effect).
    type: bool
    default: true
  backup:
    description:
      - Keep a copy of the file it replaces beside it, named C(<file>.<UTC time>) (which C(augenrules) does not read,
        as it reads C(*.rules) only).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Watch Docker's daemon and configuration
  bulwark.hardening.audit_rules:
    path: /etc/audit/rules.d/bulwark-docker.rules
    key: docker
    watches:
      - {name: dockerd, path: /usr/sbin/dockerd}
      - {name: daemon.json, path: /etc/docker/daemon.json}
"""

RETURN = r"""
item_status:
  description:
    - Per watch name, V(ok) (in the file and in the kernel), V(changed) (written or loaded now, or would be in check
      mode), V(not-in-effect) (the kernel does not have it and cannot be given it) or V(absent) (the path and its
      directory do not exist, so the kernel cannot watch it). Compliance reports read this.
  returned: success
  type: dict
  sample: {"dockerd": "ok", "daemon.json": "changed", "containerd-config": "absent"}
file_changed:
  description: Whether the rules file was (or would be) rewritten.
  returned: success
  type: bool
kernel_readable:
  description: Whether the kernel's audit rules could be read.
  returned: success
  type: bool
kernel_added:
  description: The paths whose watch was (or would be) loaded into the kernel.
  returned: success
  type: list
  elements: str
kernel_removed:
  description: The paths of O(key) the kernel watched and no longer does (or would no longer).
  returned: success
  type: list
  elements: str
backup_file:
  description: The copy of the replaced file, with O(backup=true).
  returned: when a file was replaced and backed up
  type: str
msg:
  description: Why watches are not in effect, when some are not.
  returned: when the kernel's rules cannot be read or a watch could not be loaded
  type: str
  sample: "the kernel refuses this host's audit requests (auditctl -l: Operation not permitted) ..."
"""

import os
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bulwark.hardening.plugins.module_utils._io import (
    backup_copy,
    group_exists,
    read_state,
    user_exists,
    write_atomically,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.audit_rules import (
    AuditRulesError,
    Watch,
    kernel_watches,
    plan_audit_rules,
    validate_key,
    validate_watches,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.file_args import file_arg_problems
from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "path", "required": True},
    "key": {"type": "str", "required": True, "no_log": False},
    "watches": {
        "type": "list",
        "elements": "dict",
        "required": True,
        "options": {"path": {"type": "str", "required": True}, "name": {"type": "str"}},
    },
    "load": {"type": "bool", "default": True},
    "backup": {"type": "bool", "default": False},
}
CONTAINER_HINT = "a container outside the host's PID namespace cannot load audit rules"


def _one_line(text: str) -> str:
    return " ".join((text or "").split())


def read_kernel(module: AnsibleModule, auditctl: str | None, key: str) -> tuple[dict[str, str] | None, str | None]:
    """The kernel's watches of KEY, or None and the reason they cannot be read."""
    if auditctl is None:
        return None, "auditctl is not installed (the auditd package)"
    rc, out, err = module.run_command([auditctl, "-l"])
    if rc != 0:
        reason = _one_line(err or out) or f"exit code {rc}"
        hint = f"; {CONTAINER_HINT}" if "not permitted" in reason.lower() else ""
        return None, f"the kernel refuses this host's audit requests (auditctl -l: {reason}){hint}"
    return kernel_watches(out, key), None


def loadable(path: str) -> bool:
    """auditctl watches a missing file through its directory, but refuses a path whose directory is missing too."""
    return os.path.lexists(path) or os.path.isdir(os.path.dirname(path) or "/")


def main() -> None:
    module = strict_module(ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    path = params["path"]
    try:
        path_problems = file_arg_problems(params, user_exists, group_exists)  # the path: absolute, one line
        if path_problems:
            raise AuditRulesError(" ".join(path_problems))
        key = validate_key(params["key"])
        watches = validate_watches(params["watches"])
        current = read_state(path)
    except AuditRulesError as exc:
        module.fail_json(msg=f"{exc} Nothing was changed.")
    except OSError as exc:
        module.fail_json(msg=f"path: cannot read {path}: {exc.strerror or exc}. Nothing was changed.")

    auditctl = module.get_bin_path("auditctl")
    kernel, reason = read_kernel(module, auditctl, key)
    plan = plan_audit_rules(watches, key, current.content, kernel, load=params["load"], loadable=loadable)
    if kernel is not None and not params["load"] and "not-in-effect" in plan.item_status.values():
        reason = "load is false, and the kernel lacks some watches"
    status = dict(plan.item_status)
    to_add = list(plan.to_add)

    output: dict[str, t.Any] = {
        "file_changed": plan.file_changed,
        "kernel_readable": kernel is not None,
        "kernel_added": [w.path for w in to_add],
        "kernel_removed": list(plan.to_remove),
    }
    problems: list[str] = [reason] if reason else []
    if not module.check_mode:
        if plan.file_changed:
            if params["backup"] and current.exists:
                output["backup_file"] = backup_copy(os.path.dirname(path), path, current.content or b"")
            write_atomically(path, plan.content, mode=0o640, uid=0, gid=0, directory_mode=0o750)
        if kernel is not None and auditctl is not None:
            problems += apply_kernel(module, auditctl, key, kernel, to_add, plan.to_remove)
            after, after_reason = read_kernel(module, auditctl, key)
            status = confirm(watches, status, after)
            if after_reason:
                problems.append(after_reason)
    if problems:
        output["msg"] = "; ".join(problems)
    changed = plan.file_changed or bool(to_add) or bool(plan.to_remove)
    if module._diff:
        output["diff"] = {
            "before": (current.content or b"").decode(errors="replace"),
            "after": plan.content.decode(),
            "before_header": path,
            "after_header": path,
        }
    module.exit_json(changed=changed, item_status=status, **output)


def apply_kernel(
    module: AnsibleModule, auditctl: str, key: str, kernel: dict[str, str], to_add: list[Watch], to_remove: tuple[str, ...]
) -> list[str]:
    """Remove what is no longer wanted, then add what is missing; returns the refusals, one per watch."""
    problems = []
    for path in to_remove:
        module.run_command([auditctl, "-W", path, "-p", kernel[path], "-k", key])
    for watch in to_add:
        if watch.path in kernel:  # watched with fewer permissions: replace it
            module.run_command([auditctl, "-W", watch.path, "-p", kernel[watch.path], "-k", key])
        rc, out, err = module.run_command([auditctl, "-w", watch.path, "-p", "rwxa", "-k", key])
        if rc != 0:
            problems.append(f"auditctl refused the watch of {watch.path}: {_one_line(err or out)}")
    return problems


def confirm(watches: list[Watch], status: dict[str, str], kernel: dict[str, str] | None) -> dict[str, str]:
    """A watch is in effect only if the kernel lists it after the change."""
    confirmed = dict(status)
    for watch in watches:
        if confirmed[watch.name] in ("ok", "changed") and (kernel is None or watch.path not in kernel):
            confirmed[watch.name] = "not-in-effect"
    return confirmed


if __name__ == "__main__":
    main()
