# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The file plumbing, on real files in a scratch directory."""

from __future__ import annotations

import datetime
import os
import stat
from pathlib import Path

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils._io import (
    FileState,
    backup_copy,
    backup_name,
    read_state,
    remove_file,
    write_atomically,
)

WHEN = datetime.datetime(2025, 1, 31, 12, 0, 0, 123456, tzinfo=datetime.timezone.utc)


def test_backup_name() -> None:
    assert backup_name("/etc/kubernetes/manifests/kube-apiserver.yaml", WHEN) == "kube-apiserver.yaml.20250131T120000.123456Z"


def test_write_atomically_keeps_the_mode_of_the_file_it_replaces(tmp_path: Path) -> None:
    target = tmp_path / "manifests" / "kube-scheduler.yaml"
    target.parent.mkdir()
    target.write_text("old")
    target.chmod(0o640)
    write_atomically(str(target), b"new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(target.parent) == ["kube-scheduler.yaml"]  # no staging file left beside it


def test_write_atomically_makes_new_files_0600_and_their_directory_0700(tmp_path: Path) -> None:
    target = tmp_path / "bulwark" / "secret"
    write_atomically(str(target), b"key")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700
    write_atomically(str(target), b"key", mode=0o400)
    assert stat.S_IMODE(target.stat().st_mode) == 0o400


def test_read_state(tmp_path: Path) -> None:
    assert read_state(str(tmp_path / "missing")) == FileState(False)
    (tmp_path / "f").write_bytes(b"x")
    (tmp_path / "f").chmod(0o644)
    state = read_state(str(tmp_path / "f"))
    assert (state.exists, state.content, state.mode) == (True, b"x", 0o644)
    with pytest.raises(IsADirectoryError):
        read_state(str(tmp_path))


def test_backup_copy_never_overwrites(tmp_path: Path) -> None:
    first = backup_copy(str(tmp_path / "backups"), "/etc/k/a.yaml", b"one", WHEN)
    second = backup_copy(str(tmp_path / "backups"), "/etc/k/a.yaml", b"two", WHEN)
    assert (Path(first).name, Path(second).name) == ("a.yaml.20250131T120000.123456Z", "a.yaml.20250131T120000.123456Z.1")
    assert (Path(first).read_bytes(), Path(second).read_bytes()) == (b"one", b"two")
    assert stat.S_IMODE(Path(first).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700


def test_remove_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    remove_file(str(tmp_path / "f"))
    remove_file(str(tmp_path / "f"))
    assert not (tmp_path / "f").exists()


def test_log_tail_reads_the_two_newest_log_files_oldest_first(tmp_path: Path) -> None:
    from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_io import log_tail

    pod = tmp_path / "kube-system_etcd-node_uid" / "etcd"
    pod.mkdir(parents=True)
    for number, mtime in ((0, 100), (1, 200), (2, 300)):
        (pod / f"{number}.log").write_text(f"2026-12-01T00:00:0{number}Z stderr F attempt {number}\n")
        os.utime(pod / f"{number}.log", (mtime, mtime))
    assert log_tail(str(tmp_path / "kube-system_etcd-*" / "etcd" / "*.log"), 5) == [
        f"({pod / '1.log'})", "attempt 1", f"({pod / '2.log'})", "attempt 2",
    ]  # fmt: skip
    assert log_tail(str(tmp_path / "nothing-*.log"), 5) == [f"(no log file matches {tmp_path / 'nothing-*.log'})"]


def test_read_state_refuses_a_fifo_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "target"
    os.mkfifo(fifo)
    with pytest.raises(IsADirectoryError, match="not a regular file"):
        read_state(str(fifo))
