# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.bulwark.hardening.plugins.module_utils.namespace_policy import (
    PSA_PREFIX,
    PolicyError,
    item_status,
    network_policies,
    plan,
    pod_security_labels,
    probe_pod,
    violations,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import OWNER_LABEL

OURS = {OWNER_LABEL[0]: OWNER_LABEL[1]}
RESTRICTED = {"enforce": "restricted", "audit": "restricted", "warn": "restricted", "version": "v1.37"}
DNS = {"namespace": "kube-system", "pod_labels": {"k8s-app": "kube-dns"}}
SYSTEM = [{"name": "kube-system", "reason": "the control plane needs host access"}]


def namespace(name: str, labels: dict[str, str] | None = None, phase: str = "Active") -> dict[str, t.Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name, **(labels or {})}, "resourceVersion": "3"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": phase},
    }


def labelled(name: str, **levels: str) -> dict[str, t.Any]:
    return namespace(name, pod_security_labels({**RESTRICTED, **levels}, ""))


def ours(ns: str, **overrides: t.Any) -> list[dict[str, t.Any]]:
    live = []
    for body in network_policies(ns, True, DNS).values():
        body = {**body, "metadata": {**body["metadata"], "resourceVersion": "9"}}
        body.update(overrides.get(body["metadata"]["name"], {}))
        live.append(body)
    return live


def run(namespaces: list[dict[str, t.Any]], policies: list[dict[str, t.Any]] | None = None, **kwargs: t.Any) -> t.Any:
    options: dict[str, t.Any] = {
        "pod_security": RESTRICTED,
        "default_deny": True,
        "dns_egress": DNS,
        "exempt_namespaces": SYSTEM,
        "server_version": "v1.37",
    }
    options.update(kwargs)
    return plan(namespaces, policies or [], **options)


def test_a_new_namespace_gets_six_labels_and_two_policies() -> None:
    result = run([namespace("team-a", {"team": "a"}), namespace("kube-system")])
    (label_change,) = [c for c in result.changes if c.kind == "Namespace"]
    labels = label_change.after["metadata"]["labels"]
    assert labels["team"] == "a", "the namespace's own labels are kept"
    assert {k: v for k, v in labels.items() if k.startswith(PSA_PREFIX)} == {
        f"{PSA_PREFIX}{mode}{suffix}": (value if not suffix else "v1.37")
        for mode, value in (("enforce", "restricted"), ("audit", "restricted"), ("warn", "restricted"))
        for suffix in ("", "-version")
    }
    assert "status" not in label_change.after
    assert result.refs("create") == ["NetworkPolicy/team-a/bulwark-allow-dns", "NetworkPolicy/team-a/bulwark-default-deny"]
    assert result.enforce_changes == ("team-a",)
    assert result.in_scope == ("team-a",)
    assert result.exempt == {"kube-system": "the control plane needs host access"}
    assert result.without_network_policy == ("kube-system",), "an exempt namespace without a policy is reported"


def test_the_default_deny_policy_selects_every_pod_and_allows_nothing() -> None:
    deny = network_policies("team-a", True, None)["bulwark-default-deny"]
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert deny["metadata"]["labels"] == OURS


def test_dns_egress_goes_to_the_dns_pods_on_port_53_only() -> None:
    dns = network_policies("team-a", True, DNS)["bulwark-allow-dns"]["spec"]
    assert dns["policyTypes"] == ["Egress"]
    (rule,) = dns["egress"]
    assert rule["ports"] == [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]
    assert rule["to"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}
    ]
    any_pod = network_policies("team-a", True, {"namespace": "dns", "pod_labels": {}})["bulwark-allow-dns"]["spec"]
    assert "podSelector" not in any_pod["egress"][0]["to"][0]


def test_a_namespace_as_declared_needs_nothing() -> None:
    result = run([labelled("team-a")], ours("team-a"))
    assert result.changes == ()
    assert result.labelled_as_declared == ("team-a",)
    assert item_status(result, "restricted", True) == {"pod_security": "ok", "pod_security_restricted": "ok", "network_policies": "ok"}


def test_audit_and_warn_changes_are_not_enforce_changes() -> None:
    result = run([labelled("team-a", warn="baseline")], ours("team-a"))
    assert [c.ref for c in result.changes] == ["Namespace/team-a"]
    assert result.enforce_changes == ()
    result = run([labelled("team-a", version="v1.36")], ours("team-a"))
    assert result.enforce_changes == ("team-a",), "a new version can refuse what the old one admitted"


def test_a_drifted_policy_is_put_back_and_a_foreign_one_is_an_error() -> None:
    drifted = ours("team-a", **{"bulwark-default-deny": {"spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}})
    result = run([labelled("team-a")], drifted)
    assert result.refs("update") == ["NetworkPolicy/team-a/bulwark-default-deny"]
    assert result.changes[0].after["metadata"]["resourceVersion"] == "9"
    foreign = ours("team-a", **{"bulwark-allow-dns": {"metadata": {"name": "bulwark-allow-dns", "namespace": "team-a"}}})
    with pytest.raises(PolicyError, match="team-a/bulwark-allow-dns exists and is not ours"):
        run([labelled("team-a")], foreign)


def test_ours_are_deleted_when_no_longer_wanted_and_the_users_are_kept() -> None:
    users = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "allow-web", "namespace": "team-a"}, "spec": {}}
    result = run([labelled("team-a")], ours("team-a") + [users], default_deny=False)
    assert result.refs("delete") == ["NetworkPolicy/team-a/bulwark-default-deny", "NetworkPolicy/team-a/bulwark-allow-dns"]
    assert result.without_network_policy == (), "the user's policy still counts"
    result = run([labelled("team-a")], ours("team-a"), default_deny=False)
    assert result.without_network_policy == ("team-a",)
    assert item_status(result, "restricted", True)["network_policies"] == "finding"
    result = run([labelled("team-a")], ours("team-a"), dns_egress=None)
    assert result.refs("delete") == ["NetworkPolicy/team-a/bulwark-allow-dns"]


def test_exempt_and_terminating_namespaces_are_left_alone() -> None:
    result = run([namespace("kube-system"), namespace("old", phase="Terminating")], ours("kube-system"))
    assert result.changes == ()
    assert result.terminating == ("old",)
    assert result.unused_exemptions == ()
    result = run([namespace("team-a")], exempt_namespaces=[{"name": "gone", "reason": "legacy"}])
    assert result.unused_exemptions == ("gone",)


def test_without_pod_security_the_labels_are_not_touched() -> None:
    result = run([namespace("team-a", {f"{PSA_PREFIX}enforce": "baseline"})], pod_security=None)
    assert {c.kind for c in result.changes} == {"NetworkPolicy"}
    assert "pod_security" not in item_status(result, None, None)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"exempt_namespaces": [{"name": "kube-system", "reason": " "}]}, r"exempt_namespaces\[0\]\.reason: say why kube-system"),
        ({"exempt_namespaces": [{"name": "Kube_System", "reason": "x"}]}, r"exempt_namespaces\[0\]\.name: 'Kube_System' is not a namespace name"),
        ({"exempt_namespaces": SYSTEM * 2}, r"exempt_namespaces\[1\]: kube-system is exempt a second time"),
        ({"pod_security": {**RESTRICTED, "version": "latest"}}, r"pod_security\.version: 'latest' is not a pinned version"),
        ({"pod_security": {**RESTRICTED, "enforce": "privileged"}}, r"pod_security\.enforce: 'privileged' is not one of baseline, restricted"),
        ({"pod_security": {**RESTRICTED, "warn": "strict"}}, r"pod_security\.warn: 'strict'"),
        ({"dns_egress": {"namespace": "kube system"}}, r"dns_egress\.namespace"),
        ({"dns_egress": {"namespace": "kube-system", "pod_labels": ["k8s-app"]}}, r"dns_egress\.pod_labels: give a mapping"),
        ({"dns_egress": {"namespace": "kube-system", "pod_labels": {"k8s-app": "a b"}}}, r"dns_egress\.pod_labels: 'k8s-app': 'a b'"),
    ],
)
def test_bad_input_is_refused_by_option(options: dict[str, t.Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        run([namespace("team-a")], **options)


def test_the_version_defaults_to_the_servers() -> None:
    result = run([namespace("team-a")], pod_security={**RESTRICTED, "version": None}, server_version="v1.38")
    assert result.changes[0].after["metadata"]["labels"][f"{PSA_PREFIX}enforce-version"] == "v1.38"


def test_violations_come_from_the_pod_security_warnings_of_enforce_changes() -> None:
    warnings = {
        "Namespace/team-a": [
            'existing pods in namespace "team-a" violate the new PodSecurity enforce level "restricted:v1.37"',
            "web-1 (and 2 other pods): allowPrivilegeEscalation != false, runAsNonRoot != true",
        ],
        "Namespace/team-b": [],
        "Namespace/team-c": ['existing pods in namespace "team-c" violate the new PodSecurity enforce level "restricted:v1.37"'],
    }
    assert violations(warnings, ["team-a", "team-b"]) == [
        {"namespace": "team-a", "level": "restricted:v1.37", "pods": ["web-1 (and 2 other pods): allowPrivilegeEscalation != false, runAsNonRoot != true"]}
    ]
    assert violations(warnings, ["team-b"]) == []


def test_item_status_follows_the_probe() -> None:
    pending = run([namespace("team-a")])
    assert item_status(pending, "restricted", True)["pod_security"] == "changed"
    assert item_status(pending, "restricted", False)["pod_security"] == "not-in-effect", "an admitted probe is never a pass"
    done = run([labelled("team-a", enforce="baseline")], ours("team-a"), pod_security={**RESTRICTED, "enforce": "baseline"})
    assert item_status(done, "baseline", True) == {"pod_security": "ok", "pod_security_restricted": "not-in-effect", "network_policies": "ok"}
    assert item_status(done, "baseline", None)["pod_security"] == "not-checked"
    assert item_status(run([namespace("kube-system")]), "restricted", None)["pod_security"] == "ok", "nothing is in scope"


def test_the_probe_violates_the_level_it_probes() -> None:
    restricted = probe_pod("team-a", "restricted")["spec"]["containers"][0]
    assert "securityContext" not in restricted, "baseline admits it; restricted refuses it"
    baseline = probe_pod("team-a", "baseline")["spec"]["containers"][0]
    assert baseline["securityContext"] == {"privileged": True}


@given(st.lists(st.from_regex(r"[a-z][a-z0-9-]{0,8}[a-z0-9]", fullmatch=True), unique=True, max_size=12), st.booleans())
def test_every_namespace_in_scope_has_a_policy_afterwards_when_default_deny(names: list[str], deny: bool) -> None:
    result = run([namespace(name) for name in names] + [namespace("kube-system")], default_deny=deny)
    assert set(result.in_scope) == set(names) - {"kube-system"}
    lacking = set(result.without_network_policy) & set(result.in_scope)
    assert lacking == (set() if deny else set(result.in_scope))
    created = {(c.namespace, c.name) for c in result.changes if c.action == "create"}
    assert all(ns in result.in_scope for ns, _name in created), "nothing is created outside the scope"
