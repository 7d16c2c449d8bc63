# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The module run in-process against real files in a temporary directory.

Nothing of the module is replaced. Ownership changes need root, so the tests that change an owner
use numeric ids (which need no user database entry) and are skipped when not run as root.
"""

from __future__ import annotations

import json
import os
import stat
import typing as t
from pathlib import Path

import pytest

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.bulwark.hardening.plugins.modules import path_permissions

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="changing an owner needs root")
# ids that no test machine is expected to use; numeric ids work without a passwd entry
UID, GID = 4242, 4343


def snapshot(root: Path) -> dict[str, tuple[int, int, int, int]]:
    """(mode, uid, gid, ctime) of everything under root: ctime moves on any chmod or chown."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames, "."]:
            path = os.path.normpath(os.path.join(dirpath, name))
            st = os.lstat(path)
            out[path] = (st.st_mode, st.st_uid, st.st_gid, st.st_ctime_ns)
    return out


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(ansible_warnings, "_global_warnings", {})
    (tmp_path / "remote-tmp").mkdir()
    etc = tmp_path / "etc" / "docker"
    etc.mkdir(parents=True)
    etc.chmod(0o775)
    (etc / "daemon.json").write_text("{}\n")
    (etc / "daemon.json").chmod(0o666)
    (etc / "strict.json").write_text("{}\n")
    (etc / "strict.json").chmod(0o600)
    units = tmp_path / "lib" / "systemd"
    units.mkdir(parents=True)
    (units / "docker.service").write_text("[Unit]\n")
    (units / "docker.service").chmod(0o664)
    (tmp_path / "docker.service").symlink_to(units / "docker.service")
    (tmp_path / "dangling.service").symlink_to(tmp_path / "nowhere")
    certs = etc / "certs.d" / "registry:5000"
    certs.mkdir(parents=True)
    (etc / "certs.d").chmod(0o777)
    certs.chmod(0o700)
    (certs / "ca.crt").write_text("cert\n")
    (certs / "ca.crt").chmod(0o644)
    (certs / "link").symlink_to(etc / "daemon.json")
    return tmp_path


def run(tree: Path, capsys: pytest.CaptureFixture[str], **args: t.Any) -> tuple[int, dict[str, t.Any]]:
    args.setdefault("_ansible_remote_tmp", str(tree / "remote-tmp"))
    args.setdefault("_ansible_keep_remote_files", False)
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exc:
            path_permissions.main()
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


def entries(tree: Path) -> list[dict[str, t.Any]]:
    return [
        {"path": str(tree / "etc/docker"), "mode": "0755", "mode_max": True, "state": "required"},
        {"path": str(tree / "etc/docker/daemon.json"), "mode": "0644", "mode_max": True},
        {"path": str(tree / "etc/docker/strict.json"), "mode": "0644", "mode_max": True},
        {"path": str(tree / "docker.service"), "mode": "0644"},
        {"path": str(tree / "etc/default/docker"), "mode": "0644"},
    ]


def test_check_mode_changes_nothing(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = snapshot(tree)
    rc, result = run(tree, capsys, paths=entries(tree), _ansible_check_mode=True, _ansible_diff=True)
    assert rc == 0, result
    assert snapshot(tree) == before
    assert result["changed"] is True
    assert list(result["item_status"].values()) == ["changed", "changed", "ok", "changed", "absent"]
    daemon = str(tree / "etc/docker/daemon.json")
    assert result["diff"]["before"][daemon]["mode"] == "0666"
    assert result["diff"]["after"][daemon]["mode"] == "0644"
    # the symlink was followed: the diff shows the unit file's mode
    assert result["diff"]["after"][str(tree / "docker.service")]["mode"] == "0644"
    assert set(result["diff"]["before"]) == {str(tree / "etc/docker"), daemon, str(tree / "docker.service")}


def test_apply_then_converged(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, first = run(tree, capsys, paths=entries(tree), _ansible_diff=True)
    assert rc == 0, first
    assert first["changed"] is True
    assert mode_of(tree / "etc/docker") == 0o755
    assert mode_of(tree / "etc/docker/daemon.json") == 0o644
    assert mode_of(tree / "etc/docker/strict.json") == 0o600  # more restrictive is kept
    assert mode_of(tree / "lib/systemd/docker.service") == 0o644  # the target, through the symlink
    assert (tree / "docker.service").is_symlink()
    assert not (tree / "etc/default/docker").exists()  # never created
    assert first["paths"][1] == {
        "path": str(tree / "etc/docker/daemon.json"),
        "status": "changed",
        "before": {**first["paths"][1]["before"], "mode": "0666"},
        "after": {**first["paths"][1]["before"], "mode": "0644"},
    }

    converged = snapshot(tree)
    rc, second = run(tree, capsys, paths=entries(tree), _ansible_diff=True)
    assert rc == 0, second
    assert second["changed"] is False
    assert snapshot(tree) == converged
    assert list(second["item_status"].values()) == ["ok", "ok", "ok", "ok", "absent"]
    assert second["diff"] == {"before": {}, "after": {}}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"mode": 420},
            "paths[1].mode: 420 is a number, not a string; quote the mode, such as '0644' (YAML reads an unquoted 0644"
            " as the decimal number 420, and 644 as six hundred and forty-four). Nothing was changed.",
        ),
        (
            {"mode": "u=rw"},
            "paths[1].mode: 'u=rw' is not an octal mode; give three or four octal digits, such as '0644' or '2750'"
            " (symbolic modes such as 'u=rw,go=r' are not supported). Nothing was changed.",
        ),
        (
            {"owner": "no-such-user-bwk"},
            "paths[1].owner: user 'no-such-user-bwk' does not exist on this host. Create it first or fix the name (a"
            " numeric id is used as it is). Nothing was changed.",
        ),
        (
            {"path": "missing", "mode": "0644", "state": "required"},
            "paths[1].path: {tree}/missing does not exist and paths[1].state is 'required'; create it first, or use state"
            " 'present_only' to skip a missing path. Nothing was changed.",
        ),
        (
            {"path": "dangling.service", "mode": "0644", "state": "required"},
            "paths[1].path: {tree}/dangling.service is a symlink to a missing target ({tree}/nowhere) and paths[1].state"
            " is 'required'; create it first, or use state 'present_only' to skip a missing path. Nothing was changed.",
        ),
        (
            {"mode": "0644", "recurse": True},
            "paths[1].recurse: true, but {tree}/etc/docker/strict.json is a file; recurse applies to directories only."
            " Nothing was changed.",
        ),
        (
            {"mode_max": True, "owner": "root"},
            "mode_max is True but all of the following are missing: mode found in paths. Nothing was changed.",
        ),
        ({"recurse": True}, "one of the following is required: owner, group, mode found in paths. Nothing was changed."),
        (
            {"mode": "0644", "state": "gone"},
            "value of state must be one of: present_only, required, got: gone found in paths. Nothing was changed.",
        ),
    ],
)
def test_errors_change_nothing(
    tree: Path, capsys: pytest.CaptureFixture[str], entry: dict[str, t.Any], message: str
) -> None:
    # entry 0 alone would change daemon.json: the failing entry 1 must stop it
    first = {"path": str(tree / "etc/docker/daemon.json"), "mode": "0600"}
    bad = dict(entry)
    bad["path"] = str(tree / bad.get("path", "etc/docker/strict.json"))
    before = snapshot(tree)
    rc, result = run(tree, capsys, paths=[first, bad])
    assert rc == 1
    assert result["msg"] == message.format(tree=tree)
    assert snapshot(tree) == before


def test_recurse(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    certs = tree / "etc/docker/certs.d"
    link_target_mode = mode_of(tree / "etc/docker/daemon.json")
    args = {"paths": [{"path": str(certs), "mode": "0444", "mode_max": True, "recurse": True}], "_ansible_diff": True}
    rc, result = run(tree, capsys, **args)
    assert rc == 0, result
    assert mode_of(certs) == 0o555
    assert mode_of(certs / "registry:5000") == 0o500  # 0700 & 0555: more restrictive is kept
    assert mode_of(certs / "registry:5000/ca.crt") == 0o444
    assert mode_of(tree / "etc/docker/daemon.json") == link_target_mode  # the symlink beneath was not followed
    assert result["paths"][0]["changed_beneath"] == [str(certs / "registry:5000"), str(certs / "registry:5000/ca.crt")]
    assert result["item_status"] == {str(certs): "changed"}
    rc, again = run(tree, capsys, **args)
    assert (rc, again["changed"], again["paths"][0]["changed_beneath"]) == (0, False, [])


def test_follow_false_changes_the_link_not_the_target(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit = tree / "lib/systemd/docker.service"
    rc, result = run(
        tree, capsys, follow=False, paths=[{"path": str(tree / "docker.service"), "group": "0", "mode": "0644"}]
    )
    assert rc == 0, result
    assert mode_of(unit) == 0o664
    assert result["paths"][0]["before"]["mode"] == "0777"
    assert any(
        "is a symlink and follow is false" in (w["event"]["msg"] if isinstance(w, dict) else w)
        for w in result["warnings"]
    )


@needs_root
def test_owner_and_group_by_id(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    daemon = tree / "etc/docker/daemon.json"
    os.chown(daemon, UID, GID)
    daemon.chmod(0o4755)  # after the chown, which would clear it
    rc, result = run(tree, capsys, paths=[{"path": str(daemon), "owner": "0", "group": "0"}], _ansible_check_mode=True)
    assert rc == 0, result
    assert (daemon.stat().st_uid, daemon.stat().st_gid) == (UID, GID)
    assert result["paths"][0]["before"] == {"owner": str(UID), "group": str(GID), "mode": "4755"}
    rc, result = run(tree, capsys, paths=[{"path": str(daemon), "owner": "0", "group": "0"}])
    assert rc == 0, result
    assert (daemon.stat().st_uid, daemon.stat().st_gid) == (0, 0)
    # chown clears setuid; the module puts it back because the entry does not manage the mode
    assert mode_of(daemon) == 0o4755
    assert result["paths"][0]["after"]["mode"] == "4755"


@needs_root
def test_follow_false_sets_the_link_owner(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    link, unit = tree / "docker.service", tree / "lib/systemd/docker.service"
    rc, result = run(tree, capsys, follow=False, paths=[{"path": str(link), "owner": str(UID)}])
    assert rc == 0, result
    assert result["changed"] is True
    assert os.lstat(link).st_uid == UID
    assert unit.stat().st_uid == 0
