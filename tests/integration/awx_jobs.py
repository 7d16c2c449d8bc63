# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""AWX's side of a job, for the tests that run one: the private data directory AWX writes
(project, inventory, env/extravars, env/envvars, env/settings, env/cmdline), a survey answer, and
what a finished job left in its artifacts."""

from __future__ import annotations

import json
import os
import typing as t
from pathlib import Path

import yaml
from conftest import LabTarget

REPO = Path(__file__).resolve().parents[2]
AUDIT_CONTROLS = [f"CIS-Docker 1.1.{n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18)]


def answer(survey: dict[str, dict[str, t.Any]], variable: str, value: str) -> dict[str, str]:
    """A survey answer, refused as AWX would refuse it: the question exists and the choice is offered."""
    question = survey[variable]
    assert question["type"] != "multiplechoice" or value in question["choices"], (variable, value)
    return {variable: value}


def private_data_dir(
    root: Path,
    host: LabTarget,
    extravars: dict[str, t.Any],
    cmdline: str,
    *,
    connection: str = "community.docker.docker",
    inside: Path | None = None,
) -> Path:
    """The directory AWX hands ansible-runner. INSIDE is where the job sees it (an execution
    environment mounts it at /runner, with its own collections); by default, where it is."""
    pdd = root
    (pdd / "project").mkdir(parents=True)
    for name in ("site", "audit"):
        (pdd / "project" / f"{name}.yml").write_text(
            f"---\n- name: The {name} of bulwark.hardening\n  ansible.builtin.import_playbook: bulwark.hardening.{name}\n"
        )
    (pdd / "inventory").mkdir()
    inventory = {
        "all": {
            "vars": {"ansible_connection": connection, "ansible_python_interpreter": "/usr/bin/python3"},
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
    seen = inside or pdd
    env = {
        "ANSIBLE_CALLBACKS_ENABLED": "bulwark.hardening.controls_report",
        "ANSIBLE_PIPELINING": "true",
        "ANSIBLE_GATHERING": "explicit",
        "BULWARK_REPORT_PATH": str(seen / "report" / "bulwark-report.json"),
        "BULWARK_JUNIT_PATH": str(seen / "report" / "bulwark-report.xml"),
        "BULWARK_HTML_PATH": str(seen / "report" / "bulwark-report.html"),
    }
    if inside is None:
        env["ANSIBLE_COLLECTIONS_PATH"] = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or str(REPO / "build" / "collections-2.19")
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


def finished_job(artifacts: Path) -> Job:
    """What ansible-runner left in ARTIFACTS (artifacts/<ident>): status, rc and the job events."""
    events = [json.loads(p.read_text()) for p in sorted((artifacts / "job_events").glob("*.json"))]
    return Job((artifacts / "status").read_text(), int((artifacts / "rc").read_text()), artifacts, events)
