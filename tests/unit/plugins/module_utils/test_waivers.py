# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import typing as t

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils.waivers import (
    Waiver,
    WaiverError,
    load_waivers,
    waiver_from_dict,
    waivers_for_host,
)
from hypothesis import given, settings
from hypothesis import strategies as st

KNOWN = {"CIS-Docker 2.2", "CIS-Docker 2.13", "BWK-1"}


def _waiver(**overrides: t.Any) -> dict[str, t.Any]:
    entry: dict[str, t.Any] = {"id": "CIS-Docker 2.2", "reason": "needed by the CI runners (OPS-7)", "expires": "2027-03-31"}
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not ...}


def test_a_waiver_as_inventory_gives_it() -> None:
    (waiver,) = load_waivers([_waiver(groups=["ci"])], KNOWN)
    assert waiver == Waiver(
        id="CIS-Docker 2.2",
        reason="needed by the CI runners (OPS-7)",
        expires=datetime.date(2027, 3, 31),
        groups=("ci",),
    )
    assert waiver_from_dict(waiver.as_dict()) == waiver


def test_yaml_dates_and_datetimes_are_dates() -> None:
    (a, b) = load_waivers(
        [_waiver(expires=datetime.date(2027, 1, 2)), _waiver(id="BWK-1", expires=datetime.datetime(2027, 1, 3, 4, 5))],
        KNOWN,
    )
    assert (a.expires, b.expires) == (datetime.date(2027, 1, 2), datetime.date(2027, 1, 3))


def test_null_is_no_waiver() -> None:
    assert load_waivers(None, KNOWN) == []


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("CIS-Docker 2.2", "bulwark_waivers must be a list of waivers (id, reason, expires, and hosts or groups), not 'CIS-Docker 2.2' (str)."),
        ({"id": "x"}, "bulwark_waivers must be a list of waivers"),
        (["CIS-Docker 2.2"], "bulwark_waivers[0] must be a mapping, not 'CIS-Docker 2.2' (str)."),
        ([_waiver(until="2027-01-01")], "bulwark_waivers[0]: unknown key(s) until; allowed: id, reason, expires, hosts, groups."),
        ([_waiver(reason=...)], "bulwark_waivers[0]: missing reason; a waiver needs an id, a reason and an expiry date."),
        ([_waiver(expires=...)], "bulwark_waivers[0]: missing expires;"),
        ([_waiver(id="CIS-Docker 9.9")], "bulwark_waivers[0].id: 'CIS-Docker 9.9' is not a control of the catalog"),
        ([_waiver(id=2.2)], "bulwark_waivers[0].id must be a non-empty string, not 2.2 (float)."),
        ([_waiver(reason="   ")], "bulwark_waivers[0].reason must be a non-empty string"),
        ([_waiver(reason="two\nlines")], "bulwark_waivers[0].reason must be one line of text."),
        ([_waiver(reason="nul\x00byte")], "bulwark_waivers[0].reason must be one line of text."),
        ([_waiver(reason="x" * 501)], "bulwark_waivers[0].reason is longer than 500 characters"),
        ([_waiver(expires="2027-02-30")], "bulwark_waivers[0].expires must be a date written YYYY-MM-DD"),
        ([_waiver(expires="31.03.2027")], "bulwark_waivers[0].expires must be a date written YYYY-MM-DD"),
        ([_waiver(expires="2027-03-31\n")], "bulwark_waivers[0].expires must be a date written YYYY-MM-DD"),
        ([_waiver(expires=20270331)], "bulwark_waivers[0].expires must be a date written YYYY-MM-DD (the last day the waiver holds), not 20270331 (int)."),
        ([_waiver(hosts="web1")], "bulwark_waivers[0].hosts must be a list of names, not 'web1' (str)."),
        ([_waiver(groups=["ok", ""])], "bulwark_waivers[0].groups[1] must be a non-empty string"),
        ([_waiver(), _waiver(reason="again")], "bulwark_waivers[1] waives CIS-Docker 2.2 for the same hosts as bulwark_waivers[0]; keep one."),
    ],
)
def test_bad_waivers_are_refused_by_name(data: t.Any, message: str) -> None:
    with pytest.raises(WaiverError) as excinfo:
        load_waivers(data, KNOWN)
    assert message in str(excinfo.value)


def test_which_hosts_a_waiver_covers() -> None:
    everyone, named, grouped = load_waivers(
        [_waiver(), _waiver(id="BWK-1", hosts=["web1"]), _waiver(id="CIS-Docker 2.13", groups=["ci"])], KNOWN
    )
    assert everyone.applies_to("db1", [])
    assert named.applies_to("web1", []) and not named.applies_to("web2", ["ci"])
    assert grouped.applies_to("web2", ["ci"]) and not grouped.applies_to("web1", ["prod"])
    assert [w.id for w in waivers_for_host([everyone, named, grouped], "web1", ["prod"])] == ["CIS-Docker 2.2", "BWK-1"]


def test_of_two_waivers_for_a_host_the_longer_one_holds() -> None:
    short, long = load_waivers([_waiver(expires="2027-01-01"), _waiver(expires="2028-01-01", hosts=["web1"])], KNOWN)
    assert waivers_for_host([short, long], "web1", []) == [long]
    assert waivers_for_host([short, long], "web2", []) == [short]


def test_a_waiver_holds_through_its_expiry_day() -> None:
    (waiver,) = load_waivers([_waiver(expires="2027-03-31")], KNOWN)
    assert not waiver.expired(datetime.date(2027, 3, 31))
    assert waiver.expired(datetime.date(2027, 4, 1))


_ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text() | st.dates(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_ENTRY = st.fixed_dictionaries(
    {},
    optional={
        "id": st.sampled_from(sorted(KNOWN)) | _ANY,
        "reason": st.text() | _ANY,
        "expires": st.dates().map(str) | st.dates() | _ANY,
        "hosts": st.lists(st.text()) | _ANY,
        "groups": st.lists(st.text()) | _ANY,
        "extra": _ANY,
    },
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(_ENTRY, max_size=4) | _ANY)
def test_generated_waivers_load_or_fail_by_name(data: t.Any) -> None:
    """Whatever inventory holds, loading ends in waivers or in a WaiverError that names bulwark_waivers."""
    try:
        waivers = load_waivers(data, KNOWN)
    except WaiverError as exc:
        assert str(exc).startswith("bulwark_waivers")
        return
    for waiver in waivers:
        assert waiver.id in KNOWN and waiver.reason and "\n" not in waiver.reason
        assert waiver_from_dict(waiver.as_dict()) == waiver
