# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""bulwark.hardening.docker_daemon_config against a real dockerd.

A throwaway Docker-in-Docker target (the lab's ``bulwark-lab/dind`` image: Debian 12, systemd as
PID 1, Debian's docker.io 20.10 with its packaged unit) is started for this module only, without
--privileged (LAB.md 3/4), and removed with its volume at the end. The module runs through the
``ansible`` CLI and the community.docker.docker connection, as a playbook would. No mocks.
"""

from __future__ import annotations

import json
import os
import subprocess
import typing as t

import pytest
from conftest import ansible_module, image_exists, wait_for  # type: ignore[import-not-found]
from conftest import run_cmd as sh  # type: ignore[import-not-found]

IMAGE = os.environ.get("BULWARK_DIND_IMAGE", "bulwark-lab/dind:latest")
DAEMON_JSON = "/etc/docker/daemon.json"
PACKAGED_UNIT = "/lib/systemd/system/docker.service"
DROPIN = "/etc/systemd/system/docker.service.d/override.conf"

# Keys the tests do not manage: they must survive every run untouched.
UNMANAGED = {"log-level": "info", "max-concurrent-downloads": 4}
INITIAL = b'{"icc": true,  "log-level": "info",\n"max-concurrent-downloads": 4}\n'
SETTINGS = {"icc": False, "live-restore": True, "no-new-privileges": True}


@pytest.fixture(autouse=True, scope="module")
def _lab_image() -> None:
    # The real daemon is the point of these tests: without the lab they fail, never skip.
    if not image_exists(IMAGE):
        pytest.fail(f"needs the docker CLI and the lab image {IMAGE}: run `make lab` first")


class Target:
    """A running DinD container and helpers to look inside it."""

    def __init__(self, name: str) -> None:
        self.name = name

    def exec(self, *cmd: str, check: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return sh("docker", "exec", "-i", self.name, *cmd, check=check, stdin=stdin)

    def read(self, path: str = DAEMON_JSON) -> bytes | None:
        proc = self.exec("cat", path, check=False)
        return proc.stdout if proc.returncode == 0 else None

    def write(self, content: bytes, path: str = DAEMON_JSON) -> None:
        # Not `docker cp`: it cannot write below a tmpfs mount (LAB.md 4); a pipe always works.
        self.exec("sh", "-c", f'mkdir -p "$(dirname {path})" && cat > {path}', stdin=content)

    def mtime(self, path: str = DAEMON_JSON) -> str:
        return self.exec("stat", "-c", "%Y.%i", path).stdout.decode().strip()

    def files(self, directory: str = "/etc/docker") -> list[str]:
        return sorted(self.exec("ls", "-A", directory).stdout.decode().split())

    def restart_docker(self, with_socket: bool = False) -> None:
        self.exec("systemctl", "daemon-reload")
        if with_socket:
            # A dockerd that listened on unix:///var/run/docker.sock itself replaced the socket
            # docker.socket had made; socket activation needs docker.socket to make it again.
            self.exec("systemctl", "stop", "docker.service", "docker.socket")
            proc = self.exec("systemctl", "start", "docker.socket", "docker.service", check=False)
        else:
            proc = self.exec("systemctl", "restart", "docker", check=False)
        if proc.returncode != 0:
            status = self.exec("journalctl", "-u", "docker", "--no-pager", "-n", "30", check=False)
            raise AssertionError(f"docker did not restart: {status.stdout.decode(errors='replace')}")
        wait_for(lambda: self.exec("docker", "version", check=False).returncode == 0, "dockerd answering")

    def reset(self) -> None:
        """Back to the packaged state: the initial daemon.json, no drop-in, dockerd running."""
        self.exec("rm", "-rf", "/etc/systemd/system/docker.service.d")
        self.exec("sh", "-c", "rm -f /etc/docker/daemon.json.*")
        self.write(INITIAL)
        self.restart_docker(with_socket=True)


@pytest.fixture(scope="module")
def target(lab_targets: t.Any) -> Target:
    """A Docker host (conftest.py: the DinD image, systemd as PID 1, dockerd answering)."""
    return Target(lab_targets.start("bulwark-it-ddc", IMAGE, docker_host=True).name)


def ansible(target: Target, args: dict[str, t.Any], *flags: str) -> dict[str, t.Any]:
    """Run the module once through the ansible CLI; return the host's result."""
    return t.cast("dict[str, t.Any]", ansible_module(target, "bulwark.hardening.docker_daemon_config", args, *flags))


def test_quartet_check_apply_check_apply(target: Target) -> None:
    target.reset()
    original, original_mtime = target.read(), target.mtime()

    # 1. check: predicts the change, touches nothing
    result = ansible(target, {"settings": SETTINGS}, "--check", "--diff")
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["changed_keys"] == ["icc", "live-restore", "no-new-privileges"]
    assert result["diff"]["before"] == {"icc": True}
    assert result["diff"]["after"] == SETTINGS
    assert result["config"] == {**UNMANAGED, **SETTINGS}
    assert result["validated_with"] == "schema"  # Debian's dockerd 20.10 has no --validate
    assert result["conflicts"] == []
    assert (target.read(), target.mtime()) == (original, original_mtime)
    assert not [name for name in target.files() if "daemon.json" in name and name != "daemon.json"]

    # 2. apply: writes the canonical file, keeps unmanaged keys, makes a backup
    result = ansible(target, {"settings": SETTINGS}, "--diff")
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["diff"]["before"] == {"icc": True}
    assert result["diff"]["after"] == SETTINGS
    assert result["item_status"] == {"icc": "changed", "live-restore": "changed", "no-new-privileges": "changed"}
    written = target.read()
    assert written == (json.dumps({**UNMANAGED, **SETTINGS}, indent=2, sort_keys=True) + "\n").encode()
    assert target.read(result["backup_file"]) == original
    assert target.exec("stat", "-c", "%a %U:%G", DAEMON_JSON).stdout.decode().strip() == "644 root:root"
    written_mtime = target.mtime()

    # 3. check again: nothing to do
    result = ansible(target, {"settings": SETTINGS}, "--check", "--diff")
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"] == SETTINGS
    assert result["item_status"] == {"icc": "ok", "live-restore": "ok", "no-new-privileges": "ok"}

    # 4. apply again: nothing written, no new backup
    files = target.files()
    result = ansible(target, {"settings": SETTINGS}, "--diff")
    assert result["changed"] is False
    assert "backup_file" not in result
    assert (target.read(), target.mtime(), target.files()) == (written, written_mtime, files)

    # dockerd accepts the file and applies it
    target.restart_docker()
    info = target.exec("docker", "info", "--format", "{{json .}}").stdout
    assert json.loads(info)["LiveRestoreEnabled"] is True
    bridge = json.loads(target.exec("docker", "network", "inspect", "bridge").stdout)[0]
    assert bridge["Options"]["com.docker.network.bridge.enable_icc"] == "false"


def test_malformed_file_is_left_unchanged(target: Target) -> None:
    target.reset()
    broken = b'{\n  "icc": true\n  "debug": false\n}\n'
    target.write(broken)
    mtime = target.mtime()
    result = ansible(target, {"settings": {"icc": False}})
    assert result.get("failed") is True
    assert result["msg"] == (
        "daemon.json at /etc/docker/daemon.json is not valid JSON (line 3, column 3); nothing was changed."
    )
    assert (target.read(), target.mtime()) == (broken, mtime)
    assert not [name for name in target.files() if name.startswith("daemon.json.")]  # no backup either


def test_hosts_conflicts_with_packaged_unit(target: Target) -> None:
    target.reset()
    original, mtime = target.read(), target.mtime()
    hosts = {"hosts": ["fd://", "unix:///var/run/docker.sock"]}

    result = ansible(target, {"settings": hosts}, "--check")
    assert result.get("failed") is True
    assert [(c["key"], c["flag"], c["source"], c["via"]) for c in result["conflicts"]] == [
        ("hosts", "-H fd://", PACKAGED_UNIT, "ExecStart")
    ]
    assert "moby/moby#25471" in result["msg"]
    assert "'ExecStart=/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS'" in result["msg"]
    result = ansible(target, {"settings": hosts})
    assert result.get("failed") is True
    assert (target.read(), target.mtime()) == (original, mtime)

    # The fix the message gives: a drop-in that clears ExecStart and starts dockerd without -H.
    exec_start = b"/usr/sbin/dockerd --containerd=/run/containerd/containerd.sock $DOCKER_OPTS"
    target.write(b"[Service]\nExecStart=\nExecStart=" + exec_start + b"\n", DROPIN)
    result = ansible(target, {"settings": hosts})
    assert result.get("failed") is not True, result
    assert (result["changed"], result["conflicts"]) == (True, [])
    target.restart_docker()  # dockerd really starts with hosts in daemon.json now
    info = json.loads(target.exec("docker", "info", "--format", "{{json .}}").stdout)
    assert info["LiveRestoreEnabled"] is False  # the quartet's file was replaced by reset()


def test_unit_flag_conflict_reported_for_unmanaged_key(target: Target) -> None:
    target.reset()
    packaged = target.read("/etc/default/docker") or b""
    target.write(packaged + b'DOCKER_OPTS="--max-concurrent-downloads 2"\n', "/etc/default/docker")
    try:
        result = ansible(target, {"settings": {"icc": False}}, "--check")
        assert result.get("failed") is not True, result
        assert [(c["key"], c["source"], c["via"]) for c in result["conflicts"]] == [
            ("max-concurrent-downloads", "/etc/default/docker", "DOCKER_OPTS")
        ]
        assert any("max-concurrent-downloads" in str(w) for w in result.get("warnings", []))
    finally:
        target.write(packaged, "/etc/default/docker")


def test_verify_running_passes_only_what_the_running_dockerd_has(target: Target) -> None:
    """As asked in the file is not enough: until dockerd restarts, the keys are stale; without a
    dockerd they are not in effect; after the restart they pass, read back from the daemon."""
    target.reset()
    args = {"settings": {**SETTINGS, "log-level": "info"}, "verify_running": True}
    ansible(target, {"settings": args["settings"]})  # written, dockerd not restarted

    result = ansible(target, args, "--check")
    assert result.get("failed") is not True, result
    # log-level was in the file dockerd read at start; the rest is read from the daemon itself.
    assert result["item_status"] == {"icc": "stale", "live-restore": "stale", "log-level": "stale", "no-new-privileges": "stale"}
    assert sorted(result["running"]["stale"]) == sorted(result["item_status"])

    target.restart_docker()
    result = ansible(target, args, "--check")
    assert result["item_status"] == {"icc": "ok", "live-restore": "ok", "log-level": "ok", "no-new-privileges": "ok"}
    assert result["running"]["stale"] == []

    target.exec("systemctl", "stop", "docker.service", "docker.socket")
    try:
        result = ansible(target, args, "--check")
        assert set(result["item_status"].values()) == {"not-in-effect"}, result
        assert result["msg"].startswith("no dockerd answers (docker info: "), result
    finally:
        target.restart_docker(with_socket=True)
