# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The audit and site job templates as AWX runs them: through ansible-runner, in the private data
directory AWX writes (project, inventory, env/extravars, env/envvars, env/settings, env/cmdline),
with ansible-runner's event callback, against a real Docker host (a DinD target).

The survey answers are those AWX would pass: docs/awx-survey.json's questions, answered with the
strings a survey gives.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import typing as t
from pathlib import Path

import pytest
from awx_jobs import AUDIT_CONTROLS, REPO, Job, answer, finished_job, private_data_dir
from conftest import LabTarget, LabTargets


@pytest.fixture(scope="module")
def docker_host(lab_targets: LabTargets) -> LabTarget:
    return lab_targets.start("bulwark-it-awx", docker_host=True)


@pytest.fixture(scope="module")
def survey() -> dict[str, dict[str, t.Any]]:
    spec = json.loads((REPO / "docs" / "awx-survey.json").read_text())
    return {question["variable"]: question for question in spec["spec"]}


def _run(pdd: Path, playbook: str, ident: str) -> Job:
    runner = shutil.which("ansible-runner", path=str(Path(sys.executable).parent)) or "ansible-runner"
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    proc = subprocess.run(
        [runner, "run", str(pdd), "-p", playbook, "--ident", ident],
        capture_output=True, text=True, env=env, timeout=1200, check=False,
    )  # fmt: skip
    artifacts = pdd / "artifacts" / ident
    assert artifacts.is_dir(), proc.stdout + proc.stderr
    return finished_job(artifacts)


@pytest.fixture(scope="module")
def audit_job(docker_host: LabTarget, survey: dict[str, dict[str, t.Any]], tmp_path_factory: pytest.TempPathFactory) -> Job:
    """Job type "check" (AWX adds --check), with the survey's answer drift: a fresh host fails it."""
    answers = answer(survey, "bulwark_report_fail_on", "drift")
    pdd = private_data_dir(tmp_path_factory.mktemp("awx-audit"), docker_host, answers, "--check")
    return _run(pdd, "audit.yml", "audit")


@pytest.fixture(scope="module")
def site_job(audit_job: Job, docker_host: LabTarget, survey: dict[str, dict[str, t.Any]], tmp_path_factory: pytest.TempPathFactory) -> Job:
    """Job type "run", with survey answers as AWX passes them: strings, "false" for a bool."""
    answers = {**answer(survey, "docker_daemon_tls_enabled", "false"), **answer(survey, "bulwark_report_fail_on", "fail")}
    pdd = private_data_dir(tmp_path_factory.mktemp("awx-site"), docker_host, answers, "")
    return _run(pdd, "site.yml", "site")


def test_the_artifacts_are_those_awx_reads(audit_job: Job) -> None:
    names = {p.name for p in audit_job.artifacts.iterdir()}
    assert {"rc", "status", "stdout", "command", "job_events"} <= names, names
    command = json.loads((audit_job.artifacts / "command").read_text())
    assert "--check" in command["command"]


def test_the_audit_fails_on_drift_and_still_hands_its_summary_to_the_workflow(audit_job: Job, docker_host: LabTarget) -> None:
    assert (audit_job.status, audit_job.rc) == ("failed", 2)
    stats = audit_job.stats_event()["event_data"]["artifact_data"]["bulwark_controls"]
    assert stats["fail_on"] == "never"  # the first gate, which sets the stats, never fails
    assert stats["result"] == "drift"
    host = stats["hosts"][docker_host.name]
    assert host["result"] == "drift" and "CIS-Docker 2.2" in host["drift"]
    assert set(AUDIT_CONTROLS) <= set(host["waived"])
    failed = [e for e in audit_job.events if e.get("event") == "runner_on_failed"]
    assert [e["event_data"]["task"] for e in failed] == ["Fail the run when a control breaks the policy"]
    assert "fail_on=drift" in failed[0]["event_data"]["res"]["msg"]


def test_the_job_events_carry_the_control_results(audit_job: Job, docker_host: LabTarget) -> None:
    named = [
        e for e in audit_job.events
        if e.get("event") in ("runner_on_ok", "runner_on_skipped") and " | CIS-Docker " in e["event_data"].get("task", "")
    ]  # fmt: skip
    assert len(named) >= 10
    daemon = [e for e in named if "least-privilege daemon settings" in e["event_data"]["task"]]
    assert daemon and daemon[0]["event_data"]["host"] == docker_host.name
    assert daemon[0]["event_data"]["res"]["item_status"]["icc"] == "changed"  # check mode: would change


def test_the_site_job_hardens_with_survey_strings_and_passes(site_job: Job, docker_host: LabTarget) -> None:
    assert (site_job.status, site_job.rc) == ("successful", 0), (site_job.artifacts / "stdout").read_text()[-3000:]
    stats = site_job.stats_event()["event_data"]["artifact_data"]["bulwark_controls"]
    host = stats["hosts"][docker_host.name]
    assert host["result"] == "pass" and host["fail"] == [] and host["drift"] == []
    # The survey's "false" is the bool false: no TLS, so dockerd listens on its socket only.
    daemon_json = json.loads(docker_host.read("/etc/docker/daemon.json") or b"{}")
    assert "tlsverify" not in daemon_json and not any(h.startswith("tcp://") for h in daemon_json.get("hosts", []))
