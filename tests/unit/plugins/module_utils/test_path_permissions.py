# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.path_permissions import (
    DIRECTORY,
    FILE,
    LINK,
    OTHER,
    Absent,
    Account,
    PathPermissionsError,
    PathSpec,
    StatRecord,
    directory_mode,
    format_mode,
    parse_mode,
    parse_specs,
    plan_paths,
    resolve_accounts,
)

USERS = {"root": 0, "daemon": 1, "alice": 1000}
GROUPS = {"root": 0, "docker": 998, "alice": 1000}


def _lookup(table: dict[str, int]) -> t.Callable[[str], Account | None]:
    names = {v: k for k, v in table.items()}

    def lookup(value: str) -> Account | None:
        if value.isdigit():
            return Account(int(value), names.get(int(value), value))
        return Account(table[value], value) if value in table else None

    return lookup


def specs_of(*entries: dict[str, t.Any]) -> tuple[PathSpec, ...]:
    return resolve_accounts(parse_specs(list(entries)), _lookup(USERS), _lookup(GROUPS))


def rec(path: str, mode: int, owner: str = "root", group: str = "root", kind: str = FILE) -> StatRecord:
    return StatRecord(path=path, kind=kind, uid=USERS[owner], gid=GROUPS[group], mode=mode, owner=owner, group=group)


# --- modes ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0644", 0o644),
        ("644", 0o644),
        ("0400", 0o400),
        ("2750", 0o2750),
        ("04755", 0o4755),
        ("0000", 0),
        ("7777", 0o7777),
    ],
)
def test_parse_mode(value: str, expected: int) -> None:
    assert parse_mode(value, "paths[0].mode") == expected


NOT_OCTAL = (
    "paths[0].mode: {!r} is not an octal mode; give three or four octal digits, such as '0644' or '2750'"
    " (symbolic modes such as 'u=rw,go=r' are not supported)."
)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            420,
            "paths[0].mode: 420 is a number, not a string; quote the mode, such as '0644' (YAML reads an unquoted"
            " 0644 as the decimal number 420, and 644 as six hundred and forty-four).",
        ),
        (True, "paths[0].mode: True is not a mode; give an octal mode as a quoted string, such as '0644'."),
        (["0644"], "paths[0].mode: ['0644'] is not a mode; give an octal mode as a quoted string, such as '0644'."),
        ("0648", NOT_OCTAL.format("0648")),
        ("u=rw,go=r", NOT_OCTAL.format("u=rw,go=r")),
        ("64", NOT_OCTAL.format("64")),
        ("0o644", NOT_OCTAL.format("0o644")),
        ("17777", NOT_OCTAL.format("17777")),
        (" 0644", NOT_OCTAL.format(" 0644")),
    ],
)
def test_parse_mode_errors(value: t.Any, message: str) -> None:
    with pytest.raises(PathPermissionsError) as exc:
        parse_mode(value, "paths[0].mode")
    assert str(exc.value) == message


@pytest.mark.parametrize(
    ("mode", "expected"), [(0o444, 0o555), (0o640, 0o750), (0o600, 0o700), (0o755, 0o755), (0o000, 0)]
)
def test_directory_mode(mode: int, expected: int) -> None:
    assert directory_mode(mode) == expected


def test_format_mode() -> None:
    assert [format_mode(m) for m in (0o644, 0o4755, 0)] == ["0644", "4755", "0000"]


# --- entries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (
            [{"path": "etc/docker", "mode": "0755"}],
            "paths[0].path: 'etc/docker' is not absolute; give the full path, such as /etc/docker/daemon.json."
            " Nothing was changed.",
        ),
        (
            [{"path": "/etc/docker", "mode": "0755"}, {"path": "/etc/docker/", "owner": "root"}],
            "paths[1].path: /etc/docker/ is also paths[0].path; list each path once. Nothing was changed.",
        ),
        (
            [{"path": "/a", "mode": 420}, {"path": "/b", "mode": "rw"}],
            "paths[0].mode: 420 is a number, not a string; quote the mode, such as '0644' (YAML reads an unquoted"
            " 0644 as the decimal number 420, and 644 as six hundred and forty-four); "
            + NOT_OCTAL.format("rw").replace("[0]", "[1]")
            + " Nothing was changed.",
        ),
        (
            [{"path": "/a", "mode_max": True, "owner": "root"}],
            "paths[0].mode_max: true needs paths[0].mode, the most permissive mode allowed. Nothing was changed.",
        ),
        (
            [{"path": "/a", "mode": "0644", "state": "absent"}],
            "paths[0].state: 'absent' is not one of present_only, required. Nothing was changed.",
        ),
    ],
)
def test_parse_specs_errors(entries: list[dict[str, t.Any]], message: str) -> None:
    with pytest.raises(PathPermissionsError) as exc:
        parse_specs(entries)
    assert str(exc.value) == message


def test_resolve_accounts_names_every_unknown_account() -> None:
    specs = parse_specs(
        [
            {"path": "/a", "owner": "root", "group": "docker"},
            {"path": "/b", "owner": "dockr"},
            {"path": "/c", "group": "dokcer", "owner": "4242"},
        ]
    )
    with pytest.raises(PathPermissionsError) as exc:
        resolve_accounts(specs, _lookup(USERS), _lookup(GROUPS))
    assert str(exc.value) == (
        "paths[1].owner: user 'dockr' does not exist on this host; paths[2].group: group 'dokcer' does not exist on"
        " this host. Create it first or fix the name (a numeric id is used as it is). Nothing was changed."
    )


def test_resolve_accounts_numeric_ids() -> None:
    (spec,) = specs_of({"path": "/a", "owner": "0", "group": "4242"})
    assert spec.owner_account == Account(0, "root")
    assert spec.group_account == Account(4242, "4242")


# --- one path --------------------------------------------------------------------------------------

# entry, record -> status, after (owner, group, mode), change (uid, gid, chmod) or None
CASES: list[tuple[str, dict[str, t.Any], StatRecord, str, tuple[str, str, str], tuple[t.Any, ...] | None]] = [
    ("ok", {"owner": "root", "group": "root", "mode": "0644"}, rec("/p", 0o644), "ok", ("root", "root", "0644"), None),
    (
        "mode only",
        {"mode": "0644"},
        rec("/p", 0o666, "alice", "alice"),
        "changed",
        ("alice", "alice", "0644"),
        (None, None, 0o644),
    ),
    ("owner only", {"owner": "root"}, rec("/p", 0o644, "alice"), "changed", ("root", "root", "0644"), (0, None, None)),
    ("group only", {"group": "docker"}, rec("/p", 0o660), "changed", ("root", "docker", "0660"), (None, 998, None)),
    (
        "all three",
        {"owner": "root", "group": "docker", "mode": "0660"},
        rec("/p", 0o666, "alice", "alice", kind=OTHER),
        "changed",
        ("root", "docker", "0660"),
        (0, 998, 0o660),
    ),
    (
        "exact mode clears special bits",
        {"mode": "0755"},
        rec("/p", 0o4755),
        "changed",
        ("root", "root", "0755"),
        (None, None, 0o755),
    ),
    (
        "exact mode adds bits",
        {"mode": "0644"},
        rec("/p", 0o600),
        "changed",
        ("root", "root", "0644"),
        (None, None, 0o644),
    ),
    (
        "mode_max keeps stricter",
        {"mode": "0644", "mode_max": True},
        rec("/p", 0o600),
        "ok",
        ("root", "root", "0600"),
        None,
    ),
    ("mode_max keeps 0", {"mode": "0644", "mode_max": True}, rec("/p", 0o000), "ok", ("root", "root", "0000"), None),
    (
        "mode_max removes only extra bits",
        {"mode": "0644", "mode_max": True},
        rec("/p", 0o664),
        "changed",
        ("root", "root", "0644"),
        (None, None, 0o644),
    ),
    (
        "mode_max, mixed",
        {"mode": "0640", "mode_max": True},
        rec("/p", 0o606),
        "changed",
        ("root", "root", "0600"),
        (None, None, 0o600),
    ),
    (
        "mode_max removes setuid",
        {"mode": "0755", "mode_max": True},
        rec("/p", 0o4755),
        "changed",
        ("root", "root", "0755"),
        (None, None, 0o755),
    ),
    (
        "chown keeps setuid when mode is not managed",
        {"owner": "root"},
        rec("/p", 0o4755, "alice"),
        "changed",
        ("root", "root", "4755"),
        (0, None, 0o4755),
    ),
    (
        "numeric owner shows the name",
        {"owner": "0", "group": "0"},
        rec("/p", 0o644, "alice", "alice"),
        "changed",
        ("root", "root", "0644"),
        (0, 0, None),
    ),
    (
        "directory without recurse: exact mode",
        {"mode": "0644"},
        rec("/d", 0o755, kind=DIRECTORY),
        "changed",
        ("root", "root", "0644"),
        (None, None, 0o644),
    ),
]


@pytest.mark.parametrize(
    ("entry", "record", "status", "after", "change"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_plan_one_path(
    entry: dict[str, t.Any],
    record: StatRecord,
    status: str,
    after: tuple[str, str, str],
    change: tuple[t.Any, ...] | None,
) -> None:
    specs = specs_of(dict(entry, path=record.path))
    plan = plan_paths(specs, {0: record})
    (result,) = plan.results()
    assert result["status"] == status
    assert result["before"] == record.perms()
    assert result["after"] == dict(zip(("owner", "group", "mode"), after))
    assert plan.changed is (status == "changed")
    assert plan.item_status() == {record.path: status}
    if change is None:
        assert plan.changes == ()
        assert plan.diff() == {"before": {}, "after": {}}
    else:
        (got,) = plan.changes
        assert (got.uid, got.gid, got.chmod) == change
        assert got.follow is True
        assert plan.diff() == {"before": {record.path: record.perms()}, "after": {record.path: result["after"]}}


def test_item_status_is_keyed_by_the_entry_s_name_wherever_the_path_is() -> None:
    specs = specs_of(
        {"name": "daemon.json", "path": "/srv/docker/daemon.json", "mode": "0644"}, {"path": "/etc/docker", "mode": "0755"}
    )
    plan = plan_paths(specs, {0: Absent(), 1: rec("/etc/docker", 0o755, kind=DIRECTORY)})
    assert plan.item_status() == {"daemon.json": "absent", "/etc/docker": "ok"}


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"name": "a", "path": "/a", "mode": "0644"}, {"name": "a", "path": "/b", "mode": "0644"}],
         "paths[1].name: 'a' is also paths[0].name; give each entry its own. Nothing was changed."),
        ([{"name": "a\nb", "path": "/a", "mode": "0644"}], "paths[0].name: 'a\\nb' is not a one-line name. Nothing was changed."),
    ],
)
def test_names_are_unique_and_one_line(entries: list[dict[str, t.Any]], message: str) -> None:
    with pytest.raises(PathPermissionsError) as exc:
        parse_specs(entries)
    assert str(exc.value) == message


def test_absent_present_only_is_reported_not_an_error() -> None:
    specs = specs_of({"path": "/etc/default/docker", "mode": "0644"}, {"path": "/etc/docker", "mode": "0755"})
    plan = plan_paths(specs, {0: Absent(), 1: rec("/etc/docker", 0o755, kind=DIRECTORY)})
    assert plan.changed is False
    assert plan.item_status() == {"/etc/default/docker": "absent", "/etc/docker": "ok"}
    assert plan.results()[0] == {"path": "/etc/default/docker", "status": "absent", "before": None, "after": None}


def test_required_and_recurse_errors_are_reported_together() -> None:
    specs = specs_of(
        {"path": "/etc/docker/daemon.json", "mode": "0644", "state": "required"},
        {"path": "/etc/systemd/system/docker.service", "mode": "0644", "state": "required"},
        {"path": "/etc/docker/key.pem", "mode": "0400", "recurse": True},
        {"path": "/etc/docker/link", "owner": "root", "recurse": True},
    )
    found = {
        0: Absent(),
        1: Absent("is a symlink to a missing target (/lib/systemd/system/docker.service)"),
        2: rec("/etc/docker/key.pem", 0o600),
        3: rec("/etc/docker/link", 0o777, kind=LINK),
    }
    with pytest.raises(PathPermissionsError) as exc:
        plan_paths(specs, found, follow=False)
    assert str(exc.value) == (
        "paths[0].path: /etc/docker/daemon.json does not exist and paths[0].state is 'required'; create it first,"
        " or use state 'present_only' to skip a missing path; "
        "paths[1].path: /etc/systemd/system/docker.service is a symlink to a missing target"
        " (/lib/systemd/system/docker.service) and paths[1].state is 'required'; create it first, or use state"
        " 'present_only' to skip a missing path; "
        "paths[2].recurse: true, but /etc/docker/key.pem is a file; recurse applies to directories only; "
        "paths[3].recurse: true, but /etc/docker/link is a link and follow is false; recurse applies to directories"
        " only. Nothing was changed."
    )


def test_symlink_not_followed_gets_owner_only_and_a_warning() -> None:
    specs = specs_of({"path": "/etc/systemd/system/docker.service", "owner": "root", "mode": "0644"})
    link = rec("/etc/systemd/system/docker.service", 0o777, owner="alice", kind=LINK)
    plan = plan_paths(specs, {0: link}, follow=False)
    (change,) = plan.changes
    assert (change.uid, change.gid, change.chmod, change.follow) == (0, None, None, False)
    assert plan.results()[0]["after"] == {"owner": "root", "group": "root", "mode": "0777"}
    assert plan.warnings == (
        "paths[0]: /etc/systemd/system/docker.service is a symlink and follow is false, so its mode is not managed"
        " (Linux has no symlink modes); only its owner and group are.",
    )


# --- recursion ---------------------------------------------------------------------------------------


def test_recurse_files_get_mode_directories_get_search_bits() -> None:
    specs = specs_of(
        {
            "path": "/etc/docker/certs.d",
            "owner": "root",
            "group": "root",
            "mode": "0444",
            "mode_max": True,
            "recurse": True,
        }
    )
    top = rec("/etc/docker/certs.d", 0o755, kind=DIRECTORY)
    below = [
        rec("/etc/docker/certs.d/reg:5000", 0o755, kind=DIRECTORY),
        rec("/etc/docker/certs.d/reg:5000/ca.crt", 0o644, owner="alice"),
        rec("/etc/docker/certs.d/reg:5000/client.key", 0o400),
        rec("/etc/docker/certs.d/reg:5000/link", 0o777, owner="alice", kind=LINK),
    ]
    plan = plan_paths(specs, {0: top}, {0: below})
    assert [(c.path, c.uid, c.chmod, c.follow) for c in plan.changes] == [
        ("/etc/docker/certs.d", None, 0o555, True),
        ("/etc/docker/certs.d/reg:5000", None, 0o555, False),
        ("/etc/docker/certs.d/reg:5000/ca.crt", 0, 0o444, False),
    ]
    (result,) = plan.results()
    assert result["status"] == "changed"
    assert result["after"]["mode"] == "0555"
    assert result["changed_beneath"] == ["/etc/docker/certs.d/reg:5000", "/etc/docker/certs.d/reg:5000/ca.crt"]
    assert set(plan.diff()["after"]) == {c.path for c in plan.changes}


def test_recurse_converged_directory_is_ok() -> None:
    specs = specs_of({"path": "/d", "mode": "0640", "recurse": True})
    plan = plan_paths(
        specs, {0: rec("/d", 0o750, kind=DIRECTORY)}, {0: [rec("/d/f", 0o640), rec("/d/s", 0o750, kind=DIRECTORY)]}
    )
    assert plan.changed is False
    assert plan.results()[0]["changed_beneath"] == []


def test_own_entry_and_deeper_recursion_win_over_recursion() -> None:
    specs = specs_of(
        {"path": "/etc/docker", "owner": "root", "mode": "0644", "recurse": True},
        {"path": "/etc/docker/certs.d", "mode": "0444", "recurse": True},
        {"path": "/etc/docker/key.pem", "mode": "0400"},
    )
    found = {
        0: rec("/etc/docker", 0o755, kind=DIRECTORY),
        1: rec("/etc/docker/certs.d", 0o555, kind=DIRECTORY),
        2: rec("/etc/docker/key.pem", 0o400),
    }
    beneath = {
        0: [
            rec("/etc/docker/certs.d", 0o555, kind=DIRECTORY),
            rec("/etc/docker/certs.d/ca.crt", 0o444),
            rec("/etc/docker/daemon.json", 0o600),
            rec("/etc/docker/key.pem", 0o400),
        ],
        1: [rec("/etc/docker/certs.d/ca.crt", 0o444)],
    }
    plan = plan_paths(specs, found, beneath)
    # daemon.json is the only path the /etc/docker recursion owns that needs a change; certs.d and
    # key.pem are planned by their own entries, which are converged (one plan per path: idempotent).
    assert [(c.path, c.chmod) for c in plan.changes] == [("/etc/docker/daemon.json", 0o644)]
    assert plan.item_status() == {"/etc/docker": "changed", "/etc/docker/certs.d": "ok", "/etc/docker/key.pem": "ok"}


def test_absent_recursive_entry_has_no_changed_beneath() -> None:
    specs = specs_of({"path": "/etc/docker/certs.d", "mode": "0444", "recurse": True})
    plan = plan_paths(specs, {0: Absent()})
    assert plan.results() == [{"path": "/etc/docker/certs.d", "status": "absent", "before": None, "after": None}]
