# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Whether the running dockerd has the daemon.json keys a task manages, not only the file.

A key that ``docker info`` (or the default bridge network) reports is compared with what the
daemon says. Any other key is in effect only if dockerd started after daemon.json was last
written, as dockerd reads the file when it starts. A key that is as asked in the file but not in
the daemon is ``stale``; with no daemon to ask, ``not-in-effect``. Pure: the module reads the
daemon, this decides.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

__all__ = ["RunningDaemon", "running_item_status"]

_LOOPBACK_REGISTRIES = {"127.0.0.0/8", "::1/128"}


@dataclass(frozen=True)
class RunningDaemon:
    """What the running dockerd reports: ``docker info`` as JSON, the Options of its default bridge
    network, and when it started (seconds since the epoch)."""

    info: t.Mapping[str, t.Any]
    bridge: t.Mapping[str, str]
    started: float


def _security_names(info: t.Mapping[str, t.Any]) -> set[str]:
    """The names in SecurityOptions (``name=seccomp,profile=builtin`` -> ``seccomp``)."""
    names = set()
    for option in info.get("SecurityOptions") or []:
        fields = dict(part.split("=", 1) for part in str(option).split(",") if "=" in part)
        names.add(fields.get("name", str(option)))
    return names


def _insecure_registries(info: t.Mapping[str, t.Any]) -> set[str]:
    config = info.get("RegistryConfig") or {}
    cidrs = set(config.get("InsecureRegistryCIDRs") or []) - _LOOPBACK_REGISTRIES
    names = {name for name, index in (config.get("IndexConfigs") or {}).items() if not (index or {}).get("Secure", True)}
    return cidrs | names


_ICC = {"true": True, "false": False}
# For each key the daemon reports (no-new-privileges is not among them: dockerd 20.10 does not list
# it in SecurityOptions even when it is on): does it run WANTED, the value daemon.json asks for?
_RUNS: dict[str, t.Callable[[t.Any, RunningDaemon], bool]] = {
    "live-restore": lambda wanted, daemon: daemon.info.get("LiveRestoreEnabled") is bool(wanted),
    "log-driver": lambda wanted, daemon: daemon.info.get("LoggingDriver") == wanted,
    "debug": lambda wanted, daemon: daemon.info.get("Debug") is bool(wanted),
    "experimental": lambda wanted, daemon: daemon.info.get("ExperimentalBuild") is bool(wanted),
    "default-runtime": lambda wanted, daemon: daemon.info.get("DefaultRuntime") == wanted,
    "icc": lambda wanted, daemon: _ICC.get(daemon.bridge.get("com.docker.network.bridge.enable_icc", "")) is bool(wanted),
    "userns-remap": lambda wanted, daemon: ("userns" in _security_names(daemon.info)) is bool(wanted),
    "insecure-registries": lambda wanted, daemon: _insecure_registries(daemon.info) == set(wanted or []),
}  # fmt: skip
REPORTED_KEYS = frozenset(_RUNS)


def running_item_status(
    item_status: t.Mapping[str, str],
    settings: t.Mapping[str, t.Any],
    daemon: RunningDaemon | None,
    written: float | None,
) -> dict[str, str]:
    """ITEM_STATUS (key -> ``ok``/``changed``, from the file) with each ``ok`` key checked against
    DAEMON: ``stale`` when it runs something else, ``not-in-effect`` when there is no daemon.
    SETTINGS are the values asked for (a removed key is not among them); WRITTEN is daemon.json's
    modification time, or None when there is no file."""
    status = dict(item_status)
    for key, state in item_status.items():
        if state != "ok":
            continue  # a change is reported as one; the restart that follows makes it live
        if daemon is None:
            status[key] = "not-in-effect"
        elif key in settings and key in _RUNS:
            status[key] = "ok" if _RUNS[key](settings[key], daemon) else "stale"
        elif written is not None and daemon.started < written:
            status[key] = "stale"  # dockerd read the file before it was last written
    return status
