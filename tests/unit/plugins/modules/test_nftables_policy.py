# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process, for control flow only: nft and unshare are a recording fake of
``run_command`` that answers like nft 1.0.6 (a missing table, an empty listing). What nft really
does with the table is tested in tests/integration/test_nftables_policy.py."""

from __future__ import annotations

import json
import os
import typing as t
from unittest import mock

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bulwark.hardening.plugins.modules import nftables_policy

POLICY = {"input": {"allow": [{"service": "ssh", "sources": ["10.0.0.0/8"]}]}}
WANTED = {
    "nftables": [
        {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
        {"table": {"family": "inet", "name": "bulwark", "handle": 1}},
        {"chain": {"family": "inet", "table": "bulwark", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
    ]
}


def run(args: dict[str, t.Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, t.Any]]:
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            nftables_policy.main()
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


def fake_nft(cmd: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
    if cmd[0] == "/usr/bin/unshare":
        marker = cmd[-1]
        return 0, json.dumps(WANTED) + f"\n{marker}\ntable inet bulwark {{\n}}\n", ""
    if cmd[1:3] == ["-j", "list"] or cmd[1] == "list":
        return 1, "", "Error: No such file or directory\nlist table inet bulwark\n                 ^^^^^^^\n"
    return 0, "", ""


@pytest.fixture
def commands(monkeypatch: pytest.MonkeyPatch) -> mock.MagicMock:
    run_command = mock.MagicMock(side_effect=fake_nft)
    monkeypatch.setattr(AnsibleModule, "run_command", lambda self, cmd, **kw: run_command(cmd, **kw))
    monkeypatch.setattr(
        AnsibleModule,
        "get_bin_path",
        lambda self, name, required=False, opt_dirs=None: {"nft": "/usr/sbin/nft", "unshare": "/usr/bin/unshare"}.get(name),
    )
    return run_command


def test_missing_nft_fails_before_anything(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: t.Any) -> None:
    run_command = mock.MagicMock()
    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, required=False, opt_dirs=None: None)
    persist = tmp_path / "nftables.nft"
    rc, result = run({"policy": POLICY, "persist_path": str(persist)}, capsys)
    assert rc == 1
    assert result["msg"] == (
        "nft (package nftables) is not installed on the host; install it (for example with ansible.builtin.package"
        " name=nftables) or do not apply the firewall policy to this host. Nothing was changed."
    )
    run_command.assert_not_called()
    assert not persist.exists()


def test_bad_policy_fails_before_nft(commands: mock.MagicMock, capsys: pytest.CaptureFixture[str], tmp_path: t.Any) -> None:
    policy = {"input": {"allow": [{"service": "ssh"}, {"ports": [22], "sources": ["10.0.0.0/8", "10.0.0.300/8"]}]}}
    rc, result = run({"policy": policy, "persist_path": str(tmp_path / "f")}, capsys)
    assert rc == 1
    assert result["msg"].startswith("policy.input.allow[1].sources[1]: '10.0.0.300/8' is not an IPv4 or IPv6 network")
    commands.assert_not_called()


def test_check_mode_writes_nothing(commands: mock.MagicMock, capsys: pytest.CaptureFixture[str], tmp_path: t.Any) -> None:
    persist = tmp_path / "etc" / "bulwark" / "nftables.nft"
    args = {"policy": POLICY, "persist_path": str(persist), "_ansible_check_mode": True, "_ansible_diff": True}
    rc, result = run(args, capsys)
    assert rc == 0, result
    assert result["changed"] is True
    assert result["item_status"] == {"input": "changed", "forward": "ok", "persist": "changed"}
    assert result["diff"]["before"] == ""
    assert result["diff"]["after"] == "table inet bulwark {\n}\n"
    assert "tcp dport @in_0_ports ip saddr @in_0_v4 accept" in result["rendered"]
    # Only checks and listings ran: nft -c, nft -j list, the scratch namespace. No nft -f.
    calls = [c.args[0] for c in commands.call_args_list]
    assert [c[1:3] for c in calls if c[0] == "/usr/sbin/nft"] == [["-c", "-f"], ["-j", "list"]]
    assert [c[:3] for c in calls if c[0] != "/usr/sbin/nft"] == [["/usr/bin/unshare", "--net", "--"]]
    assert not persist.exists() and not persist.parent.exists()


def test_nft_check_rejection_fails_and_applies_nothing(
    commands: mock.MagicMock, capsys: pytest.CaptureFixture[str], tmp_path: t.Any
) -> None:
    def reject(cmd: list[str], **kwargs: t.Any) -> tuple[int, str, str]:
        if cmd[1] == "-c":
            return 1, "", f"{cmd[-1]}:2:12-18: Error: syntax error, unexpected counter, expecting string\n"
        return fake_nft(cmd, **kwargs)

    commands.side_effect = reject
    rc, result = run({"policy": POLICY, "persist_path": str(tmp_path / "f")}, capsys)
    assert rc == 1
    assert result["msg"] == (
        "nft -c rejected the rendered table inet bulwark; nothing was applied:\n"
        "<rendered>:2:12-18: Error: syntax error, unexpected counter, expecting string"
    )
    assert len(commands.call_args_list) == 1
    assert not (tmp_path / "f").exists()


def test_apply_loads_and_persists(commands: mock.MagicMock, capsys: pytest.CaptureFixture[str], tmp_path: t.Any) -> None:
    if os.geteuid() != 0:
        pytest.skip("writes the file owned by root")
    persist = tmp_path / "nftables.nft"
    rc, result = run({"policy": POLICY, "persist_path": str(persist)}, capsys)
    assert rc == 0, result
    assert result["changed"] is True and "diff" not in result
    calls = [c.args[0][1:3] for c in commands.call_args_list if c.args[0][0] == "/usr/sbin/nft"]
    assert calls[-1][0] == "-f"
    assert persist.read_text() == result["rendered"]
    assert oct(persist.stat().st_mode & 0o777) == "0o600"
