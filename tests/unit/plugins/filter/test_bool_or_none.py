# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
from __future__ import annotations

import typing as t

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.filter.bool_or_none import bool_or_none


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None), (True, True), (False, False), ("false", False), ("False", False), ("no", False), ("off", False),
        ("0", False), (0, False), ("true", True), ("YES", True), ("on", True), ("1", True), (1, True), (" true ", True),
    ],
)  # fmt: skip
def test_spellings(value: t.Any, expected: bool | None) -> None:
    assert bool_or_none(value) is expected


@pytest.mark.parametrize("value", ["maybe", "", "ture", 2, [True], {"a": 1}, 1.5])
def test_refuses(value: t.Any) -> None:
    with pytest.raises(AnsibleFilterError) as caught:
        bool_or_none(value)
    assert str(caught.value) == f"bool_or_none: {value!r} is not a bool; give true or false (or null to waive)."
