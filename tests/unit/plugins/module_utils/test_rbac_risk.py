# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import datetime
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import (
    CHECKS,
    RbacError,
    Rule,
    audit,
    parse_subject,
    parse_waivers,
)

BOOTSTRAP = {"labels": {"kubernetes.io/bootstrapping": "rbac-defaults"}, "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}


def rule(groups: list[str], resources: list[str], verbs: list[str], **extra: list[str]) -> dict[str, t.Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs, **extra}


def cluster_role(name: str, *rules: dict[str, t.Any], labels: dict[str, str] | None = None, **extra: t.Any) -> dict[str, t.Any]:
    return {"metadata": {"name": name, "labels": labels or {}}, "rules": list(rules), **extra}


def role(namespace: str, name: str, *rules: dict[str, t.Any]) -> dict[str, t.Any]:
    return {"metadata": {"name": name, "namespace": namespace}, "rules": list(rules)}


def subject(text: str) -> dict[str, str]:
    kind, _sep, rest = text.partition(":")
    if kind == "ServiceAccount":
        namespace, _sep, name = rest.partition("/")
        return {"kind": kind, "name": name, "namespace": namespace}
    return {"kind": kind, "name": rest, "apiGroup": "rbac.authorization.k8s.io"}


def binding(name: str, role_kind: str, role_name: str, *subjects: str, namespace: str = "", meta: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
    metadata: dict[str, t.Any] = {"name": name, **(meta or {})}
    if namespace:
        metadata["namespace"] = namespace
    return {
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": [subject(s) for s in subjects],
    }


def findings(objects: dict[str, list[dict[str, t.Any]]], control: str | None = None, **kwargs: t.Any) -> list[dict[str, t.Any]]:
    """The findings of ``control``; of every control but the one finding every cluster has (system:masters) when None."""
    rows = audit(objects, today=datetime.date(2026, 12, 1), **kwargs).findings
    if control is None:
        return [row for row in rows if row["object"] is not None or row["binding"] is not None]
    return [row for row in rows if row["control"] == control]


def messages(objects: dict[str, list[dict[str, t.Any]]], control: str, **kwargs: t.Any) -> list[str]:
    return [row["message"] for row in findings(objects, control, **kwargs)]


SECRET_READER = cluster_role("secret-reader", rule([""], ["secrets"], ["get", "list"]))


def test_a_cluster_role_binding_grants_everywhere() -> None:
    objects = {
        "clusterroles": [SECRET_READER],
        "clusterrolebindings": [binding("read-secrets", "ClusterRole", "secret-reader", "Group:system:authenticated")],
    }
    [row] = findings(objects, "CIS-K8s 5.1.2")
    assert row == {
        "control": "CIS-K8s 5.1.2",
        "item": "secret_access",
        "message": "Group:system:authenticated may read secrets (get/list) in every namespace,"
        " by ClusterRoleBinding/read-secrets -> ClusterRole/secret-reader",
        "subject": "Group:system:authenticated",
        "binding": "ClusterRoleBinding/read-secrets",
        "role": "ClusterRole/secret-reader",
        "namespace": None,
        "rule": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]},
        "rule_from": "ClusterRole/secret-reader",
        "object": None,
        "bootstrap": False,
        "waived": False,
        "reason": None,
    }
    # Everyone authenticated may read secrets: a public grant too.
    assert messages(objects, "BWK-12") == [
        "Group:system:authenticated is everyone and is granted rights in every namespace,"
        " by ClusterRoleBinding/read-secrets -> ClusterRole/secret-reader"
    ]


def test_a_role_binding_to_a_cluster_role_holds_in_its_namespace_and_not_for_cluster_resources() -> None:
    everything = cluster_role(
        "powerful",
        rule([""], ["secrets", "persistentvolumes", "nodes/proxy"], ["get", "create"]),
        {"nonResourceURLs": ["*"], "verbs": ["get"]},
    )
    objects = {
        "clusterroles": [everything],
        "rolebindings": [binding("team", "ClusterRole", "powerful", "User:alice", namespace="team-a")],
    }
    rows = findings(objects)
    assert [(r["control"], r["namespace"]) for r in rows] == [("CIS-K8s 5.1.2", "team-a")]
    assert rows[0]["message"] == (
        "User:alice may read secrets (get) in namespace team-a, by RoleBinding/team-a/team -> ClusterRole/powerful"
    )
    # The same role cluster-wide reaches all of it.
    objects = {"clusterroles": [everything], "clusterrolebindings": [binding("all", "ClusterRole", "powerful", "User:alice")]}
    assert [r["control"] for r in findings(objects)] == [
        "CIS-K8s 5.1.2",
        "CIS-K8s 5.1.3",
        "CIS-K8s 5.1.9",
        "CIS-K8s 5.1.10",
    ]


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param([rule(["*"], ["*"], ["*"])], "may read secrets (get/list/watch)", id="all-wildcards"),
        pytest.param([rule([""], ["*"], ["list"])], "may read secrets (list)", id="resource-wildcard"),
        pytest.param([rule(["*"], ["secrets"], ["watch"])], "may read secrets (watch)", id="group-wildcard"),
        pytest.param([rule([""], ["secrets"], ["*"])], "may read secrets (get/list/watch)", id="verb-wildcard"),
        pytest.param([rule([""], ["secrets"], ["get"], resourceNames=["one"])], "may read secrets (get)", id="named"),
        pytest.param([rule([""], ["secrets/status"], ["get"])], None, id="subresource-is-not-the-resource"),
        pytest.param([rule(["apps"], ["secrets"], ["get"])], None, id="other-group"),
        pytest.param([rule([""], ["secrets"], ["create", "delete"])], None, id="other-verbs"),
        pytest.param([{"nonResourceURLs": ["/secrets"], "verbs": ["get"]}], None, id="non-resource-url"),
    ],
)
def test_secret_access_is_matched_as_the_authorizer_matches(rules: list[dict[str, t.Any]], expected: str | None) -> None:
    objects = {
        "clusterroles": [cluster_role("r", *rules)],
        "clusterrolebindings": [binding("b", "ClusterRole", "r", "User:bob")],
    }
    got = messages(objects, "CIS-K8s 5.1.2")
    assert got == ([f"User:bob {expected} in every namespace, by ClusterRoleBinding/b -> ClusterRole/r"] if expected else [])


@pytest.mark.parametrize(
    ("rules", "control", "verbs"),
    [
        ([rule([""], ["pods"], ["create"])], "CIS-K8s 5.1.4", "create"),
        ([rule(["apps"], ["deployments"], ["create", "get"])], "CIS-K8s 5.1.4", "create"),
        ([rule(["batch"], ["cronjobs"], ["*"])], "CIS-K8s 5.1.4", "create"),
        ([rule(["rbac.authorization.k8s.io"], ["clusterroles"], ["bind"])], "CIS-K8s 5.1.8", "bind"),
        ([rule(["rbac.authorization.k8s.io"], ["roles"], ["escalate", "get"])], "CIS-K8s 5.1.8", "escalate"),
        ([rule([""], ["users", "groups"], ["impersonate"])], "CIS-K8s 5.1.8", "impersonate"),
        ([rule([""], ["persistentvolumes"], ["create"])], "CIS-K8s 5.1.9", "create"),
        ([rule([""], ["nodes/proxy"], ["get"])], "CIS-K8s 5.1.10", "get"),
        ([rule([""], ["*/proxy"], ["create"])], "CIS-K8s 5.1.10", "create"),
        ([rule([""], ["nodes/*"], ["get"])], None, ""),  # not a form RBAC matches
        ([rule(["certificates.k8s.io"], ["certificatesigningrequests/approval"], ["update"])], "CIS-K8s 5.1.11", "update"),
        ([rule(["certificates.k8s.io"], ["certificatesigningrequests"], ["update"])], None, ""),
        ([rule(["admissionregistration.k8s.io"], ["mutatingwebhookconfigurations"], ["patch"])], "CIS-K8s 5.1.12", "patch"),
        ([rule([""], ["serviceaccounts/token"], ["create"])], "CIS-K8s 5.1.13", "create"),
        ([rule([""], ["serviceaccounts"], ["create"])], None, ""),
    ],
)
def test_each_resource_control(rules: list[dict[str, t.Any]], control: str | None, verbs: str) -> None:
    objects = {
        "clusterroles": [cluster_role("r", *rules)],
        "clusterrolebindings": [binding("b", "ClusterRole", "r", "User:bob")],
    }
    rows = [row for row in findings(objects) if row["control"] != "CIS-K8s 5.1.3"]  # a verb "*" is a wildcard too
    got = [(row["control"], row["message"].split(" (")[1].split(")")[0]) for row in rows]
    assert got == ([(control, verbs)] if control else [])


def test_create_is_not_granted_by_a_rule_with_resource_names() -> None:
    objects = {
        "clusterroles": [cluster_role("r", rule([""], ["pods"], ["create", "get"], resourceNames=["x"]))],
        "clusterrolebindings": [binding("b", "ClusterRole", "r", "User:bob")],
    }
    assert findings(objects, "CIS-K8s 5.1.4") == []


def test_node_proxy_any_verb_is_reported_with_its_verbs() -> None:
    objects = {
        "clusterroles": [cluster_role("r", rule([""], ["nodes/proxy"], ["*"]))],
        "clusterrolebindings": [binding("b", "ClusterRole", "r", "User:bob")],
    }
    assert messages(objects, "CIS-K8s 5.1.10") == [
        "User:bob may use the proxy of nodes (any verb) in every namespace, by ClusterRoleBinding/b -> ClusterRole/r"
    ]


def test_aggregated_cluster_role_carries_the_rules_of_the_roles_it_selects() -> None:
    # As the API server stores it before the aggregation controller filled in the rules.
    aggregate = cluster_role(
        "team-edit",
        aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-team": "true"}}]},
    )
    piece = cluster_role("team-secrets", rule([""], ["secrets"], ["get"]), labels={"example.com/aggregate-to-team": "true"})
    unrelated = cluster_role("other", rule([""], ["pods"], ["create"]), labels={"example.com/aggregate-to-team": "false"})
    objects = {
        "clusterroles": [aggregate, piece, unrelated],
        "clusterrolebindings": [binding("team", "ClusterRole", "team-edit", "Group:team")],
    }
    [row] = findings(objects)
    assert row["role"] == "ClusterRole/team-edit"
    assert row["rule_from"] == "ClusterRole/team-secrets"
    assert row["message"].endswith("by ClusterRoleBinding/team -> ClusterRole/team-edit (rule from ClusterRole/team-secrets)")
    # Once the controller copied the rule in, it is still reported once, from where it was written.
    aggregate["rules"] = [rule([""], ["secrets"], ["get"])]
    assert [r["rule_from"] for r in findings(objects)] == ["ClusterRole/team-secrets"]


def test_aggregation_through_match_expressions_and_cycles() -> None:
    first = cluster_role(
        "a",
        labels={"tier": "x"},
        aggregationRule={"clusterRoleSelectors": [{"matchExpressions": [{"key": "tier", "operator": "In", "values": ["y"]}]}]},
    )
    second = cluster_role(
        "b",
        rule([""], ["pods"], ["create"]),
        labels={"tier": "y"},
        aggregationRule={"clusterRoleSelectors": [{"matchExpressions": [{"key": "tier", "operator": "Exists"}]}]},
    )
    objects = {"clusterroles": [first, second], "clusterrolebindings": [binding("b", "ClusterRole", "a", "User:u")]}
    assert [r["rule_from"] for r in findings(objects, "CIS-K8s 5.1.4")] == ["ClusterRole/b"]


def test_an_empty_selector_selects_nothing() -> None:
    aggregate = cluster_role("agg", aggregationRule={"clusterRoleSelectors": [{}]})
    objects = {
        "clusterroles": [aggregate, SECRET_READER],
        "clusterrolebindings": [binding("b", "ClusterRole", "agg", "User:u")],
    }
    assert findings(objects, "CIS-K8s 5.1.2") == []


def test_cluster_admin_beyond_the_allowlist_and_bootstrap_bindings() -> None:
    admin = cluster_role("cluster-admin", rule(["*"], ["*"], ["*"]), {"nonResourceURLs": ["*"], "verbs": ["*"]})
    objects = {
        "clusterroles": [admin],
        "clusterrolebindings": [
            binding("cluster-admin", "ClusterRole", "cluster-admin", "Group:system:masters", meta=BOOTSTRAP),
            binding("kubeadm:cluster-admins", "ClusterRole", "cluster-admin", "Group:kubeadm:cluster-admins"),
            binding("old-team", "ClusterRole", "cluster-admin", "User:carol"),
        ],
    }
    rows = findings(objects, "CIS-K8s 5.1.1", cluster_admins=["Group:kubeadm:cluster-admins"])
    assert [(r["subject"], r["bootstrap"]) for r in rows] == [("Group:system:masters", True), ("User:carol", False)]
    result = audit(objects, cluster_admins=["Group:kubeadm:cluster-admins"], today=datetime.date(2026, 12, 1))
    assert result.summary["CIS-K8s 5.1.1"] == {"findings": 2, "waived": 0, "bootstrap": 1, "open": 1}
    assert result.item_status["cluster_admin"] == "finding"
    # cluster-admin implies every other control: it is reported once, and not at all for an allowed subject.
    assert [(r["control"], r["subject"]) for r in result.open_findings] == [("CIS-K8s 5.1.1", "User:carol")]


def test_a_forged_bootstrap_label_on_a_name_the_api_server_does_not_own_is_not_bootstrap() -> None:
    objects = {
        "clusterroles": [SECRET_READER],
        "clusterrolebindings": [binding("sneaky", "ClusterRole", "secret-reader", "User:eve", meta=BOOTSTRAP)],
    }
    assert [r["bootstrap"] for r in findings(objects, "CIS-K8s 5.1.2")] == [False]
    # And a bootstrap binding someone stopped the API server from reconciling is theirs now.
    unreconciled = {"labels": BOOTSTRAP["labels"], "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "false"}}
    objects["clusterrolebindings"] = [binding("system:x", "ClusterRole", "secret-reader", "User:eve", meta=unreconciled)]
    assert [r["bootstrap"] for r in findings(objects, "CIS-K8s 5.1.2")] == [False]


def test_system_masters_rights_and_bindings() -> None:
    objects = {
        "clusterroles": [SECRET_READER],
        "rolebindings": [binding("m", "ClusterRole", "secret-reader", "Group:system:masters", namespace="ns")],
    }
    rows = findings(objects, "CIS-K8s 5.1.7")
    assert [(r["binding"], r["bootstrap"]) for r in rows] == [(None, True), ("RoleBinding/ns/m", False)]
    assert rows[0]["message"].startswith("Group:system:masters may do everything, by the API server's authorizer")


def test_an_unbound_bootstrap_role_with_wildcards_is_the_api_server_s() -> None:
    kubelet_api_admin = cluster_role("system:kubelet-api-admin", rule([""], ["nodes/proxy"], ["*"]))
    kubelet_api_admin["metadata"].update(BOOTSTRAP)
    [row] = findings({"clusterroles": [kubelet_api_admin]}, "CIS-K8s 5.1.3")
    assert (row["object"], row["bootstrap"]) == ("ClusterRole/system:kubelet-api-admin", True)


def test_wildcard_roles_bound_and_unbound() -> None:
    objects = {
        "clusterroles": [cluster_role("wild", rule(["*"], ["pods"], ["get"])), cluster_role("unused", rule([""], ["*"], ["get"]))],
        "roles": [role("ns", "local-wild", rule([""], ["configmaps"], ["*"]))],
        "clusterrolebindings": [binding("b", "ClusterRole", "wild", "User:u")],
    }
    assert messages(objects, "CIS-K8s 5.1.3") == [
        "ClusterRole/unused holds a wildcard rule (no binding uses it yet)",
        "Role/ns/local-wild holds a wildcard rule (no binding uses it yet)",
        "User:u holds a wildcard rule in every namespace, by ClusterRoleBinding/b -> ClusterRole/wild",
    ]


def test_default_service_accounts_and_token_mounts() -> None:
    objects = {
        "clusterroles": [cluster_role("reader", rule([""], ["configmaps"], ["get"]))],
        "rolebindings": [
            binding("d", "ClusterRole", "reader", "ServiceAccount:app/default", namespace="app"),
            binding("w", "ClusterRole", "reader", "ServiceAccount:app/worker", namespace="app"),
        ],
        "serviceaccounts": [
            {"metadata": {"namespace": "app", "name": "default"}},
            {"metadata": {"namespace": "quiet", "name": "default"}, "automountServiceAccountToken": False},
            {"metadata": {"namespace": "app", "name": "worker"}},
            {"metadata": {"namespace": "app", "name": "idle"}},
            {"metadata": {"namespace": "app", "name": "off"}, "automountServiceAccountToken": False},
        ],
        "pods": [
            {"metadata": {"namespace": "app", "name": "uses-worker"}, "spec": {"serviceAccountName": "worker"}},
            {"metadata": {"namespace": "app", "name": "idle-token"}, "spec": {"serviceAccountName": "idle"}},
            {"metadata": {"namespace": "app", "name": "opted-out"}, "spec": {"serviceAccountName": "idle", "automountServiceAccountToken": False}},
            {"metadata": {"namespace": "app", "name": "sa-off"}, "spec": {"serviceAccountName": "off"}},
            {"metadata": {"namespace": "app", "name": "sa-off-pod-on"}, "spec": {"serviceAccountName": "off", "automountServiceAccountToken": True}},
            {"metadata": {"namespace": "kube-system", "name": "etcd-cp", "annotations": {"kubernetes.io/config.mirror": "x"}}, "spec": {}},
        ],
    }
    assert messages(objects, "CIS-K8s 5.1.5") == [
        "ServiceAccount:app/default does not set automountServiceAccountToken: false",
        "ServiceAccount:app/default is a default service account that is granted rights in namespace app,"
        " by RoleBinding/app/d -> ClusterRole/reader",
    ]
    assert [r["object"] for r in findings(objects, "CIS-K8s 5.1.6")] == ["Pod/app/idle-token", "Pod/app/sa-off-pod-on"]


def test_public_grants_beyond_the_discovery_defaults() -> None:
    objects = {
        "clusterroles": [
            cluster_role("system:discovery", {"nonResourceURLs": ["/api", "/apis"], "verbs": ["get"]}),
            cluster_role("leaky", rule([""], ["configmaps"], ["get"])),
        ],
        "clusterrolebindings": [
            binding("system:discovery", "ClusterRole", "system:discovery", "Group:system:authenticated", meta=BOOTSTRAP),
            binding("system:discovery-anon", "ClusterRole", "system:discovery", "User:system:anonymous", meta=BOOTSTRAP),
        ],
        "rolebindings": [binding("l", "ClusterRole", "leaky", "Group:system:unauthenticated", namespace="kube-public")],
    }
    assert [(r["subject"], r["binding"], r["bootstrap"]) for r in findings(objects, "BWK-12")] == [
        ("Group:system:unauthenticated", "RoleBinding/kube-public/l", False),
        ("User:system:anonymous", "ClusterRoleBinding/system:discovery-anon", True),
    ]


def test_a_binding_to_a_missing_role_is_a_problem_not_a_finding() -> None:
    objects = {"rolebindings": [binding("old", "Role", "gone", "User:u", namespace="team")]}
    result = audit(objects, today=datetime.date(2026, 12, 1))
    assert result.problems == [
        "RoleBinding/team/old names Role/team/gone, which does not exist: it grants nothing until someone creates it."
    ]
    assert [r["control"] for r in result.findings] == ["CIS-K8s 5.1.7"]


def test_waivers_match_every_field_they_give_and_expire() -> None:
    objects = {
        "clusterroles": [SECRET_READER],
        "clusterrolebindings": [
            binding("one", "ClusterRole", "secret-reader", "User:a", "User:b"),
        ],
    }
    waivers = parse_waivers(
        [
            {"control": "CIS-K8s 5.1.2", "subject": "User:a", "reason": "the backup job (OPS-1)"},
            {"control": "CIS-K8s 5.1.2", "subject": "User:b", "reason": "old", "expires": "2026-11-30"},
            {"control": "CIS-K8s 5.1.4", "reason": "matches nothing"},
        ]
    )
    result = audit(objects, waivers=waivers, today=datetime.date(2026, 12, 1))
    rows = [r for r in result.findings if r["control"] == "CIS-K8s 5.1.2"]
    assert [(r["subject"], r["waived"], r["reason"]) for r in rows] == [
        ("User:a", True, "the backup job (OPS-1)"),
        ("User:b", False, None),
    ]
    assert result.unused_waivers == [2]
    assert result.summary["CIS-K8s 5.1.2"] == {"findings": 2, "waived": 1, "bootstrap": 0, "open": 1}


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"control": "CIS-K8s 5.1.99", "reason": "x"}, "waivers[0].control: 'CIS-K8s 5.1.99' is not a control of this audit; use one of CIS-K8s 5.1.1,"),
        ({"control": "CIS-K8s 5.1.2", "reason": " "}, "waivers[0].reason must be one line of text, not ' '."),
        ({"control": "CIS-K8s 5.1.2", "reason": "x", "subject": "alice"}, "waivers[0].subject: 'alice' is not a subject; write User:NAME,"),
        ({"control": "CIS-K8s 5.1.2", "reason": "x", "expires": "31.12.2026"}, "waivers[0].expires must be a date written YYYY-MM-DD, not '31.12.2026'."),
        ({"control": "CIS-K8s 5.1.2", "reason": "x", "expires": "2026-02-30"}, "waivers[0].expires: day is out of range for month."),
        ({"control": "CIS-K8s 5.1.2", "reason": "x", "host": "a"}, "waivers[0]: unknown key(s) host; allowed: control, reason,"),
    ],
)
def test_bad_waivers_are_refused_by_name(entry: dict[str, t.Any], message: str) -> None:
    with pytest.raises(RbacError) as exc:
        parse_waivers([entry])
    assert str(exc.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "kind", "name", "namespace"),
    [
        ("User:alice", "User", "alice", ""),
        ("Group:system:authenticated", "Group", "system:authenticated", ""),
        ("ServiceAccount:ci/deployer", "ServiceAccount", "deployer", "ci"),
    ],
)
def test_parse_subject(text: str, kind: str, name: str, namespace: str) -> None:
    parsed = parse_subject(text, "x")
    assert (parsed.kind, parsed.name, parsed.namespace, str(parsed)) == (kind, name, namespace, text)


@pytest.mark.parametrize("text", ["alice", "user:alice", "User:", "ServiceAccount:deployer", "ServiceAccount:/x", "ServiceAccount:a/b/c", "User: a", 7, None])
def test_parse_subject_refuses(text: t.Any) -> None:
    with pytest.raises(RbacError, match=r"^x: .* is not a subject; write User:NAME, Group:NAME or ServiceAccount:NAMESPACE/NAME\.$"):
        parse_subject(text, "x")


def test_unchecked_controls_are_never_ok() -> None:
    result = audit({}, unchecked=["CIS-K8s 5.1.6"], today=datetime.date(2026, 12, 1))
    assert result.item_status["token_automount"] == "not-checked"
    assert set(result.item_status) == set(CHECKS.values())


def test_rule_round_trip() -> None:
    data = rule([""], ["pods"], ["get"], resourceNames=["a"])
    assert Rule.from_api(data, "ClusterRole/x").as_api() == data


_WORDS = st.sampled_from(["", "*", "pods", "secrets", "nodes/proxy", "*/proxy", "apps", "get", "create", "bind", "/api"])
_RULE = st.fixed_dictionaries(
    {},
    optional={
        "apiGroups": st.lists(_WORDS, max_size=3),
        "resources": st.lists(_WORDS, max_size=3),
        "verbs": st.lists(_WORDS, max_size=3),
        "resourceNames": st.lists(_WORDS, max_size=2),
        "nonResourceURLs": st.lists(_WORDS, max_size=2),
    },
)
_SUBJECTS = st.sampled_from(["User:u", "Group:system:authenticated", "Group:system:masters", "ServiceAccount:ns/default"])


@settings(max_examples=200, deadline=None, database=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b", "cluster-admin"]), st.lists(_RULE, max_size=3)), max_size=3),
    st.lists(st.tuples(st.sampled_from(["a", "b", "cluster-admin", "gone"]), st.booleans(), _SUBJECTS), max_size=4),
)
def test_generated_rbac_objects_give_findings_a_reviewer_can_trace(
    roles: list[tuple[str, list[dict[str, t.Any]]]], bindings: list[tuple[str, bool, str]]
) -> None:
    objects = {
        "clusterroles": [cluster_role(name, *rules) for name, rules in roles],
        "clusterrolebindings": [binding(f"c{i}", "ClusterRole", r, s) for i, (r, cluster, s) in enumerate(bindings) if cluster],
        "rolebindings": [binding(f"r{i}", "ClusterRole", r, s, namespace="ns") for i, (r, cluster, s) in enumerate(bindings) if not cluster],
    }
    result = audit(objects, today=datetime.date(2026, 12, 1))
    for row in result.findings:
        assert row["control"] in CHECKS and row["message"]
        # A grant finding names the binding and role it came from, and holds where that binding holds.
        if row["binding"]:
            assert row["role"] and row["subject"]
            assert (row["namespace"] == "ns") == row["binding"].startswith("RoleBinding/")
        # A RoleBinding never reaches what only a ClusterRoleBinding can grant.
        if row["namespace"] == "ns":
            assert row["control"] not in ("CIS-K8s 5.1.9", "CIS-K8s 5.1.10", "CIS-K8s 5.1.11", "CIS-K8s 5.1.12")
    assert sum(c["findings"] for c in result.summary.values()) == len(result.findings)
