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

A role variable is also held to what every role of this collection reads it as (argument_specs
coerces a copy here too, and knows nothing of lines or paths): a string is text, not a number or
a bool, is not empty and is one line (the values go into unit files, rules files and command
lines, where a newline adds a line); a path is absolute and does not climb with ``..``; a number
is a count, a size or a time, so a whole number of 1 or more, and never a bool.
"""

from __future__ import annotations

import decimal
import json
import math
import re
import typing as t

__all__ = ["type_problems"]


_QUOTE_LIMIT = 60
_CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f]")


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


# Options whose list elements may be the empty string: Kubernetes names its core API group "".
_EMPTY_IS_A_VALUE = frozenset({"api_groups"})


def _text_problem(where: str, kind: str, value: t.Any, secret: bool) -> str | None:
    # argument_specs turns anything into a string for a str option, even a list or a dict.
    if isinstance(value, (bool, int, float)):
        return f"{where} must be a string, not {_kind(value)}; quote it in YAML."
    if not isinstance(value, str):
        return f"{where} must be a string, not {_kind(value)}."
    if not value:
        return f"{where} must not be an empty string."
    if _CONTROL_CHARACTER.search(value):
        return f"{where} must be one line without control characters, not {_kind(value, secret)}."
    if kind == "path" and not value.startswith(("/", "~")):
        return f"{where} must be an absolute path, not {_kind(value, secret)} (on the controller: {{{{ playbook_dir }}}}/...)."
    if kind == "path" and ".." in value.split("/"):
        return f"{where} must not climb with '..', not {_kind(value, secret)}."
    return None


def _number_problem(where: str, value: t.Any) -> str | None:
    if isinstance(value, bool):
        return f"{where} must be a whole number, not {_kind(value)}."
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None  # argument_specs refused it already, by name
    if number < 1:
        return f"{where} must be 1 or more, not {number}."
    return None


def _unusable_text(where: str, kind: t.Any, value: t.Any, secret: bool) -> str | None:
    """A NUL byte in text no path, name or syslog line can carry (AnsibleModule fails to log it,
    and answers with every argument)."""
    if kind in ("str", "path") and isinstance(value, str) and "\x00" in value:
        return f"{where} must not contain a NUL byte, not {_kind(value, secret)}."
    return None


def _unusable_number(where: str, kind: t.Any, value: t.Any) -> str | None:
    """What ansible-core's own int and float checks cannot even refuse: they raise OverflowError on
    infinity (``inf``, or the string ``"Infinity"``), and on a list, which decimal.Decimal reads as
    a (sign, digits, exponent) tuple."""
    if kind not in ("int", "float"):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return f"{where} must be a finite number, not {value!r}."
    if isinstance(value, str):
        try:
            number = decimal.Decimal(value.strip())
        except decimal.InvalidOperation:
            return None  # not a number at all: argument_specs refuses it by name
        if not number.is_finite():
            return f"{where} must be a finite number, not {value!r}."
        if number and number.adjusted() > 18:  # "1e999999999" would be an int of a billion digits
            return f"{where} must be below 10**18, not {value[:20]!r}."
    if isinstance(value, (list, tuple, t.Mapping)):
        return f"{where} must be a number, not {_kind(value)}."
    return None


def _scalar_problems(where: str, kind: t.Any, value: t.Any, secret: bool, role: bool) -> list[str]:
    """One text or number of type KIND (None: a list's elements of no declared type): what no module
    can take, then (ROLE) what no role reads as it is meant, an untyped element as text (see the
    module's docstring)."""
    problem = _unusable_number(where, kind, value) or _unusable_text(where, kind, value, secret)
    if problem is None and role and (kind or "str") in ("str", "path"):
        problem = _text_problem(where, kind or "str", value, secret)
    elif problem is None and role and kind == "int":
        problem = _number_problem(where, value)
    return [problem] if problem else []


def _check(where: str, spec: t.Mapping[str, t.Any], value: t.Any, top: bool, role: bool) -> list[str]:
    if value is None:
        return []  # a null is the variable's "not managed": the spec's own check decides
    kind = spec.get("type", "str")
    secret = bool(spec.get("no_log"))
    if kind == "list":
        if not isinstance(value, (list, tuple)):
            return [_list_problem(where, value, top, secret)]
        problems = []
        elements = spec.get("elements")
        for index, item in enumerate(value):
            at = f"{where}[{index}]"
            if elements == "dict":
                if not isinstance(item, t.Mapping):
                    problems.append(_dict_problem(at, item, False))
                elif spec.get("options"):
                    problems += _walk(spec["options"], item, f"{at}.", False, role)
            elif elements == "list" and item is not None and not isinstance(item, (list, tuple)):
                problems.append(_list_problem(at, item, False))
            elif elements not in ("dict", "list", "raw", None) and isinstance(item, (t.Mapping, list, tuple)):
                problems.append(f"{at} must be a {elements}, not {_kind(item)}.")
            elif item == "" and where.rpartition(".")[2] in _EMPTY_IS_A_VALUE:
                continue
            elif item is not None:
                problems += _scalar_problems(at, elements, item, secret, role)
        return problems
    if kind == "dict":
        if not isinstance(value, t.Mapping):
            return [_dict_problem(where, value, top, secret)]
        return _walk(spec["options"], value, f"{where}.", False, role) if spec.get("options") else []
    # A choice is argument_specs' own, exact check.
    return _scalar_problems(where, kind, value, secret, role and not spec.get("choices"))


def _walk(options: t.Mapping[str, t.Any], values: t.Mapping[str, t.Any], prefix: str, top: bool, role: bool) -> list[str]:
    problems = []
    for name, spec in options.items():
        if name in values and isinstance(spec, t.Mapping):
            problems += _check(f"{prefix}{name}", spec, values[name], top, role)
    return problems


def type_problems(
    options: t.Mapping[str, t.Any], values: t.Mapping[str, t.Any], *, role_variables: bool = True
) -> list[str]:
    """What is wrong with VALUES (variable name -> value, as the role reads it) against OPTIONS (the
    ``options`` of an argument spec entry point, or a module's argument spec), one message per
    problem, naming the variable. ROLE_VARIABLES adds the rules for text and numbers (see the
    module's docstring) and how to give a list or a dict with ``-e``; a module's options are held
    to their types only."""
    return _walk(options, values, "", role_variables, role_variables)
