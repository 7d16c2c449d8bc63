# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.group_members import (
    GroupMembersError,
    check_users_exist,
    gpasswd_members_arg,
    plan_members,
    validate_group_name,
    validate_members,
)

# current, wanted, prune -> changed, to_add, to_remove, extra, after
PLANS: list[tuple[str, list[str], list[str], bool, tuple[t.Any, ...]]] = [
    ("converged", ["alice", "bob"], ["alice", "bob"], False, (False, (), (), (), ("alice", "bob"))),
    ("converged, prune", ["alice", "bob"], ["alice", "bob"], True, (False, (), (), (), ("alice", "bob"))),
    ("order is not a change", ["bob", "alice"], ["alice", "bob"], True, (False, (), (), (), ("bob", "alice"))),
    ("add to empty", [], ["alice", "bob"], False, (True, ("alice", "bob"), (), (), ("alice", "bob"))),
    (
        "add, report extra",
        ["mallory", "alice"],
        ["alice", "bob"],
        False,
        (True, ("bob",), (), ("mallory",), ("mallory", "alice", "bob")),
    ),
    (
        "only extra, no prune: no change",
        ["alice", "mallory"],
        ["alice"],
        False,
        (False, (), (), ("mallory",), ("alice", "mallory")),
    ),
    (
        "add and prune",
        ["mallory", "alice"],
        ["alice", "bob"],
        True,
        (True, ("bob",), ("mallory",), (), ("alice", "bob")),
    ),
    ("prune everything", ["alice", "mallory"], [], True, (True, (), ("alice", "mallory"), (), ())),
    ("empty and empty", [], [], True, (False, (), (), (), ())),
    ("duplicates in the file", ["alice", "alice"], ["alice"], True, (False, (), (), (), ("alice",))),
    ("duplicates declared", [], ["bob", "bob", "alice"], False, (True, ("bob", "alice"), (), (), ("bob", "alice"))),
]


@pytest.mark.parametrize(("current", "wanted", "prune", "expected"), [p[1:] for p in PLANS], ids=[p[0] for p in PLANS])
def test_plan_members(current: list[str], wanted: list[str], prune: bool, expected: tuple[t.Any, ...]) -> None:
    plan = plan_members(current, wanted, prune)
    assert (plan.changed, plan.to_add, plan.to_remove, plan.extra, plan.after) == expected


def test_item_status_names_declared_and_removed_members() -> None:
    plan = plan_members(["alice", "mallory"], ["alice", "bob"], prune=True)
    assert plan.item_status() == {"alice": "ok", "bob": "changed", "mallory": "changed"}
    kept = plan_members(["alice", "mallory"], ["alice", "bob"], prune=False)
    assert kept.item_status() == {"alice": "ok", "bob": "changed"}


def test_diff_is_sorted_and_names_the_group() -> None:
    plan = plan_members(["mallory", "alice"], ["bob", "alice"], prune=True)
    assert plan.diff("docker") == {
        "before": {"group": "docker", "members": ["alice", "mallory"]},
        "after": {"group": "docker", "members": ["alice", "bob"]},
    }


@pytest.mark.parametrize(
    ("members", "expected"),
    [
        (["alice", "bob"], ("alice", "bob")),
        (["bob", "alice", "bob"], ("bob", "alice")),
        ([], ()),
    ],
)
def test_validate_members(members: list[str], expected: tuple[str, ...]) -> None:
    assert validate_members(members) == expected


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ("alice", "members: 'alice' is not a list; give a list of user names, for example [alice, bob]."),
        (["alice", ""], "members[1]: '' is not a user name. Nothing was changed."),
        (
            ["alice,bob", "eve mallory"],
            "members[0]: 'alice,bob' contains ','; a user name cannot contain commas, colons, whitespace or NUL bytes;"
            " members[1]: 'eve mallory' contains ' '; a user name cannot contain commas, colons, whitespace or NUL bytes."
            " Nothing was changed.",
        ),
        ([None], "members[0]: None is not a user name. Nothing was changed."),
    ],
)
def test_validate_members_errors(members: t.Any, message: str) -> None:
    with pytest.raises(GroupMembersError) as exc:
        validate_members(members)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "name: '' is not a group name; give the name of an existing local group."),
        ("dock:er", "name: 'dock:er' contains ':'; a group name cannot contain commas, colons, whitespace or NUL bytes."),
    ],
)
def test_validate_group_name_errors(name: str, message: str) -> None:
    with pytest.raises(GroupMembersError) as exc:
        validate_group_name(name)
    assert str(exc.value) == message


def test_check_users_exist_names_every_unknown_user() -> None:
    users = {"alice", "bob"}
    check_users_exist("docker", ["alice", "bob"], users.__contains__)
    with pytest.raises(GroupMembersError) as exc:
        check_users_exist("docker", ["alice", "eve"], users.__contains__)
    assert str(exc.value) == (
        "members[1] 'eve' is not a user on this host; create the user first (ansible.builtin.user) or remove it"
        " from members. Nothing was changed in group 'docker'."
    )
    with pytest.raises(GroupMembersError) as exc:
        check_users_exist("docker", ["eve", "alice", "trent"], users.__contains__)
    assert str(exc.value).startswith("members[0] 'eve', members[2] 'trent' are not users on this host;")


@pytest.mark.parametrize(("members", "arg"), [(("alice", "bob"), "alice,bob"), ((), "")])
def test_gpasswd_members_arg(members: tuple[str, ...], arg: str) -> None:
    assert gpasswd_members_arg(members) == arg
