# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab's static pod runner: pure translation tables first, then the runner for real on this host.

The real tests run the runner as root with the lab's static etcd build (BULWARK_ETCD_BIN, default
$BULWARK_CACHE/kube/bin/etcd, made by `make lab`) in temp dirs and on free ports. They fail, never
skip, without root or without the binary.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

RUNNER = Path(__file__).resolve().parents[2] / "lab" / "images" / "control-plane" / "static_pod_runner.py"
# The runner runs with the machine's python3 (as in the image), not the test venv's.
SYSTEM_PYTHON = "/usr/bin/python3"
CACHE = Path(os.environ.get("BULWARK_CACHE") or "/var/cache/bulwark")
ETCD_BIN = Path(os.environ.get("BULWARK_ETCD_BIN") or CACHE / "kube" / "bin" / "etcd")
CRI_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z (stdout|stderr) [FP] ")


def _load_runner() -> Any:
    """The runner is a script in an image dir, not a package: import it by path."""
    spec = importlib.util.spec_from_file_location("static_pod_runner", RUNNER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no __pycache__ in the image recipe
    try:
        spec.loader.exec_module(module)
    finally:
        sys.dont_write_bytecode = writes
    return module


spr = _load_runner()

KUBEADM_APISERVER = """
apiVersion: v1
kind: Pod
metadata:
  labels: {component: kube-apiserver, tier: control-plane}
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - kube-apiserver
    - --advertise-address=172.30.117.20
    - --anonymous-auth=false
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    image: registry.k8s.io/kube-apiserver:v1.31.0
    livenessProbe:
      failureThreshold: 8
      httpGet: {host: 172.30.117.20, path: /livez, port: probe-port, scheme: HTTPS}
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: kube-apiserver
    ports:
    - {containerPort: 6443, name: probe-port, protocol: TCP}
    readinessProbe:
      failureThreshold: 3
      httpGet: {host: 172.30.117.20, path: /readyz, port: 6443, scheme: HTTPS}
      periodSeconds: 1
      timeoutSeconds: 15
    startupProbe:
      failureThreshold: 24
      httpGet: {host: 172.30.117.20, path: /livez, port: 6443, scheme: HTTPS}
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    env: [{name: GOMAXPROCS, value: "2"}]
    volumeMounts:
    - {mountPath: /etc/ssl/certs, name: ca-certs, readOnly: true}
    - {mountPath: /etc/kubernetes/pki, name: k8s-certs, readOnly: true}
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  volumes:
  - hostPath: {path: /etc/ssl/certs, type: DirectoryOrCreate}
    name: ca-certs
  - hostPath: {path: /etc/kubernetes/pki, type: DirectoryOrCreate}
    name: k8s-certs
"""


def apiserver() -> dict[str, Any]:
    return yaml.safe_load(KUBEADM_APISERVER)


# --- pure: manifest -> run spec ------------------------------------------------------------------


def test_kubeadm_apiserver_manifest_translates_to_a_run_spec() -> None:
    spec = spr.run_spec(apiserver())
    assert (spec.namespace, spec.name, spec.container, spec.workdir, spec.grace) == (
        "kube-system",
        "kube-apiserver",
        "kube-apiserver",
        "/",
        30,
    )
    assert spec.argv[:2] == ("kube-apiserver", "--advertise-address=172.30.117.20")
    assert spec.env == (("GOMAXPROCS", "2"),)
    assert spec.volumes == (
        spr.Volume("ca-certs", "/etc/ssl/certs", "DirectoryOrCreate", "/etc/ssl/certs", True),
        spr.Volume("k8s-certs", "/etc/kubernetes/pki", "DirectoryOrCreate", "/etc/kubernetes/pki", True),
    )
    startup, liveness, readiness = spec.probes
    assert startup == spr.Probe("Startup", "httpGet", "HTTPS", "172.30.117.20", 6443, "/livez", (), 10, 10, 15, 1, 24)
    assert (liveness.kind, liveness.port, liveness.failure_threshold) == ("Liveness", 6443, 8)  # named port
    assert (readiness.kind, readiness.path, readiness.period) == ("Readiness", "/readyz", 1)


def test_probe_defaults_grace_cap_and_unsupported_probes() -> None:
    pod = apiserver()
    ctr = pod["spec"]["containers"][0]
    ctr["livenessProbe"] = {"tcpSocket": {"port": 6443}}
    ctr["readinessProbe"] = {"exec": {"command": ["true"]}}
    del ctr["startupProbe"]
    pod["spec"]["terminationGracePeriodSeconds"] = 120
    spec = spr.run_spec(pod, grace_cap=30)
    assert spec.probes == (
        spr.Probe("Liveness", "tcpSocket", port=6443),
        spr.Probe("Readiness", "exec"),
    )
    assert spec.probes[0].period == 10 and spec.probes[0].timeout == 1 and spec.probes[0].failure_threshold == 3
    assert spec.grace == 30
    pod["spec"]["terminationGracePeriodSeconds"] = 5
    assert spr.run_spec(pod).grace == 5


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Edit one field of the apiserver pod, by dotted path (numbers index lists); None deletes."""

    def edit(pod: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        node: Any = pod
        for key in parents:
            node = node[key]
        if value is None:
            del node[last]
        else:
            node[last] = value

    return edit


C0 = "spec.containers.0"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("kind", "Deployment"), "kind: expected Pod, got 'Deployment'"),
        (_set("metadata.name", None), "metadata.name is required"),
        (
            _set("spec.hostNetwork", False),
            "spec.hostNetwork: the lab runner runs only hostNetwork pods; set it to true",
        ),
        (
            _set("spec.initContainers", [{"name": "init"}]),
            "spec.containers: the lab runner runs exactly one container and no initContainers, got 1",
        ),
        (_set(f"{C0}.command", None), "spec.containers[0].command: required, the lab runner has no image entrypoint"),
        (
            _set("spec.volumes.0", {"name": "ca-certs", "emptyDir": {}}),
            "spec.volumes[0]: only hostPath volumes are supported by the lab runner",
        ),
        (_set("spec.volumes.0.hostPath.type", "Dir"), "spec.volumes[0].hostPath.type: Dir is an invalid volume type"),
        (
            _set("spec.volumes.0.hostPath.path", "etc/ssl/certs"),
            "spec.volumes[0].hostPath.path: expected an absolute path, got 'etc/ssl/certs'",
        ),
        (_set(f"{C0}.volumeMounts.0.name", "nope"), "spec.containers[0].volumeMounts[0].name: Not found: 'nope'"),
        (
            _set(f"{C0}.volumeMounts.0.subPath", "x"),
            "spec.containers[0].volumeMounts[0].subPath: not supported by the lab runner",
        ),
        (
            _set(f"{C0}.ports", None),
            "spec.containers[0].livenessProbe.httpGet.port: 'probe-port' is neither a port number"
            " nor a named container port",
        ),
        (
            _set(f"{C0}.env.0", {"name": "X", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}),
            "spec.containers[0].env[0]: only name/value entries are supported by the lab runner",
        ),
        (
            _set(f"{C0}.livenessProbe.successThreshold", 2),
            "spec.containers[0].livenessProbe.successThreshold: must be 1 for a liveness probe",
        ),
        (
            _set(f"{C0}.startupProbe.periodSeconds", "10"),
            "spec.containers[0].startupProbe.periodSeconds: expected int, got '10'",
        ),
        (
            _set(f"{C0}.readinessProbe.httpGet.scheme", "TCP"),
            "spec.containers[0].readinessProbe.httpGet.scheme: expected HTTP or HTTPS, got 'TCP'",
        ),
    ],
)
def test_manifests_the_runner_cannot_run(edit: Callable[[dict[str, Any]], None], message: str) -> None:
    pod = apiserver()
    edit(pod)
    with pytest.raises(spr.ManifestError) as caught:
        spr.run_spec(pod)
    assert str(caught.value) == message


def test_pod_identity_appends_the_node_and_hashes_the_file_name() -> None:
    spec = spr.run_spec(apiserver())
    name, uid = spr.pod_identity(spec, "kube-apiserver.yaml", "Lab-CP")
    assert name == "kube-apiserver-lab-cp"
    assert uid == hashlib.md5(b"kube-apiserver.yaml").hexdigest()
    assert spr.pod_identity(spec, "kube-apiserver.yaml.bak", "Lab-CP") == (
        name,
        hashlib.md5(b"kube-apiserver.yaml.bak").hexdigest(),
    )


# --- pure: volume planning ------------------------------------------------------------------------


def planned() -> list[Any]:
    pod = apiserver()
    pod["spec"]["volumes"].append(
        {"name": "audit", "hostPath": {"path": "/var/log/kube-audit", "type": "DirectoryOrCreate"}}
    )
    pod["spec"]["containers"][0]["volumeMounts"].append({"name": "audit", "mountPath": "/var/log/kubernetes/audit"})
    spec = spr.run_spec(pod)
    return spr.plan_mounts(
        spec, "/usr/local/bin/kube-apiserver", is_dir=lambda p: True, exists=lambda p: p == "/etc/hosts"
    )


def test_plan_mounts_binary_volumes_and_base_in_depth_order() -> None:
    mounts = planned()
    targets = [m.target for m in mounts]
    assert targets == sorted(targets, key=lambda t: t.count("/"))  # parents before children
    assert targets[:2] == ["/proc", "/sys"]
    assert "/etc/resolv.conf" not in targets  # only host files that exist
    by_target = {m.target: m for m in mounts}
    assert by_target["/etc/hosts"] == spr.Mount("/etc/hosts", "/etc/hosts", "bind", True, False)
    assert by_target["/tmp"] == spr.Mount("/tmp", "", "tmpfs", False, True)
    assert by_target["/dev/null"] == spr.Mount("/dev/null", "/dev/null", "bind", False, False)
    assert by_target["/usr/local/bin/kube-apiserver"].readonly
    assert by_target["/etc/kubernetes/pki"] == spr.Mount(
        "/etc/kubernetes/pki", "/etc/kubernetes/pki", "bind", True, True
    )
    assert not by_target["/var/log/kubernetes/audit"].readonly


@pytest.mark.parametrize(
    ("path", "host"),
    [
        ("/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/pki/ca.crt"),
        ("/etc/kubernetes/pki", "/etc/kubernetes/pki"),
        ("/var/log/kubernetes/audit/audit.log", "/var/log/kube-audit/audit.log"),
        ("/etc/kubernetes/admin.conf", None),  # next to a mount is not under it
        ("/etc/kubernetes/pki-other/x", None),  # a prefix that is not a path component
        ("/etc/notmounted/ca.pem", None),
        ("/tmp/x.yaml", None),  # the pod's own tmpfs
        ("/usr/local/bin/kube-apiserver", "/usr/local/bin/kube-apiserver"),
        ("/usr/local/bin/kubectl", None),
        ("/proc/self/status", "/proc/self/status"),
    ],
)
def test_visible_source(path: str, host: str | None) -> None:
    assert spr.visible_source(planned(), path) == host


def test_hidden_paths_are_host_files_in_the_arguments_that_no_volume_shows() -> None:
    on_host = {"/etc/kubernetes/pki/ca.crt", "/etc/kubernetes/audit-policy.yaml", "/etc/notmounted/ca.pem"}
    argv = [
        "kube-apiserver",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--audit-policy-file=/etc/kubernetes/audit-policy.yaml",
        "--service-account-key-file=/etc/kubernetes/pki/sa.pub,/etc/notmounted/ca.pem",
        "--audit-log-path=/var/log/kubernetes/audit/audit.log",
        "--etcd-servers=https://127.0.0.1:2379",
    ]
    assert spr.hidden_paths(argv, planned(), exists=on_host.__contains__) == [
        "/etc/kubernetes/audit-policy.yaml",
        "/etc/notmounted/ca.pem",
    ]


def test_prepare_host_path_follows_kubelets_type_checks(tmp_path: Path) -> None:
    spr.prepare_host_path(str(tmp_path / "a/b"), "DirectoryOrCreate")
    assert (tmp_path / "a/b").is_dir()
    spr.prepare_host_path(str(tmp_path / "a/f"), "FileOrCreate")
    assert (tmp_path / "a/f").is_file() and (tmp_path / "a/f").stat().st_mode & 0o777 == 0o644
    spr.prepare_host_path(str(tmp_path / "untyped"), "")  # created as a directory, as containerd does
    assert (tmp_path / "untyped").is_dir()
    spr.prepare_host_path(str(tmp_path / "a/f"), "File")
    failures = [
        (tmp_path / "missing", "Directory", f"hostPath type check failed: {tmp_path}/missing is not a directory"),
        (tmp_path / "missing", "File", f"hostPath type check failed: {tmp_path}/missing is not a file"),
        (tmp_path / "a", "File", f"hostPath type check failed: {tmp_path}/a is not a file"),
        (tmp_path / "a/f", "Directory", f"hostPath type check failed: {tmp_path}/a/f is not a directory"),
        (tmp_path / "a/f", "Socket", f"hostPath type check failed: {tmp_path}/a/f is not a socket"),
        (tmp_path / "no/f", "FileOrCreate", f"open {tmp_path}/no/f: no such file or directory"),
    ]
    for path, kind, message in failures:
        with pytest.raises(spr.ManifestError) as caught:
            spr.prepare_host_path(str(path), kind)
        assert str(caught.value) == message
    assert not (tmp_path / "missing").exists()


# --- pure: probes, backoff, CRI log format --------------------------------------------------------


@pytest.mark.parametrize(
    ("thresholds", "initial", "outcomes", "results"),
    [
        # liveness: starts live, dies at the 3rd failure in a row, lives again at once
        ((1, 3), True, "FFFTF", [True, True, False, True, True]),
        ((1, 3), True, "FFTFFF", [True, True, True, True, True, False]),
        # readiness: starts unready, needs 2 successes in a row
        ((2, 3), False, "TFTTFFF", [False, False, False, True, True, True, False]),
        # startup: unknown until the first success (or failureThreshold failures)
        ((1, 2), None, "FT", [None, True]),
        ((1, 2), None, "FF", [None, False]),
    ],
)
def test_probe_tracker(thresholds: tuple[int, int], initial: bool | None, outcomes: str, results: list[Any]) -> None:
    tracker = spr.ProbeTracker(*thresholds, initial)
    assert [tracker.observe(o == "T") for o in outcomes] == results


@pytest.mark.parametrize(
    ("status", "result"),
    [
        (200, (True, "")),
        (302, (True, "")),
        (399, (True, "")),
        (199, (False, "HTTP probe failed with statuscode: 199")),
        (401, (False, "HTTP probe failed with statuscode: 401")),
        (404, (False, "HTTP probe failed with statuscode: 404")),
        (503, (False, "HTTP probe failed with statuscode: 503")),
    ],
)
def test_http_result(status: int, result: tuple[bool, str]) -> None:
    assert spr.http_result(status) == result


def test_backoff_is_kubelets_crashloop_with_the_lab_cap() -> None:
    backoff = spr.Backoff(10, 40)
    waits = []
    now = 0.0
    for _run in range(6):  # each run crashes 1 s after it started
        wait = backoff.delay(now)
        waits.append(wait)
        now += wait
        backoff.restarted(now)
        now += 1
    assert waits == [0, 10, 20, 40, 40, 40]
    # kube-apiserver killed by kubeadm's startup probe runs ~250 s each time: still backing off
    assert backoff.delay(now + 250) == 40
    assert backoff.delay(now + 601) == 0  # 10 min after the last restart: forgotten, as in kubelet
    backoff.restarted(now + 601)
    assert backoff.delay(now + 602) == 10


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (1_500_000_000, "1970-01-01T00:00:01.5Z"),
        (1_700_000_000_123_456_789, "2023-11-14T22:13:20.123456789Z"),
        (1_700_000_000_000_001_000, "2023-11-14T22:13:20.000001Z"),
    ],
)
def test_rfc3339nano_drops_trailing_zeros_like_go(ns: int, text: str) -> None:
    assert spr.rfc3339nano(ns) == text


def test_cri_line() -> None:
    assert spr.cri_line(1_500_000_000, "stderr", b"hello") == b"1970-01-01T00:00:01.5Z stderr F hello\n"
    assert spr.cri_line(0, "stdout", b"x" * 3, partial=True) == b"1970-01-01T00:00:00Z stdout P xxx\n"


# --- probes against real local servers --------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        code = {"/livez": 401, "/moved": 302, "/health": 200}.get(self.path.split("?")[0], 404)
        ok = code == 200 and self.headers.get("User-Agent", "").startswith("kube-probe/")
        self.send_response(code if code != 200 or ok else 400)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(name="http_server", params=["HTTP", "HTTPS"])
def fixture_http_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    server = HTTPServer(("127.0.0.1", 0), _Handler)
    if request.param == "HTTPS":  # self-signed: kubelet does not verify, nor does the runner
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=lab", "-days", "1",
             "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
            check=True, capture_output=True,
        )  # fmt: skip
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield request.param, server.server_address[1]
    server.shutdown()
    server.server_close()


def test_http_probes_are_unauthenticated_and_do_not_verify_certificates(http_server: tuple[str, int]) -> None:
    scheme, port = http_server
    probe = spr.Probe("Liveness", "httpGet", scheme, "", port, "/livez")
    assert spr.run_probe(probe, "127.0.0.1") == (False, "HTTP probe failed with statuscode: 401")
    assert spr.run_probe(spr.Probe("Liveness", "httpGet", scheme, "127.0.0.1", port, "/health"), "192.0.2.99") == (
        True,
        "",
    )
    assert spr.run_probe(spr.Probe("Readiness", "httpGet", scheme, "", port, "/moved"), "127.0.0.1") == (True, "")
    assert spr.run_probe(spr.Probe("Readiness", "tcpSocket", port=port), "127.0.0.1") == (True, "")


def test_probes_of_a_closed_port() -> None:
    port = free_ports(1)[0]
    assert spr.run_probe(spr.Probe("Liveness", "httpGet", "HTTPS", "127.0.0.1", port, "/livez"), "") == (
        False,
        f'Get "https://127.0.0.1:{port}/livez": connect: connection refused',
    )
    assert spr.run_probe(spr.Probe("Liveness", "tcpSocket", port=port), "127.0.0.1") == (
        False,
        f"dial tcp 127.0.0.1:{port}: connect: connection refused",
    )
    assert spr.run_probe(spr.Probe("Liveness", "exec"), "127.0.0.1") == (True, "")


def test_pod_ip_is_a_non_loopback_ipv4_or_localhost() -> None:
    address = spr.pod_ip()
    socket.inet_aton(address)
    assert address == "127.0.0.1" or not address.startswith("127.")


# --- the runner for real ----------------------------------------------------------------------------


def free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _index in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def etcd_manifest(
    data: Path, *, args: tuple[str, ...] = (), liveness_path: str = "/health", data_type: str = "DirectoryOrCreate"
) -> dict[str, Any]:
    client, peer = free_ports(2)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "etcd", "namespace": "kube-system"},
        "spec": {
            "hostNetwork": True,
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "etcd",
                    "command": [
                        "etcd",
                        "--data-dir=/var/lib/etcd",
                        f"--listen-client-urls=http://127.0.0.1:{client}",
                        f"--advertise-client-urls=http://127.0.0.1:{client}",
                        f"--listen-peer-urls=http://127.0.0.1:{peer}",
                        *args,
                    ],
                    "livenessProbe": {
                        "httpGet": {"host": "127.0.0.1", "path": liveness_path, "port": client, "scheme": "HTTP"},
                        "initialDelaySeconds": 1,
                        "periodSeconds": 1,
                        "failureThreshold": 2,
                    },
                    "readinessProbe": {
                        "httpGet": {"host": "127.0.0.1", "path": "/health", "port": client},
                        "periodSeconds": 1,
                    },
                    "volumeMounts": [{"name": "etcd-data", "mountPath": "/var/lib/etcd"}],
                }
            ],
            "volumes": [{"name": "etcd-data", "hostPath": {"path": str(data), "type": data_type}}],
        },
    }


def alive(pid: int | None, start: str | None = None) -> bool:
    return bool(pid) and spr.proc_start(pid) != "" and (start is None or spr.proc_start(pid) == start)


class PodLab:
    """A runner on temp dirs: manifests, state, logs; every pid it reports is remembered for cleanup."""

    def __init__(self, root: Path, bin_dir: Path) -> None:
        self.root, self.bin_dir = root, bin_dir
        self.manifests, self.state, self.logs = root / "manifests", root / "state", root / "logs"
        self.manifests.mkdir()
        self.out = root / "runner.out"
        self.proc: subprocess.Popen[bytes] | None = None
        self.pids: set[int] = set()

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.out, "ab") as out:
            self.proc = subprocess.Popen(
                [SYSTEM_PYTHON, str(RUNNER), "run", "--manifests", str(self.manifests), "--state-dir", str(self.state),
                 "--log-dir", str(self.logs), "--node-name", "LabNode", "--poll", "0.2", "--backoff-initial", "0.5",
                 "--backoff-max", "1", "--grace-cap", "5"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                env={**os.environ, "PATH": f"{self.bin_dir}:{os.environ['PATH']}"},
            )  # fmt: skip
        return self.proc

    def write(self, name: str, manifest: dict[str, Any] | str) -> None:
        text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
        tmp = self.manifests / f".{name}.tmp"  # a dot file: the runner must not pick it up half written
        tmp.write_text(text)
        tmp.rename(self.manifests / name)

    def status(self, name: str) -> dict[str, Any] | None:
        try:
            status = json.loads((self.state / name / "status.json").read_text())
        except (FileNotFoundError, ValueError):
            return None
        if status.get("pid"):
            self.pids.add(status["pid"])
        return status

    def runner_log(self) -> str:
        return self.out.read_text()

    def wait(self, what: str, check: Callable[[], Any], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = check()
            if result:
                return result
            time.sleep(0.1)
        statuses = {p.name: self.status(p.name) for p in self.state.glob("*")} if self.state.exists() else {}
        pytest.fail(
            f"timed out after {timeout} s waiting for {what}\nstatus: {statuses}\nrunner:\n{self.runner_log()[-3000:]}"
        )

    def wait_status(
        self, name: str, check: Callable[[dict[str, Any]], Any], what: str, timeout: float = 15
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            status = self.status(name)
            return status if status and check(status) else None

        return self.wait(f"{name}: {what}", probe, timeout)

    def cleanup(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # Containers run in sessions of their own; find them by their root, which is under our state dir.
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                if os.readlink(proc_dir / "root").startswith(str(self.state)):
                    self.pids.add(int(proc_dir.name))
            except OSError:
                continue
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for mount in host_mounts_under(self.root):
            subprocess.run(["umount", "-l", mount], check=False)


def host_mounts_under(root: Path) -> list[str]:
    return [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(str(root))
    ]


@pytest.fixture(scope="session")
def etcd_bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.geteuid() != 0:
        pytest.fail("the static pod runner tests need root (mount namespaces, chroot)")
    if not ETCD_BIN.is_file():
        pytest.fail(f"no etcd binary at {ETCD_BIN}: run `make lab` (or set BULWARK_ETCD_BIN to a static etcd)")
    bin_dir = tmp_path_factory.mktemp("bin")
    shutil.copy2(ETCD_BIN, bin_dir / "etcd")
    return bin_dir


@pytest.fixture(name="lab")
def fixture_lab(tmp_path: Path, etcd_bin_dir: Path) -> Iterator[PodLab]:
    lab = PodLab(tmp_path, etcd_bin_dir)
    try:
        yield lab
    finally:
        lab.cleanup()
    assert not host_mounts_under(tmp_path), "a pod's mounts leaked into the host's mount namespace"
    assert not [pid for pid in lab.pids if alive(pid)], "a container outlived its test"


def ready(status: dict[str, Any]) -> bool:
    return bool(status["pid"] and status["ready"] and status["live"])


def test_pod_runs_with_only_its_volumes_and_writes_a_cri_log(lab: PodLab) -> None:
    data = lab.root / "data"
    lab.write("etcd.yaml", etcd_manifest(data))
    lab.start()
    status = lab.wait_status("etcd.yaml", ready, "ready")
    pid = status["pid"]
    root = Path(f"/proc/{pid}/root")
    assert os.readlink(f"/proc/{pid}/ns/mnt") != os.readlink("/proc/self/ns/mnt")
    assert (root / "var/lib/etcd/member").is_dir() and (data / "member").is_dir()  # the hostPath volume
    assert (root / str(lab.bin_dir / "etcd").lstrip("/")).is_file()  # the binary, at its host path
    assert not (root / "etc/passwd").exists() and not (root / "root").exists()  # nothing else of the host
    devices = ["fd", "full", "null", "random", "shm", "stderr", "stdin", "stdout", "urandom", "zero"]
    assert sorted(p.name for p in (root / "dev").iterdir()) == devices
    assert (status["file"], status["pod"], status["namespace"], status["restarts"]) == (
        "etcd.yaml",
        "etcd-labnode",
        "kube-system",
        0,
    )
    assert status["manifest_sha256"] == hashlib.sha256((lab.manifests / "etcd.yaml").read_bytes()).hexdigest()
    log = Path(status["log"])
    assert log == lab.logs / f"kube-system_etcd-labnode_{status['uid']}" / "etcd" / "0.log"
    lines = log.read_text().splitlines()
    assert lines and all(CRI_LINE.match(line) for line in lines), lines[:3]
    assert any(" stderr F {" in line for line in lines)  # etcd logs JSON to stderr
    command = yaml.safe_load((lab.manifests / "etcd.yaml").read_text())["spec"]["containers"][0]["command"]
    port = next(a for a in command if a.startswith("--listen-client-urls=")).rsplit(":", 1)[1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as answer:
        assert answer.status == 200
    assert f"pod etcd.yaml: started pid {pid} (restart 0)" in lab.runner_log()


def test_manifest_change_restarts_the_pod_and_keeps_the_previous_log(lab: PodLab) -> None:
    manifest = etcd_manifest(lab.root / "data")
    lab.write("etcd.yaml", manifest)
    lab.start()
    first = lab.wait_status("etcd.yaml", ready, "ready")
    for restart, level in ((1, "info"), (2, "warn")):
        manifest["spec"]["containers"][0]["command"].append(f"--log-level={level}")
        lab.write("etcd.yaml", manifest)
        status = lab.wait_status(
            "etcd.yaml", lambda s, n=restart: s["restarts"] == n and ready(s), f"restart {restart}"
        )
        assert status["pid"] != first["pid"] and not alive(first["pid"], first["pid_start"])
        first = status
    logs = Path(status["log"]).parent
    assert sorted(p.name for p in logs.iterdir()) == ["1.log", "2.log"]  # kubelet keeps one previous log
    assert lab.runner_log().count("pod etcd.yaml: manifest changed, restarting") == 2
    assert "pod etcd.yaml: started pid {} (restart 2)".format(status["pid"]) in lab.runner_log()


def test_a_flag_naming_a_host_file_that_no_volume_mounts_fails_like_a_real_pod(lab: PodLab) -> None:
    config_dir = lab.root / "notmounted"
    config_dir.mkdir()
    config = config_dir / "etcd.conf.yaml"
    manifest = etcd_manifest(lab.root / "data")
    command = manifest["spec"]["containers"][0]["command"]
    config.write_text(
        yaml.safe_dump({"data-dir": "/var/lib/etcd", **{a[2:].split("=")[0]: a.split("=")[1] for a in command[2:]}})
    )
    manifest["spec"]["containers"][0]["command"] = ["etcd", f"--config-file={config}"]
    lab.write("etcd.yaml", manifest)
    lab.start()
    status = lab.wait_status("etcd.yaml", lambda s: s["restarts"] >= 1 and s["last_exit"], "a crash and a restart")
    assert status["last_exit"]["exit_code"] != 0
    log_dir = Path(status["log"]).parent
    assert f"open {config}: no such file or directory" in (log_dir / "0.log").read_text()
    assert f"pod etcd.yaml: note: {config} is in the arguments but under no volume mount" in lab.runner_log()
    # The same file through a hostPath volume: now the pod sees it and runs.
    manifest["spec"]["volumes"].append({"name": "config", "hostPath": {"path": str(config_dir), "type": "Directory"}})
    manifest["spec"]["containers"][0]["volumeMounts"].append(
        {"name": "config", "mountPath": str(config_dir), "readOnly": True}
    )
    lab.write("etcd.yaml", manifest)
    lab.wait_status("etcd.yaml", ready, "ready with the config mounted")


def test_a_bak_copy_is_a_second_pod_and_a_dot_file_is_ignored(lab: PodLab) -> None:
    manifest = etcd_manifest(lab.root / "data")
    for name in ("etcd.yaml", "etcd.yaml.bak", ".etcd.yaml.swp"):
        lab.write(name, manifest)
    lab.start()
    statuses = [lab.wait_status(n, lambda s: s["log"], "a started container") for n in ("etcd.yaml", "etcd.yaml.bak")]
    assert statuses[0]["pod"] == statuses[1]["pod"] == "etcd-labnode" and statuses[0]["uid"] != statuses[1]["uid"]
    # kubernetes/kubernetes#55596: the copy competes for the same ports, and one of the two loses.
    logs = [Path(s["log"]).parent / "0.log" for s in statuses]
    lab.wait("'address already in use' in a log", lambda: any("address already in use" in p.read_text() for p in logs))
    assert not (lab.state / ".etcd.yaml.swp").exists() and ".etcd.yaml.swp" not in lab.runner_log()


def test_a_failing_liveness_probe_kills_and_restarts_the_container(lab: PodLab) -> None:
    lab.write("etcd.yaml", etcd_manifest(lab.root / "data", liveness_path="/no-such-path"))
    lab.start()
    first = lab.wait_status("etcd.yaml", lambda s: s["pid"], "a pid")
    status = lab.wait_status("etcd.yaml", lambda s: s["restarts"] >= 1 and s["pid"], "a restart")
    assert status["pid"] != first["pid"] and not alive(first["pid"], first["pid_start"])
    assert status["last_exit"]["signal"] == signal.SIGTERM and status["last_exit"]["exit_code"] == 143
    log = lab.runner_log()
    assert "pod etcd.yaml: Liveness probe failed: HTTP probe failed with statuscode: 404" in log
    assert "pod etcd.yaml: container etcd failed liveness probe, will be restarted" in log


def test_removing_the_manifest_stops_the_pod(lab: PodLab) -> None:
    lab.write("etcd.yaml", etcd_manifest(lab.root / "data"))
    lab.start()
    status = lab.wait_status("etcd.yaml", ready, "ready")
    (lab.manifests / "etcd.yaml").unlink()
    lab.wait("the pod's state dir to go", lambda: not (lab.state / "etcd.yaml").exists())
    assert not alive(status["pid"], status["pid_start"])
    assert "pod etcd.yaml: manifest removed, pod stopped" in lab.runner_log()


def test_sigterm_stops_every_pod_and_the_runner(lab: PodLab) -> None:
    for name in ("a.yaml", "b.yaml"):
        lab.write(name, etcd_manifest(lab.root / name))
    runner = lab.start()
    running = [lab.wait_status(n, ready, "ready") for n in ("a.yaml", "b.yaml")]
    runner.send_signal(signal.SIGTERM)
    assert runner.wait(10) == 0
    assert not [s["pid"] for s in running if alive(s["pid"], s["pid_start"])]
    assert [lab.status(n)["pid"] for n in ("a.yaml", "b.yaml")] == [None, None]  # type: ignore[index]
    assert "runner: stopped 2 pod(s), exiting" in lab.runner_log()


def test_a_new_runner_kills_the_pods_a_dead_runner_left(lab: PodLab) -> None:
    lab.write("etcd.yaml", etcd_manifest(lab.root / "data"))
    runner = lab.start()
    old = lab.wait_status("etcd.yaml", ready, "ready")
    runner.kill()  # SIGKILL: no chance to stop its pods
    runner.wait()
    assert alive(old["pid"], old["pid_start"])
    lab.start()
    new = lab.wait_status("etcd.yaml", lambda s: ready(s) and s["pid"] != old["pid"], "ready under the new runner")
    assert not alive(old["pid"], old["pid_start"]) and new["restarts"] == 0
    assert f"pod etcd.yaml: stopping leftover pid {old['pid']} of a previous runner" in lab.runner_log()


def test_a_missing_directory_volume_blocks_the_start_with_kubelets_error_until_it_exists(lab: PodLab) -> None:
    data = lab.root / "data"
    lab.write("etcd.yaml", etcd_manifest(data, data_type="Directory"))
    lab.start()
    message = f'MountVolume.SetUp failed for volume "etcd-data" : hostPath type check failed: {data} is not a directory'
    status = lab.wait_status("etcd.yaml", lambda s: s["message"], "an error")
    assert (status["message"], status["pid"], status["last_exit"]) == (message, None, None)
    assert lab.runner_log().count(message) == 1  # logged once, retried quietly
    data.mkdir()
    lab.wait_status("etcd.yaml", ready, "ready once the directory exists")


def test_an_invalid_manifest_leaves_the_running_pod_alone(lab: PodLab) -> None:
    manifest = etcd_manifest(lab.root / "data")
    lab.write("etcd.yaml", manifest)
    lab.start()
    status = lab.wait_status("etcd.yaml", ready, "ready")
    lab.write("etcd.yaml", "kind: Pod\nspec: [\n")
    broken = lab.wait_status("etcd.yaml", lambda s: s["message"], "the parse error")
    assert broken["message"].startswith("could not process manifest file: while parsing")
    assert (broken["pid"], broken["restarts"], broken["manifest_sha256"]) == (
        status["pid"],
        0,
        status["manifest_sha256"],
    )
    lab.write("etcd.yaml", manifest)
    fixed = lab.wait_status("etcd.yaml", lambda s: not s["message"], "the error cleared")
    assert (fixed["pid"], fixed["restarts"]) == (status["pid"], 0)


def test_a_dynamically_linked_binary_cannot_start_in_the_pod(lab: PodLab) -> None:
    manifest = etcd_manifest(lab.root / "data")
    container = manifest["spec"]["containers"][0]
    container["command"] = ["true"]  # /usr/bin/true needs ld.so and libc, which the pod does not have
    del container["livenessProbe"], container["readinessProbe"]
    lab.write("true.yaml", manifest)
    lab.start()
    status = lab.wait_status("true.yaml", lambda s: s["last_exit"], "an exit")
    assert status["last_exit"]["exit_code"] == 128
    text = (Path(status["log"]).parent / "0.log").read_text()
    assert "static pod runner: cannot start the container: [Errno 2] No such file or directory: " in text
    assert "(a dynamically linked binary? The pod has no libraries: build it with CGO_ENABLED=0)" in text
