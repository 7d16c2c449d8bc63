# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The nft_* filter wrappers: each returns the pure function's result and turns its error
into AnsibleFilterError prefixed with the filter's name (the tables are in
tests/unit/plugins/module_utils/test_nft_policy.py)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.filter.nft import FilterModule

FILTERS = FilterModule().filters()


def test_filter_names() -> None:
    assert sorted(FILTERS) == ["nft_merge_allow", "nft_networks", "nft_ports", "nft_services"]


def test_nft_networks() -> None:
    assert FILTERS["nft_networks"](["10.1.0.0/16", "10.0.0.0/8", "192.0.2.7", "2001:DB8::/32"]) == [
        "10.0.0.0/8",
        "192.0.2.7/32",
        "2001:db8::/32",
    ]
    with pytest.raises(AnsibleFilterError, match=r"^nft_networks: networks\[1\]: '10\.0\.0\.300/8' is not an IPv4"):
        FILTERS["nft_networks"](["10.0.0.0/8", "10.0.0.300/8"])


def test_nft_ports() -> None:
    assert FILTERS["nft_ports"]([8080, "22", "8000-8100"]) == ["22", "8000-8100"]
    assert FILTERS["nft_ports"](22) == ["22"]
    with pytest.raises(AnsibleFilterError, match=r"^nft_ports: ports\[2\]: 0 is out of range; ports are 1 to 65535\.$"):
        FILTERS["nft_ports"]([1, 2, 0])


def test_nft_services() -> None:
    allow = [{"service": "ssh", "sources": ["192.0.2.0/24"]}, {"service": "metrics"}]
    assert FILTERS["nft_services"](allow, {"metrics": {"ports": [9100, 9256]}}) == [
        {"ports": ["22"], "protocol": "tcp", "service": "ssh", "sources": ["192.0.2.0/24"]},
        {"ports": ["9100", "9256"], "protocol": "tcp", "service": "metrics", "sources": []},
    ]
    assert FILTERS["nft_services"]([{"service": "ssh"}], {"ssh": 2222})[0]["ports"] == ["2222"]
    with pytest.raises(AnsibleFilterError, match=r"^nft_services: allow\[1\]\.service: 'metrics' is not in the service catalog"):
        FILTERS["nft_services"](allow)


def test_messages_name_the_variable_they_are_given() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^nft_networks: host_firewall_admin_networks\[0\]: '10\.0\.0\.0/33' is not"):
        FILTERS["nft_networks"](["10.0.0.0/33"], name="host_firewall_admin_networks")
    with pytest.raises(AnsibleFilterError, match=r"^nft_services: host_firewall_allow\[0\]\.ports\[0\]: 70000 is out of range"):
        FILTERS["nft_services"]([{"ports": [70000]}], name="host_firewall_allow")
    with pytest.raises(AnsibleFilterError, match=r"^nft_services: host_firewall_services\.web\.ports\[0\]: 70000 is out"):
        FILTERS["nft_services"]([], {"web": {"ports": [70000]}}, services_name="host_firewall_services")


def test_nft_merge_allow_list_of_layers_and_arguments() -> None:
    a = [{"service": "ssh", "sources": ["10.0.0.0/8"]}]
    b = [{"service": "ssh", "sources": ["192.0.2.7"]}]
    expected = [{"service": "ssh", "sources": ["10.0.0.0/8", "192.0.2.7/32"]}]
    assert FILTERS["nft_merge_allow"]([a, b]) == expected
    assert FILTERS["nft_merge_allow"](a, b) == expected
    assert FILTERS["nft_merge_allow"](a) == [{"service": "ssh", "sources": ["10.0.0.0/8"]}]
    assert FILTERS["nft_merge_allow"]([]) == []
    with pytest.raises(AnsibleFilterError, match=r"^nft_merge_allow: layers\[1\]\[0\]\.sources\[0\]: '10\.0\.0\.1/8' has host bits set"):
        FILTERS["nft_merge_allow"](a, [{"service": "ssh", "sources": ["10.0.0.1/8"]}])
