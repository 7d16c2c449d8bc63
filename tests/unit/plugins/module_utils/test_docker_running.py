# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""running_item_status(): a daemon.json key passes only when the running dockerd has it."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.docker_running import (
    REPORTED_KEYS,
    RunningDaemon,
    running_item_status,
)

# docker info of Debian's dockerd 20.10 with the role's settings in effect (trimmed).
INFO: dict[str, t.Any] = {
    "LiveRestoreEnabled": True,
    "LoggingDriver": "journald",
    "Debug": False,
    "ExperimentalBuild": False,
    "DefaultRuntime": "runc",
    "SecurityOptions": ["name=seccomp,profile=default", "name=no-new-privileges"],
    "RegistryConfig": {
        "InsecureRegistryCIDRs": ["127.0.0.0/8"],
        "IndexConfigs": {"docker.io": {"Name": "docker.io", "Secure": True}},
    },
}
BRIDGE = {"com.docker.network.bridge.enable_icc": "false"}
SETTINGS = {
    "live-restore": True, "log-driver": "journald", "no-new-privileges": True, "icc": False,
    "insecure-registries": [], "experimental": False, "log-level": "info",
}  # fmt: skip
STARTED, WRITTEN = 1_000_000.0, 999_000.0


def daemon(started: float = STARTED, **info: t.Any) -> RunningDaemon:
    return RunningDaemon(info={**INFO, **info}, bridge=BRIDGE, started=started)


def ok(keys: t.Iterable[str]) -> dict[str, str]:
    return {key: "ok" for key in keys}


def test_what_the_daemon_runs_passes() -> None:
    assert running_item_status(ok(SETTINGS), SETTINGS, daemon(), WRITTEN) == ok(SETTINGS)


@pytest.mark.parametrize(
    ("key", "info", "bridge"),
    [
        ("live-restore", {"LiveRestoreEnabled": False}, BRIDGE),
        ("log-driver", {"LoggingDriver": "json-file"}, BRIDGE),
        ("insecure-registries", {"RegistryConfig": {"InsecureRegistryCIDRs": ["127.0.0.0/8", "10.0.0.0/8"]}}, BRIDGE),
        ("icc", {}, {"com.docker.network.bridge.enable_icc": "true"}),
        ("icc", {}, {}),  # no default bridge: nothing says inter-container traffic is off
    ],
)
def test_a_key_docker_info_reports_otherwise_is_stale(key: str, info: dict[str, t.Any], bridge: dict[str, str]) -> None:
    running = RunningDaemon(info={**INFO, **info}, bridge=bridge, started=STARTED)
    status = running_item_status(ok(SETTINGS), SETTINGS, running, WRITTEN)
    assert status == {**ok(SETTINGS), key: "stale"}


def test_a_key_docker_info_does_not_report_is_stale_when_dockerd_is_older_than_the_file() -> None:
    status = running_item_status(ok(SETTINGS), SETTINGS, daemon(started=WRITTEN - 1), WRITTEN)
    # live-restore & co. are read from the daemon itself (dockerd reloads some on SIGHUP).
    assert status == {**ok(SETTINGS), "log-level": "stale", "no-new-privileges": "stale"}
    assert running_item_status({"cgroup-parent": "ok"}, {}, daemon(started=WRITTEN - 1), WRITTEN) == {"cgroup-parent": "stale"}


def test_no_daemon_means_not_in_effect_and_a_change_stays_a_change() -> None:
    status = running_item_status({**ok(SETTINGS), "icc": "changed"}, SETTINGS, None, WRITTEN)
    assert status == {**{key: "not-in-effect" for key in SETTINGS}, "icc": "changed"}


def test_userns_remap_is_read_from_the_security_options() -> None:
    settings = {"userns-remap": "default"}
    assert running_item_status(ok(settings), settings, daemon(), WRITTEN) == {"userns-remap": "stale"}
    remapped = daemon(SecurityOptions=["name=seccomp,profile=default", "name=userns"])
    assert running_item_status(ok(settings), settings, remapped, WRITTEN) == ok(settings)


def test_the_keys_read_from_the_daemon() -> None:
    assert REPORTED_KEYS == {
        "live-restore", "log-driver", "debug", "experimental", "default-runtime", "icc", "userns-remap",
        "insecure-registries",
    }  # fmt: skip
