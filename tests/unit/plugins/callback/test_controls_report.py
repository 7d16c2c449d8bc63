# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controls_report callback, driven by real ansible-playbook runs against localhost (connection: local).

Each run gets a throw-away collections root holding this checkout as bulwark.hardening (a symlink), plus a
test collection ``testns.testcol`` with one role, a test catalog, a tiny module that returns ``item_status``
(as docker_daemon_config does) and a connection plugin that always fails to connect (an unreachable host
without touching the network).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    ControlCatalogError,
)
from ansible_collections.bulwark.hardening.plugins.plugin_utils.catalog import (
    DEFAULT_CATALOG,
    read_catalog,
)

REPO = Path(__file__).resolve().parents[4]

TEST_CATALOG: dict[str, t.Any] = {
    "benchmarks": {
        "T": {"title": "Test benchmark", "version": "1"},
        "BWK": {"title": "Bulwark controls", "version": "1"},
    },
    "controls": [
        {
            "id": "T 1.1",
            "title": "Item one",
            "role": "demo",
            "variable": "demo_one",
            "waived_when": False,
            "item": "one",
            "verify": "item one",
        },
        {
            "id": "T 1.2",
            "title": "Item two",
            "role": "demo",
            "variable": "demo_two",
            "waived_when": None,
            "item": "two",
            "verify": "item two",
        },
        {
            "id": "T 1.10",
            "title": "Plain change",
            "role": "demo",
            "variable": "demo_ten",
            "waived_when": False,
            "verify": "changed_when",
        },
        {
            "id": "T 2.1",
            "title": "Skipped by its variable",
            "role": "demo",
            "variable": "demo_feature",
            "waived_when": False,
            "verify": "when",
        },
        {
            "id": "T 2.2",
            "title": "Skipped for another reason",
            "role": "demo",
            "variable": "demo_other",
            "waived_when": False,
            "verify": "when",
        },
        {
            "id": "T 2.3",
            "title": "Never reported",
            "role": "demo",
            "variable": "demo_never",
            "waived_when": False,
            "verify": "nothing",
        },
        {
            "id": "T 3.1",
            "title": "Always applied",
            "role": "demo",
            "variable": "demo_always",
            "waived_when": False,
            "verify": "check_mode: false",
        },
        {
            "id": "BWK-1",
            "title": "Fails",
            "role": "demo",
            "variable": "demo_fail",
            "waived_when": False,
            "verify": "fail",
        },
        {
            "id": "BWK-2",
            "title": "Outside any role",
            "role": "other",
            "variable": "other_x",
            "waived_when": False,
            "verify": "play task",
        },
        {
            "id": "BWK-3",
            "title": "Of a role that did not run",
            "role": "other",
            "variable": "other_y",
            "waived_when": False,
            "verify": "nothing",
        },
    ],
}

ROLE_TASKS = """\
- name: Check the role's input and the waivers
  bulwark.hardening.check_role_vars:

- name: Manage items | T 1.1, 1.2
  testns.testcol.fake_items:
    items: {one: changed}

- name: Change something | T 1.10
  ansible.builtin.debug:
    msg: changing
  changed_when: true

- name: Skip by its variable | T 2.1
  ansible.builtin.debug:
    msg: skipped
  when: demo_feature | bool

- name: Skip for another reason | T 2.2
  ansible.builtin.debug:
    msg: skipped
  when: ansible_os_family | default('none') == 'Plan9'

- name: Always apply | T 3.1
  ansible.builtin.debug:
    msg: applied
  changed_when: true
  check_mode: false

- name: Fail | BWK-1
  ansible.builtin.fail:
    msg: boom
  ignore_errors: true

- name: Loop over items | T 1.1
  testns.testcol.fake_items:
    items: {one: "{{ item }}"}
  loop: [ok, ok]

- name: Task without ids
  ansible.builtin.debug:
    msg: no ids
"""

FAKE_ITEMS_MODULE = '''\
#!/usr/bin/python
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
module: fake_items
short_description: Return item_status as given.
description: [Test module.]
options:
  items: {type: dict, required: true, description: Item statuses.}
author: [Bulwark developers]
"""

from ansible.module_utils.basic import AnsibleModule


def main() -> None:
    module = AnsibleModule(argument_spec={"items": {"type": "dict", "required": True}}, supports_check_mode=True)
    status = module.params["items"]
    module.exit_json(changed=any(value == "changed" for value in status.values()), item_status=status)


if __name__ == "__main__":
    main()
'''

BROKEN_CONNECTION = '''\
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: broken
short_description: Never connects.
description: [Test connection plugin that always fails to connect.]
author: [Bulwark developers]
"""

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase


class Connection(ConnectionBase):
    transport = "broken"

    def _connect(self):
        raise AnsibleConnectionFailure("test connection refuses to connect")

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self._connect()

    def put_file(self, in_path, out_path):
        self._connect()

    def fetch_file(self, in_path, out_path):
        self._connect()

    def close(self):
        pass
'''


@pytest.fixture(scope="module")
def collections_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("collections")
    bulwark = root / "ansible_collections" / "bulwark"
    bulwark.mkdir(parents=True)
    (bulwark / "hardening").symlink_to(REPO, target_is_directory=True)
    testcol = root / "ansible_collections" / "testns" / "testcol"
    (testcol / "roles" / "demo" / "tasks").mkdir(parents=True)
    (testcol / "plugins" / "modules").mkdir(parents=True)
    (testcol / "meta").mkdir()
    (testcol / "meta" / "runtime.yml").write_text("requires_ansible: '>=2.19.0'\n")
    (testcol / "galaxy.yml").write_text(
        "namespace: testns\nname: testcol\nversion: 1.0.0\nreadme: README.md\nauthors: [t]\n"
    )
    (testcol / "roles" / "demo" / "tasks" / "main.yml").write_text(ROLE_TASKS)
    (testcol / "roles" / "demo" / "meta").mkdir()
    (testcol / "roles" / "demo" / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: Demo.\n    options:\n"
        "      demo_feature: {type: bool, default: false, description: A switch.}\n"
    )
    (testcol / "plugins" / "modules" / "fake_items.py").write_text(FAKE_ITEMS_MODULE)
    return root


ANSIBLE_PLAYBOOK = "import sys; from ansible.cli.playbook import main; sys.argv[0] = 'ansible-playbook'; main()"


class Run(t.NamedTuple):
    rc: int
    stdout: str
    stderr: str
    report: dict[str, t.Any] | None


def run_playbook(
    collections_root: Path,
    workdir: Path,
    playbook: str,
    *,
    catalog: t.Any = None,
    shipped_catalog: bool = False,
    args: t.Sequence[str] = (),
    ini: str = "",
    inventory: str = "localhost ansible_connection=local\n",
    callback: bool = True,
) -> Run:
    """Run ansible-playbook with the callback enabled; return its output and the JSON report, if written.

    ``catalog`` (default: TEST_CATALOG) is passed through BULWARK_CATALOG_PATH unless ``shipped_catalog``.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "play.yml").write_text(textwrap.dedent(playbook))
    (workdir / "inventory.ini").write_text(
        inventory + f"\n[all:vars]\nansible_python_interpreter={sys.executable}\n"
    )
    enabled = "callbacks_enabled = bulwark.hardening.controls_report\n" if callback else ""
    (workdir / "ansible.cfg").write_text("[defaults]\n" + enabled + "retry_files_enabled = false\n" + ini)
    (workdir / "connection_plugins").mkdir(exist_ok=True)
    (workdir / "connection_plugins" / "broken.py").write_text(BROKEN_CONNECTION)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANSIBLE_", "BULWARK_"))
    }
    env.update(
        ANSIBLE_CONFIG=str(workdir / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(collections_root),
        ANSIBLE_HOME=str(workdir / ".ansible"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
    )
    if "report_path" not in ini:
        env["BULWARK_REPORT_PATH"] = str(workdir / "out" / "report.json")
    if not shipped_catalog:
        catalog = TEST_CATALOG if catalog is None else catalog
        catalog_file = workdir / "catalog.yml"
        catalog_file.write_text(
            catalog
            if isinstance(catalog, str)
            else yaml.safe_dump(catalog, sort_keys=False)
        )
        env["BULWARK_CATALOG_PATH"] = str(catalog_file)
    # The CLI of the interpreter running the tests, whatever scripts are (or are not) on PATH.
    command = [
        sys.executable,
        "-c",
        ANSIBLE_PLAYBOOK,
        "-i",
        "inventory.ini",
        "play.yml",
        *args,
    ]
    proc = subprocess.run(
        command,
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report_files = list(workdir.rglob("report*.json"))
    report = json.loads(report_files[0].read_text()) if report_files else None
    return Run(proc.returncode, proc.stdout, proc.stderr, report)


def statuses(
    report: dict[str, t.Any], host: str = "localhost"
) -> dict[str, tuple[str, str | None]]:
    return {
        row["id"]: (row["status"], row.get("msg"))
        for row in report["hosts"][host]["controls"]
    }


DEMO_PLAY = """\
- name: Demo
  hosts: all
  gather_facts: false
  vars:
    demo_feature: false
  roles:
    - testns.testcol.demo
  tasks:
    - name: Play task outside any role | BWK-2, BWK-99
      ansible.builtin.debug:
        msg: outside
    - name: Malformed ids | BWK-1, later
      ansible.builtin.debug:
        msg: malformed
"""


@pytest.fixture(scope="module")
def check_run(collections_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_playbook(
        collections_root, tmp_path_factory.mktemp("check"), DEMO_PLAY, args=["--check"]
    )


@pytest.fixture(scope="module")
def apply_run(collections_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return run_playbook(collections_root, tmp_path_factory.mktemp("apply"), DEMO_PLAY)


def test_check_mode_statuses(check_run: Run) -> None:
    assert check_run.rc == 0, check_run.stdout + check_run.stderr
    assert check_run.report is not None
    assert check_run.report["check_mode"] is True
    assert statuses(check_run.report) == {
        "BWK-1": ("fail", "task failed: boom"),
        "BWK-2": ("pass", None),
        "T 1.1": ("drift", "'one' would change"),
        "T 1.2": ("waived", "the role did not manage 'two' (demo_two)"),
        "T 1.10": ("drift", None),
        "T 2.1": ("waived", "skipped: demo_feature | bool"),
        "T 2.2": ("n/a", "skipped: ansible_os_family | default('none') == 'Plan9'"),
        "T 2.3": ("not-checked", "no task of role demo reported this control"),
        "T 3.1": ("fixed", None),  # check_mode: false on the task
    }
    assert check_run.report["unknown_ids"] == ["BWK-99"]


def test_apply_mode_statuses(apply_run: Run) -> None:
    assert apply_run.rc == 0, apply_run.stdout + apply_run.stderr
    assert apply_run.report is not None
    assert apply_run.report["check_mode"] is False
    assert {
        cid: status for cid, (status, _msg) in statuses(apply_run.report).items()
    } == {
        "BWK-1": "fail",
        "BWK-2": "pass",
        "T 1.1": "fixed",
        "T 1.2": "waived",
        "T 1.10": "fixed",
        "T 2.1": "waived",
        "T 2.2": "n/a",
        "T 2.3": "not-checked",
        "T 3.1": "fixed",
    }


def test_report_shape(check_run: Run) -> None:
    report = check_run.report
    assert report is not None
    assert list(report) == [
        "schema",
        "generated",
        "check_mode",
        "fail_on",
        "catalog",
        "hosts",
        "previous",
        "changes",
        "unknown_ids",
    ]
    assert report["schema"] == 2
    assert report["fail_on"] is None  # no controls_gate ran
    assert (report["previous"], report["changes"]) == (None, [])
    assert report["generated"].endswith("+00:00")
    assert report["catalog"] == {"benchmarks": TEST_CATALOG["benchmarks"]}
    host = report["hosts"]["localhost"]
    assert list(host) == ["unreachable", "result", "summary", "waivers", "controls"]
    assert host["unreachable"] is False
    assert host["result"] == "fail"
    assert host["waivers"] == []
    assert host["summary"] == {
        "fail": 1,
        "drift": 2,
        "fixed": 1,
        "pass": 1,
        "waived": 2,
        "n/a": 1,
        "not-checked": 1,
    }
    # Natural order, the tasks that touched each control, the role from the catalog.
    assert [row["id"] for row in host["controls"]] == [
        "BWK-1",
        "BWK-2",
        "T 1.1",
        "T 1.2",
        "T 1.10",
        "T 2.1",
        "T 2.2",
        "T 2.3",
        "T 3.1",
    ]
    first = {row["id"]: row for row in host["controls"]}["T 1.1"]
    assert first["tasks"] == ["Manage items | T 1.1, 1.2", "Loop over items | T 1.1"]
    assert first["role"] == "demo"
    assert first["title"] == "Item one"
    assert (first["benchmark"], first["section"]) == ("T", "T 1")
    # A control turned off by its variable: the variable is the waiver's reason.
    turned_off = {row["id"]: row for row in host["controls"]}["T 2.1"]
    assert turned_off["waiver"] == {"source": "variable", "variable": "demo_feature", "reason": "turned off by demo_feature"}
    assert "observed" not in turned_off


def test_table_and_warnings_on_stdout(check_run: Run) -> None:
    out = check_run.stdout
    assert "CONTROLS REPORT" in out
    assert "Controls report (check mode: drift = would change)" in out
    assert (
        "localhost: 1 fail, 2 drift, 1 fixed, 1 pass, 2 waived, 1 n/a, 1 not-checked"
        in out
    )
    assert "  T 1.10  drift        Plain change" in out
    assert "  T 2.1   waived       Skipped by its variable  [waiver: turned off by demo_feature]" in out
    assert "Controls report (JSON) written to " in out
    both = " ".join((check_run.stdout + check_run.stderr).split())
    assert (
        "task 'Play task outside any role | BWK-2, BWK-99' names 'BWK-99', which is not in the control catalog."
        in both
    )
    assert "task 'Malformed ids | BWK-1, later': 'later' is not a control id" in both


def test_play_level_check_mode_makes_a_check_mode_report(
    collections_root: Path, tmp_path: Path
) -> None:
    play = """\
    - name: Audit without --check
      hosts: all
      gather_facts: false
      check_mode: true
      tasks:
        - name: Would change | T 1.10
          ansible.builtin.debug:
            msg: audit
          changed_when: true
    """
    run = run_playbook(collections_root, tmp_path, play)
    assert run.rc == 0, run.stdout + run.stderr
    assert run.report is not None
    assert run.report["check_mode"] is True
    assert statuses(run.report) == {"T 1.10": ("drift", None)}
    assert "Controls report (check mode: drift = would change)" in run.stdout


def test_unreachable_host(collections_root: Path, tmp_path: Path) -> None:
    inventory = (
        "localhost ansible_connection=local\nbroken1 ansible_connection=broken\n"
    )
    run = run_playbook(
        collections_root, tmp_path, DEMO_PLAY, args=["--check"], inventory=inventory
    )
    assert run.rc != 0  # an unreachable host fails the run; the report is still written
    assert run.report is not None
    broken = run.report["hosts"]["broken1"]
    assert broken["unreachable"] is True
    unreachable = (
        "fail",
        "host unreachable: Task failed: test connection refuses to connect",
    )
    # The first task names T 1.1 and T 1.2; the host is gone after it, so the rest of the role is not checked.
    assert statuses(run.report, "broken1") == {
        "T 1.1": unreachable,
        "T 1.2": unreachable,
        **{
            cid: ("not-checked", "no task of role demo reported this control")
            for cid in ("BWK-1", "T 1.10", "T 2.1", "T 2.2", "T 2.3", "T 3.1")
        },
    }
    assert run.report["hosts"]["localhost"]["summary"]["fail"] == 1


def test_collection_catalog_and_ini_report_path(
    collections_root: Path, tmp_path: Path
) -> None:
    play = """\
    - name: Use the catalog shipped with the collection
      hosts: all
      gather_facts: false
      tasks:
        - name: Pretend to disable inter-container communication | CIS-Docker 2.2
          ansible.builtin.debug:
            msg: ok
    """
    run = run_playbook(
        collections_root,
        tmp_path,
        play,
        shipped_catalog=True,
        ini="\n[bulwark_controls_report]\nreport_path = ini-out/report-from-ini.json\n",
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert (tmp_path / "ini-out" / "report-from-ini.json").is_file()
    assert run.report is not None
    (row,) = run.report["hosts"]["localhost"]["controls"]
    shipped = read_catalog(DEFAULT_CATALOG).get("CIS-Docker 2.2")
    assert shipped is not None
    assert row == {
        "id": "CIS-Docker 2.2",
        "benchmark": "CIS-Docker",
        "section": "CIS-Docker 2",
        "title": shipped.title,
        "role": "docker_daemon",
        "status": "pass",
        "tasks": ["Pretend to disable inter-container communication | CIS-Docker 2.2"],
    }
    assert run.report["catalog"]["benchmarks"]["CIS-Docker"] == {
        "title": "CIS Docker Benchmark",
        "version": "1.6.0",
    }


@pytest.mark.parametrize(
    ("catalog", "message"),
    [
        pytest.param("benchmarks: [", "is not valid YAML", id="bad-yaml"),
        pytest.param(
            {"benchmarks": {"T": {"title": "x", "version": 1}}, "controls": []},
            "catalog.yml: benchmarks['T'].version: expected a string, got 1 (int); quote it in YAML",
            id="bad-schema",
        ),
    ],
)
def test_malformed_catalog_warns_and_does_not_fail_the_play(
    collections_root: Path, tmp_path: Path, catalog: t.Any, message: str
) -> None:
    broken = run_playbook(collections_root, tmp_path, DEMO_PLAY, catalog=catalog)
    assert broken.rc == 0, broken.stdout + broken.stderr
    assert broken.report is None
    both = " ".join((broken.stdout + broken.stderr).split())
    assert "controls_report: no controls report for this run:" in both
    assert message in both
    assert "controls_report: no controls report was written:" in both
    assert "CONTROLS REPORT" not in broken.stdout


def test_read_catalog_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yml"
    with pytest.raises(
        ControlCatalogError,
        match=rf"^cannot read the control catalog {missing}: No such file or directory\.$",
    ):
        read_catalog(str(missing))
    bad = tmp_path / "bad.yml"
    bad.write_text("controls: []\n")
    with pytest.raises(ControlCatalogError) as excinfo:
        read_catalog(str(bad))
    assert str(excinfo.value) == (
        f"{bad}: benchmarks: expected a mapping of benchmark key to {{title, version}}, got None (NoneType)."
    )


def test_default_catalog_is_the_collections_own() -> None:
    assert Path(DEFAULT_CATALOG).name == "controls.yml"
    assert Path(DEFAULT_CATALOG).resolve() == (REPO / "meta" / "controls.yml").resolve()
    assert read_catalog(DEFAULT_CATALOG).controls


def test_waivers_from_inventory(collections_root: Path, tmp_path: Path) -> None:
    (tmp_path / "host_vars").mkdir(parents=True)
    # Unquoted dates, as YAML reads them (date objects), and one waiver for a group the host is not in.
    (tmp_path / "host_vars" / "localhost.yml").write_text(
        textwrap.dedent(
            """\
            bulwark_waivers:
              - {id: T 1.1, reason: accepted until the mirror exists (OPS-1), expires: 2099-12-31, hosts: [localhost]}
              - {id: BWK-1, reason: was accepted for a while (OPS-2), expires: 2020-01-31}
              - {id: T 1.10, reason: only for others, expires: 2099-12-31, groups: [others]}
            """
        )
    )
    run = run_playbook(collections_root, tmp_path, DEMO_PLAY, args=["--check"])
    assert run.rc == 0, run.stdout + run.stderr
    assert run.report is not None
    host = run.report["hosts"]["localhost"]
    rows = {row["id"]: row for row in host["controls"]}
    assert rows["T 1.1"]["status"] == "waived"
    assert rows["T 1.1"]["observed"] == "drift"
    assert rows["T 1.1"]["waiver"] == {
        "source": "inventory",
        "reason": "accepted until the mirror exists (OPS-1)",
        "expires": "2099-12-31",
    }
    assert rows["T 1.1"]["msg"] == "waived until 2099-12-31: accepted until the mirror exists (OPS-1); found: drift"
    # An expired waiver is a failure, whatever the control's own status.
    assert rows["BWK-1"]["status"] == "fail"
    assert rows["BWK-1"]["msg"].startswith("the waiver expired on 2020-01-31 (was accepted for a while (OPS-2))")
    assert rows["T 1.10"]["status"] == "drift" and "waiver" not in rows["T 1.10"]
    assert [w["id"] for w in host["waivers"]] == ["BWK-1", "T 1.1"]
    assert "[waiver: accepted until the mirror exists (OPS-1) (until 2099-12-31)]" in run.stdout
    assert "[waiver: was accepted for a while (OPS-2) (expired on 2020-01-31)]" in run.stdout
    junit = (tmp_path / "bulwark-report.xml").read_text()
    assert 'type="waived" message="waived: accepted until the mirror exists (OPS-1) (until 2099-12-31)"' in junit
    html = (tmp_path / "bulwark-report.html").read_text()
    assert "accepted until the mirror exists (OPS-1)" in html


@pytest.mark.parametrize(
    ("waivers", "message"),
    [
        pytest.param('"T 1.1"', "bulwark_waivers must be a list of waivers", id="string"),
        pytest.param('[{"id": "T 9.9", "reason": "x", "expires": "2099-01-01"}]',
                     "bulwark_waivers[0].id: 'T 9.9' is not a control of the catalog", id="unknown-id"),
        pytest.param('[{"id": "T 1.1", "expires": "2099-01-01"}]',
                     "bulwark_waivers[0]: missing reason", id="no-reason"),
        pytest.param('[{"id": "T 1.1", "reason": "x", "expires": "31.12.2099"}]',
                     "bulwark_waivers[0].expires must be a date written YYYY-MM-DD", id="bad-date"),
        pytest.param('[{"id": "T 1.1", "reason": "x", "expires": "2099-01-01", "hosts": "web1"}]',
                     "bulwark_waivers[0].hosts must be a list of names", id="hosts-string"),
    ],
)
def test_bad_waivers_fail_before_the_role_changes_anything(
    collections_root: Path, tmp_path: Path, waivers: str, message: str
) -> None:
    run = run_playbook(collections_root, tmp_path, DEMO_PLAY, args=["-e", f'{{"bulwark_waivers": {waivers}}}'])
    assert run.rc != 0
    both = " ".join((run.stdout + run.stderr).split())
    assert message in both
    assert "Nothing was changed." in both
    assert "TASK [testns.testcol.demo : Manage items" not in run.stdout


GATE_PLAY = DEMO_PLAY + """
- name: Report the controls
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Hand the summary to AWX
      bulwark.hardening.controls_gate:
        fail_on: never
    - name: Apply the policy
      bulwark.hardening.controls_gate:
        fail_on: "{{ policy }}"
        stats: false
"""


@pytest.mark.parametrize(
    ("policy", "args", "rc", "named"),
    [
        pytest.param("fail", ["--check"], 2, "localhost: BWK-1, T 2.3", id="fail"),
        pytest.param("drift", ["--check"], 2, "localhost: BWK-1, T 1.1, T 1.10, T 2.3", id="drift"),
        pytest.param("never", ["--check"], 0, None, id="never"),
    ],
)
def test_gate_applies_the_exit_policy_and_sets_stats(
    collections_root: Path, tmp_path: Path, policy: str, args: list[str], rc: int, named: str | None
) -> None:
    run = run_playbook(
        collections_root,
        tmp_path,
        GATE_PLAY,
        args=[*args, "-e", f"policy={policy}"],
        ini="show_custom_stats = true\n",
    )
    assert run.rc == rc, run.stdout + run.stderr
    both = " ".join((run.stdout + run.stderr).split())
    if named:
        assert f"Controls that break the policy fail_on={policy}: {named}." in both
    assert run.report is not None
    assert run.report["fail_on"] == policy
    # set_stats, as AWX saves it in the job's artifacts.
    assert "CUSTOM STATS" in run.stdout
    custom = run.stdout.split("RUN:", 1)[1].split("\n\n", 1)[0]
    stats = json.loads(custom)["bulwark_controls"]
    assert stats["result"] == "fail" and stats["fail_on"] == "never"
    assert stats["hosts"]["localhost"]["drift"] == ["T 1.1", "T 1.10"]
    assert stats["hosts"]["localhost"]["fail"] == ["BWK-1"]
    assert stats["hosts"]["localhost"]["not_checked"] == ["T 2.3"]


def test_gate_without_the_callback_says_so(collections_root: Path, tmp_path: Path) -> None:
    run = run_playbook(collections_root, tmp_path, GATE_PLAY, args=["-e", "policy=fail"], callback=False)
    assert run.rc == 2
    both = " ".join((run.stdout + run.stderr).split())
    assert "reads the report of the bulwark.hardening.controls_report callback, which is not enabled" in both


def test_changes_since_the_previous_report(collections_root: Path, tmp_path: Path) -> None:
    first = run_playbook(collections_root, tmp_path, DEMO_PLAY, args=["--check"])
    assert first.report is not None and first.report["previous"] is None
    second = run_playbook(collections_root, tmp_path, DEMO_PLAY, args=["--check", "-e", "demo_feature=true"])
    assert second.report is not None
    assert second.report["previous"] == {"generated": first.report["generated"], "check_mode": True}
    assert second.report["changes"] == [
        {"host": "localhost", "id": "T 2.1", "title": "Skipped by its variable", "from": "waived", "to": "pass"}
    ]
    assert "change(s)" in second.stdout and "localhost  T 2.1  waived -> pass" in second.stdout
    html = (tmp_path / "bulwark-report.html").read_text()
    assert 'id="changes"' in html and "Skipped by its variable" in html


def test_junit_and_html_paths_can_be_turned_off(collections_root: Path, tmp_path: Path) -> None:
    run = run_playbook(
        collections_root, tmp_path, DEMO_PLAY, args=["--check"],
        ini="\n[bulwark_controls_report]\njunit_path =\nhtml_path = out/page.html\n",
    )
    assert run.rc == 0, run.stdout + run.stderr
    assert not list(tmp_path.rglob("*.xml"))
    assert (tmp_path / "out" / "page.html").is_file()
