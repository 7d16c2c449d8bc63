# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""bulwark.hardening.group_members against a real systemd target, with the real gpasswd.

A throwaway ``bulwark-lab/base`` container (Debian 12, systemd as PID 1) is started for this
module and removed at the end (fixtures in conftest.py). Users alice, bob and mallory exist;
the docker group starts with mallory only. No mocks.
"""

from __future__ import annotations

import typing as t

import pytest

MODULE = "bulwark.hardening.group_members"
Run = t.Callable[..., t.Dict[str, t.Any]]


@pytest.fixture(scope="module")
def target(lab_targets: t.Any) -> t.Any:
    box = lab_targets.start("bwk-it-group")
    box.sh("for u in alice bob mallory; do useradd --no-create-home --shell /usr/sbin/nologin $u; done")
    return box


@pytest.fixture
def docker_group(target: t.Any) -> t.Any:
    """A fresh docker group with mallory as its only member."""
    target.sh("groupdel docker 2>/dev/null || true; groupadd --system docker; gpasswd -a mallory docker >/dev/null")
    return target


def members(target: t.Any, group: str = "docker") -> list[str]:
    line = target.sh(f"getent group {group}")
    field = line.split(":")[3]
    return field.split(",") if field else []


def gshadow_members(target: t.Any, group: str = "docker") -> list[str]:
    field = target.sh(f"grep '^{group}:' /etc/gshadow").split(":")[3]
    return field.split(",") if field else []


def files_state(target: t.Any) -> str:
    """Content and change time of the group files: any write shows here."""
    return target.sh("sha256sum /etc/group /etc/gshadow; stat -c '%n %Z %Y %i' /etc/group /etc/gshadow")


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert result.get("failed") is not True, result
    return result


def test_quartet_prune_false_adds_and_reports_extra(docker_group: t.Any, run_module: Run) -> None:
    target, args = docker_group, {"name": "docker", "members": ["alice", "bob"]}
    untouched = files_state(target)

    # 1. check: predicts, writes nothing
    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is True
    assert (result["added"], result["removed"], result["extra"]) == (["alice", "bob"], [], ["mallory"])
    assert result["members"] == ["mallory", "alice", "bob"]
    assert result["item_status"] == {"alice": "changed", "bob": "changed"}
    assert result["diff"]["before"] == {"group": "docker", "members": ["mallory"]}
    assert result["diff"]["after"] == {"group": "docker", "members": ["alice", "bob", "mallory"]}
    assert any("mallory" in str(w) for w in result.get("warnings", []))
    assert files_state(target) == untouched

    # 2. apply
    result = ok(run_module(target, MODULE, args, "--diff"))
    assert result["changed"] is True
    assert result["item_status"] == {"alice": "changed", "bob": "changed"}
    assert sorted(members(target)) == ["alice", "bob", "mallory"]
    assert sorted(gshadow_members(target)) == ["alice", "bob", "mallory"]
    converged = files_state(target)

    # 3. check: nothing to do, mallory still reported
    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is False
    assert result["extra"] == ["mallory"]
    assert result["item_status"] == {"alice": "ok", "bob": "ok"}
    assert result["diff"]["before"] == result["diff"]["after"]

    # 4. apply: nothing written
    result = ok(run_module(target, MODULE, args))
    assert result["changed"] is False
    assert files_state(target) == converged


def test_quartet_prune_true_removes_undeclared(docker_group: t.Any, run_module: Run) -> None:
    target, args = docker_group, {"name": "docker", "members": ["alice", "bob"], "prune": True}
    untouched = files_state(target)

    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is True
    assert (result["added"], result["removed"], result["extra"]) == (["alice", "bob"], ["mallory"], [])
    assert result["item_status"] == {"alice": "changed", "bob": "changed", "mallory": "changed"}
    assert result["diff"]["after"] == {"group": "docker", "members": ["alice", "bob"]}
    assert files_state(target) == untouched

    result = ok(run_module(target, MODULE, args, "--diff"))
    assert result["changed"] is True
    assert result["removed"] == ["mallory"]
    assert members(target) == ["alice", "bob"]
    assert gshadow_members(target) == ["alice", "bob"]
    assert "docker" not in target.sh("id -nG mallory").split()
    converged = files_state(target)

    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is False
    assert result["item_status"] == {"alice": "ok", "bob": "ok"}

    result = ok(run_module(target, MODULE, args))
    assert result["changed"] is False
    assert files_state(target) == converged


def test_prune_to_empty(docker_group: t.Any, run_module: Run) -> None:
    result = ok(run_module(docker_group, MODULE, {"name": "docker", "members": [], "prune": True}))
    assert (result["changed"], result["removed"], result["members"]) == (True, ["mallory"], [])
    assert members(docker_group) == []
    assert gshadow_members(docker_group) == []


def test_unknown_user_changes_nothing(docker_group: t.Any, run_module: Run) -> None:
    untouched = files_state(docker_group)
    result = run_module(docker_group, MODULE, {"name": "docker", "members": ["alice", "eve"], "prune": True})
    assert result.get("failed") is True
    assert result["msg"] == (
        "members[1] 'eve' is not a user on this host; create the user first (ansible.builtin.user) or remove it from"
        " members. Nothing was changed in group 'docker'."
    )
    assert files_state(docker_group) == untouched


def test_missing_group_and_create(target: t.Any, run_module: Run) -> None:
    target.sh("groupdel bwk-ops 2>/dev/null || true")
    result = run_module(target, MODULE, {"name": "bwk-ops", "members": ["alice"]})
    assert result.get("failed") is True
    assert result["msg"].startswith("name: group 'bwk-ops' does not exist on this host;")

    args = {"name": "bwk-ops", "members": ["alice"], "create": True}
    result = ok(run_module(target, MODULE, args, "--check"))
    assert (result["changed"], result["created"]) == (True, True)
    assert target.sh("getent group bwk-ops || echo missing") == "missing"

    result = ok(run_module(target, MODULE, args))
    assert (result["changed"], result["created"], result["added"]) == (True, True, ["alice"])
    assert members(target, "bwk-ops") == ["alice"]
    assert int(target.sh("getent group bwk-ops").split(":")[2]) < 1000  # a system group

    result = ok(run_module(target, MODULE, args))
    assert (result["changed"], result["created"]) == (False, False)
