# SPDX-License-Identifier: GPL-3.0-or-later
"""The hardened API server, checked where it runs and from the controller, as a client would.

Anonymous requests, profiling, TLS versions, encryption at rest (read back from etcd itself), the
audit log, the flags in the running process (what kube-bench reads) and kubeadm's configuration.
"""
from __future__ import annotations

import base64
import json
import os
import socket
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes import client, config

CONTAINER = "bulwark-mol-control-plane"
testinfra_hosts = [f"docker://{CONTAINER}"]
CONFIG_DIR = "/etc/kubernetes/bulwark"


@pytest.fixture(scope="module")
def address() -> str:
    inspect = subprocess.run(
        ["docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}", CONTAINER],
        capture_output=True,
        text=True,
        check=True,
    )
    return inspect.stdout.split()[0]


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cluster CA and admin.conf, copied to the controller."""
    directory = tmp_path_factory.mktemp("pki")
    for source, name in (("/etc/kubernetes/pki/ca.crt", "ca.crt"), ("/etc/kubernetes/admin.conf", "admin.conf")):
        subprocess.run(["docker", "cp", f"{CONTAINER}:{source}", str(directory / name)], check=True)
    return directory


@pytest.fixture(scope="module")
def api(pki: Path, address: str) -> client.ApiClient:
    configuration = client.Configuration()
    config.load_kube_config(str(pki / "admin.conf"), client_configuration=configuration)
    configuration.host = f"https://{address}:6443"
    return client.ApiClient(configuration)


@pytest.fixture(scope="module")
def admin_cert(pki: Path) -> tuple[str, str]:
    """kubernetes-admin's client certificate and key, out of admin.conf."""
    user = yaml.safe_load((pki / "admin.conf").read_text())["users"][0]["user"]
    cert, key = pki / "admin.crt", pki / "admin.key"
    cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
    key.write_bytes(base64.b64decode(user["client-key-data"]))
    key.chmod(0o600)
    return str(cert), str(key)


def anonymous_get(address: str, path: str, pki: Path, cert: tuple[str, str] | None = None) -> int:
    """Status of a GET; anonymous (the way kubelet probes) unless CERT is given."""
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    if cert:
        context.load_cert_chain(*cert)
    request = f"GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection((address, 6443), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname=address) as tls:
            tls.sendall(request)
            return int(tls.recv(64).split()[1])


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


def test_no_backup_in_the_manifests_directory(host):
    # kubelet would start any other file there as a second API server (kubernetes/kubernetes#55596).
    assert host.file("/etc/kubernetes/manifests").listdir() == ["etcd.yaml", "kube-apiserver.yaml"]


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


def test_kubeadm_writes_the_same_manifest_from_its_configuration(host):
    # What `kubeadm upgrade` does: render the API server's manifest from kubeadm-config. Rendered
    # here with kubeadm's own dry run, it must have our flags and volumes, or an upgrade drops them.
    host.run_expect([0], "rm -rf /tmp/regen && mkdir -p /tmp/regen")
    host.run_expect([0], "python3 -c %s /tmp/regen/config.yaml", REGENERATE)
    host.run_expect(
        [0],
        "KUBEADM_INIT_DRYRUN_DIR=/tmp/regen kubeadm init phase control-plane apiserver"
        " --config /tmp/regen/config.yaml --dry-run",
    )
    live = yaml.safe_load(host.file("/etc/kubernetes/manifests/kube-apiserver.yaml").content_string)
    rendered = yaml.safe_load(host.file("/tmp/regen/kube-apiserver.yaml").content_string)
    live_container, rendered_container = live["spec"]["containers"][0], rendered["spec"]["containers"][0]
    assert sorted(rendered_container["command"]) == sorted(live_container["command"])
    assert "--profiling=false" in rendered_container["command"]
    assert by_name(rendered["spec"]["volumes"]) == by_name(live["spec"]["volumes"])
    assert by_name(rendered_container["volumeMounts"]) == by_name(live_container["volumeMounts"])


@pytest.mark.parametrize(
    ("path", "mode"),
    [
        ("/etc/kubernetes/manifests/kube-apiserver.yaml", 0o600),
        ("/etc/kubernetes/manifests/etcd.yaml", 0o600),
        ("/etc/kubernetes/admin.conf", 0o600),
        ("/etc/kubernetes/pki/apiserver.key", 0o600),
        ("/etc/kubernetes/pki/ca.crt", 0o600),
        ("/var/lib/etcd", 0o700),
    ],
)
def test_file_modes(host, path, mode):
    assert host.file(path).mode & ~mode == 0
    assert host.file(path).user == "root"


def test_report_has_every_catalog_control_of_the_role():
    report = json.loads(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "bulwark-report.json").read_text())
    rows = report["hosts"][CONTAINER]["controls"]
    statuses = {row["id"]: row["status"] for row in rows}
    assert statuses["CIS-K8s 1.2.15"] in ("pass", "fixed")
    assert "not-checked" not in statuses.values()
    assert "fail" not in statuses.values()
