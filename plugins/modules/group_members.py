#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: group_members
short_description: Make the members of a local group a declared list
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Makes the supplementary members of a local group (the last field of its C(/etc/group) line) the users listed in
    O(members), for example the C(docker) group, whose members control the Docker daemon (CIS-Docker 1.1.2).
  - Adds the members that are missing. With O(prune=true), also removes the members that are not listed, so the group
    has exactly the listed members; with O(prune=false), they are kept and returned in RV(extra), with a warning.
  - Every listed member must be an existing user; otherwise the module fails, naming each one, before anything is
    changed.
  - Applies the whole new member list with one C(gpasswd -M) call, which locks and updates C(/etc/group) and
    C(/etc/gshadow) together. A group that already has the wanted members is only read.
  - Membership is a set; the order of the names is not compared, and a rewrite keeps the order of the members that stay.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - The diff shows the group name and its sorted member list before and after.
  idempotent:
    support: full
options:
  name:
    description:
      - The local group.
      - When it does not exist, the module fails, unless O(create=true).
    type: str
    required: true
  members:
    description:
      - The user names that must be members of O(name). Each must be an existing user.
      - Duplicates are ignored. An empty list with O(prune=true) removes every member.
    type: list
    elements: str
    required: true
  prune:
    description:
      - Remove the members of O(name) that are not in O(members).
      - When V(false), only missing members are added, and members that are not listed are returned in RV(extra) and
        shown as a warning.
    type: bool
    default: false
  create:
    description:
      - Create O(name) as a system group (C(groupadd --system)) when it does not exist.
      - Leave it V(false) when the group should come from a package (the C(docker.io) and C(docker-ce) packages create the
        C(docker) group), so that a missing package is an error instead of an empty group.
    type: bool
    default: false
requirements:
  - C(gpasswd) (and C(groupadd) when O(create=true)) from the shadow tools, which every Debian and Red Hat system has.
notes:
  - Only the member list of the group line is managed. A user whose primary group is O(name) is also in that group, but
    does not appear in the member list; the module warns when there is such a user, and leaves it alone.
  - The group must be a local one (in C(/etc/group)); C(gpasswd) cannot change groups of a directory service.
  - Users who are logged in keep their old group list until they log in again.
seealso:
  - module: ansible.builtin.group
  - module: ansible.builtin.user
  - name: CIS Docker Benchmark
    description: Control 1.1.2, only trusted users should be members of the docker group.
    link: https://www.cisecurity.org/benchmark/docker
"""

EXAMPLES = r"""
- name: Allow only the declared users to control Docker | CIS-Docker 1.1.2
  bulwark.hardening.group_members:
    name: docker
    members:
      - alice
      - bob
    prune: true
  register: __docker_daemon_group

- name: Add the deploy user, keep the other members, and report them
  bulwark.hardening.group_members:
    name: docker
    members:
      - deploy
  register: __docker_group_audit

- name: Show the members nobody declared
  ansible.builtin.debug:
    var: __docker_group_audit.extra

- name: Audit only (check mode), showing what would change
  bulwark.hardening.group_members:
    name: docker
    members: [alice, bob]
    prune: true
  check_mode: true
  diff: true
"""

RETURN = r"""
members:
  description:
    - The members of O(name) after the task (in check mode, what they would be).
  returned: success
  type: list
  elements: str
  sample: ["alice", "bob"]
added:
  description:
    - The members that were (or would be) added.
  returned: success
  type: list
  elements: str
  sample: ["bob"]
removed:
  description:
    - The members that were (or would be) removed. Always empty when O(prune=false).
  returned: success
  type: list
  elements: str
  sample: ["mallory"]
extra:
  description:
    - Members that are not in O(members) and were kept because O(prune=false). Always empty when O(prune=true).
  returned: success
  type: list
  elements: str
  sample: ["mallory"]
created:
  description:
    - Whether O(name) was (or would be) created, because it did not exist and O(create=true).
  returned: success
  type: bool
  sample: false
item_status:
  description:
    - Every user of O(members), and every removed member, with V(ok) when it already had the wanted membership and
      V(changed) when it was (or would be) added or removed. Compliance reports read this.
  returned: success
  type: dict
  sample: {"alice": "ok", "bob": "changed", "mallory": "changed"}
diff:
  description:
    - The group and its member list (sorted) before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The group and its members as they were; no members when the group is created.
      type: dict
      sample: {"group": "docker", "members": ["alice", "mallory"]}
    after:
      description: The group and its members as they are (or would be) after the task.
      type: dict
      sample: {"group": "docker", "members": ["alice", "bob"]}
  sample: {"before": {"group": "docker", "members": ["alice", "mallory"]}, "after": {"group": "docker", "members": ["alice", "bob"]}}
"""

import grp
import pwd
import typing as t

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.group_members import (
    GroupMembersError,
    check_users_exist,
    gpasswd_members_arg,
    plan_members,
    validate_group_name,
    validate_members,
)

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "name": {"type": "str", "required": True},
    "members": {"type": "list", "elements": "str", "required": True},
    "prune": {"type": "bool", "default": False},
    "create": {"type": "bool", "default": False},
}


def read_group(name: str) -> grp.struct_group | None:
    """The group entry, or None when there is no such group."""
    try:
        return grp.getgrnam(name)
    except KeyError:
        return None


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def primary_members(gid: int) -> list[str]:
    """Users whose primary group is ``gid`` (they are not in the member list)."""
    return sorted({entry.pw_name for entry in pwd.getpwall() if entry.pw_gid == gid})


def run(module: AnsibleModule, args: list[str], what: str) -> None:
    rc, out, err = module.run_command(args)
    if rc != 0:
        reason = " ".join((err or out).split()) or f"exit code {rc}"
        module.fail_json(msg=f"{what} failed: {reason}", cmd=args, rc=rc, stdout=out, stderr=err)


def main() -> None:
    module = strict_module(ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params

    try:
        name = validate_group_name(params["name"])
        wanted = validate_members(params["members"])
        group = read_group(name)
        if group is None and not params["create"]:
            raise GroupMembersError(
                f"name: group {name!r} does not exist on this host; install the package that creates it, create it"
                " with ansible.builtin.group, or set create: true. Nothing was changed."
            )
        check_users_exist(name, wanted, user_exists)
        result = plan_members(group.gr_mem if group is not None else [], wanted, params["prune"])
    except GroupMembersError as exc:
        module.fail_json(msg=str(exc))

    created = group is None
    changed = result.changed or created
    if changed and not module.check_mode:
        if created:
            run(module, [module.get_bin_path("groupadd", required=True), "--system", name], f"groupadd --system {name}")
        if result.changed:
            gpasswd = module.get_bin_path("gpasswd", required=True)
            run(module, [gpasswd, "-M", gpasswd_members_arg(result.after), name], f"gpasswd -M on group {name!r}")

    if result.extra:
        module.warn(
            f"group {name!r} has members that are not declared and were kept because prune is false:"
            f" {', '.join(result.extra)}."
        )
    if group is not None:
        primary = primary_members(group.gr_gid)
        if primary:
            module.warn(
                f"group {name!r} is the primary group of {', '.join(primary)}; they are in the group although the"
                " member list does not name them, and this module does not change that."
            )

    output: dict[str, t.Any] = {
        "changed": changed,
        "members": list(result.after),
        "added": list(result.to_add),
        "removed": list(result.to_remove),
        "extra": list(result.extra),
        "created": created,
        "item_status": result.item_status(),
    }
    if module._diff:
        output["diff"] = dict(result.diff(name), before_header=f"group {name}", after_header=f"group {name}")
    module.exit_json(**output)


if __name__ == "__main__":
    main()
