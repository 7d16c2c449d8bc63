# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared fixtures of the integration tests: throwaway systemd targets and a module runner.

- ``lab_targets`` starts containers of a lab image with systemd as PID 1 (without --privileged,
  which cannot start here) and removes them when the test module ends. With
  ``docker_host=True`` the container is a Docker host (the lab's DinD image, with the
  capabilities, sysctls and volume of the docker_daemon Molecule platform) whose dockerd is up.
- ``run_module`` runs one module of ours through the ``ansible`` CLI and the
  community.docker.docker connection, as a playbook would, and returns the host's result.
- ``run_playbook`` runs a playbook the same way and returns its JSON result (ansible.posix.json).

Nothing here is autouse, so a test module that brings its own fixtures is not affected.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import time
import typing as t
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

BASE_IMAGE = os.environ.get("BULWARK_BASE_IMAGE", "bulwark-lab/base:latest")
DIND_IMAGE = os.environ.get("BULWARK_DIND_IMAGE", "bulwark-lab/dind:latest")
# What a systemd + dockerd container needs instead of --privileged (LAB.md 3 and 4, and the
# platform of extensions/molecule/docker_daemon): named capabilities, no seccomp/AppArmor
# confinement, the two sysctls dockerd would otherwise write into the read-only /proc/sys, and
# /var/lib/docker on a volume (overlay2 cannot sit on the container's own overlay).
DOCKER_HOST_CAPS = ("SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "MKNOD", "AUDIT_CONTROL", "AUDIT_WRITE")
DOCKER_HOST_SYSCTLS = ("net.ipv4.ip_forward=1", "net.ipv4.conf.default.route_localnet=1")
CONTROL_PLANE_IMAGE = os.environ.get("BULWARK_CONTROL_PLANE_IMAGE", "bulwark-lab/control-plane:latest")
CACHE = Path(os.environ.get("BULWARK_CACHE", "/var/cache/bulwark"))
# The lab's own list of the binaries a control-plane node mounts (lab/bulwark_lab.py, stdlib only).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "lab"))
import bulwark_lab  # noqa: E402

KUBE_BINARIES = bulwark_lab.TARGETS["control-plane"].binaries
READY_TIMEOUT_S = 120


def run_cmd(
    *cmd: str, check: bool = True, stdin: bytes | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(cmd), input=stdin, capture_output=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc


def image_exists(image: str) -> bool:
    """Whether the docker CLI is there and has ``image``."""
    if shutil.which("docker") is None:
        return False
    return run_cmd("docker", "image", "inspect", image, check=False).returncode == 0


def wait_for(probe: t.Callable[[], bool], what: str, timeout: float = READY_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class LabTarget:
    """A running container, and helpers to look inside it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address = ""  # on the docker network; set for control-plane targets

    def exec(self, *cmd: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return run_cmd("docker", "exec", "-i", self.name, *cmd, check=check, stdin=stdin)

    def sh(self, script: str, check: bool = True) -> str:
        """Run a shell script in the target; its stdout, stripped."""
        return self.exec("sh", "-euc", script, check=check).stdout.decode().strip()

    def read(self, path: str) -> bytes | None:
        """The file's bytes, or None when it does not exist."""
        proc = self.exec("cat", path, check=False)
        return proc.stdout if proc.returncode == 0 else None

    def write(self, content: bytes, path: str) -> None:
        # Not `docker cp`: it cannot write below a tmpfs mount (LAB.md 4); a pipe always works.
        self.exec("sh", "-c", f'mkdir -p "$(dirname {path})" && cat > {path}', stdin=content)


class LabTargets:
    """Starts targets on demand; removes every one of them in ``remove_all``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.names: list[str] = []
        self.docker_hosts: list[str] = []
        self.volumes: list[str] = []

    def start(self, prefix: str, image: str | None = None, docker_host: bool = False) -> LabTarget:
        """A new container named ``<prefix>-<random>``; skips the test when the image is missing.

        ``docker_host=True``: the DinD image by default, started as a Docker host, and returned
        once ``systemctl is-active docker`` says active and the daemon answers.
        """
        image = image or (DIND_IMAGE if docker_host else BASE_IMAGE)
        if not image_exists(image):
            pytest.fail(f"needs the docker CLI and the lab image {image}: run `make lab` first")
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)  # before `docker run`: a half-started container is removed too
        if docker_host:
            volume = f"{name}-var-lib-docker"
            self.docker_hosts.append(name)
            self.volumes.append(volume)
            options = [
                "--cgroupns", "host", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
                "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
                "--stop-signal", "SIGRTMIN+3", "--volume", f"{volume}:/var/lib/docker",
            ]  # fmt: skip
            options += [arg for cap in DOCKER_HOST_CAPS for arg in ("--cap-add", cap)]
            options += [arg for sysctl in DOCKER_HOST_SYSCTLS for arg in ("--sysctl", sysctl)]
        else:
            options = ["--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--cap-add", "SYS_ADMIN"]
        target = self._run_systemd(name, image, options)

        def booted() -> bool:
            state = target.exec("systemctl", "is-system-running", check=False).stdout.decode().strip()
            return state in ("running", "degraded")

        wait_for(booted, f"systemd in {name}")
        if docker_host:

            def docker_up() -> bool:
                active = target.exec("systemctl", "is-active", "docker", check=False).stdout.decode().strip()
                return active == "active" and target.exec("docker", "version", check=False).returncode == 0

            wait_for(docker_up, f"dockerd in {name}")
        return target

    def start_control_plane(self, prefix: str) -> LabTarget:
        """A kubeadm control-plane node (the lab's image and Kubernetes builds), API server ready."""
        if not image_exists(CONTROL_PLANE_IMAGE):
            pytest.fail(f"needs the lab image {CONTROL_PLANE_IMAGE}: run `make lab` first")
        binaries = [CACHE / "kube" / "bin" / name for name in KUBE_BINARIES]
        if not all(path.exists() for path in binaries):
            pytest.fail("needs the lab's Kubernetes binaries: run `make lab` (python3 lab/bulwark_lab.py binaries)")
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)
        options = [
            "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--cap-add", "SYS_ADMIN",
            "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
            *(arg for path in binaries for arg in ("--volume", f"{path}:/usr/local/bin/{path.name}:ro")),
        ]  # fmt: skip
        target = self._run_systemd(name, CONTROL_PLANE_IMAGE, options)
        wait_for(
            lambda: target.exec("systemctl", "is-active", "bulwark-static-pods", check=False).returncode == 0,
            f"the static-pod runner in {name}",
        )
        address = target.sh("hostname --ip-address").split()[0]
        init = target.exec("/usr/local/sbin/bulwark-kubeadm-init", address, check=False)
        if init.returncode != 0:
            pytest.fail(f"kubeadm phases failed in {name}:\n{(init.stdout + init.stderr).decode(errors='replace')}")
        target.address = address
        return target

    def _run_systemd(self, name: str, image: str, options: list[str]) -> LabTarget:
        """`docker run` IMAGE with systemd as PID 1, labelled for removal, with OPTIONS added."""
        run_cmd(
            "docker", "run", "--detach", "--pull", "never", "--name", name, "--hostname", name,
            "--label", f"org.bulwark.test={self.label}",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp", *options,
            image, "/lib/systemd/systemd",
        )  # fmt: skip
        return LabTarget(name)

    def remove_all(self) -> None:
        for name in self.names:
            if name in self.docker_hosts:
                # A clean systemd halt first: the inner dockerd stops its containers, which would
                # otherwise leave their cgroups behind on this cgroup v1 host (LAB.md 4).
                run_cmd("docker", "stop", "--time", "30", name, check=False, timeout=60)
            run_cmd("docker", "rm", "--force", "--volumes", name, check=False, timeout=60)
        for volume in self.volumes:
            run_cmd("docker", "volume", "rm", "--force", volume, check=False, timeout=60)


@pytest.fixture(scope="module")
def lab_targets(request: pytest.FixtureRequest) -> t.Iterator[LabTargets]:
    """Start containers with ``lab_targets.start(prefix)``; all are removed when the test module ends."""
    targets = LabTargets(label=request.module.__name__)
    try:
        yield targets
    finally:
        targets.remove_all()


def _ansible_binary() -> str:
    venv_ansible = Path(sys.executable).with_name("ansible")
    return str(venv_ansible) if venv_ansible.exists() else (shutil.which("ansible") or "ansible")


def ansible_env(**extra: str) -> dict[str, str]:
    """The environment of an ansible CLI run: JSON on stdout, pipelining, no CA-bundle variables."""
    env = dict(os.environ)
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # docs/troubleshooting.md
        env.pop(var, None)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(Path(__file__).resolve().parents[2] / "build" / "collections-2.19"))
    env.update(
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_NOCOLOR="1",
    )
    env.update(extra)
    return env


def ansible_module(target: LabTarget, module: str, args: dict[str, t.Any], *flags: str) -> dict[str, t.Any]:
    """Run ``module`` once on ``target`` through the ansible CLI; return the host's result."""
    env = ansible_env()
    cmd = [
        _ansible_binary(), "all", "-i", f"{target.name},", "-c", "community.docker.docker",
        "-e", "ansible_python_interpreter=/usr/bin/python3",
        "-m", module, "-a", json.dumps(args), *flags,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, env=env, timeout=180, check=False)
    try:
        output = json.loads(proc.stdout)
        return t.cast("dict[str, t.Any]", output["plays"][0]["tasks"][0]["hosts"][target.name])
    except (ValueError, KeyError, IndexError) as exc:
        raise AssertionError(
            f"no result from {' '.join(cmd)} (rc {proc.returncode}):\n{proc.stdout.decode(errors='replace')}"
            f"\n{proc.stderr.decode(errors='replace')}"
        ) from exc


@pytest.fixture
def run_module() -> t.Callable[..., dict[str, t.Any]]:
    """``run_module(target, "bulwark.hardening.x", {args}, "--check", "--diff")`` -> the host's result."""
    return ansible_module


class PlaybookRun:
    """One ``ansible-playbook`` run: exit code, the ansible.posix.json document, stderr, duration."""

    def __init__(self, cmd: list[str], proc: subprocess.CompletedProcess[bytes], seconds: float) -> None:
        self.cmd, self.rc, self.seconds = cmd, proc.returncode, seconds
        self.stderr = proc.stderr.decode(errors="replace")
        try:
            self.doc: dict[str, t.Any] = json.loads(proc.stdout)
        except ValueError as exc:
            raise AssertionError(
                f"no JSON from {' '.join(cmd)} (rc {proc.returncode}):\n{proc.stdout.decode(errors='replace')}"
                f"\n{self.stderr}"
            ) from exc

    def results(self, host: str) -> list[tuple[str, dict[str, t.Any]]]:
        """(task name, result) of every task that ran on ``host``, in order."""
        return [
            (task["task"]["name"], task["hosts"][host])
            for play in self.doc["plays"]
            for task in play["tasks"]
            if host in task["hosts"]
        ]

    def stats(self, host: str) -> dict[str, int]:
        return t.cast("dict[str, int]", self.doc["stats"][host])

    def failures(self, host: str) -> list[tuple[str, str]]:
        """(task name, msg) of the tasks that failed on ``host`` (failures a rescue handled too)."""
        return [(name, str(result.get("msg", ""))) for name, result in self.results(host) if result.get("failed")]

    def __repr__(self) -> str:  # shown by pytest when an assertion about a run fails
        return f"<PlaybookRun rc={self.rc} stats={self.doc.get('stats')} failures={self._all_failures()}>"

    def _all_failures(self) -> list[tuple[str, str]]:
        return [failure for host in self.doc.get("stats", {}) for failure in self.failures(host)]


def _ansible_playbook_binary() -> str:
    venv_binary = Path(sys.executable).with_name("ansible-playbook")
    return str(venv_binary) if venv_binary.exists() else (shutil.which("ansible-playbook") or "ansible-playbook")


def ansible_playbook(
    target: LabTarget | Path,
    playbook: Path,
    extra_vars: dict[str, t.Any] | None = None,
    *flags: str,
    env: dict[str, str] | None = None,
    timeout: int = 600,
) -> PlaybookRun:
    """Run ``playbook`` against ``target`` (community.docker.docker connection, pipelining), or
    against the inventory file ``target`` names.

    The target's Python is an inventory variable, so tasks delegated to localhost keep the
    controller's own interpreter. ``env`` adds to the environment (ANSIBLE_* settings).
    """
    if isinstance(target, Path):
        inventory = target
    else:
        inventory = playbook.with_name(f"{playbook.stem}.{target.name}.inventory.ini")
        inventory.write_text(
            f"{target.name} ansible_connection=community.docker.docker ansible_python_interpreter=/usr/bin/python3\n"
        )
    cmd = [_ansible_playbook_binary(), "-i", str(inventory), str(playbook), *flags]
    if extra_vars:
        cmd += ["--extra-vars", json.dumps(extra_vars)]
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, env=ansible_env(**(env or {})), timeout=timeout, check=False)
    return PlaybookRun(cmd, proc, time.monotonic() - started)


@pytest.fixture(scope="session")
def run_playbook() -> t.Callable[..., PlaybookRun]:
    """``run_playbook(target or inventory path, playbook_path, {extra vars}, "--check", env={...})`` -> PlaybookRun."""
    return ansible_playbook


# --- the API server, as a client sees it -------------------------------------------------------


def readyz(address: str) -> int:
    """/readyz as kubelet's probe asks it: anonymous, certificate not verified."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(f"https://{address}:6443/readyz", timeout=1, context=context) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


class Outage:
    """Polls /readyz every 50 ms in a thread and records the longest time it was not 200."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.longest = 0.0
        self._down_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            if readyz(self.address) == 200:
                if self._down_since is not None:
                    self.longest = max(self.longest, now - self._down_since)
                self._down_since = None
            elif self._down_since is None:
                self._down_since = now
            time.sleep(0.05)

    def __enter__(self) -> Outage:
        self._thread.start()
        return self

    def __exit__(self, *exc: t.Any) -> None:
        self._stop.set()
        self._thread.join()
