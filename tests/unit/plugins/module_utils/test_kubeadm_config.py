# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kubeadm ClusterConfiguration edits: extraArgs as a list (v1beta4, v1) and as a map (v1beta3),
extraVolumes by name, unchanged input returned as it is, and the drift report.

V1BETA4 is what kubeadm v1.37.2 (``kubeadm config print init-defaults``) prints for a
ClusterConfiguration, with the apiServer section of a cluster that already has flags."""

from __future__ import annotations

import typing as t

import pytest
import yaml

from ansible_collections.bulwark.hardening.plugins.module_utils.kubeadm_config import (
    KubeadmConfigError,
    managed_args,
    plan,
)

V1BETA4 = """\
apiServer:
  certSANs:
  - 10.0.0.10
  extraArgs:
  - name: profiling
    value: "true"
  - name: tls-cipher-suites
    value: TLS_AES_128_GCM_SHA256
  - name: profiling
    value: "false"
  - name: enable-admission-plugins
    value: NodeRestriction
apiVersion: kubeadm.k8s.io/v1beta4
caCertificateValidityPeriod: 87600h0m0s
certificateValidityPeriod: 8760h0m0s
certificatesDir: /etc/kubernetes/pki
clusterName: kubernetes
controllerManager: {}
dns: {}
encryptionAlgorithm: RSA-2048
etcd:
  local:
    dataDir: /var/lib/etcd
imageRepository: registry.k8s.io
kind: ClusterConfiguration
kubernetesVersion: v1.37.2
networking:
  dnsDomain: cluster.local
  serviceSubnet: 10.96.0.0/12
proxy: {}
scheduler: {}
"""

V1BETA3 = """\
apiServer:
  extraArgs:
    authorization-mode: Node,RBAC
    profiling: "true"
  extraVolumes:
  - hostPath: /etc/kubernetes/audit
    mountPath: /etc/kubernetes/audit
    name: audit
    pathType: DirectoryOrCreate
  timeoutForControlPlane: 4m0s
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.30.4
"""

BULWARK_VOLUME = {
    "name": "bulwark",
    "hostPath": "/etc/kubernetes/bulwark",
    "mountPath": "/etc/kubernetes/bulwark",
    "readOnly": True,
    "pathType": "DirectoryOrCreate",
}


def section(text: str, component: str = "apiServer") -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", yaml.safe_load(text)[component])


# --------------------------------------------------------------------------- v1beta4 / v1: lists


def test_list_set_replaces_duplicates_keeps_order_and_appends_sorted() -> None:
    result = plan(
        V1BETA4,
        {
            "profiling": "false",
            "audit-policy-file": "/etc/kubernetes/bulwark/audit-policy.yaml",
            "anonymous-auth": "false",
        },
    )
    assert result.changed
    assert section(result.text)["extraArgs"] == [
        {"name": "profiling", "value": "false"},  # where the first entry was, once
        {"name": "tls-cipher-suites", "value": "TLS_AES_128_GCM_SHA256"},
        {"name": "enable-admission-plugins", "value": "NodeRestriction"},
        {"name": "anonymous-auth", "value": "false"},  # new ones sorted
        {"name": "audit-policy-file", "value": "/etc/kubernetes/bulwark/audit-policy.yaml"},
    ]
    assert result.drift == {
        "profiling": {
            "kubeadm": [{"name": "profiling", "value": "true"}, {"name": "profiling", "value": "false"}],
            "wanted": "false",
        },
        "audit-policy-file": {"kubeadm": None, "wanted": "/etc/kubernetes/bulwark/audit-policy.yaml"},
        "anonymous-auth": {"kubeadm": None, "wanted": "false"},
    }
    # Everything else is kept, in kubeadm's order.
    after = yaml.safe_load(result.text)
    before = yaml.safe_load(V1BETA4)
    assert list(after) == list(before)
    assert {k: v for k, v in after.items() if k != "apiServer"} == {k: v for k, v in before.items() if k != "apiServer"}
    assert section(result.text)["certSANs"] == ["10.0.0.10"]
    # Applied again: nothing to do, and the very same text object back.
    again = plan(result.text, {"profiling": "false", "anonymous-auth": "false"})
    assert (again.changed, again.drift) == (False, {})
    assert again.text is result.text


def test_list_remove() -> None:
    result = plan(V1BETA4, {"profiling": None, "not-there": None})
    assert [e["name"] for e in section(result.text)["extraArgs"]] == ["tls-cipher-suites", "enable-admission-plugins"]
    assert list(result.drift) == ["profiling"]
    assert result.drift["profiling"]["wanted"] is None


def test_removing_the_last_flag_drops_extra_args() -> None:
    text = "apiServer:\n  extraArgs:\n  - name: profiling\n    value: 'true'\napiVersion: kubeadm.k8s.io/v1\nkind: ClusterConfiguration\n"
    result = plan(text, {"profiling": None})
    assert yaml.safe_load(result.text)["apiServer"] == {}
    assert result.drift == {"profiling": {"kubeadm": "true", "wanted": None}}


def test_list_unchanged_returns_the_input() -> None:
    result = plan(V1BETA4, {"tls-cipher-suites": "TLS_AES_128_GCM_SHA256", "gone": None}, [])
    assert (result.changed, result.text, result.drift) == (False, V1BETA4, {})
    assert result.text is V1BETA4


def test_v1_merge_method_is_replaced_by_a_plain_entry() -> None:
    text = """\
apiServer:
  extraArgs:
  - mergeMethod: append
    name: enable-admission-plugins
    value: ",EventRateLimit"
apiVersion: kubeadm.k8s.io/v1
kind: ClusterConfiguration
"""
    result = plan(text, {"enable-admission-plugins": "NodeRestriction,EventRateLimit"})
    assert section(result.text)["extraArgs"] == [
        {"name": "enable-admission-plugins", "value": "NodeRestriction,EventRateLimit"}
    ]
    assert result.drift["enable-admission-plugins"]["kubeadm"] == [
        {"mergeMethod": "append", "name": "enable-admission-plugins", "value": ",EventRateLimit"}
    ]


def test_new_component_section_and_keys_in_sorted_place() -> None:
    text = "apiVersion: kubeadm.k8s.io/v1beta4\nclusterName: c\nkind: ClusterConfiguration\n"
    result = plan(text, {"profiling": "false"}, [BULWARK_VOLUME], component="scheduler")
    assert list(yaml.safe_load(result.text)) == ["apiVersion", "clusterName", "kind", "scheduler"]
    assert result.text.endswith(
        "scheduler:\n"
        "  extraArgs:\n"
        "  - name: profiling\n"
        "    value: 'false'\n"
        "  extraVolumes:\n"
        "  - name: bulwark\n"
        "    hostPath: /etc/kubernetes/bulwark\n"
        "    mountPath: /etc/kubernetes/bulwark\n"
        "    readOnly: true\n"
        "    pathType: DirectoryOrCreate\n"
    )
    # The apiServer section is not the one edited.
    assert "apiServer" not in yaml.safe_load(result.text)


def test_a_value_kubeadm_would_read_as_another_type_is_rewritten_as_a_string() -> None:
    text = "apiServer:\n  extraArgs:\n  - name: profiling\n    value: false\napiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
    result = plan(text, {"profiling": "false"})
    assert result.changed and section(result.text)["extraArgs"] == [{"name": "profiling", "value": "false"}]


# --------------------------------------------------------------------------- v1beta3: a map


def test_map_set_and_remove() -> None:
    result = plan(V1BETA3, {"profiling": "false", "audit-log-maxage": "30", "authorization-mode": None})
    assert section(result.text)["extraArgs"] == {"audit-log-maxage": "30", "profiling": "false"}
    assert list(section(result.text)["extraArgs"]) == ["audit-log-maxage", "profiling"]  # kept sorted
    assert result.drift == {
        "profiling": {"kubeadm": "true", "wanted": "false"},
        "audit-log-maxage": {"kubeadm": None, "wanted": "30"},
        "authorization-mode": {"kubeadm": "Node,RBAC", "wanted": None},
    }
    assert plan(result.text, {"profiling": "false", "authorization-mode": None}).text is result.text


def test_map_unchanged_returns_the_input() -> None:
    result = plan(V1BETA3, {"profiling": "true", "x": None})
    assert result.text is V1BETA3 and not result.changed


# --------------------------------------------------------------------------- extraVolumes


def test_volume_update_in_place_keeps_keys_not_given() -> None:
    result = plan(
        V1BETA3,
        None,
        [{"name": "audit", "hostPath": "/var/lib/audit", "mountPath": "/etc/kubernetes/audit", "readOnly": True}],
    )
    assert section(result.text)["extraVolumes"] == [
        {
            "hostPath": "/var/lib/audit",
            "mountPath": "/etc/kubernetes/audit",
            "name": "audit",
            "pathType": "DirectoryOrCreate",
            "readOnly": True,
        }
    ]
    assert result.drift == {
        "extraVolumes/audit": {
            "kubeadm": {
                "hostPath": "/etc/kubernetes/audit",
                "mountPath": "/etc/kubernetes/audit",
                "name": "audit",
                "pathType": "DirectoryOrCreate",
            },
            "wanted": section(result.text)["extraVolumes"][0],
        }
    }


def test_volume_append_and_unchanged() -> None:
    result = plan(V1BETA3, {}, [BULWARK_VOLUME])
    assert [v["name"] for v in section(result.text)["extraVolumes"]] == ["audit", "bulwark"]
    assert result.drift == {"extraVolumes/bulwark": {"kubeadm": None, "wanted": BULWARK_VOLUME}}
    same = {"name": "audit", "hostPath": "/etc/kubernetes/audit", "mountPath": "/etc/kubernetes/audit"}
    assert plan(result.text, None, [same, BULWARK_VOLUME]).text is result.text


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "args", "volumes", "component", "message"),
    [
        (
            V1BETA4.replace("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta2"),
            {},
            None,
            "apiServer",
            "apiVersion 'kubeadm.k8s.io/v1beta2' of the ClusterConfiguration is not supported; supported are"
            " kubeadm.k8s.io/v1beta3, kubeadm.k8s.io/v1beta4, kubeadm.k8s.io/v1",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\n",
            {},
            None,
            "apiServer",
            "the text is not a kubeadm ClusterConfiguration (kind: ClusterConfiguration)",
        ),
        (
            "apiServer:\n  extraArgs: [\n",
            {},
            None,
            "apiServer",
            "the ClusterConfiguration is not valid YAML (line 3, column 1: expected the node content, but found"
            " '<stream end>')",
        ),
        (
            {"kind": "ClusterConfiguration"},
            {},
            None,
            "apiServer",
            "expected the YAML text of the ClusterConfiguration (data.ClusterConfiguration of the kube-system/"
            "kubeadm-config ConfigMap), got dict",
        ),
        (V1BETA4, {}, None, "kubelet", "component: 'kubelet' is not one of apiServer, controllerManager, scheduler, etcd"),
        (
            V1BETA4,
            {"--profiling": "false"},
            None,
            "apiServer",
            "extra_args: '--profiling' is not a flag name; give it without leading dashes and value, for example"
            " 'profiling'",
        ),
        (
            V1BETA4,
            {"profiling": False},
            None,
            "apiServer",
            "extra_args.profiling: expected a string (or null to remove the flag), got bool; quote it: 'false'",
        ),
        (
            V1BETA4,
            {"audit-log-maxage": 30},
            None,
            "apiServer",
            "extra_args.audit-log-maxage: expected a string (or null to remove the flag), got int; quote it: '30'",
        ),
        (V1BETA4, ["profiling"], None, "apiServer", "extra_args: expected a mapping of flag names to values, got list"),
        (
            V1BETA4.replace("kubeadm.k8s.io/v1beta4", "kubeadm.k8s.io/v1beta3"),
            {"profiling": "false"},
            None,
            "apiServer",
            "apiServer.extraArgs: expected a mapping of flag names to values for this apiVersion",
        ),
        (
            V1BETA3.replace("kubeadm.k8s.io/v1beta3", "kubeadm.k8s.io/v1beta4"),
            {"profiling": "false"},
            None,
            "apiServer",
            "apiServer.extraArgs: expected a list of {name, value} for this apiVersion",
        ),
        (V1BETA4, None, {"name": "x"}, "apiServer", "extra_volumes: expected a list, got dict"),
        (
            V1BETA4,
            None,
            [{"name": "x", "hostPath": "/x"}],
            "apiServer",
            "extra_volumes[0].mountPath: a non-empty string is required",
        ),
        (
            V1BETA4,
            None,
            [{**BULWARK_VOLUME, "readonly": True}],
            "apiServer",
            "extra_volumes[0]: unknown key 'readonly'; known keys are name, hostPath, mountPath, readOnly, pathType",
        ),
        (
            V1BETA4,
            None,
            [{**BULWARK_VOLUME, "pathType": "Dir"}],
            "apiServer",
            "extra_volumes[0].pathType: 'Dir' is not a hostPath type; use one of DirectoryOrCreate, Directory,"
            " FileOrCreate, File, Socket, CharDevice, BlockDevice",
        ),
        (
            V1BETA4,
            None,
            [{**BULWARK_VOLUME, "readOnly": "yes"}],
            "apiServer",
            "extra_volumes[0].readOnly: expected a bool",
        ),
        (
            V1BETA4,
            None,
            [BULWARK_VOLUME, BULWARK_VOLUME],
            "apiServer",
            "extra_volumes[1].name: the volume 'bulwark' is given twice",
        ),
        (
            "apiServer: []\napiVersion: kubeadm.k8s.io/v1\nkind: ClusterConfiguration\n",
            {"profiling": "false"},
            None,
            "apiServer",
            "apiServer: expected a mapping in the ClusterConfiguration",
        ),
    ],
)
def test_errors(text: t.Any, args: t.Any, volumes: t.Any, component: str, message: str) -> None:
    with pytest.raises(KubeadmConfigError) as exc:
        plan(text, args, volumes, component)
    assert str(exc.value) == message


# --------------------------------------------------------------------------- etcd, managed flags

V1BETA4_ETCD = """\
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
etcd:
  local:
    dataDir: /var/lib/etcd
kubernetesVersion: v1.37.2
"""


def test_etcd_is_etcd_local() -> None:
    result = plan(V1BETA4_ETCD, {"client-cert-auth": "true", "auto-tls": "false"}, component="etcd")
    assert result.changed
    assert yaml.safe_load(result.text)["etcd"] == {
        "local": {
            "dataDir": "/var/lib/etcd",
            "extraArgs": [{"name": "auto-tls", "value": "false"}, {"name": "client-cert-auth", "value": "true"}],
        }
    }
    assert result.drift == {
        "client-cert-auth": {"kubeadm": None, "wanted": "true"},
        "auto-tls": {"kubeadm": None, "wanted": "false"},
    }
    assert not plan(result.text, {"client-cert-auth": "true"}, component="etcd").changed


def test_etcd_without_a_section_gets_one() -> None:
    text = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\n"
    assert yaml.safe_load(plan(text, {"auto-tls": "false"}, component="etcd").text)["etcd"] == {
        "local": {"extraArgs": [{"name": "auto-tls", "value": "false"}]}
    }


@pytest.mark.parametrize(
    ("text", "volumes", "message"),
    [
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  external:\n    endpoints: [x]\n",
            None,
            "etcd: this cluster's etcd is external (etcd.external); kubeadm does not run it",
        ),
        (
            V1BETA4_ETCD,
            [{"name": "a", "hostPath": "/a", "mountPath": "/a"}],
            "extra_volumes: kubeadm's local etcd has no extraVolumes; mount its files another way",
        ),
        (
            "apiVersion: kubeadm.k8s.io/v1beta4\nkind: ClusterConfiguration\netcd:\n  local: [1]\n",
            None,
            "etcd.local: expected a mapping in the ClusterConfiguration",
        ),
    ],
)
def test_etcd_refuses(text: str, volumes: t.Any, message: str) -> None:
    with pytest.raises(KubeadmConfigError) as caught:
        plan(text, {"auto-tls": "false"}, volumes, component="etcd")
    assert str(caught.value) == message


def test_managed_args_follow_the_manifest() -> None:
    flags = {"profiling": "false", "bind-address": "127.0.0.1", "leader-elect": None}
    assert managed_args(flags, ["profiling", "leader-elect", "insecure-port"]) == {
        "profiling": "false",
        "leader-elect": "true",
        "insecure-port": None,
    }
    with pytest.raises(KubeadmConfigError) as caught:
        managed_args("profiling=false", ["profiling"])
    assert str(caught.value) == "flags: expected a mapping of flag names to values, got str"
    with pytest.raises(KubeadmConfigError) as caught:
        managed_args({}, "profiling")
    assert str(caught.value) == "managed: expected a list of flag names"
