# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardened API server, checked where it runs and from the controller, as a client would.

Anonymous requests, profiling, TLS versions, encryption at rest (read back from etcd itself), the
audit log, the flags in the running process (what kube-bench reads) and kubeadm's configuration.
The fixtures (address, pki, api, admin_cert) are in conftest.py.
"""
from __future__ import annotations

import base64
import json
import socket
import ssl
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client

from helpers import CONTAINER, anonymous_get

testinfra_hosts = [f"docker://{CONTAINER}"]
CONFIG_DIR = "/etc/kubernetes/bulwark"


@pytest.mark.parametrize("path", ["/livez", "/readyz", "/healthz"])
def test_health_endpoints_answer_anonymous_probes(address, pki, path):
    assert anonymous_get(address, path, pki) == 200


@pytest.mark.parametrize("path", ["/api/v1/namespaces", "/api", "/version", "/metrics"])
def test_anonymous_request_to_anything_else_is_unauthorized(address, pki, path):
    assert anonymous_get(address, path, pki) == 401


def test_profiling_is_off(address, pki, admin_cert):
    # The cluster admin is authorised for everything: a 404 means the handler is not there.
    assert anonymous_get(address, "/debug/pprof/", pki, admin_cert) == 404
    assert anonymous_get(address, "/version", pki, admin_cert) == 200  # the control: the same client gets through


def handshake(address: str, version: ssl.TLSVersion, pki: Path) -> str:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = context.maximum_version = version
    # Let this client really offer old protocols and ciphers: the server must be the one to refuse.
    context.set_ciphers("DEFAULT:@SECLEVEL=0")
    context.load_verify_locations(str(pki / "ca.crt"))
    with socket.create_connection((address, 6443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=address) as tls:
            return tls.version()


def test_tls12_client_gets_through(address, pki):
    # The control for the next test: the same client at TLS 1.2 completes the handshake.
    assert handshake(address, ssl.TLSVersion.TLSv1_2, pki) == "TLSv1.2"


def test_tls11_client_is_refused_by_the_server(address, pki):
    with pytest.raises(ssl.SSLError) as refused:
        handshake(address, ssl.TLSVersion.TLSv1_1, pki)
    assert "PROTOCOL_VERSION" in str(refused.value).upper() or "UNSUPPORTED_PROTOCOL" in str(refused.value).upper()


@pytest.fixture(scope="module")
def secret(api) -> str:
    name = f"bulwark-verify-{uuid.uuid4().hex[:8]}"
    body = client.V1Secret(metadata=client.V1ObjectMeta(name=name), string_data={"password": "s3cr3t-" + name})
    client.CoreV1Api(api).create_namespaced_secret("default", body)
    return name


def test_secret_is_stored_encrypted_in_etcd(host, secret):
    # Straight from etcd's JSON gateway with the API server's own etcd client certificate.
    key = base64.b64encode(f"/registry/secrets/default/{secret}".encode()).decode()
    answer = host.check_output(
        "curl --silent --fail --cacert /etc/kubernetes/pki/etcd/ca.crt"
        " --cert /etc/kubernetes/pki/apiserver-etcd-client.crt --key /etc/kubernetes/pki/apiserver-etcd-client.key"
        " https://127.0.0.1:2379/v3/kv/range -d %s",
        json.dumps({"key": key}),
    )
    value = base64.b64decode(json.loads(answer)["kvs"][0]["value"])
    assert value.startswith(b"k8s:enc:secretbox:v1:")
    assert b"s3cr3t-" not in value


def test_encryption_key_file_is_private(host):
    config_file = host.file(f"{CONFIG_DIR}/encryption.yaml")
    assert (config_file.user, config_file.group, config_file.mode) == ("root", "root", 0o600)


def test_audit_log_records_the_requests_of_this_test(host, secret):
    deadline = time.monotonic() + 20  # the audit backend writes in batches
    events = []
    while time.monotonic() < deadline and not events:
        lines = host.file("/var/log/kubernetes/audit/audit.log").content_string.splitlines()
        events = [
            event
            for event in map(json.loads, lines)
            if event.get("objectRef", {}).get("name") == secret and event["verb"] == "create"
        ]
        time.sleep(1)
    assert events, f"no audit event for the creation of secret {secret}"
    assert {event["level"] for event in events} == {"Metadata"}
    assert all("requestObject" not in event for event in events)
    assert events[0]["user"]["username"] == "kubernetes-admin"


@pytest.mark.parametrize(
    "flag",
    [
        "--profiling=false",
        f"--authentication-config={CONFIG_DIR}/authentication.yaml",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction,EventRateLimit,DenyServiceExternalIPs",
        f"--admission-control-config-file={CONFIG_DIR}/admission.yaml",
        f"--encryption-provider-config={CONFIG_DIR}/encryption.yaml",
        "--audit-log-path=/var/log/kubernetes/audit/audit.log",
        "--audit-log-maxage=30",
        "--tls-min-version=VersionTLS12",
        "--service-account-lookup=true",
        "--service-account-extend-token-expiration=false",
        "--kubelet-certificate-authority=/etc/kubernetes/pki/ca.crt",
    ],
)
def test_flag_is_in_the_running_process(host, flag):
    # What kube-bench reads: the command line of the process, not the manifest.
    args = host.check_output("ps -C kube-apiserver -o args=").split()
    assert flag in args


def test_flags_that_must_not_be_there(host):
    args = host.check_output("ps -C kube-apiserver -o args=")
    assert "--anonymous-auth" not in args
    assert "--token-auth-file" not in args


def test_kubeadm_config_carries_the_flags_and_volumes(api):
    data = client.CoreV1Api(api).read_namespaced_config_map("kubeadm-config", "kube-system").data
    cluster = yaml.safe_load(data["ClusterConfiguration"])
    extra_args = {arg["name"]: arg["value"] for arg in cluster["apiServer"]["extraArgs"]}
    assert extra_args["profiling"] == "false"
    assert extra_args["authentication-config"] == f"{CONFIG_DIR}/authentication.yaml"
    assert "anonymous-auth" not in extra_args
    volumes = {volume["name"]: volume for volume in cluster["apiServer"]["extraVolumes"]}
    assert volumes["bulwark-config"]["mountPath"] == CONFIG_DIR
    assert volumes["bulwark-config"]["readOnly"] is True
    assert volumes["bulwark-audit-log"]["readOnly"] is False


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/kubernetes/manifests/kube-apiserver.yaml", 0o600),
        ("/etc/kubernetes/admin.conf", 0o600),
        ("/etc/kubernetes/pki/apiserver.key", 0o600),
        ("/etc/kubernetes/pki/ca.crt", 0o600),
        ("/var/log/kubernetes/audit", 0o700),
    ],
)
def test_file_modes(host, path, mode):
    assert host.file(path).mode & ~mode == 0
    assert host.file(path).user == "root"
