# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Shared fixtures of the integration tests: throwaway systemd targets and a module runner.

- ``lab_targets`` starts containers of a lab image with systemd as PID 1 (without --privileged,
  which cannot start here) and removes them when the test module ends.
- ``run_module`` runs one module of ours through the ``ansible`` CLI and the
  community.docker.docker connection, as a playbook would, and returns the host's result.

Nothing here is autouse, so a test module that brings its own fixtures is not affected.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import typing as t
import uuid
from pathlib import Path

import pytest

BASE_IMAGE = os.environ.get("BULWARK_BASE_IMAGE", "bulwark-lab/base:latest")
CACHE = Path(os.environ.get("BULWARK_CACHE", "/var/cache/bulwark"))
READY_TIMEOUT_S = 120


def run_cmd(
    *cmd: str, check: bool = True, stdin: bytes | None = None, timeout: int = 120
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(list(cmd), input=stdin, capture_output=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    return proc


def image_exists(image: str) -> bool:
    """Whether the docker CLI is there and has ``image`` (for ``pytest.mark.skipif``)."""
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

    def exec(self, *cmd: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return run_cmd("docker", "exec", "-i", self.name, *cmd, check=check, stdin=stdin)

    def sh(self, script: str, check: bool = True) -> str:
        """Run a shell script in the target; its stdout, stripped."""
        return self.exec("sh", "-euc", script, check=check).stdout.decode().strip()


class LabTargets:
    """Starts targets on demand; removes every one of them in ``remove_all``."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.names: list[str] = []

    def start(self, prefix: str, image: str = BASE_IMAGE) -> LabTarget:
        """A new container named ``<prefix>-<random>``; skips the test when the image is missing."""
        if not image_exists(image):
            pytest.skip(f"needs the docker CLI and the lab image {image} (make lab)")
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.names.append(name)  # before `docker run`: a half-started container is removed too
        run_cmd(
            "docker", "run", "--detach", "--pull", "never", "--name", name, "--hostname", name,
            "--label", f"org.bulwark.test={self.label}",
            "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
            "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro", "--cap-add", "SYS_ADMIN",
            image, "/lib/systemd/systemd",
        )  # fmt: skip
        target = LabTarget(name)

        def booted() -> bool:
            state = target.exec("systemctl", "is-system-running", check=False).stdout.decode().strip()
            return state in ("running", "degraded")

        wait_for(booted, f"systemd in {name}")
        return target

    def remove_all(self) -> None:
        for name in self.names:
            run_cmd("docker", "rm", "--force", "--volumes", name, check=False, timeout=60)


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


def ansible_module(target: LabTarget, module: str, args: dict[str, t.Any], *flags: str) -> dict[str, t.Any]:
    """Run ``module`` once on ``target`` through the ansible CLI; return the host's result."""
    env = dict(os.environ)
    for var in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # docs/troubleshooting.md
        env.pop(var, None)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(CACHE / "root-2.19"))
    env.update(
        ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
        ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
        ANSIBLE_PIPELINING="true",
        ANSIBLE_NOCOLOR="1",
    )
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
