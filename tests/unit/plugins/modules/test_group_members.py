# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process with a fake user and group database.

The host's real /etc/group is never touched here: ``grp``/``pwd`` lookups are answered from the
tables below and ``run_command`` is a recording mock. The real gpasswd runs in
tests/integration/test_group_members.py.
"""

from __future__ import annotations

import grp
import json
import pwd
import typing as t
from unittest import mock

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bulwark.hardening.plugins.modules import group_members

USERS = {"root": (0, 0), "alice": (1000, 1000), "bob": (1001, 1001), "mallory": (1002, 1002), "svc": (999, 999)}


class FakeDb:
    def __init__(self, groups: dict[str, tuple[int, list[str]]]) -> None:
        self.groups = groups

    def getgrnam(self, name: str) -> grp.struct_group:
        if name not in self.groups:
            raise KeyError(name)
        gid, members = self.groups[name]
        return grp.struct_group((name, "x", gid, list(members)))

    @staticmethod
    def _pw(name: str) -> pwd.struct_passwd:
        uid, gid = USERS[name]
        return pwd.struct_passwd((name, "x", uid, gid, "", f"/home/{name}", "/bin/sh"))

    def getpwnam(self, name: str) -> pwd.struct_passwd:
        if name not in USERS:
            raise KeyError(name)
        return self._pw(name)

    def getpwall(self) -> list[pwd.struct_passwd]:
        return [self._pw(name) for name in USERS]


@pytest.fixture
def db(monkeypatch: pytest.MonkeyPatch) -> FakeDb:
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    fake = FakeDb({"docker": (998, ["mallory", "alice"]), "empty": (997, [])})
    monkeypatch.setattr(group_members.grp, "getgrnam", fake.getgrnam)
    monkeypatch.setattr(group_members.pwd, "getpwnam", fake.getpwnam)
    monkeypatch.setattr(group_members.pwd, "getpwall", fake.getpwall)
    return fake


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> mock.MagicMock:
    run_command = mock.MagicMock(return_value=(0, "", ""))
    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(
        AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: f"/usr/sbin/{name}"
    )
    return run_command


def run(args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any]]:
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            group_members.main()
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


def warnings_of(result: dict[str, t.Any]) -> list[str]:
    return [w["event"]["msg"] if isinstance(w, dict) else w for w in result.get("warnings", [])]


def test_check_mode_runs_nothing(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run(
        {
            "name": "docker",
            "members": ["alice", "bob"],
            "prune": True,
            "_ansible_check_mode": True,
            "_ansible_diff": True,
        },
        capsys,
    )
    assert rc == 0, result
    commands.assert_not_called()
    assert result["changed"] is True
    assert (result["added"], result["removed"], result["extra"], result["members"]) == (
        ["bob"],
        ["mallory"],
        [],
        ["alice", "bob"],
    )
    assert result["item_status"] == {"alice": "ok", "bob": "changed", "mallory": "changed"}
    assert result["diff"] == {
        "before": {"group": "docker", "members": ["alice", "mallory"]},
        "after": {"group": "docker", "members": ["alice", "bob"]},
        "before_header": "group docker",
        "after_header": "group docker",
    }


def test_apply_is_one_gpasswd_call(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run({"name": "docker", "members": ["alice", "bob"], "prune": True}, capsys)
    assert rc == 0, result
    commands.assert_called_once_with(["/usr/sbin/gpasswd", "-M", "alice,bob", "docker"])
    assert "diff" not in result


def test_no_prune_adds_and_warns_about_extra(
    db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, result = run({"name": "docker", "members": ["alice", "bob"]}, capsys)
    assert rc == 0, result
    commands.assert_called_once_with(["/usr/sbin/gpasswd", "-M", "mallory,alice,bob", "docker"])
    assert (result["added"], result["removed"], result["extra"]) == (["bob"], [], ["mallory"])
    assert result["item_status"] == {"alice": "ok", "bob": "changed"}
    assert warnings_of(result) == [
        "group 'docker' has members that are not declared and were kept because prune is false: mallory."
    ]


def test_converged_runs_nothing(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run({"name": "docker", "members": ["alice", "mallory"], "prune": True}, capsys)
    assert rc == 0, result
    assert result["changed"] is False
    commands.assert_not_called()
    assert result["item_status"] == {"alice": "ok", "mallory": "ok"}


def test_prune_to_empty(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run({"name": "docker", "members": [], "prune": True}, capsys)
    assert rc == 0, result
    commands.assert_called_once_with(["/usr/sbin/gpasswd", "-M", "", "docker"])
    assert result["members"] == []


def test_unknown_user_fails_before_any_change(
    db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, result = run({"name": "docker", "members": ["alice", "eve"], "prune": True}, capsys)
    assert rc == 1
    commands.assert_not_called()
    assert result["msg"] == (
        "members[1] 'eve' is not a user on this host; create the user first (ansible.builtin.user) or remove it from"
        " members. Nothing was changed in group 'docker'."
    )


def test_missing_group_fails_unless_create(
    db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, result = run({"name": "dockre", "members": ["alice"]}, capsys)
    assert rc == 1
    commands.assert_not_called()
    assert result["msg"] == (
        "name: group 'dockre' does not exist on this host; install the package that creates it, create it with"
        " ansible.builtin.group, or set create: true. Nothing was changed."
    )


def test_create_in_check_mode(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run({"name": "newgrp", "members": ["alice"], "create": True, "_ansible_check_mode": True}, capsys)
    assert rc == 0, result
    commands.assert_not_called()
    assert (result["changed"], result["created"], result["added"]) == (True, True, ["alice"])


def test_create_empty_group(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    rc, result = run({"name": "newgrp", "members": [], "create": True}, capsys)
    assert rc == 0, result
    commands.assert_called_once_with(["/usr/sbin/groupadd", "--system", "newgrp"])
    assert (result["changed"], result["created"]) == (True, True)


def test_primary_group_members_are_reported(
    db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(USERS, "svc", (999, 998))  # primary group: docker
    rc, result = run({"name": "docker", "members": ["alice", "mallory"]}, capsys)
    assert rc == 0, result
    assert warnings_of(result) == [
        "group 'docker' is the primary group of svc; they are in the group although the member list does not name"
        " them, and this module does not change that."
    ]


def test_gpasswd_failure_is_reported(db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]) -> None:
    commands.return_value = (3, "", "gpasswd: group 'docker' does not exist in /etc/group\n")
    rc, result = run({"name": "docker", "members": ["bob"]}, capsys)
    assert rc == 1
    assert result["msg"] == "gpasswd -M on group 'docker' failed: gpasswd: group 'docker' does not exist in /etc/group"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"name": "docker"}, "missing required arguments: members"),
        ({"members": ["alice"]}, "missing required arguments: name"),
        (
            {"name": "docker", "members": ["alice,bob"]},
            "members[0]: 'alice,bob' contains ','; a user name cannot contain commas, colons, whitespace or NUL bytes. Nothing was"
            " changed.",
        ),
        (
            {"name": "docker", "members": ["alice"], "prune": "maybe"},
            "argument 'prune' is of type str and we were unable to convert to bool",
        ),
    ],
)
def test_argument_errors(
    args: dict[str, t.Any], message: str, db: FakeDb, commands: mock.MagicMock, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, result = run(args, capsys)
    assert rc == 1
    commands.assert_not_called()
    assert result["msg"].startswith(message)
