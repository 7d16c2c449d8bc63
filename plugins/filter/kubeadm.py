# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
"""Filters for kubeadm's ClusterConfiguration (the kube_apiserver role).

Each filter is documented in ``plugins/filter/<name>.yml``, because this file holds several.
The logic is in module_utils/kubeadm_config.py.
"""

from __future__ import annotations

import typing as t

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.kubeadm_config import (
    KubeadmConfigError,
    Plan,
    plan,
)


def _plan(name: str, text: t.Any, extra_args: t.Any, extra_volumes: t.Any, component: t.Any) -> Plan:
    try:
        return plan(text, extra_args, extra_volumes, component)
    except KubeadmConfigError as exc:
        raise AnsibleFilterError(f"{name}: {exc}") from exc


def kubeadm_cluster_config(
    text: t.Any, extra_args: t.Any = None, extra_volumes: t.Any = None, component: t.Any = "apiServer"
) -> str:
    # Unchanged input comes back as it is, so that the caller can compare the texts.
    return _plan("kubeadm_cluster_config", text, extra_args, extra_volumes, component).text


def kubeadm_cluster_config_drift(
    text: t.Any, extra_args: t.Any = None, extra_volumes: t.Any = None, component: t.Any = "apiServer"
) -> dict[str, dict[str, t.Any]]:
    return _plan("kubeadm_cluster_config_drift", text, extra_args, extra_volumes, component).drift


class FilterModule:
    """bulwark.hardening kubeadm filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {
            "kubeadm_cluster_config": kubeadm_cluster_config,
            "kubeadm_cluster_config_drift": kubeadm_cluster_config_drift,
        }
