# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: controls_report
type: aggregate
short_description: Report, host by host, the status of every catalogued control a run touched
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Reads the collection's control catalog (C(meta/controls.yml)) and collects the result of every task whose
    name ends with control ids, such as C(Disable inter-container communication | CIS-Docker 2.2) or the short
    form C(... | CIS-Docker 2.2, 2.13, BWK-1).
  - Each control gets one status per host, the worst of the tasks that name it - V(fail) (task failed or host
    unreachable), V(drift) (would change, in check mode), V(fixed) (changed now), V(pass), V(waived) (turned off by
    its role variable, or its daemon.json key not managed), V(n/a) (skipped for another reason).
  - A control of a role that ran on a host but that no task reported is V(not-checked), which is a defect of the
    role.
  - When the module result has C(item_status) and the control names an C(item), the status of that item decides,
    so one task that manages many daemon.json keys reports each control on its own.
  - A waiver in inventory (C(bulwark_waivers), checked by each role's first task) makes a control V(waived) with
    its reason and the status it had (C(observed)); once its expiry date has passed the control is V(fail). A
    control turned off by its role variable is V(waived) with that variable as its reason.
  - At the end of the run, prints one table per host (id, status, title, waiver) and writes the same report as
    JSON to O(report_path), as JUnit XML to O(junit_path) and as a self-contained HTML page to O(html_path). The
    JSON and HTML reports show what changed since the JSON report the previous run left at O(report_path).
  - When a C(bulwark.hardening.controls_gate) task starts, hands it the report as it stands, so that the gate can
    set the run's outcome (the exit-code policy) and C(set_stats).
  - A missing or malformed catalog never fails the play; the callback prints a warning and reports nothing.
requirements:
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = bulwark.hardening.controls_report), or with the
    E(ANSIBLE_CALLBACKS_ENABLED) environment variable.
options:
  report_path:
    description:
      - Where to write the JSON report. Relative paths are relative to the current directory, or to the
        configuration file's directory when set there.
      - The report found there before the run is the previous report the changes are computed against.
    type: path
    default: ./bulwark-report.json
    env:
      - name: BULWARK_REPORT_PATH
    ini:
      - section: bulwark_controls_report
        key: report_path
  junit_path:
    description:
      - Where to write the JUnit XML report (one C(<testsuite>) per host, one C(<testcase>) per control).
      - Empty to write none.
    type: str
    default: ./bulwark-report.xml
    env:
      - name: BULWARK_JUNIT_PATH
    ini:
      - section: bulwark_controls_report
        key: junit_path
  html_path:
    description:
      - Where to write the HTML report, one page without external resources. Empty to write none.
    type: str
    default: ./bulwark-report.html
    env:
      - name: BULWARK_HTML_PATH
    ini:
      - section: bulwark_controls_report
        key: html_path
  catalog_path:
    description:
      - The control catalog to read.
      - Defaults to the catalog shipped with the collection (C(meta/controls.yml)); set it only to test a catalog.
    type: path
    env:
      - name: BULWARK_CATALOG_PATH
    ini:
      - section: bulwark_controls_report
        key: catalog_path
notes:
  - The JSON report (C(schema) 2) has C(generated), C(check_mode), C(fail_on), C(catalog.benchmarks), C(hosts),
    C(previous), C(changes) and C(unknown_ids). Each host has C(unreachable), C(result) (V(pass), V(drift) or
    V(fail)), C(summary) (a count per status), C(waivers) and C(controls), a list of C(id), C(benchmark),
    C(section), C(title), C(role), C(status), C(tasks) and, where there is something to say, C(msg), C(waiver)
    and C(observed).
  - Check mode is taken from the task (C(check_mode)) and otherwise from C(--check). The report's C(check_mode) is
    true with C(--check), or when every task that named a control ran in check mode.
"""

import datetime
import json
import os
import tempfile
import typing as t

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    ControlCatalogError,
    ControlIdError,
    ControlLedger,
    TaskOutcome,
    parse_control_ids,
    render_text,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.report_formats import (
    render_html,
    render_junit,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.waivers import (
    waiver_from_dict,
)
from ansible_collections.bulwark.hardening.plugins.plugin_utils.catalog import (
    DEFAULT_CATALOG,
    SNAPSHOT_ENV,
    read_catalog,
    read_json,
    write_report,
)


def _action_is(task: t.Any, name: str) -> bool:
    """Whether a task runs bulwark.hardening.<name>, however the playbook spelled it."""
    action = getattr(task, "resolved_action", None) or getattr(task, "action", None) or ""
    return action in (f"bulwark.hardening.{name}", name)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bulwark.hardening.controls_report"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self._ledger: ControlLedger | None = None
        self._catalog_error: str | None = None
        self._loaded = False
        self._warned: set[str] = set()
        self._task_modes: set[bool] = set()  # check mode of every task that named a control
        self._fail_on: str | None = None  # the policy of the last controls_gate that ran
        self._snapshot: str | None = None
        self._previous: t.Any = None
        self._gate_hosts: set[str] = set()

    # --- set-up -----------------------------------------------------------------------------

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        path = self.get_option("catalog_path") or DEFAULT_CATALOG
        try:
            self._ledger = ControlLedger(read_catalog(path))
        except ControlCatalogError as exc:
            self._catalog_error = str(exc)
            self._display.warning(f"controls_report: no controls report for this run: {exc}")
            return
        # Read before anything overwrites it: the gate's snapshot must compare with the same report.
        self._previous = read_json(self.get_option("report_path"))

    def _warn_once(self, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            self._display.warning(f"controls_report: {message}")

    def v2_playbook_on_start(self, playbook: t.Any) -> None:
        self._load()

    # --- collecting ----------------------------------------------------------------------------

    @staticmethod
    def _check_mode(result: t.Any) -> bool:
        value = (getattr(result, "task_fields", None) or {}).get("check_mode")
        if isinstance(value, bool):
            return value
        value = getattr(result.task, "check_mode", None)
        if isinstance(value, bool):
            return value
        return bool(context.CLIARGS.get("check", False))

    @staticmethod
    def _role_name(result: t.Any) -> str | None:
        role = getattr(result.task, "_role", None)
        return role.get_name() if role is not None else None

    @staticmethod
    def _task_name(result: t.Any) -> str:
        # The task's own name: TaskResult.task_name prefixes "<role> : " since ansible-core 2.21.
        task = getattr(result, "task", None) or getattr(result, "_task", None)
        return (getattr(task, "name", None) or result.task_name) if task is not None else result.task_name

    def _take_waivers(self, result: t.Any, host: str) -> None:
        """The waivers the role guard (check_role_vars) resolved for this host."""
        waivers = result.result.get("bulwark_waivers")
        if not _action_is(result.task, "check_role_vars") or not isinstance(waivers, list):
            return
        try:
            self._ledger.set_waivers(host, [waiver_from_dict(w) for w in waivers])
        except (KeyError, TypeError, ValueError) as exc:
            self._warn_once(f"cannot read the waivers check_role_vars returned for {host}: {exc}")

    def _collect(self, result: t.Any, event: str) -> None:
        self._load()
        if self._ledger is None:
            return
        host = result.host.get_name()
        if _action_is(result.task, "controls_gate"):
            # The gate's own host (localhost) is not a host of the report; its policy is the report's.
            self._gate_hosts.add(host)
            if isinstance(result.result.get("fail_on"), str):
                self._fail_on = result.result["fail_on"]
            return
        self._ledger.add_host(host)
        if event == "unreachable":
            self._ledger.mark_unreachable(host)
        if event != "skipped":
            self._ledger.role_ran(host, self._role_name(result))
        if event == "ok":
            self._take_waivers(result, host)
        task_name = self._task_name(result)
        try:
            ids = parse_control_ids(task_name)
        except ControlIdError as exc:
            self._warn_once(str(exc))
            return
        if not ids:
            return
        outcome = TaskOutcome.from_result(result.result, event, self._check_mode(result))
        self._task_modes.add(outcome.check_mode)
        for unknown in self._ledger.record(host, ids, task_name, outcome):
            self._warn_once(f"task {task_name!r} names {unknown!r}, which is not in the control catalog.")

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._collect(result, "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._collect(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._collect(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._collect(result, "unreachable")

    # --- reporting -----------------------------------------------------------------------------

    def _report(self, fail_on: str | None) -> dict[str, t.Any]:
        # --check, or a play that set check_mode: true on every task that named a control.
        check_mode = bool(context.CLIARGS.get("check", False)) or self._task_modes == {True}
        generated = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        return self._ledger.build_report(
            check_mode=check_mode, generated=generated, fail_on=fail_on, previous=self._previous
        )

    def v2_playbook_on_task_start(self, task: t.Any, is_conditional: bool) -> None:
        """Before controls_gate runs, write the report so far where its worker process finds it."""
        if not _action_is(task, "controls_gate"):
            return
        self._load()
        if self._ledger is None:
            return
        if self._snapshot is None:
            fd, self._snapshot = tempfile.mkstemp(prefix="bulwark-controls-", suffix=".json")
            os.close(fd)
        write_report(self._snapshot, json.dumps(self._report(None)), mode=0o600)
        os.environ[SNAPSHOT_ENV] = self._snapshot

    def _write(self, kind: str, path: str | None, text: str) -> None:
        if not path:
            return
        try:
            write_report(path, text)
        except OSError as exc:
            self._display.warning(f"controls_report: cannot write the {kind} report to {path}: {exc}")
            return
        self._display.display(f"Controls report ({kind}) written to {path}")

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        self._load()
        if self._snapshot is not None:
            os.environ.pop(SNAPSHOT_ENV, None)
            if os.path.exists(self._snapshot):
                os.unlink(self._snapshot)
        if self._ledger is None:
            self._display.warning(f"controls_report: no controls report was written: {self._catalog_error}")
            return
        for host in sorted(getattr(stats, "processed", {}) or {}):
            if host not in self._gate_hosts:
                self._ledger.add_host(host)
        report = self._report(self._fail_on)
        self._display.banner("CONTROLS REPORT")
        self._display.display(render_text(report).rstrip("\n"))
        self._write("JSON", self.get_option("report_path"), json.dumps(report, indent=2) + "\n")
        self._write("JUnit", self.get_option("junit_path"), render_junit(report))
        self._write("HTML", self.get_option("html_path"), render_html(report))
