# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_declared import OWNER_LABEL, plan
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import RbacError

OURS = {OWNER_LABEL[0]: OWNER_LABEL[1]}
BOOTSTRAP = {
    "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
    "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
}
NAMESPACES = {"default", "team-a"}


def live_binding(name: str, role: str, *subjects: dict[str, str], ns: str = "", labels: dict[str, str] | None = None, **meta: t.Any) -> dict[str, t.Any]:
    kind, _sep, role_name = role.partition("/")
    metadata = {"name": name, "labels": labels or {}, "resourceVersion": "7", **meta}
    if ns:
        metadata["namespace"] = ns
    return {
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def user(name: str) -> dict[str, str]:
    return {"kind": "User", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


def group(name: str) -> dict[str, str]:
    return {"kind": "Group", "name": name, "apiGroup": "rbac.authorization.k8s.io"}


LIVE: dict[str, list[dict[str, t.Any]]] = {
    "clusterroles": [{"metadata": {"name": "view"}}, {"metadata": {"name": "edit"}}],
    "roles": [{"metadata": {"name": "deployer", "namespace": "team-a"}, "rules": []}],
}


def changes(live: dict[str, list[dict[str, t.Any]]], **declared: t.Any) -> list[tuple[str, str]]:
    return [(c.action, c.ref) for c in plan({**LIVE, **live}, NAMESPACES, **declared).changes]


def test_a_declared_binding_is_created_labelled_with_exact_subjects() -> None:
    result = plan(LIVE, NAMESPACES, bindings=[{"name": "oncall", "role": "ClusterRole/view", "subjects": ["Group:oncall", "Group:oncall"]}])
    [change] = result.changes
    assert (change.action, change.ref) == ("create", "ClusterRoleBinding/oncall")
    assert change.after == {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "oncall", "labels": OURS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [group("oncall")],
    }
    assert result.item_status == {"ClusterRoleBinding/oncall": "changed"}


def test_a_binding_as_declared_is_left_alone_in_any_order() -> None:
    live = {"clusterrolebindings": [live_binding("oncall", "ClusterRole/view", group("b"), group("a"), labels=OURS)]}
    result = plan({**LIVE, **live}, NAMESPACES, bindings=[{"name": "oncall", "role": "ClusterRole/view", "subjects": ["Group:a", "Group:b"]}])
    assert result.changes == ()
    assert result.item_status == {"ClusterRoleBinding/oncall": "ok"}


def test_subjects_become_exact_and_other_metadata_is_kept() -> None:
    live = {
        "clusterrolebindings": [
            live_binding("oncall", "ClusterRole/view", group("a"), user("old"), labels={"team": "x"}, annotations={"note": "n"})
        ]
    }
    [change] = plan({**LIVE, **live}, NAMESPACES, bindings=[{"name": "oncall", "role": "ClusterRole/view", "subjects": ["Group:a"]}]).changes
    assert change.action == "update"
    assert change.after["subjects"] == [group("a")]
    assert change.after["metadata"] == {
        "name": "oncall",
        "labels": {"team": "x", **OURS},
        "annotations": {"note": "n"},
        "resourceVersion": "7",
    }
    assert change.diff()["before"]["managed"] is False and change.diff()["after"]["managed"] is True


def test_a_changed_role_ref_is_replaced() -> None:
    live = {"clusterrolebindings": [live_binding("oncall", "ClusterRole/view", group("a"), labels=OURS)]}
    assert changes(live, bindings=[{"name": "oncall", "role": "ClusterRole/edit", "subjects": ["Group:a"]}]) == [
        ("replace", "ClusterRoleBinding/oncall")
    ]


def test_prune_deletes_only_what_carries_our_label_and_remove_lists_the_rest() -> None:
    live = {
        "clusterrolebindings": [
            live_binding("ours-gone", "ClusterRole/view", group("a"), labels=OURS),
            live_binding("theirs", "ClusterRole/edit", group("b")),
            live_binding("listed", "ClusterRole/edit", group("c")),
        ],
        "clusterroles": [*LIVE["clusterroles"], {"metadata": {"name": "ours-role", "labels": OURS}}],
    }
    assert changes(live, remove=["ClusterRoleBinding/listed", "RoleBinding/team-a/not-there"]) == [
        ("delete", "ClusterRoleBinding/listed"),
        ("delete", "ClusterRoleBinding/ours-gone"),
        ("delete", "ClusterRole/ours-role"),  # after the bindings
    ]
    assert changes(live, prune=False) == []


def test_public_subjects_are_taken_out_of_other_bindings_but_not_bootstrap_ones() -> None:
    anonymous, unauthenticated = user("system:anonymous"), group("system:unauthenticated")
    live = {
        "clusterrolebindings": [
            live_binding("mixed", "ClusterRole/view", anonymous, group("a")),
            live_binding("only-public", "ClusterRole/view", unauthenticated),
            live_binding("system:public-info-viewer", "ClusterRole/view", unauthenticated, **BOOTSTRAP),
        ],
    }
    result = plan({**LIVE, **live}, NAMESPACES, remove_subjects=["User:system:anonymous", "Group:system:unauthenticated"])
    assert [(c.action, c.ref) for c in result.changes] == [
        ("update", "ClusterRoleBinding/mixed"),
        ("delete", "ClusterRoleBinding/only-public"),
    ]
    assert result.changes[0].after["subjects"] == [group("a")]
    assert result.changes[0].after["metadata"]["labels"] == {}  # not taken over


def test_roles_are_declared_and_compared_without_order() -> None:
    rules = [{"api_groups": ["apps"], "resources": ["deployments"], "verbs": ["list", "get"]}]
    live_rules = [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]}]
    live = {"roles": [{"metadata": {"name": "deployer", "namespace": "team-a", "labels": OURS}, "rules": live_rules}]}
    assert changes(live, roles=[{"name": "deployer", "namespace": "team-a", "rules": rules}]) == []
    assert changes({}, roles=[{"name": "deployer", "namespace": "team-a", "rules": rules}]) == [("update", "Role/team-a/deployer")]
    # A binding may name a role declared in the same call.
    assert changes(
        {},
        roles=[{"name": "new", "namespace": "team-a", "rules": rules}],
        bindings=[{"name": "b", "namespace": "team-a", "role": "Role/new", "subjects": ["ServiceAccount:team-a/ci"]}],
    ) == [("create", "Role/team-a/new"), ("create", "RoleBinding/team-a/b")]


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        (
            {"bindings": [{"name": "b", "role": "ClusterRole/nope", "subjects": ["User:u"]}]},
            "bindings[0].role: ClusterRole/nope does not exist and is not declared in roles; a binding to it would grant nothing.",
        ),
        (
            {"bindings": [{"name": "b", "namespace": "default", "role": "Role/deployer", "subjects": ["User:u"]}]},
            "bindings[0].role: Role/default/deployer does not exist and is not declared in roles;",
        ),
        (
            {"bindings": [{"name": "b", "role": "Role/deployer", "subjects": ["User:u"]}]},
            "bindings[0].role: a ClusterRoleBinding cannot name a Role; give the binding a namespace.",
        ),
        (
            {"bindings": [{"name": "b", "namespace": "ghost", "role": "ClusterRole/view", "subjects": ["User:u"]}]},
            "bindings[0].namespace: namespace 'ghost' does not exist; create it first.",
        ),
        ({"bindings": [{"name": "b", "role": "view", "subjects": ["User:u"]}]}, "bindings[0].role: 'view' is not a role;"),
        ({"bindings": [{"name": "b", "role": "ClusterRole/view", "subjects": []}]}, "bindings[0].subjects must be a non-empty list"),
        ({"bindings": [{"name": "b", "role": "ClusterRole/view", "subjects": ["u"]}]}, "bindings[0].subjects[0]: 'u' is not a subject;"),
        (
            {"bindings": [{"name": "b", "role": "ClusterRole/view", "subjects": ["User:u"]}] * 2},
            "bindings[1] declares ClusterRoleBinding/b a second time; keep one.",
        ),
        ({"bindings": [{"name": "a/b", "role": "ClusterRole/view", "subjects": ["User:u"]}]}, "bindings[0].name: 'a/b' is not a name"),
        ({"roles": [{"name": "r", "rules": [{"verbs": ["get"], "resources": ["pods"]}]}]}, "roles[0].rules[0].api_groups: name the API groups"),
        ({"roles": [{"name": "r", "rules": [{"verbs": [], "resources": ["pods"], "api_groups": [""]}]}]}, "roles[0].rules[0].verbs: a rule needs"),
        ({"roles": [{"name": "r", "rules": [{"verbs": ["get"]}]}]}, "roles[0].rules[0]: give resources (with api_groups) or non_resource_urls"),
        ({"remove": ["Binding/x"]}, "remove[0]: 'Binding/x' is not an RBAC object;"),
        (
            {"remove": ["ClusterRoleBinding/b"], "bindings": [{"name": "b", "role": "ClusterRole/view", "subjects": ["User:u"]}]},
            "remove[0]: ClusterRoleBinding/b is also declared; keep one.",
        ),
        ({"remove_subjects": ["anonymous"]}, "remove_subjects[0]: 'anonymous' is not a subject;"),
    ],
)
def test_bad_declarations_fail_before_any_change(declared: dict[str, t.Any], message: str) -> None:
    with pytest.raises(RbacError) as exc:
        plan(LIVE, NAMESPACES, **declared)
    assert str(exc.value).startswith(message)


def test_default_service_accounts_stop_mounting_tokens() -> None:
    accounts = [
        {"metadata": {"name": "default", "namespace": "team-a", "resourceVersion": "3"}},
        {"metadata": {"name": "default", "namespace": "quiet"}, "automountServiceAccountToken": False},
        {"metadata": {"name": "builder", "namespace": "team-a"}},
    ]
    result = plan({**LIVE, "serviceaccounts": accounts}, NAMESPACES, default_tokens_off=True)
    [change] = result.changes
    assert (change.action, change.ref) == ("update", "ServiceAccount/team-a/default")
    assert change.after == {**accounts[0], "automountServiceAccountToken": False}
    assert change.diff()["after"]["automountServiceAccountToken"] is False
    assert plan({**LIVE, "serviceaccounts": accounts}, NAMESPACES).changes == ()
