# SPDX-License-Identifier: GPL-3.0-or-later
"""Verify the hardened Docker host from the daemon's own point of view."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

EXPECTED_SETTINGS = {
    "icc": False,
    "log-level": "info",
    "iptables": True,
    "insecure-registries": [],
    "log-driver": "journald",
    "no-new-privileges": True,
    "live-restore": True,
    "userland-proxy": False,
    "experimental": False,
}


@pytest.fixture(scope="module")
def daemon_json(host):
    return json.loads(host.file("/etc/docker/daemon.json").content_string)


@pytest.fixture(scope="module")
def docker_info(host):
    return json.loads(host.check_output("docker info --format '{{json .}}'"))


@pytest.mark.parametrize(("key", "value"), sorted(EXPECTED_SETTINGS.items()))
def test_daemon_json_has_the_secure_setting(daemon_json, key, value):
    assert daemon_json[key] == value


def test_unmanaged_user_setting_is_kept(daemon_json):
    assert daemon_json["max-concurrent-downloads"] == 4


def test_overrides_that_weaken_defaults_are_absent(daemon_json):
    assert "cgroup-parent" not in daemon_json
    assert "seccomp-profile" not in daemon_json


def test_daemon_json_is_root_owned_0644(host):
    # prepare.yml left it 0666: the role takes away what the benchmark forbids.
    f = host.file("/etc/docker/daemon.json")
    assert (f.user, f.group, f.mode) == ("root", "root", 0o644)


def test_a_backup_of_the_users_file_was_kept(host):
    backups = host.check_output("ls /etc/docker").split()
    assert any(name.startswith("daemon.json.") and name != "daemon.json" for name in backups), backups


def test_running_daemon_applies_the_settings(docker_info):
    assert docker_info["LiveRestoreEnabled"] is True
    assert docker_info["LoggingDriver"] == "journald"
    assert docker_info["Driver"]  # the daemon answered with a storage driver: it is up
    security = " ".join(docker_info["SecurityOptions"])
    assert "name=seccomp,profile=default" in security


def test_bridge_icc_is_disabled(host):
    options = json.loads(host.check_output("docker network inspect bridge --format '{{json .Options}}'"))
    assert options["com.docker.network.bridge.enable_icc"] == "false"


def test_containers_cannot_gain_new_privileges(host):
    status = host.check_output("docker run --rm bwk-tiny /usr/bin/cat /proc/self/status")
    assert "NoNewPrivs:\t1" in status


def test_docker_socket_is_root_docker_0660(host):
    sock = host.file("/run/docker.sock")
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("root", "docker", 0o660)


def test_docker_group_has_exactly_the_declared_members(host):
    # prepare.yml put mallory in the group; the scenario declares alice only and prunes.
    assert host.group("docker").members == ["alice"]


def test_daemon_listens_on_tls_and_the_socket(daemon_json):
    assert daemon_json["hosts"] == ["fd://", "tcp://0.0.0.0:2376"]
    assert daemon_json["tlsverify"] is True


def test_server_key_is_root_only(host):
    key = host.file("/etc/docker/certs/server-key.pem")
    assert (key.user, key.group, key.mode) == ("root", "root", 0o400)
    for name in ("ca.pem", "server-cert.pem"):
        cert = host.file(f"/etc/docker/certs/{name}")
        assert (cert.user, cert.mode) == ("root", 0o444)


def test_audit_rules_watch_docker_files(host):
    rules = host.file("/etc/audit/rules.d/bulwark-docker.rules").content_string
    for path in ("/usr/sbin/dockerd", "/var/lib/docker", "/etc/docker", "/etc/docker/daemon.json", "/usr/sbin/runc"):
        assert f"-w {path} -k docker\n" in rules


AUDIT_CONTROLS = {f"CIS-Docker 1.1.{n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18)}


def test_the_report_waives_only_what_the_scenario_waives():
    """The converged run's report: the one control waived is the one the defaults turn off, and the only
    failures are the audit watches, which this container (outside the host's PID namespace) cannot load."""
    report = json.loads(Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "bulwark-report.json").read_text())
    for data in report["hosts"].values():
        waived = {row["id"]: row["waiver"]["reason"] for row in data["controls"] if row["status"] == "waived"}
        assert waived == {"CIS-Docker 2.9": "turned off by docker_daemon_userns_remap"}
        failing = {row["id"]: row["msg"] for row in data["controls"] if row["status"] in ("fail", "not-checked")}
        assert set(failing) == AUDIT_CONTROLS
        assert all("is not in effect on the live system" in msg and "PID namespace" in msg for msg in failing.values())
