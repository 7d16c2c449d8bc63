# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The execution environment AWX would run: built by ansible-builder (tools/build_ee.sh) on the
lab's Debian base, with no registry and no Galaxy, then the audit job run inside it by its own
ansible-runner, with the private data directory AWX writes mounted at /runner, against a real
Docker host of the lab. The container reaches the host's targets through the Docker socket
(community.docker.docker_api, whose Python client the EE has)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from awx_jobs import AUDIT_CONTROLS, REPO, Job, answer, finished_job, private_data_dir
from conftest import LabTarget, LabTargets

EE_IMAGE = "bulwark-lab/ee:latest"
SOCKET = "/var/run/docker.sock"


@pytest.fixture(scope="module")
def ee_image() -> str:
    build = subprocess.run([str(REPO / "tools" / "build_ee.sh")], capture_output=True, text=True, timeout=1800, check=False)
    assert build.returncode == 0, build.stdout + build.stderr
    print(f"\n{build.stdout.strip()}")
    return EE_IMAGE


def ee(image: str, *cmd: str) -> str:
    proc = subprocess.run(["docker", "run", "--rm", image, *cmd], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_ee_has_the_collection_its_dependencies_and_the_tools_awx_calls(ee_image: str) -> None:
    collections = ee(ee_image, "ansible-galaxy", "collection", "list", "--format", "json")
    found = {name for path in json.loads(collections).values() for name in path}
    assert {"bulwark.hardening", "community.docker", "community.crypto", "community.general", "kubernetes.core",
            "ansible.posix"} <= found, found  # fmt: skip
    assert ee(ee_image, "ansible-runner", "--version").strip() == "2.4.3"
    assert "core 2.19." in ee(ee_image, "ansible-playbook", "--version")
    ee(ee_image, "python3", "-c", "import docker, kubernetes, jmespath")


@pytest.fixture(scope="module")
def audit_in_ee(ee_image: str, lab_targets: LabTargets, tmp_path_factory: pytest.TempPathFactory) -> tuple[Job, LabTarget]:
    host = lab_targets.start("bulwark-it-ee", docker_host=True)
    survey = {q["variable"]: q for q in json.loads((REPO / "docs" / "awx-survey.json").read_text())["spec"]}
    pdd = private_data_dir(
        tmp_path_factory.mktemp("ee-audit"), host, answer(survey, "bulwark_report_fail_on", "never"), "--check",
        connection="community.docker.docker_api", inside=Path("/runner"),
    )  # fmt: skip
    for path in [pdd, *pdd.rglob("*")]:  # the EE runs as uid 1000, as AWX's do
        path.chmod(0o777 if path.is_dir() else 0o666)
    cmd = [
        "docker", "run", "--rm", "--group-add", str(os.stat(SOCKET).st_gid),
        "--volume", f"{SOCKET}:{SOCKET}", "--volume", f"{pdd}:/runner",
        ee_image, "ansible-runner", "run", "/runner", "-p", "audit.yml", "--ident", "ee-audit",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False)
    artifacts = pdd / "artifacts" / "ee-audit"
    assert artifacts.is_dir(), proc.stdout + proc.stderr
    return finished_job(artifacts), host


def test_the_audit_runs_inside_the_ee_and_hands_awx_its_results(audit_in_ee: tuple[Job, LabTarget]) -> None:
    job, host = audit_in_ee
    assert (job.status, job.rc) == ("successful", 0), (job.artifacts / "stdout").read_text()[-3000:]
    names = sorted(p.name for p in job.artifacts.iterdir())
    assert {"command", "job_events", "rc", "status", "stdout"} <= set(names), names
    print(f"\nartifacts of the audit job run in the EE: {', '.join(names)}; {len(job.events)} job events")
    stats = job.stats_event()["event_data"]["artifact_data"]["bulwark_controls"]
    summary = stats["hosts"][host.name]
    assert summary["result"] == "drift" and "CIS-Docker 2.2" in summary["drift"]  # a fresh host, audited
    assert set(AUDIT_CONTROLS) <= set(summary["waived"])
    named = [
        e for e in job.events
        if e.get("event") in ("runner_on_ok", "runner_on_skipped") and " | CIS-Docker " in e["event_data"].get("task", "")
    ]  # fmt: skip
    assert len(named) >= 10 and {e["event_data"]["host"] for e in named} == {host.name}
    report = json.loads((job.artifacts.parents[1] / "report" / "bulwark-report.json").read_text())
    assert report["hosts"][host.name]["result"] == "drift"
