#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: check_role_vars
short_description: Refuse a role variable whose value the role could not use, or that is weaker than the benchmark
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Reads the role's C(meta/argument_specs.yml) and checks its variables as the role's tasks will read them, after
    templating. A variable of type C(list) must be a list, one of type C(dict) a mapping, and the same at every
    depth of C(options) and C(elements). Fails before anything changes, naming each variable, the value and the
    form to give.
  - ansible-core's own role argument validation checks a coerced copy and hands the role the original, so a
    string given for a list (V("Node,RBAC")) passes it, and the role then sees the characters of the string.
  - Text and numbers are held to what every role reads them as. A C(str) or C(path) variable (or list element) is a
    string, not a number, a bool, a list or a dict; it is not empty and is one line without control characters
    (the values go into unit files, rules files and command lines, where a newline adds a line). A C(path) is
    absolute (or starts with C(~) on the controller) and does not climb with C(..). An C(int) is a count, a size or
    a time, so a whole number of 1 or more, and never a bool. Variables with C(choices) are left to argument_specs.
  - A value weaker than the benchmark's for the control it sets (a docker socket mode looser than 0660, fewer than 30
    days of API server audit logs, a scheduler bound to a non-loopback address, and the other floors in
    C(module_utils/benchmark_floors.py)) is refused unless the host's waivers include that control. So is the
    other value of a bool whose control only null waives in the control catalog (V(docker_daemon_icc=true),
    V(kube_apiserver_profiling=true)), which turns the control off; the report would otherwise call it passing.
  - Checks the inventory's waivers, C(bulwark_waivers), against the control catalog (an unknown control id, a
    missing reason, an expiry that is not a date written V(YYYY-MM-DD) fail the task) and returns the ones that
    apply to the host, which the C(bulwark.hardening.controls_report) callback reports.
  - Runs on the controller only; it makes no connection to the host.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  argument_specs:
    description:
      - The argument spec file. Defaults to C(meta/argument_specs.yml) of the role the task is in.
    type: path
  entry_point:
    description:
      - The entry point whose options are checked.
    type: str
    default: main
notes:
  - Every role of this collection runs it as its first task.
"""

EXAMPLES = r"""
- name: Refuse a value the role could not use, or one weaker than the benchmark
  bulwark.hardening.check_role_vars:
"""

RETURN = r"""
checked:
  description: The variables that were set and checked.
  returned: always
  type: list
  elements: str
  sample: ["kube_apiserver_authorization_modes", "kube_apiserver_extra_args"]
bulwark_waivers:
  description:
    - The waivers of C(bulwark_waivers) that apply to this host (no C(hosts) and no C(groups), the host named in
      C(hosts), or one of its groups in C(groups)); of several for one control, the one that expires last.
  returned: success
  type: list
  elements: dict
  sample: [{"id": "CIS-Docker 2.13", "reason": "no registry mirror yet (OPS-42)", "expires": "2027-03-31",
            "hosts": [], "groups": ["lab"]}]
problems:
  description: One message per variable whose value the role could not use or that is weaker than the benchmark.
  returned: failure
  type: list
  elements: str
  sample: ["kube_apiserver_authorization_modes must be a list, not the string 'Node,RBAC'; give a list, such as [Node, RBAC]."]
"""
