# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.test.ip_address import ip_address


@pytest.mark.parametrize("value", ["127.0.0.1", "0.0.0.0", "::1", "fd00::10", "172.30.117.13"])
def test_addresses(value: str) -> None:
    assert ip_address(value)


@pytest.mark.parametrize(
    "value", ["127.0.0.1\n", " 127.0.0.1", "10.0.0.0/8", "localhost", "999.1.1.1", "", None, 127, ["127.0.0.1"]]
)
def test_not_addresses(value: t.Any) -> None:
    assert not ip_address(value)
