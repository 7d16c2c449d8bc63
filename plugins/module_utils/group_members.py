# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Plan the member list of one local group: pure, no host access.

The ``group_members`` module reads the group and the user database, calls these functions, and
applies the plan with one ``gpasswd -M`` call. Membership is a set: order and duplicates in
``/etc/group`` are not differences.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

# Characters that cannot be part of a member name in /etc/group (field and list separators) or
# that gpasswd -M would split on.
_FORBIDDEN = frozenset(",:\n\r\t \x00")  # NUL: no C library call takes it


class GroupMembersError(ValueError):
    """Bad user input or host state; the message is shown to the user as is."""


@dataclass(frozen=True)
class Plan:
    """What to do to one group's member list.

    ``before`` and ``after`` keep the order of ``/etc/group`` (declared members that are missing
    are appended in declared order), so a rewrite does not reorder the file needlessly.
    """

    changed: bool
    before: tuple[str, ...]
    to_add: tuple[str, ...]
    to_remove: tuple[str, ...]
    # Present, not declared, and kept because prune is false.
    extra: tuple[str, ...]
    after: tuple[str, ...]
    wanted: tuple[str, ...]

    def item_status(self) -> dict[str, str]:
        """``{member: "ok" | "changed"}`` for every declared member and every removed one."""
        status = {name: "changed" if name in self.to_add else "ok" for name in self.wanted}
        status.update((name, "changed") for name in self.to_remove)
        return status

    def diff(self, group: str) -> dict[str, t.Any]:
        """Ansible diff of the member list (sorted, so the diff shows only real changes)."""
        return {
            "before": {"group": group, "members": sorted(self.before)},
            "after": {"group": group, "members": sorted(self.after)},
        }


def _unique(names: t.Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
    return tuple(seen)


def validate_group_name(name: t.Any) -> str:
    """Return NAME, or raise if it cannot be a group name in /etc/group."""
    if not isinstance(name, str) or not name:
        raise GroupMembersError(f"name: {name!r} is not a group name; give the name of an existing local group.")
    bad = sorted(set(name) & _FORBIDDEN)
    if bad:
        raise GroupMembersError(
            f"name: {name!r} contains {', '.join(repr(c) for c in bad)}; a group name cannot contain"
            " commas, colons, whitespace or NUL bytes."
        )
    return name


def validate_members(members: t.Any) -> tuple[str, ...]:
    """Return the declared members without duplicates (first occurrence kept), or raise.

    Every problem is reported at once, each with its index in ``members``.
    """
    if not isinstance(members, (list, tuple)):
        raise GroupMembersError(
            f"members: {members!r} is not a list; give a list of user names, for example [alice, bob]."
        )
    problems = []
    for index, name in enumerate(members):
        if not isinstance(name, str) or not name:
            problems.append(f"members[{index}]: {name!r} is not a user name")
            continue
        bad = sorted(set(name) & _FORBIDDEN)
        if bad:
            problems.append(
                f"members[{index}]: {name!r} contains {', '.join(repr(c) for c in bad)};"
                " a user name cannot contain commas, colons, whitespace or NUL bytes"
            )
    if problems:
        raise GroupMembersError("; ".join(problems) + ". Nothing was changed.")
    return _unique(members)


def check_users_exist(group: str, wanted: t.Sequence[str], user_exists: t.Callable[[str], bool]) -> None:
    """Raise naming every declared member that is not a user on the host.

    ``user_exists`` is the module's lookup (``pwd.getpwnam``); it is passed in so that this stays
    free of host access.
    """
    missing = [(index, name) for index, name in enumerate(wanted) if not user_exists(name)]
    if missing:
        listed = ", ".join(f"members[{index}] {name!r}" for index, name in missing)
        noun = "is not a user" if len(missing) == 1 else "are not users"
        raise GroupMembersError(
            f"{listed} {noun} on this host; create the user first (ansible.builtin.user) or remove it from"
            f" members. Nothing was changed in group {group!r}."
        )


def plan_members(current: t.Sequence[str], wanted: t.Sequence[str], prune: bool) -> Plan:
    """Compare the current member list with the declared one.

    With ``prune`` false, missing members are added and members that are not declared are kept
    and listed in ``extra``; with ``prune`` true they are removed, so the group ends up with
    exactly the declared members.
    """
    before = _unique(current)
    wanted_u = _unique(wanted)
    wanted_set = set(wanted_u)
    current_set = set(before)
    to_add = tuple(name for name in wanted_u if name not in current_set)
    undeclared = tuple(name for name in before if name not in wanted_set)
    to_remove = undeclared if prune else ()
    extra = () if prune else undeclared
    after = tuple(name for name in before if name not in to_remove) + to_add
    return Plan(
        changed=bool(to_add or to_remove),
        before=before,
        to_add=to_add,
        to_remove=to_remove,
        extra=extra,
        after=after,
        wanted=wanted_u,
    )


def gpasswd_members_arg(members: t.Sequence[str]) -> str:
    """The argument of ``gpasswd -M``: the complete member list, comma separated."""
    return ",".join(members)
