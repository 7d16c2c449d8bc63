# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""type_problems(): the values a role could not use are refused by name, at every depth, and every
role runs the one guard first."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.bulwark.hardening.plugins.module_utils.role_vars import type_problems

ROLES = Path(__file__).resolve().parents[4] / "roles"
SPEC = {
    "modes": {"type": "list", "elements": "str"},
    "extra": {"type": "dict"},
    "limits": {"type": "list", "elements": "dict", "options": {"type": {"type": "str"}, "tags": {"type": "list"}}},
    "nested": {"type": "dict", "options": {"ports": {"type": "list", "elements": "int"}}},
    "rows": {"type": "list", "elements": "list"},
    "name": {"type": "str"},
}


@pytest.mark.parametrize(
    ("values", "problems"),
    [
        (
            {"modes": "Node,RBAC"},
            [
                "modes must be a list, not the string 'Node,RBAC'; give a list, such as [Node, RBAC]"
                """ (with -e, as JSON: -e '{"modes": ["Node", "RBAC"]}')."""
            ],
        ),
        (
            {"modes": "RBAC"},
            ["""modes must be a list, not the string 'RBAC'; give a list, such as [RBAC] (with -e, as JSON: -e '{"modes": ["RBAC"]}')."""],
        ),
        ({"modes": {"a": 1}}, ["modes must be a list, not a dict; give a list."]),
        ({"modes": 5}, ["modes must be a list, not the number 5; give a list."]),
        ({"modes": True}, ["modes must be a list, not the bool True; give a list."]),
        ({"modes": ["a", {"b": 1}]}, ["modes[1] must be a str, not a dict."]),
        (
            {"extra": "profiling=false"},
            [
                "extra must be a dict, not the string 'profiling=false'; give a mapping of keys to values"
                """ (with -e, as JSON: -e '{"extra": {"key": "value"}}')."""
            ],
        ),
        (
            {"limits": ["Server"]},
            ["limits[0] must be a dict, not the string 'Server'; give a mapping of keys to values."],
        ),
        ({"limits": [{"type": "Server", "tags": "a,b"}]}, ["limits[0].tags must be a list, not the string 'a,b'; give a list, such as [a, b]."]),
        ({"nested": {"ports": "22"}}, ["nested.ports must be a list, not the string '22'; give a list, such as [22]."]),
        ({"rows": [["a"], "b"]}, ["rows[1] must be a list, not the string 'b'; give a list, such as [b]."]),
        ({"modes": "a", "extra": "b"}, [
            """modes must be a list, not the string 'a'; give a list, such as [a] (with -e, as JSON: -e '{"modes": ["a"]}').""",
            """extra must be a dict, not the string 'b'; give a mapping of keys to values (with -e, as JSON: -e '{"extra": {"key": "value"}}').""",
        ]),
    ],
)
def test_refused(values: dict[str, t.Any], problems: list[str]) -> None:
    assert type_problems(SPEC, values) == problems


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"modes": ["Node", "RBAC"], "extra": {}, "name": "x"},
        {"modes": None, "extra": None, "limits": None},
        {"modes": ("a",)},
        {"limits": [{"type": "Server", "tags": ["a"]}], "nested": {"ports": [22]}, "rows": [["a"], None]},
        {"name": ["a list where a str is wanted is argument_specs' own business"]},
        {"unknown": "not in the spec"},
    ],
)
def test_accepted(values: dict[str, t.Any]) -> None:
    assert type_problems(SPEC, values) == []


def role_options() -> dict[str, dict[str, t.Any]]:
    """Each role's variables, from its argument spec."""
    return {
        path.parts[-3]: yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]
        for path in sorted(ROLES.glob("*/meta/argument_specs.yml"))
    }


@pytest.mark.parametrize("role", sorted(role_options()))
def test_every_list_and_dict_variable_of_every_role_refuses_a_string(role: str) -> None:
    options = role_options()[role]
    shaped = {name: spec for name, spec in options.items() if spec.get("type") in ("list", "dict")}
    assert shaped, f"{role} has no list or dict variable"
    problems = type_problems(options, {name: "a,b" for name in shaped})
    assert len(problems) == len(shaped)
    for name, problem in zip(shaped, problems):
        assert problem.startswith(f"{name} must be a {shaped[name]['type']}, not the string 'a,b'")


@pytest.mark.parametrize("role", sorted(role_options()))
def test_every_role_runs_the_guard_first(role: str) -> None:
    tasks = yaml.safe_load((ROLES / role / "tasks" / "validate.yml").read_text())
    assert "bulwark.hardening.check_role_vars" in tasks[0], f"roles/{role}/tasks/validate.yml must start with it"
    main = yaml.safe_load((ROLES / role / "tasks" / "main.yml").read_text())
    assert main[0].get("ansible.builtin.import_tasks") == "validate.yml", f"roles/{role} must check its input first"


def test_a_no_log_option_of_the_wrong_shape_is_named_and_not_shown() -> None:
    problems = type_problems({"token": {"type": "list", "no_log": True}}, {"token": "hunter2"}, extra_vars_hint=False)
    assert problems == ["token must be a list, not a string (not shown: the option is no_log); give a list."]
