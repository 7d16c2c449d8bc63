# SPDX-License-Identifier: GPL-3.0-or-later
"""The whole control plane as hardened: etcd, the controller manager and the scheduler checked where
they run and from the controller, the four manifests as kubeadm would write them again from its
configuration, and the report.

The controller manager and the scheduler serve on loopback only, so what must answer is asked on
the node (curl in the container) and what must be refused is asked from the controller, another
host of the lab network.
"""
from __future__ import annotations

import json
import os
import socket
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from helpers import CONTAINER

testinfra_hosts = [f"docker://{CONTAINER}"]
MANIFESTS = "/etc/kubernetes/manifests"
PKI = "/etc/kubernetes/pki"


@pytest.mark.parametrize(
    ("command", "flag"),
    [
        ("kube-controller-manager", "--terminated-pod-gc-threshold=10"),
        ("kube-controller-manager", "--profiling=false"),
        ("kube-controller-manager", "--use-service-account-credentials=true"),
        ("kube-controller-manager", f"--service-account-private-key-file={PKI}/sa.key"),
        ("kube-controller-manager", f"--root-ca-file={PKI}/ca.crt"),
        ("kube-controller-manager", "--feature-gates=RotateKubeletServerCertificate=true"),
        ("kube-controller-manager", "--bind-address=127.0.0.1"),
        ("kube-scheduler", "--profiling=false"),
        ("kube-scheduler", "--bind-address=127.0.0.1"),
        ("etcd", f"--cert-file={PKI}/etcd/server.crt"),
        ("etcd", "--client-cert-auth=true"),
        ("etcd", "--auto-tls=false"),
        ("etcd", f"--peer-cert-file={PKI}/etcd/peer.crt"),
        ("etcd", "--peer-client-cert-auth=true"),
        ("etcd", "--peer-auto-tls=false"),
        ("etcd", f"--trusted-ca-file={PKI}/etcd/ca.crt"),
    ],
)
def test_flag_is_in_the_running_process(host, command, flag):
    # What kube-bench reads: the command line of the process, not the manifest.
    assert flag in host.check_output(f"ps -C {command} -o args=").split()


def test_the_api_server_port_is_reachable_from_the_controller(address):
    # The control for the next test: this host reaches the node, on the API server's port.
    socket.create_connection((address, 6443), timeout=5).close()


@pytest.mark.parametrize("port", [10257, 10259], ids=["controller-manager", "scheduler"])
def test_secure_port_refuses_another_host(address, port):
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((address, port), timeout=5)


@pytest.mark.parametrize("port", [10257, 10259], ids=["controller-manager", "scheduler"])
def test_secure_port_answers_on_the_node(host, port):
    assert host.check_output(f"curl --silent --fail --insecure https://127.0.0.1:{port}/healthz") == "ok"


@pytest.fixture(scope="module")
def node_admin_cert(host) -> str:
    """kubernetes-admin's certificate and key as files on the node: curl options."""
    host.run_expect(
        [0],
        "python3 -c %s",
        "import base64, yaml; user = yaml.safe_load(open('/etc/kubernetes/admin.conf'))['users'][0]['user'];"
        " open('/tmp/bulwark-admin.crt', 'wb').write(base64.b64decode(user['client-certificate-data']));"
        " open('/tmp/bulwark-admin.key', 'wb').write(base64.b64decode(user['client-key-data']))",
    )
    return "--cert /tmp/bulwark-admin.crt --key /tmp/bulwark-admin.key"


@pytest.mark.parametrize("port", [10257, 10259], ids=["controller-manager", "scheduler"])
def test_profiling_is_off(host, node_admin_cert, port):
    def status(path: str) -> str:
        return host.check_output(
            f"curl --silent --insecure --output /dev/null --write-out '%{{http_code}}' {node_admin_cert}"
            f" https://127.0.0.1:{port}{path}"
        )

    # The cluster admin is authorised for every path: a 404 means the handler is not there.
    assert status("/metrics") == "200"  # the control: the same client gets through
    assert status("/debug/pprof/") == "404"


def etcd_health(host, cert: str | None):
    """GET /health of etcd on the node, with the client certificate CERT (a path without .crt)."""
    client_cert = f" --cert {cert}.crt --key {cert}.key" if cert else ""
    return host.run(f"curl --silent --max-time 5 --cacert {PKI}/etcd/ca.crt{client_cert} https://127.0.0.1:2379/health")


def test_etcd_answers_a_client_with_its_own_certificate(host):
    answer = etcd_health(host, f"{PKI}/etcd/healthcheck-client")  # the control for the two below
    assert answer.rc == 0 and json.loads(answer.stdout)["health"] == "true"


def test_etcd_refuses_a_client_without_a_certificate(host):
    assert etcd_health(host, None).rc != 0


def test_etcd_refuses_a_certificate_of_the_cluster_ca(host):
    # Signed by the cluster's CA (kube-apiserver's kubelet client certificate), not etcd's.
    assert etcd_health(host, f"{PKI}/apiserver-kubelet-client").rc != 0


def wait_until(probe, what: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(1)
    pytest.fail(f"{what} within {timeout:.0f} s")


def test_a_new_namespace_gets_its_service_account_and_root_ca(api):
    core = client.CoreV1Api(api)
    name = f"bulwark-verify-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def found(kind: str) -> bool:
        try:
            if kind == "sa":
                core.read_namespaced_service_account("default", name)
            else:
                core.read_namespaced_config_map("kube-root-ca.crt", name)
        except client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    wait_until(lambda: found("sa"), f"no default service account in {name}")  # the serviceaccount controller
    wait_until(lambda: found("cm"), f"no kube-root-ca.crt in {name}")  # from --root-ca-file


def test_a_pod_gets_a_decision_from_the_hardened_scheduler(api):
    core = client.CoreV1Api(api)
    name = f"bulwark-verify-{uuid.uuid4().hex[:8]}"
    container = client.V1Container(name="pause", image="registry.k8s.io/pause:3.10")
    core.create_namespaced_pod("default", client.V1Pod(metadata=client.V1ObjectMeta(name=name),
                                                       spec=client.V1PodSpec(containers=[container])))

    def decision():
        events = core.list_namespaced_event("default", field_selector=f"involvedObject.name={name}").items
        return [e for e in events if e.reason == "FailedScheduling"]

    events = wait_until(decision, f"no scheduling event for pod {name}")
    # The lab has no kubelet nodes, so the decision is that no node fits.
    assert events[0].reporting_component == "default-scheduler"
    assert events[0].message == "no nodes available to schedule pods"


def test_only_the_four_manifests_are_in_the_manifests_directory(host):
    # kubelet would start any other file there as one more pod (kubernetes/kubernetes#55596).
    assert sorted(host.file(MANIFESTS).listdir()) == [
        "etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml",
    ]  # fmt: skip


def test_kubeadm_config_carries_every_components_flags(api):
    data = client.CoreV1Api(api).read_namespaced_config_map("kubeadm-config", "kube-system").data
    cluster = yaml.safe_load(data["ClusterConfiguration"])

    def args(section: dict) -> dict[str, str]:
        return {arg["name"]: arg["value"] for arg in section["extraArgs"]}

    assert args(cluster["controllerManager"]) == {
        "bind-address": "127.0.0.1",
        "feature-gates": "RotateKubeletServerCertificate=true",
        "profiling": "false",
        "terminated-pod-gc-threshold": "10",
        "use-service-account-credentials": "true",
    }
    assert args(cluster["scheduler"]) == {"bind-address": "127.0.0.1", "profiling": "false"}
    assert args(cluster["etcd"]["local"]) == {
        "auto-tls": "false",
        "client-cert-auth": "true",
        "peer-auto-tls": "false",
        "peer-client-cert-auth": "true",
    }


REGENERATE = """
import sys, yaml
from kubernetes import client, config
api = client.CoreV1Api(config.new_client_from_config("/etc/kubernetes/admin.conf"))
cluster = api.read_namespaced_config_map("kubeadm-config", "kube-system").data["ClusterConfiguration"]
init = open("/etc/kubernetes/bulwark-lab-kubeadm.yaml").read().split("---")[0]
open(sys.argv[1], "w").write(init + "---\\n" + cluster)
"""


def by_name(items: list[dict]) -> dict[str, dict]:
    return {item["name"]: item for item in items}


@pytest.fixture(scope="module")
def regenerated(host) -> str:
    """The four manifests as `kubeadm upgrade` would write them from kubeadm-config: kubeadm's own
    dry run of its control-plane and etcd phases."""
    host.run_expect([0], "rm -rf /tmp/regen && mkdir -p /tmp/regen")
    host.run_expect([0], "python3 -c %s /tmp/regen/config.yaml", REGENERATE)
    for phase in ("control-plane all", "etcd local"):
        host.run_expect(
            [0], f"KUBEADM_INIT_DRYRUN_DIR=/tmp/regen kubeadm init phase {phase} --config /tmp/regen/config.yaml --dry-run"
        )
    return "/tmp/regen"


@pytest.mark.parametrize("component", ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"])
def test_kubeadm_writes_the_same_manifest_from_its_configuration(host, regenerated, component):
    # An upgrade regenerates every manifest from kubeadm-config: it must keep our flags and volumes.
    live = yaml.safe_load(host.file(f"{MANIFESTS}/{component}.yaml").content_string)
    rendered = yaml.safe_load(host.file(f"{regenerated}/{component}.yaml").content_string)
    live_container, rendered_container = live["spec"]["containers"][0], rendered["spec"]["containers"][0]
    assert sorted(rendered_container["command"]) == sorted(live_container["command"])
    assert by_name(rendered["spec"]["volumes"]) == by_name(live["spec"]["volumes"])
    assert by_name(rendered_container["volumeMounts"]) == by_name(live_container["volumeMounts"])


@pytest.mark.parametrize(
    ("path", "mode", "owner"),
    [
        (f"{MANIFESTS}/etcd.yaml", 0o600, "root"),
        (f"{MANIFESTS}/kube-controller-manager.yaml", 0o600, "root"),
        (f"{MANIFESTS}/kube-scheduler.yaml", 0o600, "root"),
        ("/etc/kubernetes/controller-manager.conf", 0o600, "root"),
        ("/etc/kubernetes/scheduler.conf", 0o600, "root"),
        ("/var/lib/etcd", 0o700, "root"),
    ],
)
def test_file_modes(host, path, mode, owner):
    assert host.file(path).mode & ~mode == 0
    assert host.file(path).user == owner


def test_report_has_every_control_of_the_control_plane():
    report = json.loads(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "bulwark-report.json").read_text())
    statuses = {row["id"]: row["status"] for row in report["hosts"][CONTAINER]["controls"]}
    for control in ("CIS-K8s 1.2.15", "CIS-K8s 1.3.2", "CIS-K8s 1.4.1", "CIS-K8s 2.3", "CIS-K8s 2.7", "BWK-11"):
        assert statuses[control] in ("pass", "fixed"), control
    # Only what the defaults turn off is waived, each with the variable that does it.
    waived = {
        row["id"]: row["waiver"]["reason"] for row in report["hosts"][CONTAINER]["controls"] if row["status"] == "waived"
    }
    assert waived == {
        "CIS-K8s 1.1.12": "turned off by kube_etcd_data_dir_owner",
        "CIS-K8s 1.2.11": "turned off by kube_apiserver_always_pull_images",
    }
    assert "not-checked" not in statuses.values()
    assert "fail" not in statuses.values()
