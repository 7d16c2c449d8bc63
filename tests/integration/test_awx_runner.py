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
import yaml
from conftest import LabTarget, LabTargets

REPO = Path(__file__).resolve().parents[2]
AUDIT_CONTROLS = [f"CIS-Docker 1.1.{n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18)]


@pytest.fixture(scope="module")
def docker_host(lab_targets: LabTargets) -> LabTarget:
    return lab_targets.start("bulwark-it-awx", docker_host=True)


@pytest.fixture(scope="module")
def survey() -> dict[str, dict[str, t.Any]]:
    spec = json.loads((REPO / "docs" / "awx-survey.json").read_text())
    return {question["variable"]: question for question in spec["spec"]}


def _answer(survey: dict[str, dict[str, t.Any]], variable: str, value: str) -> dict[str, str]:
    """A survey answer, refused as AWX would refuse it: the question exists and the choice is offered."""
    question = survey[variable]
    assert question["type"] != "multiplechoice" or value in question["choices"], (variable, value)
    return {variable: value}


def _private_data_dir(root: Path, host: LabTarget, extravars: dict[str, t.Any], cmdline: str) -> Path:
    pdd = root
    (pdd / "project").mkdir(parents=True)
    for name in ("site", "audit"):
        (pdd / "project" / f"{name}.yml").write_text(
            f"---\n- name: The {name} of bulwark.hardening\n  ansible.builtin.import_playbook: bulwark.hardening.{name}\n"
        )
    (pdd / "inventory").mkdir()
    inventory = {
        "all": {
            "vars": {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"},
            "children": {
                "docker_hosts": {
                    "hosts": {host.name: {}},
                    "vars": {
                        # This VM's hard limit for open files is 20000 (see the docker_daemon tests).
                        "docker_daemon_default_ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 8192}},
                        "bulwark_waivers": [
                            {"id": control, "reason": "a container outside the host's PID namespace", "expires": "2099-12-31"}
                            for control in AUDIT_CONTROLS
                        ],
                    },
                }
            },
        }
    }
    (pdd / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory))
    (pdd / "env").mkdir()
    (pdd / "env" / "extravars").write_text(yaml.safe_dump(extravars))
    env = {k: v for k, v in os.environ.items() if k.startswith(("ANSIBLE_COLLECTIONS_PATH",))}
    env.update(
        ANSIBLE_CALLBACKS_ENABLED="bulwark.hardening.controls_report",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_GATHERING="explicit",
        BULWARK_REPORT_PATH=str(pdd / "report" / "bulwark-report.json"),
        BULWARK_JUNIT_PATH=str(pdd / "report" / "bulwark-report.xml"),
        BULWARK_HTML_PATH=str(pdd / "report" / "bulwark-report.html"),
    )
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / "build" / "collections-2.19"))
    (pdd / "env" / "envvars").write_text(yaml.safe_dump(env))
    (pdd / "env" / "settings").write_text(yaml.safe_dump({"job_timeout": 900, "suppress_ansible_output": True}))
    (pdd / "env" / "cmdline").write_text(cmdline)
    return pdd


class Job(t.NamedTuple):
    status: str
    rc: int
    artifacts: Path
    events: list[dict[str, t.Any]]

    def stats_event(self) -> dict[str, t.Any]:
        (event,) = [e for e in self.events if e.get("event") == "playbook_on_stats"]
        return event


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
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    return Job((artifacts / "status").read_text(), int((artifacts / "rc").read_text()), artifacts, events)


@pytest.fixture(scope="module")
def audit_job(docker_host: LabTarget, survey: dict[str, dict[str, t.Any]], tmp_path_factory: pytest.TempPathFactory) -> Job:
    """Job type "check" (AWX adds --check), with the survey's answer drift: a fresh host fails it."""
    answers = _answer(survey, "bulwark_report_fail_on", "drift")
    pdd = _private_data_dir(tmp_path_factory.mktemp("awx-audit"), docker_host, answers, "--check")
    return _run(pdd, "audit.yml", "audit")


@pytest.fixture(scope="module")
def site_job(audit_job: Job, docker_host: LabTarget, survey: dict[str, dict[str, t.Any]], tmp_path_factory: pytest.TempPathFactory) -> Job:
    """Job type "run", with survey answers as AWX passes them: strings, "false" for a bool."""
    answers = {**_answer(survey, "docker_daemon_tls_enabled", "false"), **_answer(survey, "bulwark_report_fail_on", "fail")}
    pdd = _private_data_dir(tmp_path_factory.mktemp("awx-site"), docker_host, answers, "")
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
