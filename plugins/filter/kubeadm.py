# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
"""Filters for kubeadm's ClusterConfiguration (the control-plane roles).

Each filter is documented in ``plugins/filter/<name>.yml``, because this file holds several.
The logic is in module_utils/kubeadm_config.py.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.kubeadm_config import (
    KubeadmConfigError,
    Plan,
    managed_args,
    plan,
)


def _plan(
    name: str, text: t.Any, extra_args: t.Any, extra_volumes: t.Any, component: t.Any, flags: t.Any, managed: t.Any
) -> Plan:
    try:
        if managed is not None:
            extra_args = {**managed_args(flags, managed), **(extra_args or {})}
        return plan(text, extra_args, extra_volumes, component)
    except KubeadmConfigError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from exc


def kubeadm_cluster_config(
    text: t.Any,
    extra_args: t.Any = None,
    extra_volumes: t.Any = None,
    component: t.Any = "apiServer",
    flags: t.Any = None,
    managed: t.Any = None,
) -> str:
    # Unchanged input comes back as it is, so that the caller can compare the texts.
    return _plan("kubeadm_cluster_config", text, extra_args, extra_volumes, component, flags, managed).text


def kubeadm_cluster_config_drift(
    text: t.Any,
    extra_args: t.Any = None,
    extra_volumes: t.Any = None,
    component: t.Any = "apiServer",
    flags: t.Any = None,
    managed: t.Any = None,
) -> dict[str, dict[str, t.Any]]:
    return _plan("kubeadm_cluster_config_drift", text, extra_args, extra_volumes, component, flags, managed).drift


class FilterModule:
    """bulwark.hardening kubeadm filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "kubeadm_cluster_config": kubeadm_cluster_config,
            "kubeadm_cluster_config_drift": kubeadm_cluster_config_drift,
        }
