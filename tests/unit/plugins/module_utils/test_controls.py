# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import copy
import datetime
import json
import typing as t

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    NOT_CHECKED,
    REPORT_STATUSES,
    STATUS_ORDER,
    Catalog,
    Control,
    ControlCatalogError,
    ControlIdError,
    ControlLedger,
    TaskOutcome,
    changes_since,
    control_section,
    control_status,
    failing_hosts,
    host_result,
    host_summary,
    load_catalog,
    natural_key,
    normalize_role_name,
    parse_control_ids,
    render_text,
    run_result,
    split_control_id,
    worst_status,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.waivers import Waiver

GENERATED = "2026-01-02T03:04:05+00:00"


def _control(**overrides: t.Any) -> dict[str, t.Any]:
    entry: dict[str, t.Any] = {
        "id": "CIS-Docker 2.2",
        "title": "Restrict network traffic between containers on the default bridge",
        "role": "docker_daemon",
        "variable": "docker_daemon_icc",
        "waived_when": True,
        "item": "icc",
        "verify": "daemon.json icc=false",
    }
    entry.update(overrides)
    return entry


def _catalog_data(*controls: dict[str, t.Any]) -> dict[str, t.Any]:
    return {
        "benchmarks": {
            "CIS-Docker": {"title": "CIS Docker Benchmark", "version": "1.6.0"},
            "BWK": {"title": "Bulwark controls", "version": "1"},
        },
        "controls": list(controls) if controls else [_control()],
    }


CATALOG = load_catalog(
    _catalog_data(
        _control(),
        _control(
            id="CIS-Docker 2.3",
            title="Set the logging level to info",
            variable="docker_daemon_log_level",
            waived_when=None,
            item="log-level",
        ),
        _control(
            id="CIS-Docker 2.10",
            title="Confirm the default cgroup parent",
            variable="docker_daemon_cgroup_parent",
            waived_when=None,
            item="cgroup-parent",
        ),
        _control(
            id="CIS-Docker 3.17",
            title="Set daemon.json ownership to root:root",
            variable="docker_daemon_manage_file_permissions",
            waived_when=False,
            item=None,
        ),
        _control(
            id="BWK-1",
            title="Keep a backup of daemon.json",
            variable="docker_daemon_backup",
            waived_when=False,
            item=None,
        ),
        _control(
            id="BWK-2",
            title="Run the host firewall",
            role="host_firewall",
            variable="host_firewall_enabled",
            waived_when=False,
            item=None,
        ),
    )
)


def _get(control_id: str) -> Control:
    control = CATALOG.get(control_id)
    assert control is not None
    return control


# --- the catalog --------------------------------------------------------------------------------


def test_load_catalog_returns_typed_entries() -> None:
    catalog = load_catalog(
        _catalog_data(_control(), _control(id="BWK-1", item=None, waived_when=None))
    )
    assert isinstance(catalog, Catalog)
    assert list(catalog.benchmarks) == ["CIS-Docker", "BWK"]
    assert catalog.benchmarks["CIS-Docker"].version == "1.6.0"
    first, second = catalog.controls
    assert first == Control(
        id="CIS-Docker 2.2",
        title="Restrict network traffic between containers on the default bridge",
        role="docker_daemon",
        variable="docker_daemon_icc",
        waived_when=True,
        item="icc",
        verify="daemon.json icc=false",
    )
    assert first.benchmark == "CIS-Docker"
    assert second.benchmark == "BWK"
    assert second.item is None
    assert catalog.get("nope") is None
    assert catalog.roles == ["docker_daemon"]


def test_catalog_queries_sort_naturally() -> None:
    assert [c.id for c in CATALOG.for_role("docker_daemon")] == [
        "BWK-1",
        "CIS-Docker 2.2",
        "CIS-Docker 2.3",
        "CIS-Docker 2.10",
        "CIS-Docker 3.17",
    ]
    assert [c.id for c in CATALOG.for_benchmark("BWK")] == ["BWK-1", "BWK-2"]
    assert CATALOG.roles == ["docker_daemon", "host_firewall"]
    assert CATALOG.benchmarks_as_dict() == {
        "CIS-Docker": {"title": "CIS Docker Benchmark", "version": "1.6.0"},
        "BWK": {"title": "Bulwark controls", "version": "1"},
    }


def test_item_key_is_optional() -> None:
    entry = _control()
    del entry["item"]
    assert load_catalog(_catalog_data(entry)).controls[0].item is None


def test_note_is_optional_and_stripped() -> None:
    assert load_catalog(_catalog_data(_control())).controls[0].note is None
    note = load_catalog(_catalog_data(_control(note="  Waived by default: kubeadm runs it as root.\n"))).controls[0].note
    assert note == "Waived by default: kubeadm runs it as root."
    with pytest.raises(ControlCatalogError) as caught:
        load_catalog(_catalog_data(_control(note=["a list"])))
    assert "note" in str(caught.value)


def test_waived_when_key_is_optional() -> None:
    """No waived_when: no value of the variable turns the control off (null would be such a value)."""
    entry = _control()
    del entry["waived_when"]
    control = load_catalog(_catalog_data(entry)).controls[0]
    assert (control.waivable, control.waived_when) == (False, None)
    assert (
        load_catalog(_catalog_data(_control(waived_when=None))).controls[0].waivable
        is True
    )


@pytest.mark.parametrize("waived_when", [None, True, False, 0, "none", ["a"]])
def test_waived_when_accepts_yaml_values(waived_when: t.Any) -> None:
    assert (
        load_catalog(_catalog_data(_control(waived_when=waived_when)))
        .controls[0]
        .waived_when
        == waived_when
    )


def _mutate(path: str, new: t.Any) -> dict[str, t.Any]:
    """A valid catalog with one value replaced (``new is ...`` deletes it)."""
    data = copy.deepcopy(
        _catalog_data(
            _control(),
            _control(
                id="CIS-Docker 2.3",
                item="log-level",
                variable="docker_daemon_log_level",
            ),
        )
    )
    parts = path.split("/")
    target: t.Any = data
    for part in parts[:-1]:
        target = target[int(part)] if isinstance(target, list) else target[part]
    last: t.Any = int(parts[-1]) if isinstance(target, list) else parts[-1]
    if new is ...:
        del target[last]
    else:
        target[last] = new
    return data


CATALOG_ERRORS = [
    pytest.param(
        [],
        "the catalog must be a mapping with benchmarks and controls, got [] (list).",
        id="not-a-mapping",
    ),
    pytest.param(
        {**_catalog_data(), "extra": 1},
        "unknown top-level key(s) extra; allowed: benchmarks, controls.",
        id="unknown-top-level",
    ),
    pytest.param(
        _mutate("benchmarks", ...),
        "benchmarks: expected a mapping of benchmark key to {title, version}, got None (NoneType).",
        id="no-benchmarks",
    ),
    pytest.param(
        _mutate("benchmarks/BWK/version", 1),
        "benchmarks['BWK'].version: expected a string, got 1 (int); quote it in YAML (version: \"1\").",
        id="version-not-string",
    ),
    pytest.param(
        _mutate("benchmarks/BWK/title", ""),
        "benchmarks['BWK'].title: expected a non-empty string, got '' (str).",
        id="benchmark-no-title",
    ),
    pytest.param(
        _mutate("benchmarks/BWK/url", "x"),
        "benchmarks['BWK']: unknown key(s) url; allowed: title, version.",
        id="benchmark-unknown-key",
    ),
    pytest.param(
        _mutate("benchmarks/CIS Docker", {"title": "x", "version": "1"}),
        "benchmarks['CIS Docker']: the key must be letters and digits, dash separated (e.g. 'CIS-Docker', 'BWK').",
        id="benchmark-bad-key",
    ),
    pytest.param(
        _mutate("controls", {"a": 1}),
        "controls: expected a list of controls, got {'a': 1} (dict).",
        id="controls-not-list",
    ),
    pytest.param(
        _mutate("controls/1", "CIS-Docker 2.3"),
        "controls[1]: expected a mapping, got 'CIS-Docker 2.3' (str).",
        id="control-not-mapping",
    ),
    pytest.param(
        _mutate("controls/1/level", 1),
        "controls[1] (CIS-Docker 2.3): unknown key(s) level; allowed: id, title, role, variable, waived_when,"
        " item, verify, note.",
        id="control-unknown-key",
    ),
    pytest.param(
        _mutate("controls/1/verify", ...),
        "controls[1] (CIS-Docker 2.3): missing key(s) verify.",
        id="missing-verify",
    ),
    pytest.param(
        _mutate("controls/1/title", ...),
        "controls[1] (CIS-Docker 2.3): missing key(s) title.",
        id="missing-title",
    ),
    pytest.param(
        _mutate("controls/1/id", ...),
        "controls[1]: missing key(s) id.",
        id="missing-id",
    ),
    pytest.param(
        _mutate("controls/1/id", 2.3),
        "controls[1].id: expected a non-empty string, got 2.3 (float).",
        id="id-not-string",
    ),
    pytest.param(
        _mutate("controls/1/id", "CIS-Docker-2.3"),
        "controls[1].id (CIS-Docker-2.3): 'CIS-Docker-2.3' is not a control id; use '<benchmark> <number>'"
        " (e.g. 'CIS-Docker 2.2') or 'BWK-<n>'.",
        id="id-malformed",
    ),
    pytest.param(
        _mutate("controls/1/id", "CIS-K8s 1.2.1"),
        "controls[1].id (CIS-K8s 1.2.1): benchmark 'CIS-K8s' is not declared under benchmarks"
        " (declared: BWK, CIS-Docker).",
        id="id-undeclared-benchmark",
    ),
    pytest.param(
        _mutate("controls/1/id", "CIS-Docker-3"),
        "controls[1].id (CIS-Docker-3): 'CIS-Docker-3' is not a control id; use '<benchmark> <number>'"
        " (e.g. 'CIS-Docker 2.2') or 'BWK-<n>'.",
        id="id-dashed-not-bwk",
    ),
    pytest.param(
        _mutate("controls/1/id", "CIS-Docker 2.2"),
        "controls[1].id (CIS-Docker 2.2): duplicate of controls[0]; ids are unique.",
        id="id-duplicate",
    ),
    pytest.param(
        _mutate("controls/1/title", None),
        "controls[1].title (CIS-Docker 2.3): expected a non-empty string, got None (NoneType).",
        id="no-title",
    ),
    pytest.param(
        _mutate("controls/1/role", "Docker-Daemon"),
        "controls[1].role (CIS-Docker 2.3): 'Docker-Daemon' is not a role name; use the short name of a role"
        " under roles/ (e.g. 'docker_daemon').",
        id="role-malformed",
    ),
    pytest.param(
        _mutate("controls/1/role", "bulwark.hardening.docker_daemon"),
        "controls[1].role (CIS-Docker 2.3): 'bulwark.hardening.docker_daemon' is not a role name; use the short"
        " name of a role under roles/ (e.g. 'docker_daemon').",
        id="role-fqcn",
    ),
    pytest.param(
        _mutate("controls/1/variable", "log_level"),
        "controls[1].variable (CIS-Docker 2.3): 'log_level' must be a variable of role 'docker_daemon', named"
        " 'docker_daemon_*'.",
        id="variable-without-role-prefix",
    ),
    pytest.param(
        _mutate("controls/1/variable", ["docker_daemon_log_level"]),
        "controls[1].variable (CIS-Docker 2.3): expected a non-empty string, got ['docker_daemon_log_level']"
        " (list).",
        id="variable-not-string",
    ),
    pytest.param(
        _mutate("controls/1/waived_when", {"a": 1}),
        "controls[1].waived_when (CIS-Docker 2.3): expected null, a boolean, a number, a string or a list,"
        " got {'a': 1} (dict).",
        id="waived-when-mapping",
    ),
    pytest.param(
        _mutate("controls/1/item", ""),
        "controls[1].item (CIS-Docker 2.3): expected a non-empty string, got '' (str).",
        id="item-empty",
    ),
    pytest.param(
        _mutate("controls/1/verify", " "),
        "controls[1].verify (CIS-Docker 2.3): expected a non-empty string, got ' ' (str).",
        id="verify-blank",
    ),
]


@pytest.mark.parametrize(("data", "message"), CATALOG_ERRORS)
def test_load_catalog_rejects(data: t.Any, message: str) -> None:
    with pytest.raises(ControlCatalogError) as excinfo:
        load_catalog(data)
    assert str(excinfo.value) == message
    assert isinstance(excinfo.value, ValueError)


@pytest.mark.parametrize(
    ("control_id", "expected"),
    [
        ("CIS-Docker 2.2", ("CIS-Docker", "2.2")),
        ("CIS-K8s 1.2.16", ("CIS-K8s", "1.2.16")),
        ("BWK-12", ("BWK", "12")),
    ],
)
def test_split_control_id(control_id: str, expected: tuple[str, str]) -> None:
    assert split_control_id(control_id) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "CIS-Docker",
        "2.2",
        "CIS-Docker  2.2",
        "CIS-Docker 2.2a",
        "BWK-1.2",
        "RFC-1234",
        "",
    ],
)
def test_split_control_id_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match="is not a control id"):
        split_control_id(bad)


def test_natural_key_orders_numbers_numerically() -> None:
    ids = [
        "CIS-Docker 2.10",
        "BWK-10",
        "CIS-Docker 3.1",
        "BWK-2",
        "CIS-Docker 2.9",
        "CIS-Docker 2.2.1",
        "CIS-Docker 2.2",
    ]
    assert sorted(ids, key=natural_key) == [
        "BWK-2",
        "BWK-10",
        "CIS-Docker 2.2",
        "CIS-Docker 2.2.1",
        "CIS-Docker 2.9",
        "CIS-Docker 2.10",
        "CIS-Docker 3.1",
    ]


# --- task names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "Configure the Docker daemon | CIS-Docker 2.2, CIS-Docker 2.13, BWK-1",
            ["CIS-Docker 2.2", "CIS-Docker 2.13", "BWK-1"],
        ),
        (
            "Configure the Docker daemon | CIS-Docker 2.2, 2.13",
            ["CIS-Docker 2.2", "CIS-Docker 2.13"],
        ),
        ("Disable inter-container communication | CIS-Docker 2.2", ["CIS-Docker 2.2"]),
        (
            "Mixed | CIS-Docker 2.2, 3.17, BWK-1, 2, CIS-K8s 1.2.1, 1.2.2",
            [
                "CIS-Docker 2.2",
                "CIS-Docker 3.17",
                "BWK-1",
                "BWK-2",
                "CIS-K8s 1.2.1",
                "CIS-K8s 1.2.2",
            ],
        ),
        (
            "Spacing is forgiven |   CIS-Docker 2.2 ,2.3  ",
            ["CIS-Docker 2.2", "CIS-Docker 2.3"],
        ),
        (
            "Duplicates collapse | CIS-Docker 2.2, 2.2, CIS-Docker 2.2",
            ["CIS-Docker 2.2"],
        ),
        (
            "Only the last part counts | CIS-Docker 2.2 | CIS-Docker 2.3",
            ["CIS-Docker 2.3"],
        ),
        ("Gathering Facts", []),
        ("Ensure a | b pipe in the text", []),
        ("No ids after the separator | see the docs, 2.2", []),
        ("A bare number alone is not an id | 2.2", []),
        ("Only BWK uses the dashed form | RFC-1234", []),
        ("", []),
    ],
)
def test_parse_control_ids(name: str, expected: list[str]) -> None:
    assert parse_control_ids(name) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "Configure | CIS-Docker 2.2, icc",
            "task 'Configure | CIS-Docker 2.2, icc': 'icc' is not a control id; after ' | ' list ids such as"
            " 'CIS-Docker 2.2, 2.13, BWK-1', separated by commas.",
        ),
        (
            "Configure | CIS-Docker 2.2,",
            "task 'Configure | CIS-Docker 2.2,': '' is not a control id; after ' | ' list ids such as"
            " 'CIS-Docker 2.2, 2.13, BWK-1', separated by commas.",
        ),
        (
            "Configure | BWK-1, 2.1",
            "task 'Configure | BWK-1, 2.1': '2.1' cannot continue BWK-<n>; BWK numbers are whole.",
        ),
    ],
)
def test_parse_control_ids_rejects(name: str, message: str) -> None:
    with pytest.raises(ControlIdError) as excinfo:
        parse_control_ids(name)
    assert str(excinfo.value) == message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bulwark.hardening.docker_daemon", "docker_daemon"),
        ("docker_daemon", "docker_daemon"),
        ("", None),
        (None, None),
    ],
)
def test_normalize_role_name(name: str | None, expected: str | None) -> None:
    assert normalize_role_name(name) == expected


# --- one outcome --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("result", "event", "expected"),
    [
        ({"changed": False}, "ok", TaskOutcome(state="ok", check_mode=False)),
        (
            {"changed": True, "item_status": {"icc": "changed"}},
            "ok",
            TaskOutcome(
                state="changed", check_mode=False, item_status={"icc": "changed"}
            ),
        ),
        (
            {"msg": "boom\nsecond line", "failed": True},
            "failed",
            TaskOutcome(state="failed", check_mode=False, msg="boom"),
        ),
        (
            {"msg": "ssh: connect refused"},
            "unreachable",
            TaskOutcome(
                state="unreachable", check_mode=False, msg="ssh: connect refused"
            ),
        ),
        (
            {"skipped": True, "false_condition": "docker_daemon_icc is false"},
            "skipped",
            TaskOutcome(
                state="skipped",
                check_mode=False,
                false_condition="docker_daemon_icc is false",
            ),
        ),
        (
            {"skipped": True, "false_condition": False},
            "skipped",
            TaskOutcome(state="skipped", check_mode=False, false_condition="False"),
        ),
        # Loops: items fold into one outcome.
        (
            {
                "changed": True,
                "results": [
                    {"changed": False, "item_status": {"icc": "ok"}},
                    {
                        "changed": True,
                        "item_status": {"icc": "changed", "iptables": "ok"},
                    },
                    {"changed": False, "item_status": {"icc": "ok"}},
                ],
            },
            "ok",
            TaskOutcome(
                state="changed",
                check_mode=False,
                item_status={"icc": "changed", "iptables": "ok"},
            ),
        ),
        (
            {"changed": False, "results": [{"changed": True}]},
            "ok",
            TaskOutcome(state="changed", check_mode=False),
        ),
        (
            {
                "skipped": True,
                "msg": "All items skipped",
                "results": [{"skipped": True, "false_condition": "x_on"}],
            },
            "skipped",
            TaskOutcome(
                state="skipped",
                check_mode=False,
                false_condition="x_on",
                msg="All items skipped",
            ),
        ),
        (
            {
                "failed": True,
                "msg": "One or more items failed",
                "results": [{"failed": False}, {"failed": True, "msg": "bad"}],
            },
            "failed",
            TaskOutcome(state="failed", check_mode=False, msg="bad"),
        ),
        (
            {"changed": False, "item_status": "not a mapping"},
            "ok",
            TaskOutcome(state="ok", check_mode=False),
        ),
    ],
)
def test_outcome_from_result(
    result: dict[str, t.Any], event: str, expected: TaskOutcome
) -> None:
    assert TaskOutcome.from_result(result, event, check_mode=False) == expected


def test_outcome_message_is_shortened() -> None:
    outcome = TaskOutcome.from_result({"msg": "x" * 400}, "failed", check_mode=True)
    assert outcome.msg == "x" * 297 + "..."
    assert outcome.check_mode is True


def test_outcome_rejects_unknown_state() -> None:
    with pytest.raises(
        ValueError,
        match=r"^state: 'done' is not one of ok, changed, failed, unreachable, skipped\.$",
    ):
        TaskOutcome(state="done", check_mode=False)


ICC = "CIS-Docker 2.2"
OWNER = "CIS-Docker 3.17"

STATUS_TABLE = [
    # control, outcome, expected (status, msg)
    pytest.param(
        ICC,
        TaskOutcome("failed", False, msg="boom"),
        ("fail", "task failed: boom"),
        id="failed",
    ),
    pytest.param(
        ICC,
        TaskOutcome("failed", True, item_status={"icc": "ok"}),
        ("fail", "task failed"),
        id="failed-beats-item-status",
    ),
    pytest.param(
        ICC,
        TaskOutcome("unreachable", False, msg="no route"),
        ("fail", "host unreachable: no route"),
        id="unreachable",
    ),
    pytest.param(
        ICC,
        TaskOutcome("changed", True, item_status={"icc": "changed"}),
        ("drift", "'icc' would change"),
        id="item-changed-check",
    ),
    pytest.param(
        ICC,
        TaskOutcome("changed", False, item_status={"icc": "changed"}),
        ("fixed", "'icc' changed"),
        id="item-changed-apply",
    ),
    pytest.param(
        ICC,
        TaskOutcome("changed", True, item_status={"icc": "ok", "iptables": "changed"}),
        ("pass", None),
        id="item-ok-while-task-changed",
    ),
    pytest.param(
        ICC,
        TaskOutcome("ok", False, item_status={"iptables": "ok"}),
        ("waived", "the role did not manage 'icc' (docker_daemon_icc)"),
        id="item-not-managed",
    ),
    pytest.param(
        ICC,
        TaskOutcome("ok", False, item_status={"icc": "unknown"}),
        (
            "fail",
            "item_status['icc'] is 'unknown'; expected 'ok', 'changed', 'stale', 'not-in-effect', 'finding',"
            " 'not-checked' or 'absent'",
        ),
        id="item-status-unexpected",
    ),
    pytest.param(
        ICC,
        TaskOutcome("ok", True, item_status={"icc": "finding"}, msg="1 open finding: User:x is cluster-admin"),
        ("fail", "'icc' has open findings: 1 open finding: User:x is cluster-admin"),
        id="item-audit-finding",
    ),
    pytest.param(
        ICC,
        TaskOutcome("ok", True, item_status={"icc": "not-checked"}, msg="pods were not read"),
        ("not-checked", "'icc' was not checked: pods were not read"),
        id="item-not-checked",
    ),
    pytest.param(
        ICC,
        TaskOutcome("ok", True, item_status={"icc": "stale"}),
        ("drift", "'icc' is as asked in the file but not in the running process"),
        id="item-stale-not-in-effect",
    ),
    pytest.param(
        ICC,
        TaskOutcome("ok", False, item_status={"icc": "absent"}),
        ("n/a", "icc does not exist on the host"),
        id="item-absent-on-host",
    ),
    pytest.param(
        OWNER,
        TaskOutcome("changed", True, item_status={"icc": "ok"}),
        ("drift", None),
        id="no-item-uses-task-changed-check",
    ),
    pytest.param(
        OWNER, TaskOutcome("changed", False), ("fixed", None), id="changed-apply"
    ),
    pytest.param(
        OWNER, TaskOutcome("changed", True), ("drift", None), id="changed-check"
    ),
    pytest.param(OWNER, TaskOutcome("ok", True), ("pass", None), id="ok"),
    pytest.param(
        ICC,
        TaskOutcome("ok", True),
        ("pass", None),
        id="item-control-without-item-status",
    ),
    pytest.param(
        ICC,
        TaskOutcome("skipped", False, false_condition="not docker_daemon_icc"),
        ("waived", "skipped: not docker_daemon_icc"),
        id="skipped-by-variable",
    ),
    pytest.param(
        OWNER,
        TaskOutcome(
            "skipped",
            False,
            false_condition="docker_daemon_manage_file_permissions | bool",
        ),
        ("waived", "skipped: docker_daemon_manage_file_permissions | bool"),
        id="skipped-by-variable-filter",
    ),
    pytest.param(
        ICC,
        TaskOutcome("skipped", False, false_condition="docker_daemon_icc_extra"),
        ("n/a", "skipped: docker_daemon_icc_extra"),
        id="skipped-other-variable-same-prefix",
    ),
    pytest.param(
        ICC,
        TaskOutcome("skipped", False, false_condition="ansible_os_family == 'Debian'"),
        ("n/a", "skipped: ansible_os_family == 'Debian'"),
        id="skipped-other-condition",
    ),
    pytest.param(
        ICC,
        TaskOutcome("skipped", True, msg="skipped, running in check mode"),
        ("n/a", "skipped: skipped, running in check mode"),
        id="skipped-check-mode",
    ),
    pytest.param(
        ICC, TaskOutcome("skipped", True), ("n/a", "skipped"), id="skipped-no-reason"
    ),
]


@pytest.mark.parametrize(("control_id", "outcome", "expected"), STATUS_TABLE)
def test_control_status(
    control_id: str, outcome: TaskOutcome, expected: tuple[str, str | None]
) -> None:
    assert control_status(_get(control_id), outcome) == expected


@pytest.mark.parametrize(
    ("first", "second", "expected"),
    [
        ("fail", "pass", "fail"),
        ("pass", "fail", "fail"),
        ("drift", "fixed", "drift"),
        ("fixed", "pass", "fixed"),
        ("pass", "waived", "pass"),
        ("waived", "n/a", "waived"),
        ("n/a", "n/a", "n/a"),
    ],
)
def test_worst_status(first: str, second: str, expected: str) -> None:
    assert worst_status(first, second) == expected


def test_status_order_is_worst_first() -> None:
    assert STATUS_ORDER == ("fail", "drift", "fixed", "pass", "waived", "n/a")
    assert REPORT_STATUSES == STATUS_ORDER + (NOT_CHECKED,)


# --- the ledger and the report ------------------------------------------------------------------


def _ledger() -> ControlLedger:
    ledger = ControlLedger(CATALOG)
    ledger.role_ran("web10", "bulwark.hardening.docker_daemon")
    ledger.record(
        "web10",
        [ICC, "CIS-Docker 2.3", "CIS-Docker 2.10"],
        "Configure the Docker daemon | CIS-Docker 2.2, 2.3, 2.10",
        TaskOutcome("changed", True, item_status={"icc": "changed", "log-level": "ok"}),
    )
    ledger.record(
        "web10",
        [OWNER],
        "Set daemon.json owner | CIS-Docker 3.17",
        TaskOutcome("ok", True),
    )
    ledger.record(
        "web10",
        [OWNER],
        "Check daemon.json owner | CIS-Docker 3.17",
        TaskOutcome("failed", True, msg="owner is 1000"),
    )
    ledger.record(
        "web10",
        [OWNER],
        "Set daemon.json owner | CIS-Docker 3.17",
        TaskOutcome("ok", True),
    )
    ledger.role_ran("web9", "docker_daemon")
    ledger.record(
        "web9",
        [ICC],
        "Configure the Docker daemon | CIS-Docker 2.2",
        TaskOutcome("ok", True, item_status={"icc": "ok"}),
    )
    ledger.mark_unreachable("web9")
    ledger.add_host("db1")
    return ledger


def test_ledger_record_returns_unknown_ids() -> None:
    ledger = ControlLedger(CATALOG)
    unknown = ledger.record(
        "h",
        ["CIS-Docker 9.9", ICC],
        "x | CIS-Docker 9.9, 2.2",
        TaskOutcome("ok", False),
    )
    assert unknown == ["CIS-Docker 9.9"]
    assert ledger.build_report(check_mode=False, generated=GENERATED)[
        "unknown_ids"
    ] == ["CIS-Docker 9.9"]


def test_report_model() -> None:
    report = _ledger().build_report(check_mode=True, generated=GENERATED)
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
    assert report["generated"] == GENERATED
    assert (report["fail_on"], report["previous"], report["changes"]) == (None, None, [])
    assert report["check_mode"] is True
    assert report["catalog"] == {"benchmarks": CATALOG.benchmarks_as_dict()}
    # db1 ran no task that names a control: it has nothing to report.
    assert list(report["hosts"]) == ["web9", "web10"]
    ledger = ControlLedger(CATALOG)
    ledger.mark_unreachable("gone")
    assert ledger.build_report(check_mode=True, generated=GENERATED)["hosts"]["gone"] == {
        "unreachable": True,
        "result": "fail",
        "summary": {status: 0 for status in REPORT_STATUSES},
        "waivers": [],
        "controls": [],
    }
    web10 = report["hosts"]["web10"]
    assert web10["unreachable"] is False
    assert web10["controls"] == [
        {
            "id": "BWK-1",
            "benchmark": "BWK",
            "section": "BWK",
            "title": "Keep a backup of daemon.json",
            "role": "docker_daemon",
            "status": "not-checked",
            "tasks": [],
            "msg": "no task of role docker_daemon reported this control",
        },
        {
            "id": "CIS-Docker 2.2",
            "benchmark": "CIS-Docker",
            "section": "CIS-Docker 2",
            "title": "Restrict network traffic between containers on the default bridge",
            "role": "docker_daemon",
            "status": "drift",
            "tasks": ["Configure the Docker daemon | CIS-Docker 2.2, 2.3, 2.10"],
            "msg": "'icc' would change",
        },
        {
            "id": "CIS-Docker 2.3",
            "benchmark": "CIS-Docker",
            "section": "CIS-Docker 2",
            "title": "Set the logging level to info",
            "role": "docker_daemon",
            "status": "pass",
            "tasks": ["Configure the Docker daemon | CIS-Docker 2.2, 2.3, 2.10"],
        },
        {
            "id": "CIS-Docker 2.10",
            "benchmark": "CIS-Docker",
            "section": "CIS-Docker 2",
            "title": "Confirm the default cgroup parent",
            "role": "docker_daemon",
            "status": "waived",
            "tasks": ["Configure the Docker daemon | CIS-Docker 2.2, 2.3, 2.10"],
            "msg": "the role did not manage 'cgroup-parent' (docker_daemon_cgroup_parent)",
            "waiver": {
                "source": "variable",
                "variable": "docker_daemon_cgroup_parent",
                "reason": "turned off by docker_daemon_cgroup_parent",
            },
        },
        {
            "id": "CIS-Docker 3.17",
            "benchmark": "CIS-Docker",
            "section": "CIS-Docker 3",
            "title": "Set daemon.json ownership to root:root",
            "role": "docker_daemon",
            "status": "fail",
            "tasks": [
                "Set daemon.json owner | CIS-Docker 3.17",
                "Check daemon.json owner | CIS-Docker 3.17",
            ],
            "msg": "task failed: owner is 1000",
        },
    ]
    assert web10["summary"] == {
        "fail": 1,
        "drift": 1,
        "fixed": 0,
        "pass": 1,
        "waived": 1,
        "n/a": 0,
        "not-checked": 1,
    }
    web9 = report["hosts"]["web9"]
    assert web9["unreachable"] is True
    assert [(c["id"], c["status"]) for c in web9["controls"]] == [
        ("BWK-1", "not-checked"),
        ("CIS-Docker 2.2", "pass"),
        ("CIS-Docker 2.3", "not-checked"),
        ("CIS-Docker 2.10", "not-checked"),
        ("CIS-Docker 3.17", "not-checked"),
    ]
    # Only roles that ran bring their controls in: host_firewall's BWK-2 is nowhere.
    assert all(
        c["id"] != "BWK-2"
        for host in report["hosts"].values()
        for c in host["controls"]
    )
    assert json.loads(json.dumps(report)) == report


def test_worst_status_wins_and_keeps_its_message() -> None:
    ledger = ControlLedger(CATALOG)
    for name, outcome in [
        ("a | BWK-1", TaskOutcome("skipped", False, false_condition="x")),
        ("b | BWK-1", TaskOutcome("ok", False)),
        ("c | BWK-1", TaskOutcome("changed", False)),
        (
            "d | BWK-1",
            TaskOutcome("skipped", False, false_condition="docker_daemon_backup"),
        ),
    ]:
        ledger.record("h", ["BWK-1"], name, outcome)
    (row,) = ledger.build_report(check_mode=False, generated=GENERATED)["hosts"]["h"][
        "controls"
    ]
    assert row == {
        "id": "BWK-1",
        "benchmark": "BWK",
        "section": "BWK",
        "title": "Keep a backup of daemon.json",
        "role": "docker_daemon",
        "status": "fixed",
        "tasks": ["a | BWK-1", "b | BWK-1", "c | BWK-1", "d | BWK-1"],
    }


def test_render_text() -> None:
    text = render_text(_ledger().build_report(check_mode=True, generated=GENERATED))
    assert text == (
        "Controls report (check mode: drift = would change)\n"
        "\n"
        "web9 [unreachable]: 1 pass, 4 not-checked\n"
        "  ID               STATUS       TITLE\n"
        "  BWK-1            not-checked  Keep a backup of daemon.json\n"
        "  CIS-Docker 2.2   pass         Restrict network traffic between containers on the default bridge\n"
        "  CIS-Docker 2.3   not-checked  Set the logging level to info\n"
        "  CIS-Docker 2.10  not-checked  Confirm the default cgroup parent\n"
        "  CIS-Docker 3.17  not-checked  Set daemon.json ownership to root:root\n"
        "\n"
        "web10: 1 fail, 1 drift, 1 pass, 1 waived, 1 not-checked\n"
        "  ID               STATUS       TITLE\n"
        "  BWK-1            not-checked  Keep a backup of daemon.json\n"
        "  CIS-Docker 2.2   drift        Restrict network traffic between containers on the default bridge\n"
        "  CIS-Docker 2.3   pass         Set the logging level to info\n"
        "  CIS-Docker 2.10  waived       Confirm the default cgroup parent  [waiver: turned off by docker_daemon_cgroup_parent]\n"
        "  CIS-Docker 3.17  fail         Set daemon.json ownership to root:root\n"
    )


def test_render_text_apply_mode_and_unknown_ids() -> None:
    ledger = ControlLedger(CATALOG)
    ledger.record(
        "h", ["BWK-1", "BWK-99"], "x | BWK-1, 99", TaskOutcome("changed", False)
    )
    assert render_text(ledger.build_report(check_mode=False, generated=GENERATED)) == (
        "Controls report (apply mode: fixed = changed now)\n"
        "\n"
        "h: 1 fixed\n"
        "  ID     STATUS  TITLE\n"
        "  BWK-1  fixed   Keep a backup of daemon.json\n"
        "\n"
        "Ids in task names but not in the catalog: BWK-99\n"
    )


def test_render_text_without_hosts() -> None:
    report = ControlLedger(CATALOG).build_report(check_mode=False, generated=GENERATED)
    assert (
        render_text(report)
        == "Controls report (apply mode: fixed = changed now)\n(no hosts)\n"
    )


@pytest.mark.parametrize(
    ("control_id", "section"),
    [("CIS-Docker 2.2", "CIS-Docker 2"), ("CIS-K8s 1.2.16", "CIS-K8s 1.2"), ("CIS-K8s 5", "CIS-K8s"), ("BWK-3", "BWK")],
)
def test_control_section(control_id: str, section: str) -> None:
    assert control_section(control_id) == section


def _waived_ledger(expires: str) -> ControlLedger:
    ledger = _ledger()
    ledger.set_waivers(
        "web10",
        [
            Waiver(id=ICC, reason="the CI runners need it (OPS-7)", expires=datetime.date.fromisoformat(expires)),
            Waiver(id="BWK-2", reason="not a control of a role that ran", expires=datetime.date(2099, 1, 1)),
        ],
    )
    return ledger


def test_an_inventory_waiver_makes_a_control_waived_and_keeps_what_was_found() -> None:
    report = _waived_ledger("2026-01-02").build_report(check_mode=True, generated=GENERATED)
    web10 = report["hosts"]["web10"]
    row = {r["id"]: r for r in web10["controls"]}[ICC]
    assert row["status"] == "waived"
    assert row["observed"] == "drift"
    assert row["waiver"] == {"source": "inventory", "reason": "the CI runners need it (OPS-7)", "expires": "2026-01-02"}
    assert row["msg"] == "waived until 2026-01-02: the CI runners need it (OPS-7); found: drift"
    assert web10["summary"]["drift"] == 0 and web10["summary"]["waived"] == 2
    # A waiver for a control no role on the host deals with does not invent a row.
    assert "BWK-2" not in {r["id"] for r in web10["controls"]}
    assert [w["id"] for w in web10["waivers"]] == ["BWK-2", ICC]
    assert "[waiver: the CI runners need it (OPS-7) (until 2026-01-02)]" in render_text(report)


def test_an_expired_waiver_is_a_failure() -> None:
    report = _waived_ledger("2026-01-01").build_report(check_mode=True, generated=GENERATED)
    row = {r["id"]: r for r in report["hosts"]["web10"]["controls"]}[ICC]
    assert row["status"] == "fail"
    assert row["msg"] == "the waiver expired on 2026-01-01 (the CI runners need it (OPS-7)); found: drift"
    assert "[waiver: the CI runners need it (OPS-7) (expired on 2026-01-01)]" in render_text(report)


def test_host_results_and_the_run_result() -> None:
    report = _ledger().build_report(check_mode=True, generated=GENERATED)
    assert {host: data["result"] for host, data in report["hosts"].items()} == {
        "web9": "fail",  # unreachable
        "web10": "fail",
    }
    assert run_result(report) == "fail"
    assert host_result({"drift": 1}) == "drift"
    assert host_result({"not-checked": 1}) == "fail"
    assert host_result({"pass": 3, "waived": 1}) == "pass"
    assert run_result({"hosts": {}}) == "pass"
    assert host_summary(report["hosts"]["web10"]) == {
        "result": "fail",
        "unreachable": False,
        "summary": report["hosts"]["web10"]["summary"],
        "fail": [OWNER],
        "drift": [ICC],
        "not_checked": ["BWK-1"],
        "waived": ["CIS-Docker 2.10"],
    }


def test_failing_hosts_per_policy() -> None:
    report = _ledger().build_report(check_mode=True, generated=GENERATED)
    assert failing_hosts(report, "fail") == {"web9": ["BWK-1", "CIS-Docker 2.3", "CIS-Docker 2.10", OWNER], "web10": ["BWK-1", OWNER]}
    assert failing_hosts(report, "drift")["web10"] == ["BWK-1", ICC, OWNER]
    assert failing_hosts(report, "never") == {}
    with pytest.raises(ValueError, match="fail_on: 'always' is not one of fail, drift, never."):
        failing_hosts(report, "always")


def test_changes_since_the_previous_report() -> None:
    previous = _ledger().build_report(check_mode=True, generated="2026-01-01T00:00:00+00:00")
    ledger = _ledger()
    ledger.record("web10", [OWNER], "Set daemon.json owner | CIS-Docker 3.17", TaskOutcome("ok", True))
    ledger.record("web10", [ICC], "x | CIS-Docker 2.2", TaskOutcome("ok", True, item_status={"icc": "ok"}))
    ledger.add_host("new1")
    report = ledger.build_report(check_mode=True, generated=GENERATED, previous=previous)
    assert report["previous"] == {"generated": "2026-01-01T00:00:00+00:00", "check_mode": True}
    # ICC got no better (worst status wins within a run); a host new in this report is not compared.
    assert report["changes"] == []
    previous["hosts"]["web10"]["controls"] = [
        dict(row, status="pass") if row["id"] == OWNER else row for row in previous["hosts"]["web10"]["controls"]
    ] + [{"id": "BWK-9", "status": "pass"}]
    assert changes_since(previous, report["hosts"]) == [
        {"host": "web10", "id": "BWK-9", "title": None, "from": "pass", "to": None},
        {"host": "web10", "id": OWNER, "title": "Set daemon.json ownership to root:root", "from": "pass", "to": "fail"},
    ]


@pytest.mark.parametrize(
    "previous",
    [None, [], {"schema": 99, "hosts": {}}, {"schema": 2, "hosts": []}, {"schema": 2, "hosts": {"h": {"controls": "x"}}}],
)
def test_a_previous_report_that_is_not_ours_is_ignored(previous: t.Any) -> None:
    report = _ledger().build_report(check_mode=True, generated=GENERATED, previous=previous)
    assert (report["previous"], report["changes"]) == (None, [])
