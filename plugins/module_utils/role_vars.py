# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The types of a role's variables, checked against its ``meta/argument_specs.yml`` as the role
will read them.

ansible-core's role argument validation coerces a copy and hands the role the original: a string
given for a list passes (``"Node,RBAC"`` becomes ``[Node, RBAC]`` in the copy), and the role then
loops over its characters. This refuses what the role could not use: anything but a list where
a list is wanted, anything but a mapping where a dict is wanted, at every depth of ``options``.
"""

from __future__ import annotations

import json
import typing as t

__all__ = ["type_problems"]


_QUOTE_LIMIT = 60


def _kind(value: t.Any, secret: bool = False) -> str:
    if isinstance(value, str):
        if secret:
            return "a string (not shown: the option is no_log)"
        if len(value) > _QUOTE_LIMIT:
            return f"a string of {len(value)} characters starting {value[:20]!r}"
        return f"the string {value!r}"
    if isinstance(value, bool):
        return f"the bool {value!r}"
    if isinstance(value, t.Mapping):
        return "a dict"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    return f"a {type(value).__name__}"


def _as_json(name: str, example: t.Any) -> str:
    return f" (with -e, as JSON: -e '{json.dumps({name: example})}')"


def _list_problem(where: str, value: t.Any, top: bool, secret: bool = False) -> str:
    if isinstance(value, str) and not secret and len(value) <= _QUOTE_LIMIT:
        items = [item.strip() for item in value.split(",") if item.strip()] or [value]
        example = "[" + ", ".join(items) + "]"
        hint = f"; give a list, such as {example}" + (_as_json(where, items) if top else "")
    else:
        hint = "; give a list"
    return f"{where} must be a list, not {_kind(value, secret)}{hint}."


def _dict_problem(where: str, value: t.Any, top: bool, secret: bool = False) -> str:
    hint = "; give a mapping of keys to values" + (_as_json(where, {"key": "value"}) if top else "")
    return f"{where} must be a dict, not {_kind(value, secret)}{hint}."


def _check(where: str, spec: t.Mapping[str, t.Any], value: t.Any, top: bool) -> list[str]:
    if value is None:
        return []  # a null is the variable's "not managed": the spec's own check decides
    kind = spec.get("type", "str")
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            return [_list_problem(where, value, top, bool(spec.get("no_log")))]
        problems = []
        elements = spec.get("elements")
        for index, item in enumerate(value):
            if elements == "dict":
                if not isinstance(item, t.Mapping):
                    problems.append(_dict_problem(f"{where}[{index}]", item, False))
                elif spec.get("options"):
                    problems += type_problems(spec["options"], item, f"{where}[{index}].")
            elif elements == "list" and item is not None and not isinstance(item, (list, tuple)):
                problems.append(_list_problem(f"{where}[{index}]", item, False))
            elif elements not in ("dict", "list", "raw", None) and isinstance(item, (t.Mapping, list, tuple)):
                problems.append(f"{where}[{index}] must be a {elements}, not {_kind(item)}.")
        return problems
    if kind == "dict":
        if not isinstance(value, t.Mapping):
            return [_dict_problem(where, value, top, bool(spec.get("no_log")))]
        return type_problems(spec["options"], value, f"{where}.") if spec.get("options") else []
    return []


def type_problems(
    options: t.Mapping[str, t.Any], values: t.Mapping[str, t.Any], prefix: str = "", *, extra_vars_hint: bool = True
) -> list[str]:
    """What is wrong with VALUES (variable name -> value, as the role reads it) against OPTIONS (the
    ``options`` of an argument spec entry point, or a module's argument spec), one message per
    problem, naming the variable. EXTRA_VARS_HINT adds how to give the value with ``-e`` (role
    variables; a module option is not given that way)."""
    problems = []
    for name, spec in options.items():
        if name in values and isinstance(spec, t.Mapping):
            problems += _check(f"{prefix}{name}", spec, values[name], top=extra_vars_hint and not prefix)
    return problems
