# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The node's side of a static pod rollout: its processes in /proc, its probes over HTTP, its logs
in /var/log/pods, and its files. ``wait_for_pod`` is the gate; ``NodeHost`` is the ``Host`` that
``static_pod_rollout.roll_out`` drives. The decisions stay in ``pod_process`` and
``static_pod_rollout``.
"""

from __future__ import annotations

import glob
import os
import ssl
import time
import typing as t
from urllib.error import HTTPError, URLError

from ansible.module_utils.urls import open_url

from ansible_collections.bulwark.hardening.plugins.module_utils._io import (
    FileState,
    backup_copy,
    remove_file,
    write_atomically,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import (
    PodProcess,
    Stability,
    is_command,
    is_ready_status,
    newest_matching,
    parse_boot_time,
    parse_cmdline,
    parse_stat_start_ticks,
    runs_manifest,
    tail_lines,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_rollout import (
    FileSpec,
    GateRequest,
    GateResult,
)

__all__ = ["KUBELET_PROBE", "NodeHost", "log_tail", "probe", "read_processes", "running_pod", "wait_for_pod"]

POLL_INTERVAL = 0.5
# kubelet's probes present no credentials and verify no certificate.
KUBELET_PROBE: dict[str, t.Any] = {"validate_certs": False}


def read_processes(command: str) -> list[PodProcess]:
    """Every process whose program is COMMAND, with its start time."""
    with open("/proc/stat", encoding="ascii") as handle:
        boot = parse_boot_time(handle.read())
    ticks = os.sysconf("SC_CLK_TCK")
    processes = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = parse_cmdline(handle.read())
            if not is_command(argv, command):
                continue
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                started = boot + parse_stat_start_ticks(handle.read()) / ticks
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # it exited while we looked
        processes.append(PodProcess(int(entry), argv, started))
    return processes


def probe(url: str, tls: t.Mapping[str, t.Any]) -> tuple[bool, str]:
    """(passed, what the endpoint said) for one GET of URL."""
    try:
        # No proxy: a probe goes straight to the pod, as kubelet's does.
        response = open_url(url, timeout=2, use_proxy=False, follow_redirects="none", **tls)
        return is_ready_status(response.status), f"HTTP {response.status}"
    except HTTPError as exc:
        return is_ready_status(exc.code), f"HTTP {exc.code}"
    except (URLError, OSError, ssl.SSLError) as exc:
        return False, str(getattr(exc, "reason", exc))


def log_tail(pattern: str, count: int) -> list[str]:
    """The last COUNT lines of the two newest files matching PATTERN, oldest first, CRI prefixes
    removed, each after a line that names the file. A pod in a crash loop is often restarting when
    the gate gives up, so its newest file may hold only the start of an attempt; the one before holds
    the last words of an attempt that ended."""
    files = sorted(glob.glob(pattern), key=os.path.getmtime)[-2:]
    if not files:
        return [f"(no log file matches {pattern})"]
    lines = []
    for name in files:
        with open(name, encoding="utf-8", errors="replace") as handle:
            lines += [f"({name})"] + tail_lines(handle.read(), count)
    return lines


def running_pod(gate: GateRequest, not_before: float | None = None) -> tuple[PodProcess | None, str | None]:
    """The newest process of GATE's command, and why it is not the one GATE wants - other arguments,
    or started before NOT_BEFORE (the manifest's mtime) - or None when it is."""
    process = newest_matching(read_processes(gate.command), gate.command)
    if process is None:
        return None, f"no {gate.command} process runs"
    return process, runs_manifest(process, gate.args, not_before)


def wait_for_pod(
    gate: GateRequest,
    checks: t.Sequence[tuple[str, t.Mapping[str, t.Any]]] = (),
    log_lines: int = 20,
    clock: t.Callable[[], float] = time.monotonic,
    sleep: t.Callable[[float], None] = time.sleep,
) -> GateResult:
    """Poll until GATE's pod is healthy (see GateRequest), or its timeout passes. CHECKS are more
    (url, TLS settings) that must pass, before its probes."""
    started = clock()
    deadline = started + gate.timeout
    not_before = os.stat(gate.manifest).st_mtime if gate.newer_than_manifest else None
    stability = Stability(gate.stable_for)
    endpoints = [*checks, *((url, KUBELET_PROBE) for url in gate.probe_urls)]
    while True:
        process, reason = running_pod(gate, not_before)
        for url, tls in endpoints:
            if reason is not None:
                break
            passed, answer = probe(url, tls)
            reason = None if passed else f"{url} answered {answer} (pid {t.cast(PodProcess, process).pid})"
        now = clock()
        if stability.observe(now, process.pid if reason is None and process else None):
            return GateResult(True, round(now - started, 2), t.cast(PodProcess, process).pid)
        if now >= deadline:
            break
        sleep(POLL_INTERVAL)
    tail = log_tail(gate.log_glob, log_lines) if gate.log_glob else []
    return GateResult(False, round(clock() - started, 2), None, reason or "not checked", tuple(tail))


class NodeHost:
    """The ``Host`` of a rollout on this node: atomic writes (staged as dot-files, which kubelet
    does not read as manifests), backups in BACKUP_DIR, and the gate."""

    def __init__(self, backup_dir: str, log_lines: int = 20) -> None:
        self.backup_dir = backup_dir
        self.log_lines = log_lines

    def backup(self, path: str, data: bytes) -> str:
        return backup_copy(self.backup_dir, path, data)

    def write_file(self, spec: FileSpec) -> None:
        write_atomically(spec.path, spec.content, spec.mode, spec.uid, spec.gid)

    def restore_file(self, path: str, before: FileState) -> None:
        if before.exists and before.content is not None:
            write_atomically(path, before.content, before.mode, before.uid, before.gid)
        else:
            remove_file(path)

    def replace_manifest(self, path: str, data: bytes) -> None:
        write_atomically(path, data)  # keeps kubeadm's owner and mode

    def wait(self, gate: GateRequest) -> GateResult:
        return wait_for_pod(gate, log_lines=self.log_lines)
