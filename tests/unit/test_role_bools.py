# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every bool variable of every role is read through ``| bool``.

argument_specs accepts ``-e var=false`` (and every AWX survey answer, which is a string) as a
bool, but hands the role the string ``"false"``, which Jinja takes as true and a flag takes as
text. So a role reads a bool variable only as ``var | bool``, as ``var |
bulwark.hardening.bool_or_none`` where null waives the control, or tests it with ``var is none`` - in every Jinja expression and ``when`` of its tasks, vars and
templates. Text outside expressions (messages that name the variable) does not count.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
_EXPRESSION = re.compile(r"\{\{(.*?)\}\}|\{%(.*?)%\}", re.S)
# What may follow the name: a bool filter (bool_or_none keeps a null that waives), or a test for null.
_SAFE_USE = re.compile(r"\s*(\|\s*(bool|bulwark\.hardening\.bool_or_none)\b|is\s+(not\s+)?none\b)")


def bool_variables(role: str) -> list[str]:
    options = yaml.safe_load((ROLES / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]
    return [name for name, spec in options["options"].items() if spec.get("type") == "bool"]


def expressions(data: t.Any, key: str | None = None) -> t.Iterator[str]:
    """The Jinja expressions of a parsed YAML file: conditionals whole, other strings' {{ }} and {% %}."""
    if isinstance(data, dict):
        for child_key, value in data.items():
            yield from expressions(value, str(child_key))
    elif isinstance(data, list):
        for item in data:
            yield from expressions(item, key)
    elif isinstance(data, str):
        if key in ("when", "that", "changed_when", "failed_when", "until"):
            yield data
        for match in _EXPRESSION.finditer(data):
            yield match.group(1) or match.group(2)


def role_expressions(role: str) -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROLES / role).glob("**/*")):
        relative = str(path.relative_to(ROLES.parent))
        if not path.is_file() or path.parts[-2] in ("defaults", "meta", "files"):
            continue
        if path.suffix in (".yml", ".yaml"):
            found += [(relative, text) for text in expressions(yaml.safe_load(path.read_text()))]
        elif path.suffix == ".j2":
            found += [(relative, match.group(1) or match.group(2)) for match in _EXPRESSION.finditer(path.read_text())]
    return found


def unsafe_uses(role: str) -> list[str]:
    problems = []
    names = bool_variables(role)
    for where, text in role_expressions(role):
        for name in names:
            for match in re.finditer(rf"(?<![A-Za-z0-9_]){name}(?![A-Za-z0-9_])", text):
                if not _SAFE_USE.match(text[match.end() :]):
                    problems.append(f"{where}: {name} without '| bool' in {' '.join(text.split())[:120]!r}")
    return problems


ROLE_NAMES = sorted(path.parts[-3] for path in ROLES.glob("*/meta/argument_specs.yml"))


@pytest.mark.parametrize("role", ROLE_NAMES)
def test_every_bool_variable_is_read_through_the_bool_filter(role: str) -> None:
    declares_bools = "type: bool" in (ROLES / role / "meta" / "argument_specs.yml").read_text()
    assert bool(bool_variables(role)) == declares_bools, f"{role}: the bool variables were not found"
    assert unsafe_uses(role) == []


def test_the_check_finds_a_bare_use() -> None:
    found = list(expressions({"when": "x_enabled", "msg": "set x_enabled to true", "a": "{{ 'y' if x_enabled else 'n' }}"}))
    assert found == ["x_enabled", " 'y' if x_enabled else 'n' "]
    assert not _SAFE_USE.match(" else 'n' ")
    assert _SAFE_USE.match(" | bool else 'n'") and _SAFE_USE.match(" is not none and")
