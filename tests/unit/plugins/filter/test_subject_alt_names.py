# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.filter.subject_alt_names import FilterModule


def test_filter_returns_entries():
    f = FilterModule().filters()["subject_alt_names"]
    assert f(["h1", "10.0.0.1"]) == ["DNS:h1", "IP:10.0.0.1"]


def test_filter_raises_ansible_filter_error():
    f = FilterModule().filters()["subject_alt_names"]
    with pytest.raises(AnsibleFilterError, match=r"^subject_alt_names: names\[0\]: 'a b' is neither"):
        f(["a b"])
