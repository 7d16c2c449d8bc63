# SPDX-License-Identifier: GPL-3.0-or-later
"""Run static pod manifests the way kubelet does, for a lab control plane that has no kubelet.

`run` polls the manifests dir. Every regular file whose name does not start with "." is a pod
keyed by its file name, so `kube-apiserver.yaml.bak` is a second pod as in kubelet
(kubernetes/kubernetes#55596). Each pod runs its one container in a private mount namespace
whose root is a tmpfs that shows only the binary, /proc, /sys, a minimal /dev, /tmp, the host's
/etc/hosts, /etc/resolv.conf, /etc/hostname and the pod's hostPath volumes. A flag that names a
file outside the volumes therefore fails as in a real pod. Only hostNetwork pods are supported.

Like kubelet: CRI-format logs in /var/log/pods/<ns>_<pod>-<node>_<uid>/<container>/<n>.log,
the previous restart's log kept, unauthenticated httpGet/tcpSocket probes (startup gates
liveness and readiness; a failed liveness or startup probe restarts the container), and
CrashLoopBackOff: the first restart at once, then 10 s doubling, forgotten after 10 min without a
restart. Unlike kubelet: the backoff stops at 40 s (kubelet: 5 min), the uid is a hash of the file name (kubelet hashes the content,
so there an edit makes a new pod with restart count 0; here it counts as a restart), an
invalid manifest leaves the running pod alone, exec/grpc probes always succeed, the pods stop
when the runner stops (kubelet leaves them running), and one pod's stop (up to its grace period)
holds up the others' restarts.

State for tests and tools: <state-dir>/<file>/status.json. Runs as root with the system python3.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, NoReturn

import yaml

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEV_NODES = ("null", "zero", "full", "random", "urandom")
HOST_FILES = ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname")
# hostPath type -> (stat test, noun in kubelet's "hostPath type check failed: X is not a <noun>")
HOST_PATH_CHECKS: dict[str, tuple[Callable[[int], bool], str]] = {
    "Directory": (stat.S_ISDIR, "directory"),
    "DirectoryOrCreate": (stat.S_ISDIR, "directory"),
    "File": (stat.S_ISREG, "file"),
    "FileOrCreate": (stat.S_ISREG, "file"),
    "Socket": (stat.S_ISSOCK, "socket"),
    "CharDevice": (stat.S_ISCHR, "character device"),
    "BlockDevice": (stat.S_ISBLK, "block device"),
}
MAX_LINE = 16 * 1024  # containerd splits longer lines into "P" (partial) records
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_NOSUID, MS_NODEV = 1, 32, 4096, 16384, 2, 4


class ManifestError(ValueError):
    """A manifest or host state the pod cannot run with; the message is logged as is."""


@dataclass(frozen=True)
class Probe:
    kind: str  # Startup, Liveness or Readiness, as in kubelet's messages
    action: str  # httpGet or tcpSocket; anything else is unsupported and always succeeds
    scheme: str = "HTTP"
    host: str = ""
    port: int = 0
    path: str = "/"
    headers: tuple[tuple[str, str], ...] = ()
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3


@dataclass(frozen=True)
class Volume:
    name: str
    host_path: str
    type: str
    mount_path: str
    read_only: bool


@dataclass(frozen=True)
class RunSpec:
    namespace: str
    name: str
    container: str
    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...]
    workdir: str
    volumes: tuple[Volume, ...]
    probes: tuple[Probe, ...]
    grace: int


@dataclass(frozen=True)
class Mount:
    target: str  # path inside the pod
    source: str  # host path; "" for tmpfs
    kind: str  # bind or tmpfs
    readonly: bool
    is_dir: bool


def _field(obj: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = obj.get(key, default)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ManifestError(f"{where}.{key}: expected {kind.__name__}, got {value!r}")
    return value


def _path(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.startswith("/"):
        raise ManifestError(f"{where}: expected an absolute path, got {value!r}")
    return os.path.normpath(value)


def _port(value: Any, ports: dict[str, int], where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 65536:
        return value
    if isinstance(value, str) and isinstance(ports.get(value), int):
        return ports[value]
    raise ManifestError(f"{where}.port: {value!r} is neither a port number nor a named container port")


def _probe(kind: str, raw: Any, ports: dict[str, int], where: str) -> Probe:
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: expected a mapping, got {raw!r}")
    common = {
        "initial_delay": _field(raw, "initialDelaySeconds", int, 0, where),
        "period": _field(raw, "periodSeconds", int, 10, where),
        "timeout": _field(raw, "timeoutSeconds", int, 1, where),
        "success_threshold": _field(raw, "successThreshold", int, 1, where),
        "failure_threshold": _field(raw, "failureThreshold", int, 3, where),
    }
    if kind != "Readiness" and common["success_threshold"] != 1:
        raise ManifestError(f"{where}.successThreshold: must be 1 for a {kind.lower()} probe")
    if "httpGet" in raw:
        get = _field(raw, "httpGet", dict, {}, where)
        sub = f"{where}.httpGet"
        scheme = str(_field(get, "scheme", str, "HTTP", sub)).upper()
        if scheme not in ("HTTP", "HTTPS"):
            raise ManifestError(f"{sub}.scheme: expected HTTP or HTTPS, got {scheme!r}")
        headers = tuple(
            (str(h.get("name")), str(h.get("value", ""))) for h in _field(get, "httpHeaders", list, [], sub)
        )
        path = _field(get, "path", str, "/", sub)
        return Probe(
            kind,
            "httpGet",
            scheme,
            _field(get, "host", str, "", sub),
            _port(get.get("port"), ports, sub),
            path if path.startswith("/") else "/" + path,
            headers,
            **common,
        )
    if "tcpSocket" in raw:
        sock = _field(raw, "tcpSocket", dict, {}, where)
        sub = f"{where}.tcpSocket"
        return Probe(
            kind,
            "tcpSocket",
            host=_field(sock, "host", str, "", sub),
            port=_port(sock.get("port"), ports, sub),
            **common,
        )
    action = next((key for key in ("exec", "grpc") if key in raw), "none")
    return Probe(kind, action, **common)


def run_spec(pod: Any, grace_cap: int = 30) -> RunSpec:
    """What the runner starts for a parsed manifest; ManifestError names what it cannot run."""
    if not isinstance(pod, dict) or pod.get("kind") != "Pod":
        kind = pod.get("kind") if isinstance(pod, dict) else type(pod).__name__
        raise ManifestError(f"kind: expected Pod, got {kind!r}")
    meta = _field(pod, "metadata", dict, {}, "pod")
    spec = _field(pod, "spec", dict, {}, "pod")
    name = _field(meta, "name", str, "", "metadata")
    if not name:
        raise ManifestError("metadata.name is required")
    if spec.get("hostNetwork") is not True:
        raise ManifestError("spec.hostNetwork: the lab runner runs only hostNetwork pods; set it to true")
    containers = _field(spec, "containers", list, [], "spec")
    if len(containers) != 1 or spec.get("initContainers"):
        raise ManifestError(
            f"spec.containers: the lab runner runs exactly one container and no initContainers, got {len(containers)}"
        )
    hostpaths: dict[str, tuple[str, str]] = {}
    for i, vol in enumerate(_field(spec, "volumes", list, [], "spec")):
        where = f"spec.volumes[{i}]"
        if not isinstance(vol, dict) or not isinstance(vol.get("hostPath"), dict):
            raise ManifestError(f"{where}: only hostPath volumes are supported by the lab runner")
        kind = _field(vol["hostPath"], "type", str, "", f"{where}.hostPath")
        if kind and kind not in HOST_PATH_CHECKS:
            raise ManifestError(f"{where}.hostPath.type: {kind} is an invalid volume type")
        hostpaths[str(vol.get("name"))] = (_path(vol["hostPath"].get("path"), f"{where}.hostPath.path"), kind)
    ctr = containers[0]
    if not isinstance(ctr, dict):
        raise ManifestError("spec.containers[0]: expected a mapping")
    where = "spec.containers[0]"
    command = [str(a) for a in _field(ctr, "command", list, [], where)]
    if not command:
        raise ManifestError(f"{where}.command: required, the lab runner has no image entrypoint")
    volumes = []
    for j, vm in enumerate(_field(ctr, "volumeMounts", list, [], where)):
        sub = f"{where}.volumeMounts[{j}]"
        if not isinstance(vm, dict) or vm.get("name") not in hostpaths:
            raise ManifestError(f"{sub}.name: Not found: {vm.get('name') if isinstance(vm, dict) else vm!r}")
        if vm.get("subPath"):
            raise ManifestError(f"{sub}.subPath: not supported by the lab runner")
        host_path, kind = hostpaths[vm["name"]]
        volumes.append(
            Volume(
                vm["name"], host_path, kind, _path(vm.get("mountPath"), f"{sub}.mountPath"), vm.get("readOnly") is True
            )
        )
    env = []
    for k, item in enumerate(_field(ctr, "env", list, [], where)):
        if not isinstance(item, dict) or "valueFrom" in item or not item.get("name"):
            raise ManifestError(f"{where}.env[{k}]: only name/value entries are supported by the lab runner")
        env.append((str(item["name"]), str(item.get("value", ""))))
    ports = {
        p["name"]: p.get("containerPort")
        for p in _field(ctr, "ports", list, [], where)
        if isinstance(p, dict) and "name" in p
    }
    probes = tuple(
        _probe(kind, ctr[key], ports, f"{where}.{key}")
        for kind, key in (("Startup", "startupProbe"), ("Liveness", "livenessProbe"), ("Readiness", "readinessProbe"))
        if ctr.get(key) is not None
    )
    grace = min(_field(spec, "terminationGracePeriodSeconds", int, 30, "spec"), grace_cap)
    return RunSpec(
        namespace=_field(meta, "namespace", str, "default", "metadata"),
        name=name,
        container=str(ctr.get("name") or ""),
        argv=tuple(command + [str(a) for a in _field(ctr, "args", list, [], where)]),
        env=tuple(env),
        workdir=_field(ctr, "workingDir", str, "/", where),
        volumes=tuple(volumes),
        probes=probes,
        grace=grace,
    )


def pod_identity(spec: RunSpec, file_name: str, node: str) -> tuple[str, str]:
    """(pod name, uid): kubelet appends the node name to a static pod's name."""
    return f"{spec.name}-{node.lower()}", hashlib.md5(file_name.encode(), usedforsecurity=False).hexdigest()


def plan_mounts(
    spec: RunSpec,
    binary: str,
    is_dir: Callable[[str], bool] = os.path.isdir,
    exists: Callable[[str], bool] = os.path.exists,
) -> list[Mount]:
    """The pod's mount table, parents before children (as containerd sorts them)."""
    mounts = [
        Mount("/proc", "/proc", "bind", False, True),
        Mount("/sys", "/sys", "bind", True, True),
        *(Mount(f"/dev/{node}", f"/dev/{node}", "bind", False, False) for node in DEV_NODES),
        Mount("/dev/shm", "", "tmpfs", False, True),
        Mount("/tmp", "", "tmpfs", False, True),
        *(Mount(path, path, "bind", True, False) for path in HOST_FILES if exists(path)),
        Mount(binary, os.path.realpath(binary), "bind", True, False),
        *(Mount(v.mount_path, v.host_path, "bind", v.read_only, is_dir(v.host_path)) for v in spec.volumes),
    ]
    return sorted(mounts, key=lambda m: m.target.rstrip("/").count("/"))


def visible_source(mounts: Sequence[Mount], path: str) -> str | None:
    """The host path a pod sees at `path`, or None when no bind mount shows one (the last, deepest wins)."""
    path, best = os.path.normpath(path), None
    for mount in mounts:
        prefix = mount.target.rstrip("/")
        if (path == mount.target or path.startswith(prefix + "/")) and (
            best is None or len(prefix) >= len(best.target.rstrip("/"))
        ):
            best = mount
    if best is None or best.kind != "bind":
        return None
    return best.source + path[len(best.target.rstrip("/")) :]


def hidden_paths(
    argv: Sequence[str], mounts: Sequence[Mount], exists: Callable[[str], bool] = os.path.exists
) -> list[str]:
    """Absolute paths in the arguments that exist on the host but that the pod cannot see."""
    found = []
    for arg in argv[1:]:
        value = arg.split("=", 1)[1] if arg.startswith("-") and "=" in arg else arg
        found += [p for p in value.split(",") if p.startswith("/") and exists(p) and visible_source(mounts, p) is None]
    return found


def prepare_host_path(path: str, kind: str) -> None:
    """kubelet's hostPath type check; *OrCreate create what is missing (a missing untyped path is
    created as a directory, as containerd does)."""
    try:
        if not os.path.lexists(path) and kind in ("", "DirectoryOrCreate"):
            os.makedirs(path, 0o755)
        elif not os.path.lexists(path) and kind == "FileOrCreate":
            os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))
    except OSError as exc:
        raise ManifestError(f"{'mkdir' if kind != 'FileOrCreate' else 'open'} {path}: {exc.strerror.lower()}") from exc
    if kind:
        test, noun = HOST_PATH_CHECKS[kind]
        try:
            mode = os.stat(path).st_mode
        except OSError:
            mode = 0
        if not test(mode):
            raise ManifestError(f"hostPath type check failed: {path} is not a {noun}")


@dataclass
class ProbeTracker:
    """kubelet's prober worker: a result changes only after threshold-many equal probe outcomes."""

    success_threshold: int
    failure_threshold: int
    result: bool | None  # liveness starts True, readiness False, startup None (unknown)
    last: bool | None = None
    run: int = 0

    def observe(self, ok: bool) -> bool | None:
        self.run = self.run + 1 if ok == self.last else 1
        self.last = ok
        if self.run >= (self.success_threshold if ok else self.failure_threshold):
            self.result = ok
        return self.result


def http_result(status: int) -> tuple[bool, str]:
    """kubelet: 200 <= status < 400 is success."""
    return (True, "") if 200 <= status < 400 else (False, f"HTTP probe failed with statuscode: {status}")


@dataclass
class Backoff:
    """kubelet's CrashLoopBackOff (flowcontrol.Backoff): an exit restarts at once the first time,
    then after initial, 2*initial, ... up to cap; forgotten `reset` seconds after the last restart
    (kubelet: 2 * its 300 s cap = 600 s; kept at 600 here, so a slow crash loop still backs off)."""

    initial: float
    cap: float
    reset: float = 600.0
    backoff: float = 0.0
    last: float = 0.0

    def delay(self, finished: float) -> float:
        """Seconds to wait after an exit at `finished` (kubelet's IsInBackOffSince)."""
        return 0.0 if not self.backoff or finished - self.last > self.reset else self.backoff

    def restarted(self, now: float) -> None:
        """Record a restart (kubelet's Backoff.Next)."""
        expired = not self.backoff or now - self.last > self.reset
        self.backoff, self.last = (self.initial if expired else min(2 * self.backoff, self.cap)), now


def rfc3339nano(ns: int) -> str:
    """Go's time.RFC3339Nano in UTC: trailing zeros of the fraction dropped."""
    secs, frac = divmod(ns, 1_000_000_000)
    digits = f"{frac:09d}".rstrip("0")
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + (f".{digits}" if digits else "") + "Z"


def cri_line(ns: int, stream: str, text: bytes, partial: bool = False) -> bytes:
    """One CRI log record: `<time> stdout|stderr F|P <text>`."""
    return b"%s %s %s %s\n" % (rfc3339nano(ns).encode(), stream.encode(), b"P" if partial else b"F", text)


def log(message: str) -> None:
    print(message, flush=True)


def pod_ip() -> str:
    """The first non-loopback IPv4 (a hostNetwork pod's IP is the node's), else 127.0.0.1."""
    for _index, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            try:
                packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name.encode()[:15]))  # SIOCGIFADDR
            except OSError:
                continue
        address = socket.inet_ntoa(packed[20:24])
        if not address.startswith("127."):
            return address
    return "127.0.0.1"


def _reason(exc: Exception) -> str:
    """Go-like error text: "connect: connection refused", "context deadline exceeded"."""
    if isinstance(exc, TimeoutError):
        return "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    if isinstance(exc, ConnectionRefusedError):
        return "connect: connection refused"
    return exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__


def run_probe(probe: Probe, default_host: str) -> tuple[bool, str]:
    """One unauthenticated probe, without certificate verification, as kubelet does."""
    host = probe.host or default_host
    if probe.action == "tcpSocket":
        try:
            socket.create_connection((host, probe.port), timeout=probe.timeout).close()
        except OSError as exc:
            return False, f"dial tcp {host}:{probe.port}: {_reason(exc)}"
        return True, ""
    if probe.action != "httpGet":
        return True, ""
    url = f"{probe.scheme.lower()}://{host}:{probe.port}{probe.path}"
    if probe.scheme == "HTTPS":
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, probe.port, timeout=probe.timeout, context=context
        )
    else:
        conn = http.client.HTTPConnection(host, probe.port, timeout=probe.timeout)
    try:
        conn.request(
            "GET", probe.path, headers={"User-Agent": "kube-probe/lab", "Accept": "*/*", **dict(probe.headers)}
        )
        status = conn.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        return False, f'Get "{url}": {_reason(exc)}'
    finally:
        conn.close()
    return http_result(status)


def proc_start(pid: int) -> str:
    """The process's start time in clock ticks ("" when gone): tells a pid from a reused one."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def terminate(procs: Sequence[subprocess.Popen[bytes]], grace: float) -> None:
    """SIGTERM each container's process group, SIGKILL what is left after `grace` seconds."""
    for proc in procs:
        signal_group(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for proc in procs:
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        signal_group(proc.pid, signal.SIGKILL)
        proc.wait()


def pump(stream: str, pipe: IO[bytes], path: Path) -> None:
    with pipe, open(path, "ab", buffering=0) as out:
        while chunk := pipe.readline(MAX_LINE):
            full = chunk.endswith(b"\n")
            out.write(
                cri_line(time.time_ns(), stream, chunk[:-1] if full else chunk, not full and len(chunk) == MAX_LINE)
            )


class Pod:
    """One manifest file and the container it runs."""

    def __init__(self, runner: Runner, key: str) -> None:
        self.runner, self.key, self.dir = runner, key, runner.opts.state_dir / key
        self.spec: RunSpec | None = None
        self.sha = self.bad_sha = self.message = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts, self.ever_started, self.crashed = 0, False, False
        self.started_at, self.pid_start, self.log_path = "", "", ""
        self.last_exit: dict[str, Any] | None = None
        self.next_start = 0.0
        self.backoff = Backoff(runner.opts.backoff_initial, runner.opts.backoff_max)
        self.stop_probes = threading.Event()
        self.started = self.live = self.ready = False
        self.kill_reason = ""
        self.written: dict[str, Any] = {}

    def say(self, message: str) -> None:
        log(f"pod {self.key}: {message}")

    def update(self, content: bytes) -> None:
        sha = hashlib.sha256(content).hexdigest()
        if sha == self.sha and self.bad_sha:  # back to the content that runs
            self.bad_sha = self.message = ""
        if sha in (self.sha, self.bad_sha):
            return
        try:
            spec = run_spec(yaml.safe_load(content), self.runner.opts.grace_cap)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError) as exc:
            self.bad_sha, self.message = sha, f"could not process manifest file: {exc}"
            self.say(self.message + (" (the running pod is left alone)" if self.proc else ""))
            return
        if self.proc:
            self.say("manifest changed, restarting")
            self.stop()
        self.spec, self.sha, self.bad_sha, self.message = spec, sha, "", ""
        self.backoff, self.next_start, self.crashed = Backoff(self.backoff.initial, self.backoff.cap), 0.0, False

    def tick(self, now: float) -> None:
        if self.proc and self.kill_reason:
            self.say(f"container {self.spec.container if self.spec else ''} {self.kill_reason}, will be restarted")
            self.stop()
        elif self.proc and self.proc.poll() is not None:
            self.exited()
        if not self.proc and self.spec and now >= self.next_start:
            self.start(now)

    def start(self, now: float) -> None:
        spec = self.spec
        assert spec is not None
        binary = spec.argv[0] if "/" in spec.argv[0] else shutil.which(spec.argv[0])
        try:
            if not binary or not os.access(binary, os.X_OK):
                raise ManifestError(f'exec: "{spec.argv[0]}": executable file not found in $PATH')
            for vol in spec.volumes:
                try:
                    prepare_host_path(vol.host_path, vol.type)
                except ManifestError as exc:
                    raise ManifestError(f'MountVolume.SetUp failed for volume "{vol.name}" : {exc}') from exc
        except ManifestError as exc:
            if str(exc) != self.message:
                self.say(f"{exc} (retrying every {self.backoff.initial:g}s)")
            self.message, self.next_start = str(exc), now + self.backoff.initial
            return
        mounts = plan_mounts(spec, binary)
        for path in hidden_paths(spec.argv, mounts):
            self.say(f"note: {path} is in the arguments but under no volume mount, so the container cannot see it")
        if self.crashed:
            self.backoff.restarted(now)
        self.restarts += self.ever_started
        self.ever_started, self.crashed, self.message = True, False, ""
        pod_name, uid = pod_identity(spec, self.key, self.runner.opts.node_name)
        logs = self.runner.opts.log_dir / f"{spec.namespace}_{pod_name}_{uid}" / spec.container
        logs.mkdir(parents=True, exist_ok=True)
        for old in logs.glob("*.log"):  # kubelet keeps the current and the previous container's log
            if old.stem.isdigit() and int(old.stem) < self.restarts - 1:
                old.unlink()
        self.log_path = str(logs / f"{self.restarts}.log")
        (self.dir / "root").mkdir(parents=True, exist_ok=True)
        container = {
            "root": str(self.dir / "root"),
            "mounts": [asdict(m) for m in mounts],
            "path": binary,
            "argv": list(spec.argv),
            "workdir": spec.workdir,
            "env": [f"PATH={DEFAULT_PATH}", f"HOSTNAME={socket.gethostname()}", *(f"{k}={v}" for k, v in spec.env)],
        }
        with open(os.open(self.dir / "spec.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as out:
            json.dump(container, out, indent=1)
        self.proc = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                shutil.which("unshare") or "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                sys.executable,
                "-I",
                os.path.abspath(__file__),
                "exec",
                str(self.dir / "spec.json"),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            env={"PATH": os.environ.get("PATH", DEFAULT_PATH)},
        )
        self.pid_start, self.started_at = proc_start(self.proc.pid), rfc3339nano(time.time_ns() // 10**9 * 10**9)
        for name, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(target=pump, args=(name, pipe, Path(self.log_path)), daemon=True).start()
        kinds = {p.kind for p in spec.probes}
        self.started, self.ready = "Startup" not in kinds, "Readiness" not in kinds
        self.live, self.kill_reason = True, ""
        self.stop_probes, default_host = threading.Event(), pod_ip()
        for probe in spec.probes:
            if probe.action not in ("httpGet", "tcpSocket"):
                self.say(f"{probe.kind} probe: the lab runner does not run {probe.action} probes; counted as success")
            threading.Thread(target=self.probe_loop, args=(probe, self.stop_probes, default_host), daemon=True).start()
        self.say(f"started pid {self.proc.pid} (restart {self.restarts})")

    def probe_loop(self, probe: Probe, stop: threading.Event, default_host: str) -> None:
        scale = self.runner.opts.probe_scale
        tracker = ProbeTracker(
            probe.success_threshold, probe.failure_threshold, {"Liveness": True, "Readiness": False}.get(probe.kind)
        )
        if stop.wait(probe.initial_delay * scale):
            return
        while True:
            if probe.kind == "Startup" or self.started:
                ok, output = run_probe(probe, default_host)
                if stop.is_set():
                    return
                if not ok:
                    self.say(f"{probe.kind} probe failed: {output}")
                result = tracker.observe(ok)
                if probe.kind == "Startup" and result:
                    self.started = True
                    return
                if probe.kind == "Readiness":
                    self.ready = bool(result)
                elif probe.kind == "Liveness":
                    self.live = bool(result)
                if result is False and probe.kind != "Readiness" and not stop.is_set():
                    self.kill_reason = f"failed {probe.kind.lower()} probe"
                    return
            if stop.wait(probe.period * scale):
                return

    def exited(self) -> None:
        assert self.proc is not None
        code = self.proc.returncode
        self.stop_probes.set()
        self.last_exit = {
            "exit_code": 128 - code if code < 0 else code,
            "signal": -code if code < 0 else None,
            "reason": "Completed" if code == 0 else "Error",
            "finished_at": rfc3339nano(time.time_ns()),
        }
        self.proc, self.crashed, self.ready, self.live = None, True, False, False
        now = time.monotonic()
        delay = self.backoff.delay(now)
        self.next_start = now + delay
        wait = f"; back-off {delay:g}s restarting failed container" if delay else ""
        self.say(
            f"container {self.spec.container if self.spec else ''} exited with code {self.last_exit['exit_code']}{wait}"
        )

    def stop(self) -> None:
        if self.proc:
            self.stop_probes.set()
            terminate([self.proc], self.spec.grace if self.spec else 30)
            self.exited()

    def status(self) -> dict[str, Any]:
        pod_name, uid = pod_identity(self.spec, self.key, self.runner.opts.node_name) if self.spec else ("", "")
        return {
            "file": self.key,
            "pod": pod_name,
            "namespace": self.spec.namespace if self.spec else "",
            "uid": uid,
            "pid": self.proc.pid if self.proc else None,
            "pid_start": self.pid_start if self.proc else "",
            "restarts": self.restarts,
            "started_at": self.started_at if self.proc else "",
            "started": bool(self.proc) and self.started,
            "ready": bool(self.proc) and self.started and self.ready,
            "live": bool(self.proc) and self.live,
            "last_exit": self.last_exit,
            "manifest_sha256": self.sha,
            "message": self.message or (self.kill_reason if self.proc else ""),
            "log": self.log_path,
        }

    def write_status(self) -> None:
        current = self.status()
        if current != self.written:
            self.dir.mkdir(parents=True, exist_ok=True)
            tmp = self.dir / ".status.json.tmp"
            tmp.write_text(json.dumps(current, indent=1) + "\n")
            os.replace(tmp, self.dir / "status.json")
            self.written = current


def clear_state(directory: Path) -> None:
    """Remove a pod's state dir. rmdir, never rmtree: the root is an empty mountpoint on the host."""
    for name in ("status.json", ".status.json.tmp", "spec.json", "root", ""):
        try:
            (os.rmdir if name in ("root", "") else os.unlink)(directory / name)
        except FileNotFoundError:
            pass
        except OSError as exc:
            log(f"runner: cannot remove {directory / name}: {exc.strerror}")


class Runner:
    def __init__(self, opts: argparse.Namespace) -> None:
        self.opts = opts
        self.pods: dict[str, Pod] = {}
        self.stopping = threading.Event()
        self.missing_dir = False

    def reap_leftovers(self) -> None:
        """Kill the containers a previous runner left behind, then forget its state."""
        leftovers = []
        for status_file in sorted(self.opts.state_dir.glob("*/status.json")):
            try:
                old = json.loads(status_file.read_text())
            except (OSError, ValueError):
                continue
            if old.get("pid") and old.get("pid_start") and proc_start(old["pid"]) == old["pid_start"]:
                log(f"pod {old.get('file')}: stopping leftover pid {old['pid']} of a previous runner")
                signal_group(old["pid"], signal.SIGTERM)
                leftovers.append((old["pid"], old["pid_start"]))
        deadline = time.monotonic() + self.opts.grace_cap
        while any(proc_start(pid) == start for pid, start in leftovers) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid, start in leftovers:
            if proc_start(pid) == start:
                signal_group(pid, signal.SIGKILL)
        for directory in sorted(p for p in self.opts.state_dir.glob("*") if p.is_dir()):
            clear_state(directory)

    def scan(self) -> dict[str, bytes]:
        try:
            entries = sorted(os.scandir(self.opts.manifests), key=lambda e: e.name)
        except FileNotFoundError:
            if not self.missing_dir:
                log(f"runner: manifests dir {self.opts.manifests} does not exist (waiting for it)")
            self.missing_dir = True
            return {}
        self.missing_dir = False
        files = {}
        for entry in entries:
            if not entry.name.startswith(".") and entry.is_file():
                try:
                    files[entry.name] = Path(entry.path).read_bytes()
                except OSError:
                    continue
        return files

    def sync(self) -> None:
        files = self.scan()
        for key in sorted(self.pods.keys() - files.keys()):
            pod = self.pods.pop(key)
            pod.stop()
            clear_state(pod.dir)
            pod.say("manifest removed, pod stopped")
        for key, content in files.items():
            pod = self.pods.setdefault(key, Pod(self, key))
            pod.update(content)
            pod.tick(time.monotonic())
            pod.write_status()

    def run(self) -> int:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stopping.set())
        self.opts.state_dir.mkdir(parents=True, exist_ok=True)
        self.reap_leftovers()
        log(f"runner: watching {self.opts.manifests} as node {self.opts.node_name}")
        while not self.stopping.is_set():
            self.sync()
            self.stopping.wait(self.opts.poll)
        running = [pod for pod in self.pods.values() if pod.proc]
        for pod in running:
            pod.stop_probes.set()
        terminate(
            [pod.proc for pod in running if pod.proc], max((pod.spec.grace for pod in running if pod.spec), default=0)
        )
        for pod in running:
            pod.exited()
            pod.write_status()
        log(f"runner: stopped {len(running)} pod(s), exiting")
        return 0


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    enc = [s.encode() if s is not None else None for s in (source, target, fstype, data)]
    if libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), enc[3]) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or fstype} on {target}: {os.strerror(err)}")


def exec_container(spec_file: str) -> NoReturn:
    """Inside `unshare --mount --propagation private`: build the pod's root, chroot and exec."""
    spec = json.loads(Path(spec_file).read_text())
    root = spec["root"]
    try:
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64m")
        for m in spec["mounts"]:
            target = root + m["target"]
            if m["is_dir"]:
                os.makedirs(target, exist_ok=True)
            else:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
            if m["kind"] == "tmpfs":
                _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777,size=64m")
                continue
            _mount(m["source"], target, None, MS_BIND | MS_REC, None)
            if m["readonly"]:  # keep nosuid/nodev/noexec/noatime/nodiratime, the kernel refuses to drop them
                kept = os.statvfs(target).f_flag & (2 | 4 | 8 | 1024 | 2048)
                _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | kept, None)
        for name, link in (
            ("fd", "/proc/self/fd"),
            ("stdin", "/proc/self/fd/0"),
            ("stdout", "/proc/self/fd/1"),
            ("stderr", "/proc/self/fd/2"),
        ):
            os.symlink(link, f"{root}/dev/{name}")
        os.makedirs(root + spec["workdir"], exist_ok=True)  # as runc creates a missing cwd
        os.chroot(root)
        os.chdir(spec["workdir"])
        env = dict(e.split("=", 1) for e in spec["env"])
        try:
            os.execve(spec["path"], spec["argv"], env)
        except FileNotFoundError as exc:  # the file is there: its ELF interpreter (ld.so) is not
            hint = "a dynamically linked binary? The pod has no libraries: build it with CGO_ENABLED=0"
            raise OSError(exc.errno, f"{exc.strerror}: {spec['path']} ({hint})") from exc
    except OSError as exc:
        sys.stderr.write(f"static pod runner: cannot start the container: {exc}\n")
        sys.stderr.flush()
        os._exit(128)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="static_pod_runner.py", description=__doc__.split("\n", 1)[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the pods of a manifests dir until SIGTERM")
    run.add_argument("--manifests", type=Path, default=Path("/etc/kubernetes/manifests"))
    run.add_argument("--state-dir", type=Path, default=Path("/run/bulwark-pods"), help="status.json and pod roots")
    run.add_argument("--log-dir", type=Path, default=Path("/var/log/pods"), help="CRI container logs")
    run.add_argument("--node-name", default=socket.gethostname(), help="appended to pod names (default: hostname)")
    run.add_argument("--poll", type=float, default=1.0, help="seconds between scans of the manifests dir")
    run.add_argument("--backoff-initial", type=float, default=10.0, help="CrashLoopBackOff start (kubelet: 10)")
    run.add_argument("--backoff-max", type=float, default=40.0, help="CrashLoopBackOff cap (kubelet: 300)")
    run.add_argument("--grace-cap", type=int, default=30, help="cap on terminationGracePeriodSeconds")
    run.add_argument("--probe-scale", type=float, default=1.0, help="factor on probe delays and periods")
    exe = sub.add_parser("exec", help="internal: set up one container's mounts and exec it")
    exe.add_argument("spec")
    args = parser.parse_args(argv)
    if args.command == "exec":
        exec_container(args.spec)
    return Runner(args).run()


if __name__ == "__main__":
    sys.exit(main())
