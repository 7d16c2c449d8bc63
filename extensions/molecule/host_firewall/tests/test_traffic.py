# SPDX-License-Identifier: GPL-3.0-or-later
"""Real traffic from two clients on the scenario's private network to the hardened Docker host.

The target (172.31.247.10) listens on 22, 8080 and 8081, and an inner container publishes 9090
and 9091 (prepare.yml). The policy (molecule.yml group_vars) allows ssh and 8080 from the
"allowed" client (.20) only, and the published 9090 from it only. The "other" client (.30)
reaches nothing. Dropped probes wait for the whole timeout, so it is short (1 s).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import testinfra

TARGET_IP = "172.31.247.10"
TARGET = testinfra.get_host("docker://bulwark-mol-fw-target")
CLIENTS = {
    "allowed": testinfra.get_host("docker://bulwark-mol-fw-allowed"),
    "other": testinfra.get_host("docker://bulwark-mol-fw-other"),
}
# (client, port, reachable)
EXPECTED = [
    ("allowed", 22, True),  # ssh from host_firewall_admin_networks (BWK-2)
    ("allowed", 8080, True),  # host_firewall_allow_docker_hosts (BWK-1)
    ("allowed", 8081, False),  # not allowed from anyone (BWK-1)
    ("allowed", 9090, True),  # published, host_firewall_published_docker_hosts (BWK-3)
    ("allowed", 9091, False),  # published, not allowed (BWK-3)
    ("other", 22, False),
    ("other", 8080, False),
    ("other", 8081, False),
    ("other", 9090, False),
    ("other", 9091, False),
]


def reachable(client: str, port: int) -> bool:
    probe = CLIENTS[client].run(f"timeout 1 bash -c 'echo > /dev/tcp/{TARGET_IP}/{port}'")
    return probe.rc == 0


def table_text() -> str:
    """Our table as nft lists it, without counter values."""
    text = TARGET.check_output("nft list table inet bulwark")
    return re.sub(r"counter packets \d+ bytes \d+", "counter", text)


def assert_traffic() -> None:
    seen = [(client, port, reachable(client, port)) for client, port, _expected in EXPECTED]
    assert seen == EXPECTED


def test_the_listeners_run_on_the_target():
    # Without them every "closed" below would prove nothing.
    for port in (22, 8080, 8081, 9090, 9091):
        assert TARGET.run(f"timeout 2 bash -c 'echo > /dev/tcp/127.0.0.1/{port}'").rc == 0, port


@pytest.mark.parametrize(("client", "port", "expected"), EXPECTED, ids=[f"{c}-{p}" for c, p, _expected in EXPECTED])
def test_port_is_reachable_only_from_allowed_sources(client, port, expected):
    assert reachable(client, port) is expected


def test_input_drops_by_default_and_logs_drops():
    text = table_text()
    assert "type filter hook input priority filter; policy drop;" in text
    assert 'limit rate 5/minute log prefix "bulwark drop: "' in text
    assert "type filter hook forward priority filter - 10; policy accept;" in text


def test_docker_keeps_its_own_tables():
    tables = TARGET.check_output("nft list tables").splitlines()
    assert {"table ip nat", "table ip filter", "table inet bulwark"} <= set(tables)
    assert "--dport 9090" in TARGET.check_output("iptables -t nat -S DOCKER")


def test_ruleset_is_persisted_for_boot():
    persisted = TARGET.file("/etc/bulwark/nftables.nft")
    assert (persisted.user, persisted.group, persisted.mode) == ("root", "root", 0o600)
    assert "table inet bulwark {" in persisted.content_string
    assert TARGET.run("systemctl is-enabled bulwark-nftables.service").stdout.strip() == "enabled"
    # The file loads (nft -c checks it against the live ruleset without applying it).
    TARGET.check_output("nft -c -f /etc/bulwark/nftables.nft")


def test_no_rollback_is_left_armed():
    assert TARGET.run("systemctl is-active bulwark-fw-rollback.timer").stdout.strip() != "active"


def test_boot_unit_restores_the_table():
    before = table_text()
    TARGET.check_output("nft delete table inet bulwark")
    TARGET.check_output("systemctl restart bulwark-nftables.service")
    assert table_text() == before


def test_docker_restart_keeps_our_rules_and_docker_keeps_its_own():
    before = table_text()
    TARGET.check_output("systemctl restart docker")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        state = TARGET.run("docker inspect --format '{{json .State.Running}}' web")
        if state.rc == 0 and json.loads(state.stdout) and reachable("allowed", 9090):
            break
        time.sleep(1)
    assert table_text() == before
    assert "--dport 9090" in TARGET.check_output("iptables -t nat -S DOCKER")
    assert_traffic()


def test_the_report_waives_nothing():
    """The scenario turns no control off: the converged run's report waives none and fails none."""
    report = json.loads(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "bulwark-report.json").read_text())
    assert report["hosts"]
    for data in report["hosts"].values():
        assert [row["id"] for row in data["controls"] if row["status"] == "waived"] == []
        assert data["result"] == "pass"
