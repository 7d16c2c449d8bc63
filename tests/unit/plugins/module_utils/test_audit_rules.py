# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The pure half of audit_rules; tests/integration/test_audit_rules.py runs the module against the kernel."""

from __future__ import annotations

import typing as t

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils.audit_rules import (
    AuditRulesError,
    Watch,
    kernel_watches,
    plan_audit_rules,
    render_rules,
    validate_key,
    validate_watches,
)
from hypothesis import given, settings
from hypothesis import strategies as st

DOCKERD = Watch("dockerd", "/usr/sbin/dockerd")
CONFIG = Watch("daemon.json", "/etc/docker/daemon.json")

LISTING = """\
-w /usr/sbin/dockerd -p rwxa -k docker
-w /etc/docker/daemon.json -p wa -k docker
-a always,exit -F arch=b64 -F dir=/var/lib/docker -F perm=rwxa -F key=docker
-w /etc/shadow -p wa -k identity
-a always,exit -F arch=b64 -S adjtimex -F key=time-change
"""


def test_kernel_watches_of_one_key_in_both_forms() -> None:
    assert kernel_watches(LISTING, "docker") == {
        "/usr/sbin/dockerd": "rwxa",
        "/etc/docker/daemon.json": "wa",
        "/var/lib/docker": "rwxa",
    }
    assert kernel_watches("No rules\n", "docker") == {}
    assert kernel_watches(LISTING, "identity") == {"/etc/shadow": "wa"}


def test_render_rules() -> None:
    assert render_rules([DOCKERD, CONFIG], "docker").decode().splitlines()[2:] == [
        "-w /usr/sbin/dockerd -k docker",
        "-w /etc/docker/daemon.json -k docker",
    ]


def test_plan_in_effect_is_ok() -> None:
    wanted = render_rules([DOCKERD], "docker")
    plan = plan_audit_rules([DOCKERD], "docker", wanted, {"/usr/sbin/dockerd": "rwxa"})
    assert (plan.file_changed, plan.to_add, plan.to_remove, plan.item_status) == (False, (), (), {"dockerd": "ok"})


def test_plan_adds_what_the_kernel_lacks_and_removes_what_is_no_longer_wanted() -> None:
    wanted = render_rules([DOCKERD, CONFIG], "docker")
    # daemon.json watched for writes only (fewer permissions than -w gives): watched again.
    plan = plan_audit_rules([DOCKERD, CONFIG], "docker", wanted, kernel_watches(LISTING, "docker"))
    assert plan.to_add == (CONFIG,)
    assert plan.to_remove == ("/var/lib/docker",)
    assert plan.item_status == {"dockerd": "ok", "daemon.json": "changed"}
    assert plan.kernel_changed


def test_a_new_line_in_the_file_is_a_change_even_when_the_kernel_has_it() -> None:
    plan = plan_audit_rules([DOCKERD], "docker", None, {"/usr/sbin/dockerd": "rwxa"})
    assert plan.file_changed and plan.item_status == {"dockerd": "changed"}


def test_nothing_is_in_effect_where_the_kernel_cannot_be_read() -> None:
    plan = plan_audit_rules([DOCKERD, CONFIG], "docker", None, None)
    assert plan.file_changed and plan.to_add == () and plan.to_remove == ()
    assert plan.item_status == {"dockerd": "not-in-effect", "daemon.json": "not-in-effect"}


def test_without_load_the_kernel_is_only_read() -> None:
    plan = plan_audit_rules([DOCKERD, CONFIG], "docker", None, {"/usr/sbin/dockerd": "rwxa", "/x": "wa"}, load=False)
    assert plan.to_add == () and plan.to_remove == ()
    assert plan.item_status == {"dockerd": "changed", "daemon.json": "not-in-effect"}


def test_a_watch_the_kernel_cannot_take_is_absent() -> None:
    plan = plan_audit_rules([DOCKERD, CONFIG], "docker", None, {}, loadable=lambda path: path != CONFIG.path)
    assert plan.to_add == (DOCKERD,)
    assert plan.item_status == {"dockerd": "changed", "daemon.json": "absent"}


@pytest.mark.parametrize(
    ("watches", "message"),
    [
        ("/etc/docker", "watches must be a non-empty list of {name, path}, not '/etc/docker' (str)."),
        ([], "watches must be a non-empty list"),
        (["/etc/docker"], "watches[0] must be a mapping with path and name"),
        ([{"name": "x"}], "watches[0] must be a mapping with path and name"),
        ([{"path": "/etc/docker", "perm": "wa"}], "watches[0] must be a mapping with path and name"),
        ([{"path": "etc/docker"}], "watches[0].path must be an absolute path"),
        ([{"path": "/etc/my docker"}], "watches[0].path must be an absolute path without blanks"),
        ([{"path": "/etc/docker\n-D"}], "watches[0].path must be an absolute path without blanks, newlines"),
        ([{"path": "/etc/docker\x00"}], "watches[0].path must be an absolute path"),
        ([{"path": "/etc/./docker"}], "must be written plainly"),
        ([{"path": "/etc/docker/"}], "must be written plainly"),
        ([{"path": "/etc//docker"}], "must be written plainly"),
        ([{"path": "/etc/docker", "name": "two words"}], "watches[0].name must be a word"),
        ([{"path": "/a", "name": "x"}, {"path": "/b", "name": "x"}], "watches[1].name 'x' is also watches[0].name"),
        ([{"path": "/a"}, {"path": "/a", "name": "y"}], "watches[1].path '/a' is also watches[0].path; watch a path once."),
    ],
)
def test_bad_watches_are_refused_by_name(watches: t.Any, message: str) -> None:
    with pytest.raises(AuditRulesError) as excinfo:
        validate_watches(watches)
    assert message in str(excinfo.value)


@pytest.mark.parametrize("key", ["", "has space", "-starts-with-dash", "k" * 32, "new\nline", 7, None])
def test_bad_keys_are_refused(key: t.Any) -> None:
    with pytest.raises(AuditRulesError, match="^key must be 1 to 31 letters"):
        validate_key(key)


_TEXT = st.text(alphabet=st.sampled_from(list("/ab.-_ \n\t\x00é*")), max_size=12)
_ANY = st.none() | st.booleans() | st.integers() | _TEXT | st.lists(_TEXT, max_size=2)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(st.fixed_dictionaries({}, optional={"path": _TEXT | _ANY, "name": _TEXT | _ANY, "x": _ANY}), max_size=4) | _ANY)
def test_generated_watches_are_valid_rules_or_refused_by_name(watches: t.Any) -> None:
    """A watch either renders to exactly one rule line of one word, or is refused naming watches."""
    try:
        valid = validate_watches(watches)
    except AuditRulesError as exc:
        assert str(exc).startswith("watches")
        return
    lines = render_rules(valid, "docker").decode().splitlines()[2:]
    assert len(lines) == len(valid)
    for line, watch in zip(lines, valid):
        assert line.split() == ["-w", watch.path, "-k", "docker"]
