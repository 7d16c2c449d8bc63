# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The host_firewall role over a real ssh control connection, and its failure paths.

The target is a ``bulwark-lab/base`` container with systemd as PID 1 and its own network
namespace (NET_ADMIN, SYS_ADMIN), with openssh-server installed from the Debian mirror when the
module starts (about 5 s). The controller reaches it over ssh on the default Docker bridge, so the
firewall sees the control connection, and can cut it. No mocks. The cases, from issue 4:

- a policy that cuts the control connection: the host rolls back by itself within the timeout,
  the controller reaches it again, and the play fails with a clear message;
- a bad CIDR or port: an error before anything on the host changes;
- nft missing on the target: a clear error, nothing changed and no rollback armed;
- the rollback mechanism without systemd (a detached process), armed and left alone.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import typing as t
import uuid
from pathlib import Path

import pytest

from conftest import (  # type: ignore[import-not-found]
    BASE_IMAGE,
    PlaybookRun,
    _ansible_playbook_binary,
    ansible_env,
    image_exists,
    run_cmd,
    wait_for,
)

ROLE_DIR = Path(__file__).resolve().parents[2] / "roles" / "host_firewall"
ROLLBACK_TIMEOUT = 10  # the role's minimum: the lockout test waits for it
PLAYBOOK = """\
- name: Apply the host firewall
  hosts: all
  gather_facts: false
  tasks:
    - name: Apply the host_firewall role
      ansible.builtin.include_role:
        name: bulwark.hardening.host_firewall
"""
TABLE = "nft list table inet bulwark"


def short(name: str) -> str:
    return name.split(" : ", 1)[-1].split(" | ", 1)[0]


class SshTarget:
    def __init__(self, name: str, ip: str, workdir: Path, key: Path) -> None:
        self.name, self.ip, self.workdir, self.key = name, ip, workdir, key

    def sh(self, script: str, check: bool = True) -> str:
        return run_cmd("docker", "exec", "-i", self.name, "sh", "-euc", script, check=check).stdout.decode().strip()

    def table(self) -> str | None:
        proc = run_cmd("docker", "exec", self.name, "sh", "-c", TABLE, check=False)
        return (
            re.sub(r"counter packets \d+ bytes \d+", "counter", proc.stdout.decode()) if proc.returncode == 0 else None
        )

    def ssh_ok(self) -> bool:
        proc = subprocess.run(
            ["ssh", "-i", str(self.key), "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
             "-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=2", f"root@{self.ip}", "true"],
            capture_output=True, timeout=20, check=False,
        )  # fmt: skip
        return proc.returncode == 0

    def play(self, extra_vars: dict[str, t.Any]) -> PlaybookRun:
        playbook = self.workdir / "play.yml"
        playbook.write_text(PLAYBOOK)
        inventory = self.workdir / "inventory.ini"
        inventory.write_text(
            f"{self.name} ansible_host={self.ip} ansible_user=root ansible_connection=ssh"
            f" ansible_ssh_private_key_file={self.key} ansible_python_interpreter=/usr/bin/python3"
            " ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'\n"
        )
        cmd = [_ansible_playbook_binary(), "-i", str(inventory), str(playbook), "--extra-vars", json.dumps(extra_vars)]
        started = time.monotonic()
        env = ansible_env(ANSIBLE_HOST_KEY_CHECKING="False", ANSIBLE_TIMEOUT="5")
        proc = subprocess.run(cmd, capture_output=True, env=env, timeout=300, check=False)
        return PlaybookRun(cmd, proc, time.monotonic() - started)


@pytest.fixture(scope="module")
def target(lab_targets: t.Any, tmp_path_factory: pytest.TempPathFactory) -> t.Iterator[SshTarget]:
    if not image_exists(BASE_IMAGE):
        pytest.fail(f"needs the docker CLI and the lab image {BASE_IMAGE}: run `make lab` first")
    workdir = tmp_path_factory.mktemp("host_firewall")
    key = workdir / "id_ed25519"
    run_cmd("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    name = f"bulwark-it-fw-{uuid.uuid4().hex[:8]}"
    lab_targets.names.append(name)  # removed by the conftest fixture
    run_cmd(
        "docker", "run", "--detach", "--pull", "never", "--name", name, "--hostname", name,
        "--label", f"org.bulwark.test={__name__}", "--stop-signal", "SIGRTMIN+3",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW", "--cap-add", "SYS_ADMIN",
        BASE_IMAGE, "/lib/systemd/systemd",
    )  # fmt: skip

    def booted() -> bool:
        proc = run_cmd("docker", "exec", name, "systemctl", "is-system-running", check=False)
        return proc.stdout.decode().strip() in ("running", "degraded")

    wait_for(booted, f"systemd in {name}")
    install = run_cmd(
        "docker", "exec", "-e", "DEBIAN_FRONTEND=noninteractive", name, "sh", "-c",
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends openssh-server",
        check=False, timeout=300,
    )  # fmt: skip
    if install.returncode != 0:
        pytest.fail(f"cannot install openssh-server from the Debian mirror: {install.stderr.decode()[-300:]}")
    fmt = "{{.NetworkSettings.IPAddress}}"
    ip = run_cmd("docker", "inspect", "-f", fmt, name).stdout.decode().strip()
    box = SshTarget(name, ip, workdir, key)
    run_cmd("docker", "exec", "-i", name, "sh", "-c",
            "mkdir -p -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys && systemctl restart ssh",
            stdin=key.with_suffix(".pub").read_bytes())  # fmt: skip
    wait_for(box.ssh_ok, f"ssh to {name} at {ip}", timeout=30)
    yield box


@pytest.fixture(scope="module")
def converged(target: SshTarget) -> str:
    """Converge over ssh with the secure defaults: only the control connection keeps ssh."""
    run = target.play({"host_firewall_rollback_timeout": 20})
    assert run.rc == 0, run
    table = target.table()
    assert table is not None
    return table


def test_converges_over_ssh_and_keeps_the_control_source(target: SshTarget, converged: str) -> None:
    controller = (
        run_cmd("sh", "-c", "ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1").stdout.decode().strip()
    )
    assert re.search(r"elements = \{ " + re.escape(controller) + r" \}", converged), converged
    assert "policy drop;" in converged
    assert target.ssh_ok()
    assert target.sh("systemctl is-active bulwark-fw-rollback.timer || true") != "active"


def test_converged_run_arms_no_rollback(target: SshTarget, converged: str) -> None:
    run = target.play({"host_firewall_rollback_timeout": 20})
    assert run.rc == 0, run
    assert run.stats(target.name)["changed"] == 0, run.results(target.name)
    ran = {short(name) for name, result in run.results(target.name) if not result.get("skipped")}
    assert "Save the live table and arm the rollback" not in ran
    print(f"\nconverged host_firewall run: {run.seconds:.1f} s")  # shown with pytest -rP


def test_policy_that_cuts_the_control_connection_is_rolled_back(target: SshTarget, converged: str) -> None:
    persisted = target.sh("cat /etc/bulwark/nftables.nft")
    run = target.play({
        "host_firewall_keep_control_source": False,
        "host_firewall_admin_networks": ["192.0.2.0/24"],  # not the controller
        "host_firewall_rollback_timeout": ROLLBACK_TIMEOUT,
    })  # fmt: skip
    assert run.rc != 0, run
    failures = run.failures(target.name)
    final = [msg for name, msg in failures if short(name) == "Fail with what happened to the firewall"]
    assert final, failures
    assert "cut the controller off" in final[0], final[0]
    assert f"restored the previous table by itself after {ROLLBACK_TIMEOUT} s" in final[0], final[0]
    assert "host_firewall_admin_networks" in final[0]
    # The host came back within the timeout and some slack, with the previous table, and
    # nothing of the refused policy was persisted.
    assert run.seconds < ROLLBACK_TIMEOUT + 40, run.seconds
    assert target.ssh_ok()
    print(f"\nlockout play: failed and access restored in {run.seconds:.1f} s (rollback timeout {ROLLBACK_TIMEOUT} s)")
    assert target.table() == converged
    assert target.sh("cat /etc/bulwark/nftables.nft") == persisted


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"host_firewall_allow": [{"ports": [8080], "sources": ["10.0.0.1/8"]}]}, "has host bits set"),
        ({"host_firewall_allow_workers": [{"ports": [70000]}]}, "out of range; ports are 1 to 65535"),
        ({"host_firewall_admin_networks": ["10.0.0.0/33"]}, "is not an IPv4 or IPv6 network"),
        # A trailing newline passed the $-anchored check and loaded a log rule without a limit.
        ({"host_firewall_log_rate": "5/minute\n"}, "host_firewall_log_rate"),
    ],
    ids=["bad-cidr", "bad-port-in-a-layer", "bad-admin-network", "log-rate-with-newline"],
)
def test_bad_input_fails_before_any_change(
    target: SshTarget, converged: str, extra: dict[str, t.Any], message: str
) -> None:
    run = target.play({"host_firewall_rollback_timeout": 20, **extra})
    assert run.rc != 0, run
    # The loop's item names the variable; its message names the entry and what is allowed.
    failed = [
        (item.get("item", {}).get("key"), str(item.get("msg", "")))
        for _name, result in run.results(target.name)
        if result.get("failed")
        for item in result.get("results", [result])
        if item.get("failed")
    ]
    assert any(message in msg for _key, msg in failed), failed
    assert all(key in extra for key, msg in failed if isinstance(key, str)), failed
    ran = {short(name) for name, result in run.results(target.name) if not result.get("skipped")}
    assert "Read the source address of the control connection" not in ran, ran  # no task reached the host
    assert target.table() == converged


def test_nft_missing_is_a_clear_error(target: SshTarget, converged: str) -> None:
    target.sh("mv /usr/sbin/nft /usr/sbin/nft.hidden")
    try:
        run = target.play({"host_firewall_allow": [{"ports": [8080]}], "host_firewall_rollback_timeout": 20})
    finally:
        target.sh("mv /usr/sbin/nft.hidden /usr/sbin/nft")
    assert run.rc != 0, run
    failures = run.failures(target.name)
    assert any("nft (package nftables) is not installed" in msg for _name, msg in failures), failures
    assert target.table() == converged
    assert target.sh("systemctl is-active bulwark-fw-rollback.timer || true") != "active"


def test_detached_rollback_restores_the_table_without_systemd(lab_targets: t.Any) -> None:
    """Where systemd is not PID 1 the rollback is a detached process; armed and not disarmed, it fires."""
    name = f"bulwark-it-fw-plain-{uuid.uuid4().hex[:8]}"
    lab_targets.names.append(name)
    run_cmd("docker", "run", "--detach", "--pull", "never", "--name", name, "--cap-add", "NET_ADMIN",
            "--label", f"org.bulwark.test={__name__}", BASE_IMAGE, "sleep", "infinity")  # fmt: skip
    script = (ROLE_DIR / "files" / "rollback.sh").read_bytes()
    run_cmd("docker", "exec", "-i", name, "sh", "-c", "cat > /tmp/rollback.sh", stdin=script)

    def sh(cmd: str) -> str:
        return run_cmd("docker", "exec", name, "sh", "-euc", cmd).stdout.decode().strip()

    sh(
        "nft 'add table inet bulwark; add chain inet bulwark input { type filter hook input priority 0; policy accept; }'"
    )
    before = sh(TABLE)
    armed = sh("sh /tmp/rollback.sh arm /run/bwk-fw bulwark 3 bwk-test")
    assert armed.startswith("armed (detached)"), armed
    sh("nft 'delete table inet bulwark; add table inet bulwark; add chain inet bulwark input"
       " { type filter hook input priority 0; policy drop; }'")  # fmt: skip
    assert sh(TABLE) != before
    wait_for(lambda: sh(TABLE) == before, "the detached rollback", timeout=10)
    assert sh("sh /tmp/rollback.sh disarm /run/bwk-fw bulwark 0 bwk-test").startswith("fired")
    # Armed and disarmed in time: nothing fires.
    sh("sh /tmp/rollback.sh arm /run/bwk-fw bulwark 3 bwk-test")
    assert sh("sh /tmp/rollback.sh disarm /run/bwk-fw bulwark 0 bwk-test") == "disarmed"
    sh("nft delete table inet bulwark")
    time.sleep(4)
    assert run_cmd("docker", "exec", name, "sh", "-c", TABLE, check=False).returncode != 0
