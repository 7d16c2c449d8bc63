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
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.bulwark.hardening.plugins.module_utils.benchmark_floors import floor_problems
from ansible_collections.bulwark.hardening.plugins.module_utils.role_vars import type_problems

ROLES = Path(__file__).resolve().parents[4] / "roles"
SPEC = {
    "modes": {"type": "list", "elements": "str"},
    "extra": {"type": "dict"},
    "limits": {"type": "list", "elements": "dict", "options": {"type": {"type": "str"}, "tags": {"type": "list"}}},
    "nested": {"type": "dict", "options": {"ports": {"type": "list", "elements": "int"}}},
    "rows": {"type": "list", "elements": "list"},
    "name": {"type": "str"},
    "key": {"type": "str", "no_log": True},
    "level": {"type": "str", "choices": ["info", "debug"]},
    "dest": {"type": "path"},
    "watches": {"type": "list", "elements": "path"},
    "days": {"type": "int"},
    "sources": {"type": "list", "elements": "dict", "options": {"service": {"type": "str"}}},
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
    ("values", "problem"),
    [
        ({"name": 5}, "name must be a string, not the number 5; quote it in YAML."),
        ({"name": True}, "name must be a string, not the bool True; quote it in YAML."),
        ({"name": ["a"]}, "name must be a string, not a list."),  # argument_specs would make it "['a']"
        ({"name": {"a": 1}}, "name must be a string, not a dict."),
        ({"name": ""}, "name must not be an empty string."),
        ({"name": "docker\nroot"}, "name must be one line without control characters, not the string 'docker\\nroot'."),
        ({"name": "a\x00b"}, "name must not contain a NUL byte, not the string 'a\\x00b'."),
        ({"name": "0660\n"}, "name must be one line without control characters, not the string '0660\\n'."),
        ({"key": "hunter2\n"}, "key must be one line without control characters, not a string (not shown: the option is no_log)."),
        ({"dest": "rules"}, "dest must be an absolute path, not the string 'rules' (on the controller: {{ playbook_dir }}/...)."),
        ({"dest": "/etc/../shadow"}, "dest must not climb with '..', not the string '/etc/../shadow'."),
        ({"watches": ["/ok", "rel"]}, "watches[1] must be an absolute path, not the string 'rel' (on the controller: {{ playbook_dir }}/...)."),
        ({"modes": ["Node", ""]}, "modes[1] must not be an empty string."),
        ({"modes": [5]}, "modes[0] must be a string, not the number 5; quote it in YAML."),
        ({"sources": [{"service": "a\tb"}]}, "sources[0].service must be one line without control characters, not the string 'a\\tb'."),
        ({"days": 0}, "days must be 1 or more, not 0."),
        ({"days": "-3"}, "days must be 1 or more, not -3."),  # -e days=-3
        ({"days": True}, "days must be a whole number, not the bool True."),  # argument_specs takes it as 1
        ({"nested": {"ports": [0]}}, "nested.ports[0] must be 1 or more, not 0."),
    ],
)
def test_text_and_numbers_are_held_to_what_a_role_reads(values: dict[str, t.Any], problem: str) -> None:
    assert type_problems(SPEC, values) == [problem]


@pytest.mark.parametrize(
    "values",
    [
        {"name": "docker", "dest": "/etc/docker/daemon.json", "watches": ["/usr/bin/runc"], "days": 30},
        {"dest": "~/.bulwark/pki/docker", "days": "30"},  # a controller path; -e days=30
        {"level": "bogus"},  # choices are argument_specs' own check
        {"name": None, "dest": None, "days": None},
    ],
)
def test_text_and_numbers_accepted(values: dict[str, t.Any]) -> None:
    assert type_problems(SPEC, values) == []


def test_the_core_api_group_is_an_empty_string_and_nothing_else_is() -> None:
    strings = {"type": "list", "elements": "str"}
    rules = {"rules": {"type": "list", "elements": "dict", "options": {"api_groups": strings, "verbs": strings}}}
    assert type_problems(rules, {"rules": [{"api_groups": ["", "apps"], "verbs": ["get"]}]}) == []
    assert type_problems(rules, {"rules": [{"api_groups": [5], "verbs": [""]}]}) == [
        "rules[0].api_groups[0] must be a string, not the number 5; quote it in YAML.",
        "rules[0].verbs[0] must not be an empty string.",
    ]


def test_a_module_option_is_held_to_its_type_only() -> None:
    assert type_problems(SPEC, {"name": "", "days": 0, "dest": "rel"}, role_variables=False) == []


@pytest.mark.parametrize("value", [float("inf"), float("-inf"), float("nan"), "Infinity", " -inf", "NaN"])
def test_a_number_that_is_not_finite_is_refused_for_modules_too(value: float) -> None:
    # ansible-core's check_type_int raises OverflowError on it (a traceback).
    assert type_problems(SPEC, {"days": value}, role_variables=False) == [f"days must be a finite number, not {value!r}."]
    assert type_problems(SPEC, {"nested": {"ports": [value]}}, role_variables=False) == [
        f"nested.ports[0] must be a finite number, not {value!r}."
    ]


def test_a_nul_byte_in_text_is_refused_for_modules_too() -> None:
    # AnsibleModule cannot log it to syslog, and then answers with every argument.
    assert type_problems(SPEC, {"dest": "/a\x00", "modes": ["a\x00"]}, role_variables=False) == [
        "modes[0] must not contain a NUL byte, not the string 'a\\x00'.",
        "dest must not contain a NUL byte, not the string '/a\\x00'.",
    ]


def test_a_huge_number_in_a_string_is_refused_before_ansible_core_builds_it() -> None:
    assert type_problems(SPEC, {"days": "1e999999999"}, role_variables=False) == ["days must be below 10**18, not '1e999999999'."]
    assert type_problems(SPEC, {"days": "1e5"}, role_variables=False) == []


def test_a_list_for_a_number_is_refused_for_modules_too() -> None:
    # ansible-core 2.21's check_type_int reads [2**63, None, None] as a Decimal tuple and raises.
    assert type_problems(SPEC, {"days": [2**63, None, None]}, role_variables=False) == ["days must be a number, not a list."]


@given(st.text(min_size=1).filter(lambda text: any(ord(ch) < 32 or ord(ch) == 127 for ch in text)))
def test_any_string_with_a_control_character_is_refused(text: str) -> None:
    problems = type_problems(SPEC, {"name": text, "key": text})
    assert len(problems) == 2 and problems[0].startswith("name must ") and problems[1].startswith("key must ")
    assert text not in problems[1]  # a no_log value is never shown


@pytest.mark.parametrize(
    "values",
    [
        {},
        {"modes": ["Node", "RBAC"], "extra": {}, "name": "x"},
        {"modes": None, "extra": None, "limits": None},
        {"modes": ("a",)},
        {"limits": [{"type": "Server", "tags": ["a"]}], "nested": {"ports": [22]}, "rows": [["a"], None]},
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
    problems = type_problems({"token": {"type": "list", "no_log": True}}, {"token": "hunter2"}, role_variables=False)
    assert problems == ["token must be a list, not a string (not shown: the option is no_log); give a list."]


@pytest.mark.parametrize("role", sorted(role_options()))
def test_every_default_passes_the_rules_it_sets(role: str) -> None:
    options = role_options()[role]
    defaults = {name: spec["default"] for name, spec in options.items() if "default" in spec}
    assert type_problems(options, defaults) == []


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None, database=None)
@given(data=st.data())
def test_generated_values_for_every_role_end_in_messages_that_name_the_variable(data: st.DataObject) -> None:
    """check_role_vars' logic, for any value of any variable of any role: no exception, and each
    problem (type or benchmark floor) starts with the variable it is about."""
    options = {name: spec for role_opts in role_options().values() for name, spec in role_opts.items()}
    names = data.draw(st.lists(st.sampled_from(sorted(options)), min_size=1, max_size=4, unique=True))
    values = {name: data.draw(_ANY) for name in names}
    problems = type_problems(options, values) + floor_problems(values, waived=set())
    for problem in problems:
        assert any(problem.startswith(name) for name in names), (problem, values)
