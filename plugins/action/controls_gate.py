# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller side of bulwark.hardening.controls_gate: the report the callback handed over,
the exit-code policy, and set_stats. Nothing runs on the hosts."""

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    FAIL_ON,
    failing_hosts,
    host_summary,
    run_result,
)
from ansible_collections.bulwark.hardening.plugins.plugin_utils.catalog import SNAPSHOT_ENV, read_json


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True
    _VALID_ARGS = frozenset(("fail_on", "stats"))

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        result = super().run(tmp, task_vars or {})
        del tmp
        fail_on = self._task.args.get("fail_on", "fail")
        if fail_on not in FAIL_ON:
            raise AnsibleActionFail(f"fail_on must be one of {', '.join(FAIL_ON)}, not {fail_on!r}.")
        try:
            stats = boolean(self._task.args.get("stats", True), strict=True)
        except TypeError as exc:
            raise AnsibleActionFail(f"stats must be a boolean: {exc}") from None
        path = os.environ.get(SNAPSHOT_ENV)
        report = read_json(path) if path else None
        if not isinstance(report, dict) or not isinstance(report.get("hosts"), dict):
            raise AnsibleActionFail(
                "controls_gate reads the report of the bulwark.hardening.controls_report callback, which is not"
                " enabled: set ANSIBLE_CALLBACKS_ENABLED=bulwark.hardening.controls_report (or callbacks_enabled"
                " in ansible.cfg, or the job template's environment in AWX)."
            )
        hosts = {host: host_summary(data) for host, data in report["hosts"].items()}
        failing = failing_hosts(report, fail_on)
        outcome = run_result(report)
        result.update(changed=False, fail_on=fail_on, result=outcome, hosts=hosts, failing=failing)
        if stats:
            result["ansible_stats"] = {
                "data": {"bulwark_controls": {"result": outcome, "fail_on": fail_on, "hosts": hosts}},
                "per_host": False,
                "aggregate": True,
            }
        if failing:
            named = "; ".join(
                f"{host}: {', '.join(ids) if ids else 'unreachable'}" for host, ids in sorted(failing.items())
            )
            result.update(failed=True, msg=f"Controls that break the policy fail_on={fail_on}: {named}.")
        else:
            result["msg"] = f"The controls report is {outcome} on {len(hosts)} host(s); fail_on={fail_on} holds."
        return result
