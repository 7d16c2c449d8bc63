# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The three reports of one real run, checked by real consumers: the JUnit file against the JUnit
schema (junit-10.xsd, fetched by tools/bootstrap.sh), the HTML page in a real headless browser
(Debian's chromium, installed by tools/sysdeps.sh) with its filters driven through the URL.

The run is a playbook on localhost whose tasks name controls of the shipped catalog, with a waiver
from inventory and the gate of playbooks/report.yml; nothing on the machine changes.
"""

from __future__ import annotations

import html.parser
import json
import os
import shutil
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
import xmlschema

REPO = Path(__file__).resolve().parents[2]
CACHE = Path(os.environ.get("BULWARK_CACHE", "/var/cache/bulwark"))
JUNIT_XSD = CACHE / "schemas" / "junit-10.xsd"
OUTPUT = REPO / "tests" / "output" / "reports"

PLAY = """\
- name: Pretend to audit a Docker host
  hosts: all
  gather_facts: false
  tasks:
    - name: Check the input and the waivers
      bulwark.hardening.check_role_vars:
        argument_specs: {repo}/roles/docker_daemon/meta/argument_specs.yml
    - name: In effect | CIS-Docker 2.2, 2.3
      ansible.builtin.debug: {{msg: ok}}
    - name: Would change | CIS-Docker 2.13, 2.14
      ansible.builtin.debug: {{msg: drift}}
      changed_when: true
    - name: Fails <b>&amp; says so</b> | CIS-Docker 3.17
      ansible.builtin.fail: {{msg: "owner is 1000 <not root>"}}
      ignore_errors: true
    - name: Turned off | CIS-Docker 2.10
      ansible.builtin.debug: {{msg: skipped}}
      when: docker_daemon_default_cgroup_parent is not none

- name: Report the controls
  ansible.builtin.import_playbook: {repo}/playbooks/report.yml
"""


class Run(t.NamedTuple):
    rc: int
    out: str
    workdir: Path


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> Run:
    workdir = tmp_path_factory.mktemp("reports")
    (workdir / "play.yml").write_text(PLAY.format(repo=REPO))
    (workdir / "inventory.yml").write_text(
        textwrap.dedent(
            f"""\
            all:
              hosts:
                web1: {{ansible_connection: local, ansible_python_interpreter: {sys.executable}}}
              vars:
                docker_daemon_default_cgroup_parent: null
                bulwark_waivers:
                  - {{id: CIS-Docker 2.14, reason: "live-restore conflicts with Swarm here (OPS-12)", expires: 2099-12-31}}
            """
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BULWARK_REPORT")}
    env.update(
        ANSIBLE_CALLBACKS_ENABLED="bulwark.hardening.controls_report",
        ANSIBLE_NOCOLOR="1",
        BULWARK_REPORT_PATH=str(workdir / "report.json"),
        BULWARK_JUNIT_PATH=str(workdir / "report.xml"),
        BULWARK_HTML_PATH=str(workdir / "report.html"),
    )
    proc = subprocess.run(
        ["ansible-playbook", "--check", "-i", "inventory.yml", "play.yml", "-e", "bulwark_report_fail_on=drift"],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for name in ("report.json", "report.xml", "report.html"):
        if (workdir / name).exists():
            shutil.copy(workdir / name, OUTPUT / name)
    return Run(proc.returncode, proc.stdout + proc.stderr, workdir)


def test_the_gate_fails_the_run_on_drift(reports: Run) -> None:
    assert reports.rc == 2, reports.out
    flat = " ".join(reports.out.split())
    assert "Controls that break the policy fail_on=drift: web1: CIS-Docker 2.13, CIS-Docker 3.17." in flat
    report = json.loads((reports.workdir / "report.json").read_text())
    assert report["fail_on"] == "drift"
    statuses = {row["id"]: row["status"] for row in report["hosts"]["web1"]["controls"]}
    assert statuses == {
        "CIS-Docker 2.2": "pass", "CIS-Docker 2.3": "pass", "CIS-Docker 2.10": "waived",
        "CIS-Docker 2.13": "drift", "CIS-Docker 2.14": "waived", "CIS-Docker 3.17": "fail",
    }


def test_junit_is_valid_against_the_junit_schema(reports: Run) -> None:
    assert JUNIT_XSD.is_file(), f"{JUNIT_XSD} is missing: run tools/bootstrap.sh"
    schema = xmlschema.XMLSchema(str(JUNIT_XSD))
    document = reports.workdir / "report.xml"
    schema.validate(str(document))
    suite = schema.to_dict(str(document))["testsuite"][0]
    assert (suite["@name"], suite["@tests"], suite["@failures"], suite["@skipped"]) == ("web1", "6", "2", "2")


class _Rows(html.parser.HTMLParser):
    """The control rows of the page as the browser left them: status and whether hidden."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[tuple[str, bool]] = []
        self.shown = ""
        self._in_shown = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "tr" and "data-status" in attributes:
            self.rows.append((str(attributes["data-status"]), "hidden" in attributes))
        self._in_shown = attributes.get("id") == "shown"

    def handle_data(self, data: str) -> None:
        if self._in_shown:
            self.shown += data
            self._in_shown = False


def _chromium(*args: str) -> str:
    browser = shutil.which("chromium")
    assert browser, "chromium is missing: run tools/sysdeps.sh"
    proc = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize(
    ("fragment", "visible", "shown"),
    [
        ("", ["pass", "pass", "waived", "drift", "waived", "fail"], "6 of 6 controls shown"),
        ("#status=waived", ["waived", "waived"], "2 of 6 controls shown"),
        ("#status=fail&section=CIS-Docker%203", ["fail"], "1 of 6 controls shown"),
        ("#section=CIS-Docker%202&host=web1", ["pass", "pass", "waived", "drift", "waived"], "5 of 6 controls shown"),
    ],
)
def test_the_page_filters_in_a_real_browser(reports: Run, fragment: str, visible: list[str], shown: str) -> None:
    dom = _chromium("--virtual-time-budget=2000", "--dump-dom", (reports.workdir / "report.html").as_uri() + fragment)
    parser = _Rows()
    parser.feed(dom)
    assert [status for status, hidden in parser.rows if not hidden] == visible
    assert parser.shown == shown


def test_the_page_renders(reports: Run) -> None:
    picture = reports.workdir / "report.png"
    _chromium("--window-size=1400,1100", f"--screenshot={picture}", (reports.workdir / "report.html").as_uri())
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert picture.stat().st_size > 20_000  # a page with tables, not a blank one
    shutil.copy(picture, OUTPUT / "report.png")
