# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import (
    PodProcess,
    http_probe_urls,
    is_ready_status,
    newest_matching,
    parse_boot_time,
    parse_cmdline,
    parse_stat_start_ticks,
    runs_manifest,
    strip_cri_prefix,
    tail_lines,
)

APISERVER = ("kube-apiserver", "--advertise-address=10.0.0.5", "--profiling=false")


def test_stat_start_ticks_survive_a_command_name_with_spaces_and_parentheses() -> None:
    rest = " ".join(str(n) for n in range(3, 30))  # field 3 .. 29; field 22 holds 22
    assert parse_stat_start_ticks(f"123 (kube (api) server) {rest}") == 22


def test_boot_time() -> None:
    assert parse_boot_time("cpu  1 2 3\nbtime 1700000000\nprocesses 9\n") == 1700000000.0
    with pytest.raises(ValueError, match="btime"):
        parse_boot_time("cpu 1 2 3\n")


def test_cmdline_splits_on_nul() -> None:
    assert parse_cmdline(b"kube-apiserver\0--a=b\0--c=\xff\0") == ("kube-apiserver", "--a=b", "--c=\ufffd")
    assert parse_cmdline(b"") == ()


def test_newest_matching_picks_the_newest_process_of_the_command() -> None:
    old = PodProcess(10, APISERVER, 100.0)
    new = PodProcess(20, ("/usr/local/bin/kube-apiserver", "--x"), 200.0)
    other = PodProcess(30, ("etcd",), 300.0)
    assert newest_matching([old, new, other], "kube-apiserver") == new
    assert newest_matching([other], "kube-apiserver") is None


@pytest.mark.parametrize(
    ("process", "args", "not_before", "reason"),
    [
        (PodProcess(1, APISERVER, 100.0), APISERVER[1:], 100.5, None),  # within the btime slack
        (PodProcess(1, APISERVER, 100.0), None, None, None),
        (PodProcess(1, APISERVER, 100.0), APISERVER[1:], 102.0, "pid 1 started before the manifest was written"),
        (
            PodProcess(1, APISERVER, 100.0),
            ("--advertise-address=10.0.0.5", "--profiling=true"),
            None,
            "pid 1 runs other arguments (missing ['--profiling=true'], not in the manifest ['--profiling=false'])",
        ),
    ],
)
def test_runs_manifest(process: PodProcess, args: tuple | None, not_before: float | None, reason: str | None) -> None:
    assert runs_manifest(process, args, not_before) == reason


def test_argument_order_counts() -> None:
    reversed_args = tuple(reversed(APISERVER[1:]))
    assert runs_manifest(PodProcess(1, APISERVER, 1.0), reversed_args, None) is not None


@pytest.mark.parametrize(("status", "ready"), [(200, True), (302, True), (399, True), (401, False), (500, False)])
def test_ready_status_is_kubelets(status: int, ready: bool) -> None:
    assert is_ready_status(status) is ready


def kubeadm_pod(**probes: dict) -> dict:
    return {"kind": "Pod", "spec": {"containers": [{"name": "kube-apiserver", **probes}]}}


def test_probe_urls_are_built_as_kubelet_builds_them() -> None:
    pod = kubeadm_pod(
        livenessProbe={"httpGet": {"host": "10.0.0.5", "path": "/livez", "port": 6443, "scheme": "HTTPS"}},
        readinessProbe={"httpGet": {"path": "readyz", "port": 6443, "scheme": "HTTPS"}},
        startupProbe={"httpGet": {"host": "10.0.0.5", "path": "/livez", "port": 6443, "scheme": "HTTPS"}},
    )
    assert http_probe_urls(pod, "kube-apiserver", node_ip="10.0.0.9") == [
        "https://10.0.0.5:6443/livez",
        "https://10.0.0.9:6443/readyz",
    ]


def test_probe_urls_skip_other_probe_kinds_and_bracket_ipv6() -> None:
    pod = kubeadm_pod(
        livenessProbe={"tcpSocket": {"port": 2379}},
        readinessProbe={"httpGet": {"host": "fd00::5", "port": 2381, "path": "/readyz"}},
    )
    assert http_probe_urls(pod, "etcd") == ["http://[fd00::5]:2381/readyz"]


def test_probe_urls_resolve_named_ports_as_kubeadm_writes_them() -> None:
    pod = kubeadm_pod(
        ports=[{"containerPort": 6443, "name": "probe-port", "protocol": "TCP"}],
        livenessProbe={"httpGet": {"host": "10.0.0.5", "path": "/livez", "port": "probe-port", "scheme": "HTTPS"}},
    )
    assert http_probe_urls(pod, "kube-apiserver") == ["https://10.0.0.5:6443/livez"]


def test_probe_urls_reject_unknown_port_names_and_non_pods() -> None:
    with pytest.raises(ValueError, match="port 'probe-port', which is not a named port"):
        http_probe_urls(kubeadm_pod(livenessProbe={"httpGet": {"port": "probe-port"}}), "kube-apiserver")
    with pytest.raises(ValueError, match="not a pod manifest"):
        http_probe_urls(["not", "a", "pod"], "kube-apiserver")


def test_tail_lines_strip_cri_prefixes() -> None:
    log = "\n".join(
        [
            "2026-11-22T10:00:00.000000001Z stderr F I1122 first",
            "2026-11-22T10:00:01.000000001Z stderr F E1122 run.go:72] invalid value",
            "plain line",
        ]
    )
    assert tail_lines(log, 2) == ["E1122 run.go:72] invalid value", "plain line"]
    assert tail_lines(log, 0) == []
    assert strip_cri_prefix("a b c") == "a b c"
