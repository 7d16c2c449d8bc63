# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bad owner, group, mode or path fails before the file is written, with the file as it was."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils.file_args import file_arg_problems
from ansible_collections.bulwark.hardening.plugins.modules import docker_daemon_config, kube_encryption_config

ModuleRunner = t.Callable[..., t.Tuple[int, t.Dict[str, t.Any]]]
BAD = [
    ({"mode": "rwx"}, "mode must be in octal (such as '0600') or symbolic form"),
    ({"mode": "0999"}, "mode must be in octal"),
    ({"mode": 0o17777}, "is outside 0 to 07777"),
    ({"owner": "no-such-user-bulwark"}, "owner: the user 'no-such-user-bulwark' does not exist on the host."),
    ({"group": "no-such-group-bulwark"}, "group: the group 'no-such-group-bulwark' does not exist on the host."),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_daemon_json_is_left_as_it_was(run_module: ModuleRunner, tmp_path: Path, args: dict[str, t.Any], message: str) -> None:
    target = tmp_path / "daemon.json"
    target.write_bytes(b'{"icc": true}\n')
    rc, result = run_module(docker_daemon_config, path=str(target), settings={"icc": False}, **args)
    assert rc == 1 and message in result["msg"], result
    assert target.read_bytes() == b'{"icc": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daemon.json", "remote-tmp"]  # no backup either


@pytest.mark.parametrize(("args", "message"), BAD)
def test_no_key_file_is_made(run_module: ModuleRunner, tmp_path: Path, args: dict[str, t.Any], message: str) -> None:
    target = tmp_path / "enc" / "config.yaml"
    rc, result = run_module(kube_encryption_config, path=str(target), **args)
    assert rc == 1 and message in result["msg"], result
    assert not target.parent.exists()


def test_a_relative_path_is_refused() -> None:
    assert file_arg_problems({"path": "daemon.json"}, lambda u: True, lambda g: True) == [
        "path must be an absolute path, not 'daemon.json'."
    ]


@pytest.mark.parametrize("mode", ["0600", "600", "2750", "u=rw,go=", "a+r", 0o644, None])
def test_good_modes_pass(mode: t.Any) -> None:
    assert file_arg_problems({"mode": mode}, lambda u: True, lambda g: True) == []
