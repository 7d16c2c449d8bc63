# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""floor_problems(): a value weaker than the benchmark is refused by name unless its control is
waived, and every floor names a control and a variable that exist."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.bulwark.hardening.plugins.module_utils.benchmark_floors import FLOORS, catalog_floors, floor_problems

COLLECTION = Path(__file__).resolve().parents[4]


@pytest.mark.parametrize(
    ("variable", "weaker"),
    [
        ("docker_daemon_socket_mode", "0666"),
        ("docker_daemon_socket_mode", "0670"),
        ("docker_daemon_socket_mode", "0760"),  # an execute bit
        ("docker_daemon_log_level", "error"),
        ("docker_daemon_insecure_registries", ["registry.local:5000"]),
        ("kube_apiserver_authorization_modes", ["AlwaysAllow", "Node", "RBAC"]),
        ("kube_apiserver_audit_log_maxage", 7),
        ("kube_apiserver_audit_log_maxage", "7"),  # -e kube_apiserver_audit_log_maxage=7
        ("kube_apiserver_audit_log_maxbackup", 1),
        ("kube_apiserver_audit_log_maxsize", 10),
        ("kube_controller_manager_bind_address", "0.0.0.0"),
        ("kube_scheduler_bind_address", "10.0.0.5"),
    ],
)
def test_weaker_than_the_benchmark_is_refused_unless_waived(variable: str, weaker: t.Any) -> None:
    problems = floor_problems({variable: weaker}, waived=set())
    assert problems and all(problem.startswith(f"{variable} {weaker!r} is weaker than CIS-") for problem in problems)
    assert all("bulwark_waivers" in problem for problem in problems)
    controls = {floor.control for floor in FLOORS if floor.variable == variable}
    assert floor_problems({variable: weaker}, waived=controls) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("docker_daemon_socket_mode", "0660"),
        ("docker_daemon_socket_mode", "600"),
        ("docker_daemon_socket_mode", "rw"),  # not a mode: the role's own check names the form
        ("docker_daemon_log_level", "info"),
        ("docker_daemon_insecure_registries", []),
        ("kube_apiserver_authorization_modes", ["Node", "RBAC", "Webhook"]),
        ("kube_apiserver_audit_log_maxage", 30),
        ("kube_apiserver_audit_log_maxage", "90"),
        ("kube_controller_manager_bind_address", "127.0.0.1"),
        ("kube_scheduler_bind_address", "::1"),
        ("kube_scheduler_bind_address", None),  # null waives the control in the catalog
    ],
)
def test_the_benchmark_value_or_stronger_passes(variable: str, value: t.Any) -> None:
    assert floor_problems({variable: value}, waived=set()) == []


def test_every_floor_names_a_control_of_its_variable_s_role() -> None:
    catalog = yaml.safe_load((COLLECTION / "meta" / "controls.yml").read_text())["controls"]
    roles = {control["id"]: control["role"] for control in catalog}
    options: dict[str, t.Any] = {}
    for path in (COLLECTION / "roles").glob("*/meta/argument_specs.yml"):
        role_options = yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]
        options.update({name: {**spec, "role": path.parts[-3]} for name, spec in role_options.items()})
    for floor in FLOORS:
        assert floor.control in roles, floor
        assert floor.variable in options, floor
        assert options[floor.variable]["role"] == roles[floor.control], floor
        default = options[floor.variable].get("default")
        assert floor_problems({floor.variable: default}, waived=set()) == [], f"{floor.variable}'s default is below {floor.control}"


def _catalog_and_options() -> tuple[t.Any, dict[str, t.Any]]:
    from ansible_collections.bulwark.hardening.plugins.module_utils.controls import load_catalog

    catalog = load_catalog(yaml.safe_load((COLLECTION / "meta" / "controls.yml").read_text()))
    options: dict[str, t.Any] = {}
    for path in (COLLECTION / "roles").glob("*/meta/argument_specs.yml"):
        options.update(yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"])
    return catalog, options


@pytest.mark.parametrize(
    ("variable", "weaker"),
    [("docker_daemon_icc", True), ("docker_daemon_icc", "yes"), ("kube_apiserver_profiling", "true"),
     ("kube_etcd_client_cert_auth", False), ("docker_daemon_live_restore", "no")],
)  # fmt: skip
def test_a_bool_that_turns_its_control_off_is_refused_unless_waived(variable: str, weaker: t.Any) -> None:
    catalog, options = _catalog_and_options()
    floors = catalog_floors(catalog.controls, options)
    (problem,) = floor_problems({variable: weaker}, waived=set(), floors=floors)
    assert problem.startswith(f"{variable} {weaker!r} is weaker than CIS-")
    controls = {floor.control for floor in floors if floor.variable == variable}
    assert floor_problems({variable: weaker}, waived=controls, floors=floors) == []
    assert floor_problems({variable: options[variable]["default"]}, waived=set(), floors=floors) == []


def test_a_bool_whose_other_value_is_the_waiver_has_no_floor() -> None:
    catalog, options = _catalog_and_options()
    floored = {floor.variable for floor in catalog_floors(catalog.controls, options)}
    assert "docker_daemon_file_permissions" not in floored  # false turns the file controls off: a waiver
    assert len(floored) == 16
