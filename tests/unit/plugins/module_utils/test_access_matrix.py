# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.bulwark.hardening.plugins.module_utils.access_matrix import (
    Answer,
    compare,
    parse_rows,
    review,
    table,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import RbacError


def spec(**row: t.Any) -> dict[str, t.Any]:
    [parsed] = parse_rows([{"verb": "get", "allowed": False, **row}])
    body = review(parsed)
    assert (body["apiVersion"], body["kind"]) == ("authorization.k8s.io/v1", "SubjectAccessReview")
    return dict(body["spec"])


@pytest.mark.parametrize(
    ("subject", "identity"),
    [
        ("User:alice", {"user": "alice", "groups": ["system:authenticated"]}),
        ("User:system:anonymous", {"user": "system:anonymous", "groups": ["system:unauthenticated"]}),
        ("Group:team-a", {"groups": ["team-a", "system:authenticated"]}),
        ("Group:system:authenticated", {"groups": ["system:authenticated"]}),
        ("Group:system:unauthenticated", {"groups": ["system:unauthenticated"]}),
        (
            "ServiceAccount:ci/builder",
            {
                "user": "system:serviceaccount:ci:builder",
                "groups": ["system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"],
            },
        ),
    ],
)
def test_a_review_carries_the_groups_a_real_request_carries(subject: str, identity: dict[str, t.Any]) -> None:
    got = spec(subject=subject, resource="secrets")
    assert {key: got[key] for key in ("user", "groups") if key in got} == identity


def test_a_user_s_own_groups_come_first() -> None:
    assert spec(subject="User:alice", groups=["oncall"], resource="pods")["groups"] == ["oncall", "system:authenticated"]


@pytest.mark.parametrize(
    ("row", "attributes"),
    [
        ({"resource": "secrets", "namespace": "team-b"}, {"verb": "get", "resource": "secrets", "group": "", "namespace": "team-b"}),
        ({"resource": "pods/exec", "namespace": "a"}, {"verb": "get", "resource": "pods", "group": "", "subresource": "exec", "namespace": "a"}),
        ({"resource": "deployments.apps/scale"}, {"verb": "get", "resource": "deployments", "group": "apps", "subresource": "scale"}),
        (
            {"resource": "certificatesigningrequests.certificates.k8s.io/approval"},
            {"verb": "get", "resource": "certificatesigningrequests", "group": "certificates.k8s.io", "subresource": "approval"},
        ),
        ({"resource": "configmaps", "namespace": "a", "name": "cfg"}, {"verb": "get", "resource": "configmaps", "group": "", "namespace": "a", "name": "cfg"}),
    ],
)
def test_resource_attributes(row: dict[str, t.Any], attributes: dict[str, str]) -> None:
    assert spec(subject="User:u", **row)["resourceAttributes"] == attributes


def test_non_resource_attributes() -> None:
    got = spec(subject="User:system:anonymous", non_resource_url="/metrics")
    assert got["nonResourceAttributes"] == {"path": "/metrics", "verb": "get"}
    assert "resourceAttributes" not in got


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"subject": "alice"}, "rows[0].subject: 'alice' is not a subject; write User:NAME, Group:NAME or ServiceAccount:NAMESPACE/NAME."),
        ({"verb": " get"}, "rows[0].verb must be a non-empty string without surrounding blanks, not ' get'."),
        ({"verb": "get all"}, "rows[0].verb: 'get all' is not a verb; write one like get, list, create or impersonate."),
        ({"verb": "GET"}, "rows[0].verb: 'GET' is not a verb; write one like get, list, create or impersonate."),
        ({"allowed": "yes"}, "rows[0].allowed must be true or false, not 'yes'."),
        ({"resource": None}, "rows[0]: give either resource (such as pods or deployments.apps/scale) or non_resource_url."),
        ({"non_resource_url": "/metrics"}, "rows[0]: give either resource (such as pods or deployments.apps/scale) or non_resource_url."),
        ({"resource": "Pods"}, "rows[0].resource: 'Pods' is not a resource; write RESOURCE[.GROUP][/SUBRESOURCE], such as pods,"),
        ({"resource": "pods/exec/x"}, "rows[0].resource: 'pods/exec/x' is not a resource;"),
        ({"namespace": "Team_A"}, "rows[0].namespace: 'Team_A' is not a namespace name."),
        ({"groups": "oncall"}, "rows[0].groups must be a list of group names, not 'oncall'."),
        ({"subject": "Group:g", "groups": ["x"]}, "rows[0].groups: only a User has groups of its own; Group:g has the groups of its kind."),
        ({"colour": "red"}, "rows[0]: unknown key(s) colour; allowed: subject, verb,"),
        ({"resource": None, "non_resource_url": "metrics"}, "rows[0].non_resource_url: 'metrics' must be a path such as /metrics,"),
    ],
)
def test_bad_rows_are_refused_by_name(row: dict[str, t.Any], message: str) -> None:
    entry = {"subject": "User:u", "verb": "get", "resource": "pods", "allowed": True, **row}
    entry = {key: value for key, value in entry.items() if value is not None}
    with pytest.raises(RbacError) as exc:
        parse_rows([entry])
    assert str(exc.value).startswith(message)


def test_two_rows_asking_the_same_question_are_refused() -> None:
    row = {"subject": "User:u", "verb": "get", "resource": "pods", "allowed": True}
    with pytest.raises(RbacError, match=r"^rows\[1\] asks the same as rows\[0\]; keep one\.$"):
        parse_rows([row, {**row, "allowed": False}])


def test_compare_and_table() -> None:
    rows = parse_rows(
        [
            {"subject": "Group:team-a", "verb": "get", "resource": "secrets", "namespace": "team-b", "allowed": False},
            {"subject": "User:alice", "verb": "list", "resource": "pods", "allowed": True},
            {"subject": "User:system:anonymous", "verb": "get", "non_resource_url": "/healthz", "allowed": True},
        ]
    )
    answers = [
        Answer.from_api({"status": {"allowed": True, "reason": 'RBAC: allowed by ClusterRoleBinding "x"'}}),
        Answer.from_api({"status": {"allowed": False}}),
        Answer.from_api({"status": {"allowed": True}}),
    ]
    results = compare(rows, answers)
    assert [(r["holds"], r["actual"]) for r in results] == [(False, True), (False, False), (True, True)]
    assert table(results).splitlines() == [
        "subject       verb  resource  namespace  expected  actual",
        'Group:team-a  get   secrets   team-b     denied    allowed (RBAC: allowed by ClusterRoleBinding "x")',
        "User:alice    list  pods      (cluster)  allowed   denied",
    ]


_TEXT = st.text(alphabet="aZ:/.-_* \n\x00é", max_size=12)
_VALUE = st.none() | st.booleans() | st.integers() | _TEXT | st.lists(_TEXT, max_size=3)
_ROW = st.dictionaries(
    st.sampled_from(["subject", "verb", "resource", "non_resource_url", "namespace", "name", "groups", "allowed", "x"]),
    _VALUE,
    max_size=8,
)


@settings(max_examples=300, deadline=None, database=None)
@given(st.lists(_ROW, max_size=4))
def test_generated_rows_are_parsed_or_refused_by_name(entries: list[dict[str, t.Any]]) -> None:
    try:
        rows = parse_rows(entries)
    except RbacError as exc:
        assert str(exc).startswith("rows[")
        return
    for row in rows:
        body = review(row)["spec"]
        assert body["groups"] and ("resourceAttributes" in body) != ("nonResourceAttributes" in body)
