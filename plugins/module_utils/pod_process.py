# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Find the process a static pod runs, and decide whether it runs what its manifest says.

kubelet restarts a static pod some time after its manifest changes; until then the old process
answers health checks. So "the change is live" means: a process of the pod's command, started
after the manifest was written, with exactly the manifest's arguments, and a health endpoint that
says ready. The host I/O (reading /proc, the HTTP request) stays in the module; the decisions are
here.
"""

from __future__ import annotations

import os
import typing as t
from dataclasses import dataclass

# Process start times come from clock ticks since boot plus /proc/stat's btime, which has whole
# seconds: allow that much slack when comparing with a file's mtime.
START_TIME_SLACK = 1.0


@dataclass(frozen=True)
class PodProcess:
    pid: int
    argv: tuple[str, ...]
    started: float  # epoch seconds


def parse_stat_start_ticks(stat: str) -> int:
    """Field 22 (starttime, in clock ticks since boot) of /proc/<pid>/stat.

    The command name (field 2) is in parentheses and may hold spaces or parentheses itself, so
    the fields are counted from the last closing parenthesis.
    """
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])  # field 3 is fields[0]


def parse_boot_time(proc_stat: str) -> float:
    for line in proc_stat.splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime line in /proc/stat")


def parse_cmdline(raw: bytes) -> tuple[str, ...]:
    return tuple(part.decode("utf-8", "replace") for part in raw.split(b"\0") if part)


def is_command(argv: t.Sequence[str], command: str) -> bool:
    """ARGV runs COMMAND: its first word is COMMAND or a path ending in /COMMAND."""
    return bool(argv) and os.path.basename(argv[0]) == command


def newest_matching(processes: t.Iterable[PodProcess], command: str) -> PodProcess | None:
    candidates = [process for process in processes if is_command(process.argv, command)]
    return max(candidates, key=lambda process: process.started, default=None)


def runs_manifest(process: PodProcess, args: t.Sequence[str] | None, not_before: float | None) -> str | None:
    """Why PROCESS is not yet the one the manifest describes, or None when it is.

    ARGS are the manifest's arguments after the command (None: any), NOT_BEFORE the manifest's
    mtime (None: any start time).
    """
    if not_before is not None and process.started + START_TIME_SLACK < not_before:
        return f"pid {process.pid} started before the manifest was written"
    if args is not None and tuple(process.argv[1:]) != tuple(args):
        missing = [arg for arg in args if arg not in process.argv[1:]]
        extra = [arg for arg in process.argv[1:] if arg not in args]
        return f"pid {process.pid} runs other arguments (missing {missing}, not in the manifest {extra})"
    return None


def http_probe_urls(pod: t.Any, container: str, node_ip: str = "127.0.0.1") -> list[str]:
    """URLs of the httpGet liveness and readiness probes of CONTAINER in POD (a parsed manifest).

    As kubelet builds them: scheme (HTTP unless HTTPS), host (the pod IP when empty; for a
    hostNetwork pod that is the node's address, NODE_IP), port (a number, or the name of one of
    the container's ports), path.
    """
    if not isinstance(pod, dict) or not isinstance(pod.get("spec"), dict):
        raise ValueError("not a pod manifest")
    containers = [c for c in pod["spec"].get("containers") or [] if isinstance(c, dict)]
    chosen = [c for c in containers if c.get("name") == container] or containers[:1]
    urls = []
    for kind in ("livenessProbe", "readinessProbe"):
        get = ((chosen[0].get(kind) or {}) if chosen else {}).get("httpGet")
        if not isinstance(get, dict):
            continue
        port = get.get("port")
        if not isinstance(port, int):  # a name: kubeadm's probes use the containerPort "probe-port"
            named = [p.get("containerPort") for p in chosen[0].get("ports") or [] if p.get("name") == port]
            if not named or not isinstance(named[0], int):
                raise ValueError(f"{kind} uses the port {port!r}, which is not a named port of the container")
            port = named[0]
        scheme = str(get.get("scheme") or "HTTP").lower()
        host = get.get("host") or node_ip
        host = f"[{host}]" if ":" in host else host
        path = get.get("path") or "/"
        urls.append(f"{scheme}://{host}:{port}{path if path.startswith('/') else '/' + path}")
    return list(dict.fromkeys(urls))


def is_ready_status(status: int) -> bool:
    """What kubelet counts as a passing HTTP probe."""
    return 200 <= status < 400


def tail_lines(text: str, count: int) -> list[str]:
    """The last COUNT lines, CRI log prefixes (`<time> stdout F `) removed."""
    lines = text.splitlines()[-count:] if count > 0 else []
    return [strip_cri_prefix(line) for line in lines]


def strip_cri_prefix(line: str) -> str:
    parts = line.split(" ", 3)
    if len(parts) == 4 and parts[1] in ("stdout", "stderr") and parts[2] in ("F", "P"):
        return parts[3]
    return line


class Stability:
    """A pod counts as healthy once one process has passed every check for STABLE_FOR seconds:
    one that comes up and is then killed by its liveness probe does not."""

    def __init__(self, stable_for: float) -> None:
        self.stable_for = stable_for
        self.pid: int | None = None
        self.since = 0.0

    def observe(self, now: float, healthy_pid: int | None) -> bool:
        """HEALTHY_PID: the process that passed at NOW, or None when the checks failed."""
        if healthy_pid is None:
            self.pid = None
            return False
        if healthy_pid != self.pid:
            self.pid, self.since = healthy_pid, now
        return now - self.since >= self.stable_for
