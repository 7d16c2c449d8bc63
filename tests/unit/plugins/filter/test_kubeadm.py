# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kubeadm_cluster_config* filter wrappers: each returns its part of the pure plan and turns
its error into AnsibleFilterError prefixed with the filter's name (the tables are in
tests/unit/plugins/module_utils/test_kubeadm_config.py)."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.filter.kubeadm import FilterModule

FILTERS = FilterModule().filters()
TEXT = """\
apiServer:
  extraArgs:
  - name: profiling
    value: "true"
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
"""
VOLUME = {"name": "bulwark", "hostPath": "/etc/kubernetes/bulwark", "mountPath": "/etc/kubernetes/bulwark"}


def test_filter_names() -> None:
    assert sorted(FILTERS) == ["kubeadm_cluster_config", "kubeadm_cluster_config_drift"]


def test_kubeadm_cluster_config() -> None:
    result = FILTERS["kubeadm_cluster_config"](TEXT, {"profiling": "false"}, [VOLUME])
    assert yaml.safe_load(result)["apiServer"] == {
        "extraArgs": [{"name": "profiling", "value": "false"}],
        "extraVolumes": [VOLUME],
    }
    assert FILTERS["kubeadm_cluster_config"](TEXT, {"profiling": "true"}) is TEXT
    assert FILTERS["kubeadm_cluster_config"](TEXT, {"profiling": "false"}, component="scheduler").endswith(
        "scheduler:\n  extraArgs:\n  - name: profiling\n    value: 'false'\n"
    )
    with pytest.raises(AnsibleFilterError, match=r"^kubeadm_cluster_config: apiVersion 'kubeadm\.k8s\.io/v1beta2' of"):
        FILTERS["kubeadm_cluster_config"](TEXT.replace("v1beta4", "v1beta2"), {"profiling": "false"})


def test_kubeadm_cluster_config_drift() -> None:
    assert FILTERS["kubeadm_cluster_config_drift"](TEXT, {"profiling": "false", "x": None}) == {
        "profiling": {"kubeadm": "true", "wanted": "false"}
    }
    assert FILTERS["kubeadm_cluster_config_drift"](TEXT, {"profiling": "true"}) == {}
    with pytest.raises(
        AnsibleFilterError, match=r"^kubeadm_cluster_config_drift: extra_args\.profiling: expected a string"
    ):
        FILTERS["kubeadm_cluster_config_drift"](TEXT, {"profiling": False})
