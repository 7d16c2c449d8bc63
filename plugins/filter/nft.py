# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
"""Filters for host firewall policies (bulwark.hardening.nftables_policy).

Each filter is documented in ``plugins/filter/<name>.yml``, because this file holds several.
The logic, and so the validation and its messages, is in module_utils/nft_policy.py, which the
module uses too.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.nft_policy import (
    NftPolicyError,
    expand_services,
    merge_allow,
    normalize_networks,
    normalize_ports,
)


def _call(name: str, function: t.Callable[..., t.Any], *args: t.Any) -> t.Any:
    try:
        return function(*args)
    except NftPolicyError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from exc


def nft_networks(networks: t.Any, name: str = "networks") -> list[str]:
    return t.cast("list[str]", _call("nft_networks", normalize_networks, networks, name))


def nft_ports(ports: t.Any) -> list[str]:
    return t.cast("list[str]", _call("nft_ports", normalize_ports, ports, "ports"))


def nft_services(
    allow: t.Any, services: t.Any = None, name: str = "allow", services_name: str = "services"
) -> list[dict[str, t.Any]]:
    return t.cast("list[dict[str, t.Any]]", _call("nft_services", expand_services, allow, services, name, services_name))


def nft_merge_allow(first: t.Any, *others: t.Any) -> list[dict[str, t.Any]]:
    # [a, b, c] | nft_merge_allow, or a | nft_merge_allow(b, c)
    if others:
        layers = [first, *others]
    elif isinstance(first, (list, tuple)) and first and all(isinstance(layer, (list, tuple)) for layer in first):
        layers = list(first)
    else:
        layers = [first]
    return t.cast("list[dict[str, t.Any]]", _call("nft_merge_allow", merge_allow, layers, "layers"))


class FilterModule:
    """bulwark.hardening host firewall filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "nft_networks": nft_networks,
            "nft_ports": nft_ports,
            "nft_services": nft_services,
            "nft_merge_allow": nft_merge_allow,
        }
