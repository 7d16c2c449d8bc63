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
  - At the end of the run, prints one table per host (id, status, title) and writes the report as JSON to
    O(report_path).
  - A missing or malformed catalog never fails the play; the callback prints a warning and reports nothing.
requirements:
  - Enable it in C(ansible.cfg) with C(callbacks_enabled = bulwark.hardening.controls_report), or with the
    E(ANSIBLE_CALLBACKS_ENABLED) environment variable.
options:
  report_path:
    description:
      - Where to write the JSON report. Relative paths are relative to the current directory, or to the
        configuration file's directory when set there.
    type: path
    default: ./bulwark-report.json
    env:
      - name: BULWARK_REPORT_PATH
    ini:
      - section: bulwark_controls_report
        key: report_path
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
  - The JSON report has C(schema), C(generated), C(check_mode), C(catalog.benchmarks), C(hosts) and C(unknown_ids).
    Each host has C(unreachable), C(summary) (a count per status) and C(controls), a list of C(id), C(title),
    C(role), C(status), C(tasks) and, where there is something to say, C(msg).
  - Check mode is taken from the task (C(check_mode)) and otherwise from C(--check). The report's C(check_mode) is
    true with C(--check), or when every task that named a control ran in check mode.
"""

import datetime
import json
import os
import tempfile
import typing as t

import yaml
from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    Catalog,
    ControlCatalogError,
    ControlIdError,
    ControlLedger,
    TaskOutcome,
    load_catalog,
    parse_control_ids,
    render_text,
)

# plugins/callback/controls_report.py -> <collection>/meta/controls.yml
DEFAULT_CATALOG = os.path.normpath(
    os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..", "meta", "controls.yml"
    )
)


def read_catalog(path: str) -> Catalog:
    """Read and validate a catalog file; every failure becomes ``ControlCatalogError`` naming the path."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise ControlCatalogError(
            f"cannot read the control catalog {path}: {exc.strerror or exc}."
        ) from exc
    except yaml.YAMLError as exc:
        raise ControlCatalogError(
            f"the control catalog {path} is not valid YAML: {exc}"
        ) from exc
    try:
        return load_catalog(data)
    except ControlCatalogError as exc:
        raise ControlCatalogError(f"{path}: {exc}") from exc


def write_json_atomically(path: str, data: t.Any) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".bulwark-report-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=False)
            handle.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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
        self._task_modes: set[bool] = (
            set()
        )  # check mode of every task that named a control

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
            self._display.warning(
                f"controls_report: no controls report for this run: {exc}"
            )

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

    def _collect(self, result: t.Any, event: str) -> None:
        self._load()
        if self._ledger is None:
            return
        host = result.host.get_name()
        self._ledger.add_host(host)
        if event == "unreachable":
            self._ledger.mark_unreachable(host)
        if event != "skipped":
            self._ledger.role_ran(host, self._role_name(result))
        task_name = self._task_name(result)
        try:
            ids = parse_control_ids(task_name)
        except ControlIdError as exc:
            self._warn_once(str(exc))
            return
        if not ids:
            return
        outcome = TaskOutcome.from_result(
            result.result, event, self._check_mode(result)
        )
        self._task_modes.add(outcome.check_mode)
        for unknown in self._ledger.record(host, ids, task_name, outcome):
            self._warn_once(
                f"task {task_name!r} names {unknown!r}, which is not in the control catalog."
            )

    def v2_runner_on_ok(self, result: t.Any) -> None:
        self._collect(result, "ok")

    def v2_runner_on_failed(self, result: t.Any, ignore_errors: bool = False) -> None:
        self._collect(result, "failed")

    def v2_runner_on_skipped(self, result: t.Any) -> None:
        self._collect(result, "skipped")

    def v2_runner_on_unreachable(self, result: t.Any) -> None:
        self._collect(result, "unreachable")

    # --- reporting -----------------------------------------------------------------------------

    def v2_playbook_on_stats(self, stats: t.Any) -> None:
        self._load()
        if self._ledger is None:
            self._display.warning(
                f"controls_report: no controls report was written: {self._catalog_error}"
            )
            return
        for host in sorted(getattr(stats, "processed", {}) or {}):
            self._ledger.add_host(host)
        # --check, or a play that set check_mode: true on every task that named a control.
        check_mode = bool(context.CLIARGS.get("check", False)) or self._task_modes == {
            True
        }
        generated = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        report = self._ledger.build_report(check_mode=check_mode, generated=generated)
        self._display.banner("CONTROLS REPORT")
        self._display.display(render_text(report).rstrip("\n"))
        path = self.get_option("report_path")
        try:
            write_json_atomically(path, report)
        except OSError as exc:
            self._display.warning(
                f"controls_report: cannot write the report to {path}: {exc}"
            )
            return
        self._display.display(f"Controls report written to {path}")
