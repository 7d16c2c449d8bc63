#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: controls_gate
short_description: Decide the run's outcome from the controls report, and hand a summary per host to AWX
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Reads the controls report as it stands when the task starts (the C(bulwark.hardening.controls_report) callback
    hands it over; the task fails and says so when that callback is not enabled).
  - Fails when the report breaks the exit-code policy O(fail_on), naming each host and the controls that do, so
    C(ansible-playbook) (and the AWX job) ends with a non-zero status.
  - Sets C(bulwark_controls) with C(set_stats) (unless O(stats=false)) - a summary per host and the run's result -
    so that the next node of an AWX workflow can branch on it.
  - Runs on the controller only; it makes no connection to the hosts. Run it once, after the roles (for example
    in a last play on C(localhost)); it reports every host of the run, including those that failed earlier.
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
  fail_on:
    description:
      - V(fail) fails the task when a control fails (or a role did not check one, or a host was unreachable).
      - V(drift) fails it as well when a control is not in effect (status V(drift), which an audit reports for what it would change).
      - V(never) never fails it; tasks that failed earlier still fail the run, as Ansible always does.
    type: str
    choices: [fail, drift, never]
    default: fail
  stats:
    description:
      - Set C(bulwark_controls) with C(set_stats) (aggregated, not per host), which AWX saves as the job's artifacts.
      - Ansible drops the C(set_stats) of a task that fails; to have the summary when the policy is broken, run
        one gate with O(fail_on=never) for the stats and another with O(stats=false) for the policy, as the
        playbook C(bulwark.hardening.report) does.
    type: bool
    default: true
notes:
  - The playbooks C(bulwark.hardening.site) and C(bulwark.hardening.audit) end with this task; their policy is the
    inventory or extra variable C(bulwark_report_fail_on) (default V(fail); a CI job that must catch drift sets
    V(drift)).
"""

EXAMPLES = r"""
- name: Report the controls
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Hand each host's controls summary to AWX
      bulwark.hardening.controls_gate:
        fail_on: never

    - name: Fail the job when a control is not in effect
      bulwark.hardening.controls_gate:
        fail_on: drift
        stats: false
"""

RETURN = r"""
fail_on:
  description: The policy the gate applied.
  returned: always
  type: str
  sample: drift
result:
  description: The run's result, the worst of the hosts' - V(fail), V(drift) or V(pass).
  returned: success
  type: str
  sample: drift
hosts:
  description:
    - Per host its C(result), the count per status (C(summary)), and the ids of the controls that fail, drift, were
      not checked or are waived.
  returned: success
  type: dict
  sample: {"web1": {"result": "drift", "summary": {"pass": 40, "drift": 2, "fail": 0},
           "fail": [], "drift": ["CIS-Docker 2.2", "CIS-Docker 2.13"], "not_checked": [], "waived": []}}
failing:
  description: The hosts that break the policy, with the ids of the controls that do.
  returned: success
  type: dict
  sample: {"web1": ["CIS-Docker 2.2", "CIS-Docker 2.13"]}
"""
