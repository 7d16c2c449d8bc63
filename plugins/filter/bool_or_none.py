# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
from __future__ import annotations

DOCUMENTATION = r"""
name: bool_or_none
short_description: The bool a role switch means, or null for a waived control
version_added: 0.1.0
author: Bulwark developers (!UNKNOWN)
description:
  - A role variable of type C(bool) reaches the role as it was given. C(-e var=false) and every AWX survey answer
    are strings, which Jinja takes as true; this filter turns V(true), V(false) and their spellings (V(yes), V(no),
    V(on), V(off), V(1), V(0), in any case) into a bool, and keeps V(null), which waives the variable's control.
  - Anything else fails, naming the value, so a typo never reads as true.
options:
  _input:
    description: The variable's value.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: A daemon.json key that null leaves alone
  ansible.builtin.debug:
    msg: "{{ {'icc': docker_daemon_icc | bulwark.hardening.bool_or_none} }}"
    # -e docker_daemon_icc=false => {"icc": false}; docker_daemon_icc: null => {"icc": null}
"""

RETURN = r"""
_value:
  description: V(true), V(false) or V(null).
  type: bool
"""

import typing as t

from ansible.errors import AnsibleFilterError
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE


def bool_or_none(value: t.Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in BOOLEANS_TRUE:
        return True
    if text in BOOLEANS_FALSE:
        return False
    raise AnsibleFilterError(f"bool_or_none: {value!r} is not a bool; give true or false (or null to waive).")


class FilterModule:
    """bulwark.hardening role variable filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"bool_or_none": bool_or_none}
