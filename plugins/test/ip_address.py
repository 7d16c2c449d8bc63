# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
"""The ip_address test: is a value one IPv4 or IPv6 address (not a network, not a name)?"""

from __future__ import annotations

DOCUMENTATION = r"""
name: ip_address
short_description: Test whether a value is one IPv4 or IPv6 address
version_added: 0.1.0
author: Bulwark developers (!UNKNOWN)
description:
  - True for a string that is one IP address, such as V(127.0.0.1) or V(::1); false for a network (V(10.0.0.0/8)), a
    host name, an address with blanks or a newline around it, and anything that is not a string.
options:
  _input:
    description: The value to test.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Check a bind address
  ansible.builtin.assert:
    that: kube_scheduler_bind_address is bulwark.hardening.ip_address
"""

RETURN = r"""
_value:
  description: Whether the value is one IP address.
  type: bool
"""

import ipaddress
import typing as t


def ip_address(value: t.Any) -> bool:
    if not isinstance(value, str) or value != value.strip():
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


class TestModule:
    """bulwark.hardening tests."""

    def tests(self) -> dict[str, t.Callable[..., bool]]:
        return {"ip_address": ip_address}
