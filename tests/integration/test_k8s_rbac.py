# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""k8s_rbac_audit and k8s_access_matrix against a real API server (kubeadm node of the lab, with
its controller manager, so namespaces get their default service accounts).

The cluster is seeded with risky objects (a wildcard ClusterRole, cluster-admin bound to a user,
secrets readable by everyone authenticated, an aggregated role that picks up secrets, pods
created for default service accounts) and the audit must report each by CIS id, with the
API server's bootstrap bindings marked as such. The access matrix is answered by the API
server itself, so a grant to a group of service accounts only shows when the review carries
the groups a real request carries. Then: the failures a user meets (unreachable server,
credentials that may not read RBAC), and the audit's time and memory on 100 and 1,000 roles
and bindings.
"""

from __future__ import annotations

import json
import time
import typing as t
from pathlib import Path

import pytest

from conftest import LabTarget, LabTargets, ansible_module

ADMIN = "/etc/kubernetes/admin.conf"
AUDIT = "bulwark.hardening.k8s_rbac_audit"
MATRIX = "bulwark.hardening.k8s_access_matrix"
KUBEADM_ADMINS = "Group:kubeadm:cluster-admins"

# Creates the objects of a JSON list read from stdin, in order, with the node's admin credentials;
# waits for each namespace's default service account (the controller manager makes it).
SEED = """
import json, sys, time
import kubernetes
kubernetes.config.load_kube_config("/etc/kubernetes/admin.conf")
client = kubernetes.client.ApiClient()
core = kubernetes.client.CoreV1Api(client)
for obj in json.load(sys.stdin):
    kubernetes.utils.create_from_dict(client, obj)
    if obj["kind"] == "Namespace":
        for _ in range(300):
            try:
                core.read_namespaced_service_account("default", obj["metadata"]["name"])
                break
            except kubernetes.client.ApiException:
                time.sleep(0.1)
"""

# Runs a module's python with the arguments it was given and records that process's peak RSS and wall time.
RSS_WRAPPER = """#!/usr/bin/python3
import resource, subprocess, sys, time
started = time.monotonic()
code = subprocess.call(["/usr/bin/python3", *sys.argv[1:]])
with open("/tmp/module-usage", "w") as out:
    out.write("%d %.3f" % (resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.monotonic() - started))
sys.exit(code)
"""


def meta(name: str, namespace: str = "", **labels: str) -> dict[str, t.Any]:
    data: dict[str, t.Any] = {"name": name}
    if namespace:
        data["namespace"] = namespace
    if labels:
        data["labels"] = labels
    return data


def namespace(name: str) -> dict[str, t.Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(name)}


def cluster_role(name: str, rules: list[dict[str, t.Any]], **extra: t.Any) -> dict[str, t.Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": extra.pop("metadata", meta(name)), "rules": rules, **extra}


def role(ns: str, name: str, rules: list[dict[str, t.Any]]) -> dict[str, t.Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": meta(name, ns), "rules": rules}


def subject(text: str) -> dict[str, str]:
    kind, _sep, rest = text.partition(":")
    if kind == "ServiceAccount":
        ns, _sep, name = rest.partition("/")
        return {"kind": kind, "name": name, "namespace": ns}
    return {"kind": kind, "name": rest, "apiGroup": "rbac.authorization.k8s.io"}


def binding(name: str, role_ref: str, *subjects: str, ns: str = "") -> dict[str, t.Any]:
    role_kind, _sep, role_name = role_ref.partition("/")
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding" if ns else "ClusterRoleBinding",
        "metadata": meta(name, ns),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": [subject(s) for s in subjects],
    }


def pod(ns: str, name: str, account: str) -> dict[str, t.Any]:
    spec = {"serviceAccountName": account, "containers": [{"name": "c", "image": "registry.example/app:1"}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta(name, ns), "spec": spec}


def rule(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, t.Any]:
    return {"apiGroups": groups, "resources": resources, "verbs": verbs}


RISKY = [
    namespace("team-a"),
    namespace("team-b"),
    # CIS-K8s 5.1.3: a wildcard ClusterRole nobody binds (yet).
    cluster_role("it-wildcard", [rule(["*"], ["*"], ["*"])]),
    # CIS-K8s 5.1.1: cluster-admin for a user who left.
    binding("it-old-admin", "ClusterRole/cluster-admin", "User:mallory"),
    # CIS-K8s 5.1.2 and BWK-12: every authenticated user may read secrets.
    cluster_role("it-secret-reader", [rule([""], ["secrets"], ["get", "list"])]),
    binding("it-read-secrets", "ClusterRole/it-secret-reader", "Group:system:authenticated"),
    # An aggregated role whose rules come from a labelled piece (the controller fills them in).
    cluster_role(
        "it-team-edit",
        [],
        aggregationRule={"clusterRoleSelectors": [{"matchLabels": {"example.com/aggregate-to-team-edit": "true"}}]},
    ),
    cluster_role(
        "it-team-piece",
        [rule([""], ["nodes/proxy"], ["get"])],
        metadata=meta("it-team-piece", **{"example.com/aggregate-to-team-edit": "true"}),
    ),
    binding("it-team-edit", "ClusterRole/it-team-edit", "Group:team-ops"),
    # CIS-K8s 5.1.4 and 5.1.5: the default service account of team-a may create pods there.
    role("team-a", "it-deployer", [rule([""], ["pods"], ["create"]), rule(["apps"], ["deployments"], ["create"])]),
    binding("it-deployer", "Role/it-deployer", "ServiceAccount:team-a/default", ns="team-a"),
    # Only a group of service accounts is granted this: the access matrix must carry that group.
    role("team-b", "it-config-reader", [rule([""], ["configmaps"], ["list"])]),
    binding("it-config-readers", "Role/it-config-reader", "Group:system:serviceaccounts:team-b", ns="team-b"),
    # A binding to a role that does not exist.
    binding("it-dangling", "Role/it-gone", "User:bob", ns="team-b"),
    # CIS-K8s 5.1.6: a pod that mounts the token of an account nobody grants anything.
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta("idle", "team-b")},
    pod("team-b", "idle-token", "idle"),
]


@pytest.fixture(scope="module")
def node(lab_targets: LabTargets) -> LabTarget:
    target = lab_targets.start_control_plane("bulwark-it-rbac")
    seed(target, RISKY)
    return target


def seed(target: LabTarget, objects: list[dict[str, t.Any]]) -> None:
    proc = target.exec("python3", "-c", SEED, stdin=json.dumps(objects).encode(), check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def audit(target: LabTarget, *flags: str, **args: t.Any) -> dict[str, t.Any]:
    return ansible_module(target, AUDIT, {"kubeconfig": ADMIN, "cluster_admins": [KUBEADM_ADMINS], **args}, *flags)


def of(result: dict[str, t.Any], control: str, **fields: t.Any) -> list[dict[str, t.Any]]:
    return [
        row
        for row in result["findings"]
        if row["control"] == control and all(row[key] == value for key, value in fields.items())
    ]


def test_audit_reports_every_seeded_grant_by_cis_id(node: LabTarget) -> None:
    result = audit(node, "--check")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert result["objects"]["clusterroles"] > 50  # the API server's bootstrap roles are all read

    [admin] = of(result, "CIS-K8s 5.1.1", subject="User:mallory")
    assert (admin["binding"], admin["bootstrap"], admin["waived"]) == ("ClusterRoleBinding/it-old-admin", False, False)
    # The API server's own binding of system:masters is reported, as bootstrap; kubeadm's group is allowed.
    assert [r["bootstrap"] for r in of(result, "CIS-K8s 5.1.1", subject="Group:system:masters")] == [True]
    assert of(result, "CIS-K8s 5.1.1", subject=KUBEADM_ADMINS) == []

    [secrets] = of(result, "CIS-K8s 5.1.2", binding="ClusterRoleBinding/it-read-secrets")
    assert secrets["message"] == (
        "Group:system:authenticated may read secrets (get/list) in every namespace,"
        " by ClusterRoleBinding/it-read-secrets -> ClusterRole/it-secret-reader"
    )
    assert of(result, "BWK-12", binding="ClusterRoleBinding/it-read-secrets")
    # The discovery defaults the API server gives everyone are not findings.
    assert of(result, "BWK-12", binding="ClusterRoleBinding/system:discovery") == []

    [wildcard] = of(result, "CIS-K8s 5.1.3", object="ClusterRole/it-wildcard")
    assert wildcard["message"] == "ClusterRole/it-wildcard holds a wildcard rule (no binding uses it yet)"

    # Through the aggregation: reported on the bound role, with the piece the rule came from.
    [proxy] = of(result, "CIS-K8s 5.1.10", binding="ClusterRoleBinding/it-team-edit")
    assert (proxy["role"], proxy["rule_from"]) == ("ClusterRole/it-team-edit", "ClusterRole/it-team-piece")

    pods = of(result, "CIS-K8s 5.1.4", subject="ServiceAccount:team-a/default")
    assert [(r["namespace"], r["message"].split(" (")[1].split(")")[0]) for r in pods] == [("team-a", "create")] * 2
    assert of(result, "CIS-K8s 5.1.5", subject="ServiceAccount:team-a/default", binding="RoleBinding/team-a/it-deployer")
    # Every namespace's default service account still mounts its token.
    assert {r["object"] for r in of(result, "CIS-K8s 5.1.5", binding=None)} >= {
        "ServiceAccount/team-a/default",
        "ServiceAccount/team-b/default",
        "ServiceAccount/default/default",
    }
    assert [r["object"] for r in of(result, "CIS-K8s 5.1.6")] == ["Pod/team-b/idle-token"]

    # The controllers' own grants are the API server's: bootstrap, never open.
    controllers = [r for r in result["findings"] if r["binding"] and r["subject"].startswith("ServiceAccount:kube-system/")]
    assert controllers and [r["message"] for r in controllers if not r["bootstrap"]] == []
    assert result["problems"] == [
        "RoleBinding/team-b/it-dangling names Role/team-b/it-gone, which does not exist: it grants nothing until"
        " someone creates it."
    ]
    assert result["item_status"]["cluster_admin"] == "finding"
    assert all(not r["bootstrap"] and not r["waived"] for r in result["open_findings"])


def test_waivers_accept_findings_and_unused_ones_are_named(node: LabTarget) -> None:
    result = audit(
        node,
        waivers=[
            {"control": "CIS-K8s 5.1.1", "subject": "User:mallory", "reason": "leaves on Friday (OPS-7)"},
            {"control": "CIS-K8s 5.1.9", "binding": "ClusterRoleBinding/nothing-like-it", "reason": "stale"},
        ],
    )
    [admin] = of(result, "CIS-K8s 5.1.1", subject="User:mallory")
    assert (admin["waived"], admin["reason"]) == (True, "leaves on Friday (OPS-7)")
    assert admin not in result["open_findings"]
    assert result["item_status"]["cluster_admin"] == "ok"
    assert result["unused_waivers"] == [1]


def test_access_matrix_holds_and_carries_the_groups_of_a_service_account(node: LabTarget) -> None:
    rows = [
        {"subject": "User:mallory", "verb": "delete", "resource": "nodes", "allowed": True},
        {"subject": "User:alice", "verb": "get", "resource": "secrets", "namespace": "team-b", "allowed": True},
        {"subject": "ServiceAccount:team-a/default", "verb": "create", "resource": "pods", "namespace": "team-a", "allowed": True},
        {"subject": "ServiceAccount:team-a/default", "verb": "create", "resource": "pods", "namespace": "team-b", "allowed": False},
        {"subject": "ServiceAccount:team-b/idle", "verb": "list", "resource": "configmaps", "namespace": "team-b", "allowed": True},
        {"subject": "Group:team-ops", "verb": "get", "resource": "nodes/proxy", "allowed": True},
        {"subject": "User:system:anonymous", "verb": "get", "non_resource_url": "/healthz", "allowed": True},
        {"subject": "User:system:anonymous", "verb": "list", "resource": "secrets", "allowed": False},
    ]
    result = ansible_module(node, MATRIX, {"kubeconfig": ADMIN, "rows": rows}, "--check")
    assert not result.get("failed"), result.get("msg")
    assert result["changed"] is False
    assert [r["holds"] for r in result["rows"]] == [True] * len(rows)
    assert result["differences"] == []
    # The authorizer says which binding allowed it.
    assert "it-config-readers" in result["rows"][4]["reason"]


def test_an_access_row_that_does_not_hold_fails_with_a_table(node: LabTarget) -> None:
    rows = [
        {"subject": "Group:team-ops", "verb": "get", "resource": "secrets", "namespace": "team-a", "allowed": False},
        {"subject": "User:alice", "verb": "create", "resource": "deployments.apps", "namespace": "team-a", "allowed": False},
    ]
    result = ansible_module(node, MATRIX, {"kubeconfig": ADMIN, "rows": rows})
    assert result["failed"] is True
    lines = result["msg"].splitlines()
    assert lines[0] == "1 of 2 rows of the access matrix do not hold:"
    assert lines[1].split() == ["subject", "verb", "resource", "namespace", "expected", "actual"]
    assert lines[2].startswith("Group:team-ops  get   secrets   team-a     denied    allowed (RBAC: allowed by ClusterRoleBinding")
    assert len(lines) == 3
    assert [r["holds"] for r in result["rows"]] == [False, True]


def test_credentials_that_may_not_read_rbac_and_an_unreachable_server(node: LabTarget) -> None:
    result = audit(node, impersonate_user="nobody")
    assert result["failed"] is True
    assert result["msg"].startswith(
        f"the credentials may not list clusterroles in every namespace on the API server at https://{node.address}:6443:"
        ' clusterroles.rbac.authorization.k8s.io is forbidden: User "nobody" cannot list resource "clusterroles"'
    )
    result = audit(node, host="https://127.0.0.1:1", validate_certs=False, api_key="not-a-token")
    assert result["failed"] is True
    assert result["msg"].startswith("cannot reach the API server at https://127.0.0.1:1 to read its version:")
    assert "not-a-token" not in json.dumps(result)
    result = ansible_module(node, MATRIX, {"kubeconfig": "/nonexistent/admin.conf", "rows": []})
    assert result["failed"] is True
    assert result["msg"].startswith("cannot build a client for the API server from the connection options:")


def test_bad_input_is_refused_before_the_api_is_asked(node: LabTarget) -> None:
    result = audit(node, host="https://127.0.0.1:1", cluster_admins=["alice"])
    assert result["msg"] == (
        "cluster_admins[0]: 'alice' is not a subject; write User:NAME, Group:NAME or ServiceAccount:NAMESPACE/NAME."
        " Nothing was read."
    )
    rows = [{"subject": "User:a", "verb": "get", "resource": "Pods", "allowed": True}]
    result = ansible_module(node, MATRIX, {"host": "https://127.0.0.1:1", "rows": rows})
    assert result["msg"].startswith("rows[0].resource: 'Pods' is not a resource;")
    assert result["msg"].endswith(" Nothing was asked.")


# Reads RBAC objects by reference (ClusterRoleBinding/NAME, RoleBinding/NS/NAME, ...) as JSON; null when absent.
READ = """
import json, sys
import kubernetes
kubernetes.config.load_kube_config("/etc/kubernetes/admin.conf")
client = kubernetes.client.ApiClient()
def subject(s):
    where = s["namespace"] + "/" if s["kind"] == "ServiceAccount" else ""
    return s["kind"] + ":" + where + s["name"]
plural = {"ClusterRole": "clusterroles", "Role": "roles", "ClusterRoleBinding": "clusterrolebindings", "RoleBinding": "rolebindings"}
out = {}
for ref in json.load(sys.stdin):
    kind, *rest = ref.split("/")
    path = "/apis/rbac.authorization.k8s.io/v1/" + ("namespaces/%s/" % rest[0] if len(rest) == 2 else "") + plural[kind] + "/" + rest[-1]
    try:
        data = client.call_api(path, "GET", auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
        obj = json.loads(data.data)
        meta = obj["metadata"]
        out[ref] = {"labels": meta.get("labels", {}), "roleRef": obj.get("roleRef"), "uid": meta["uid"],
                    "subjects": sorted(subject(s) for s in obj.get("subjects") or [])}
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise
        out[ref] = None
print(json.dumps(out))
"""
RBAC = "bulwark.hardening.k8s_rbac"
OWNED = {"app.kubernetes.io/managed-by": "bulwark.hardening"}


def read(target: LabTarget, *refs: str) -> dict[str, t.Any]:
    proc = target.exec("python3", "-c", READ, stdin=json.dumps(refs).encode(), check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return t.cast("dict[str, t.Any]", json.loads(proc.stdout))


def declared(**overrides: t.Any) -> dict[str, t.Any]:
    args: dict[str, t.Any] = {
        "kubeconfig": ADMIN,
        "roles": [{"name": "it-viewer", "namespace": "team-b", "rules": [{"api_groups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}],
        "bindings": [
            {"name": "it-viewers", "namespace": "team-b", "role": "Role/it-viewer", "subjects": ["Group:team-b", "ServiceAccount:team-b/idle"]},
            {"name": "it-oncall", "role": "ClusterRole/view", "subjects": ["Group:oncall"]},
        ],
        "remove": ["ClusterRoleBinding/it-old-admin"],
    }
    args.update(overrides)
    return args


def test_rbac_as_declared_check_apply_converge_replace_prune(node: LabTarget) -> None:
    seed(node, [binding("it-public-view", "ClusterRole/view", "User:system:anonymous", "Group:devs")])
    refs = ("Role/team-b/it-viewer", "RoleBinding/team-b/it-viewers", "ClusterRoleBinding/it-oncall",
            "ClusterRoleBinding/it-old-admin", "ClusterRoleBinding/it-public-view", "ClusterRoleBinding/it-read-secrets")  # fmt: skip
    before = read(node, *refs)

    check = ansible_module(node, RBAC, declared(), "--check", "--diff")
    assert not check.get("failed"), check.get("msg")
    assert check["changed"] is True
    assert check["created"] == ["Role/team-b/it-viewer", "RoleBinding/team-b/it-viewers", "ClusterRoleBinding/it-oncall"]
    assert check["updated"] == ["ClusterRoleBinding/it-public-view"]
    assert check["deleted"] == ["ClusterRoleBinding/it-old-admin"]
    assert [d["after"] and d["after"]["name"] for d in check["diff"]][:3] == ["it-viewer", "it-viewers", "it-oncall"]
    assert read(node, *refs) == before  # check mode stored nothing

    applied = ansible_module(node, RBAC, declared(), "--diff")
    assert (applied["changed"], applied["created"], applied["deleted"]) == (True, check["created"], check["deleted"])
    after = read(node, *refs)
    assert after["RoleBinding/team-b/it-viewers"]["subjects"] == ["Group:team-b", "ServiceAccount:team-b/idle"]
    assert after["RoleBinding/team-b/it-viewers"]["labels"] == OWNED
    assert after["ClusterRoleBinding/it-old-admin"] is None
    # The anonymous user is taken out of a binding we do not own; the binding itself stays theirs.
    assert after["ClusterRoleBinding/it-public-view"]["subjects"] == ["Group:devs"]
    assert after["ClusterRoleBinding/it-public-view"]["labels"] == {}
    assert after["ClusterRoleBinding/it-read-secrets"] == before["ClusterRoleBinding/it-read-secrets"]  # unmanaged: untouched

    again = ansible_module(node, RBAC, declared())
    assert again["changed"] is False
    assert set(again["item_status"].values()) == {"ok"}

    # A new role for a binding: deleted and created again, reported as replaced.
    bindings = declared()["bindings"]
    bindings[1] = {**bindings[1], "role": "ClusterRole/edit"}
    replaced = ansible_module(node, RBAC, declared(bindings=bindings))
    assert (replaced["replaced"], replaced["created"], replaced["updated"]) == (["ClusterRoleBinding/it-oncall"], [], [])
    now = read(node, "ClusterRoleBinding/it-oncall")["ClusterRoleBinding/it-oncall"]
    assert now["roleRef"]["name"] == "edit" and now["uid"] != after["ClusterRoleBinding/it-oncall"]["uid"]
    rows = [{"subject": "Group:oncall", "verb": "create", "resource": "deployments.apps", "namespace": "team-a", "allowed": True}]
    assert ansible_module(node, MATRIX, {"kubeconfig": ADMIN, "rows": rows})["differences"] == []

    # Declared no more: what carries our label goes, bindings before roles.
    pruned = ansible_module(node, RBAC, declared(roles=[], bindings=[bindings[1]]))
    assert pruned["deleted"] == ["RoleBinding/team-b/it-viewers", "Role/team-b/it-viewer"]
    assert read(node, "Role/team-b/it-viewer", "RoleBinding/team-b/it-viewers") == {
        "Role/team-b/it-viewer": None,
        "RoleBinding/team-b/it-viewers": None,
    }


def test_rbac_refuses_a_missing_role_and_what_the_api_server_refuses_before_any_change(node: LabTarget) -> None:
    refs = ("ClusterRoleBinding/it-first", "ClusterRoleBinding/it-second")
    missing = declared(roles=[], remove=[], bindings=[
        {"name": "it-first", "role": "ClusterRole/view", "subjects": ["Group:x"]},
        {"name": "it-second", "role": "ClusterRole/it-no-such-role", "subjects": ["Group:x"]},
    ])  # fmt: skip
    result = ansible_module(node, RBAC, missing)
    assert result["failed"] is True
    assert result["msg"] == (
        "bindings[1].role: ClusterRole/it-no-such-role does not exist and is not declared in roles; a binding to it would"
        " grant nothing. Nothing was changed."
    )
    assert read(node, *refs) == {ref: None for ref in refs}
    # A service account name the API server does not accept: its dry run refuses it, so the first binding is not made.
    invalid = declared(roles=[], remove=[], bindings=[
        {"name": "it-first", "role": "ClusterRole/view", "subjects": ["Group:x"]},
        {"name": "it-second", "role": "ClusterRole/view", "subjects": ["ServiceAccount:team-a/Not_Valid"]},
    ])  # fmt: skip
    result = ansible_module(node, RBAC, invalid)
    assert result["failed"] is True
    assert result["msg"].startswith("the dry run refused a change: the API server at https://")
    assert "Not_Valid" in result["msg"] and result["msg"].endswith(" Nothing was changed.")
    assert read(node, *refs) == {ref: None for ref in refs}


ROLE_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  roles:
    - role: bulwark.hardening.kube_rbac
"""
ROLE_VARS: dict[str, t.Any] = {
    "kube_rbac_remove": [
        "ClusterRoleBinding/it-old-admin",
        "ClusterRoleBinding/it-read-secrets",
        "ClusterRole/it-wildcard",
        "ClusterRoleBinding/it-team-edit",
        "RoleBinding/team-a/it-deployer",
    ],
    "kube_rbac_audit_waivers": [
        {"control": "CIS-K8s 5.1.6", "object": "Pod/team-b/idle-token", "reason": "the test's pod, never scheduled"},
    ],
    "kube_rbac_access_matrix": [
        {"subject": "User:system:anonymous", "verb": "get", "resource": "secrets", "allowed": False},
        {"subject": "ServiceAccount:team-b/idle", "verb": "list", "resource": "configmaps", "namespace": "team-b", "allowed": True},
    ],
}


def test_kube_rbac_role_audits_in_check_mode_then_converges(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    playbook = tmp_path / "kube_rbac.yml"
    playbook.write_text(ROLE_PLAYBOOK)
    audit_run = run_playbook(node, playbook, {}, "--check")
    assert audit_run.rc == 2, audit_run
    [(task, message)] = audit_run.failures(node.name)
    assert task.endswith("Fail when a finding is neither waived nor the API server's own")
    assert "CIS-K8s 5.1.2: Group:system:authenticated may read secrets (get/list) in every namespace" in message
    assert "CIS-K8s 5.1.5: ServiceAccount:team-a/default does not set automountServiceAccountToken: false" in message
    assert message.endswith("Fix them, or accept each one in kube_rbac_audit_waivers with a reason.")
    assert read(node, "ClusterRoleBinding/it-read-secrets")["ClusterRoleBinding/it-read-secrets"] is not None

    converge = run_playbook(node, playbook, ROLE_VARS)
    assert converge.rc == 0, converge
    assert converge.stats(node.name)["changed"] == 1  # one k8s_rbac call for the cluster
    [declared_result] = [r for name, r in converge.results(node.name) if r.get("action") == "bulwark.hardening.k8s_rbac"]
    assert set(declared_result["deleted"]) >= set(ROLE_VARS["kube_rbac_remove"][1:])
    assert "ServiceAccount/team-a/default" in declared_result["updated"]
    [audit_result] = [r for name, r in converge.results(node.name) if r.get("action") == AUDIT]
    assert audit_result["open_findings"] == []
    assert set(audit_result["item_status"].values()) == {"ok"}

    again = run_playbook(node, playbook, ROLE_VARS)
    assert (again.rc, again.stats(node.name)["changed"]) == (0, 0), again


@pytest.mark.parametrize("count", [100, 1000])
def test_audit_time_and_memory_with_many_roles_and_bindings(node: LabTarget, count: int) -> None:
    done = int(node.sh("cat /tmp/it-scale-count 2>/dev/null || echo 0").strip() or 0)
    objects: list[dict[str, t.Any]] = []
    for i in range(done, count):
        objects.append(role("team-a", f"scale-{i}", [rule([""], ["configmaps"], ["get", "list"])]))
        objects.append(binding(f"scale-{i}", f"Role/scale-{i}", f"User:user-{i}", f"Group:group-{i % 10}", ns="team-a"))
    started = time.monotonic()
    seed(node, objects)
    seeded = time.monotonic() - started
    node.sh(f"echo {count} > /tmp/it-scale-count")
    node.write(RSS_WRAPPER.encode(), "/usr/local/bin/python3-rss")
    node.sh("chmod 0755 /usr/local/bin/python3-rss")

    started = time.monotonic()
    result = audit(node, "-e", "ansible_python_interpreter=/usr/local/bin/python3-rss")
    seconds = time.monotonic() - started
    assert not result.get("failed"), result.get("msg")
    assert result["objects"]["roles"] >= count and result["objects"]["rolebindings"] >= count
    rss_kib, module_seconds = node.sh("cat /tmp/module-usage").split()
    print(
        f"\nk8s_rbac_audit: {result['objects']}: module {float(module_seconds):.2f} s, peak RSS"
        f" {int(rss_kib) / 1024:.0f} MiB; ansible run {seconds:.2f} s; {len(result['findings'])} findings"
        f" (seeding {len(objects)} objects took {seeded:.1f} s)"
    )
    assert seconds < 120
