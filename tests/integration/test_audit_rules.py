# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_rules against the real kernel audit subsystem.

The audit subsystem is not namespaced: the kernel takes rules only from its initial PID namespace.
So one target shares the host's PID namespace (with CAP_AUDIT_CONTROL, not --privileged) and its
rules are the host kernel's own: every test uses a key of its own, and the fixture deletes every
rule of that key afterwards. A second, ordinary container shows what a Docker host in a container
gets: the kernel refuses it, and the watches are reported not in effect.
"""

from __future__ import annotations

import typing as t
import uuid

import pytest
from conftest import DIND_IMAGE, LabTarget, LabTargets, image_exists, run_cmd


def _start_plain(targets: LabTargets, prefix: str, *options: str) -> LabTarget:
    """A container of the DinD image (it has auditd's tools) that only sleeps; no systemd needed."""
    if not image_exists(DIND_IMAGE):
        pytest.fail(f"needs the lab image {DIND_IMAGE}: run `make lab` first")
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    targets.names.append(name)
    run_cmd(
        "docker", "run", "--detach", "--pull", "never", "--name", name, "--label", f"org.bulwark.test={targets.label}",
        "--cap-add", "AUDIT_CONTROL", *options, "--entrypoint", "sleep", DIND_IMAGE, "infinity",
    )  # fmt: skip
    return LabTarget(name)


@pytest.fixture(scope="module")
def kernel(lab_targets: LabTargets) -> LabTarget:
    """Shares the host's PID namespace: auditctl here reads and changes the host kernel's rules."""
    target = _start_plain(lab_targets, "bulwark-it-audit-host", "--pid", "host")
    status = target.exec("auditctl", "-s", check=False)
    if status.returncode != 0:
        pytest.fail(f"this kernel has no audit subsystem for the host PID namespace: {status.stderr.decode()}")
    return target


@pytest.fixture
def key(kernel: LabTarget) -> t.Iterator[str]:
    name = f"bulwark-t-{uuid.uuid4().hex[:8]}"
    yield name
    kernel.exec("auditctl", "-D", "-k", name, check=False)


def _kernel_rules(kernel: LabTarget, key: str) -> list[str]:
    listing = kernel.exec("auditctl", "-l").stdout.decode()
    return sorted(line for line in listing.splitlines() if line.endswith(f"-k {key}"))


WATCHES = [
    {"name": "hostname", "path": "/etc/hostname"},
    {"name": "passwd", "path": "/etc/passwd"},
    {"name": "gone", "path": "/nonexistent-bulwark/file"},
]


def _args(key: str, path: str = "/etc/audit/rules.d/bulwark-test.rules", **extra: t.Any) -> dict[str, t.Any]:
    return {"path": path, "key": key, "watches": WATCHES, **extra}


def test_watches_are_loaded_into_the_kernel_and_read_back(kernel: LabTarget, key: str, run_module: t.Any) -> None:
    first = run_module(kernel, "bulwark.hardening.audit_rules", _args(key), "--diff")
    assert first.get("failed") is not True, first
    assert first["changed"] is True
    assert first["item_status"] == {"hostname": "changed", "passwd": "changed", "gone": "absent"}
    assert first["kernel_added"] == ["/etc/hostname", "/etc/passwd"]
    assert _kernel_rules(kernel, key) == [f"-w /etc/hostname -p rwxa -k {key}", f"-w /etc/passwd -p rwxa -k {key}"]
    written = kernel.read("/etc/audit/rules.d/bulwark-test.rules")
    assert written is not None and f"-w /etc/passwd -k {key}\n".encode() in written
    assert kernel.exec("stat", "-c", "%a %U:%G", "/etc/audit/rules.d/bulwark-test.rules").stdout.decode().strip() == "640 root:root"
    assert f"+-w /etc/hostname -k {key}" in first["diff"]["after"] or "-w /etc/hostname" in first["diff"]["after"]

    again = run_module(kernel, "bulwark.hardening.audit_rules", _args(key))
    assert again["changed"] is False
    assert again["item_status"] == {"hostname": "ok", "passwd": "ok", "gone": "absent"}


def test_check_mode_sees_a_watch_the_kernel_lost_and_changes_nothing(
    kernel: LabTarget, key: str, run_module: t.Any
) -> None:
    run_module(kernel, "bulwark.hardening.audit_rules", _args(key))
    kernel.exec("auditctl", "-W", "/etc/passwd", "-p", "rwxa", "-k", key)
    audit = run_module(kernel, "bulwark.hardening.audit_rules", _args(key), "--check")
    assert audit["changed"] is True
    assert audit["item_status"]["passwd"] == "changed" and audit["item_status"]["hostname"] == "ok"
    assert _kernel_rules(kernel, key) == [f"-w /etc/hostname -p rwxa -k {key}"]  # still missing
    fixed = run_module(kernel, "bulwark.hardening.audit_rules", _args(key))
    assert fixed["kernel_added"] == ["/etc/passwd"] and fixed["item_status"]["passwd"] == "changed"
    assert len(_kernel_rules(kernel, key)) == 2


def test_unwanted_watches_of_the_key_go_and_other_keys_stay(kernel: LabTarget, key: str, run_module: t.Any) -> None:
    other = f"{key}-other"
    kernel.exec("auditctl", "-w", "/etc/group", "-p", "wa", "-k", key)
    kernel.exec("auditctl", "-w", "/etc/group", "-p", "wa", "-k", other)
    try:
        result = run_module(kernel, "bulwark.hardening.audit_rules", _args(key))
        assert result["kernel_removed"] == ["/etc/group"]
        assert "/etc/group" not in " ".join(_kernel_rules(kernel, key))
        assert _kernel_rules(kernel, other) == [f"-w /etc/group -p wa -k {other}"]
    finally:
        kernel.exec("auditctl", "-D", "-k", other, check=False)


def test_a_container_outside_the_host_pid_namespace_is_not_in_effect(
    kernel: LabTarget, lab_targets: LabTargets, key: str, run_module: t.Any
) -> None:
    boxed = _start_plain(lab_targets, "bulwark-it-audit-boxed")
    result = run_module(boxed, "bulwark.hardening.audit_rules", _args(key))
    assert result.get("failed") is not True, result
    assert result["changed"] is True  # the file, for a boot where auditd can load it
    assert result["kernel_readable"] is False
    assert set(result["item_status"].values()) == {"not-in-effect"}
    assert "Operation not permitted" in result["msg"] and "PID namespace" in result["msg"]
    assert boxed.read("/etc/audit/rules.d/bulwark-test.rules") is not None
    assert _kernel_rules(kernel, key) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"watches": "/etc/passwd"}, "watches must be a list, not the string '/etc/passwd'"),
        ({"watches": [{"path": "etc/passwd"}]}, "watches[0].path must be an absolute path"),
        ({"watches": [{"path": "/etc/passwd\n-D"}]}, "watches[0].path must be an absolute path"),
        ({"watches": [{"path": "/etc/../etc/passwd"}]}, "must be written plainly"),
        ({"watches": [{"path": "/etc/passwd"}, {"path": "/etc/passwd"}]}, "watch a path once"),
        ({"key": "has space"}, "key must be 1 to 31 letters"),
        ({"path": "/tmp/bulwark-fifo"}, "path: cannot read /tmp/bulwark-fifo: not a regular file"),
    ],
)
def test_bad_input_fails_by_name_and_writes_nothing(
    kernel: LabTarget, key: str, run_module: t.Any, args: dict[str, t.Any], message: str
) -> None:
    kernel.exec("sh", "-c", "rm -f /tmp/bulwark-fifo && mkfifo /tmp/bulwark-fifo")
    target = "/etc/audit/rules.d/bulwark-bad.rules"
    kernel.exec("rm", "-f", target)
    result = run_module(kernel, "bulwark.hardening.audit_rules", {**_args(key, path=target), **args})
    assert result.get("failed") is True
    assert message in result["msg"], result["msg"]
    assert "Traceback" not in str(result) and "MODULE FAILURE" not in str(result)
    assert kernel.read(target) is None
    assert _kernel_rules(kernel, key) == []
