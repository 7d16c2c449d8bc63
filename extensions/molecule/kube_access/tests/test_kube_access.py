# SPDX-License-Identifier: GPL-3.0-or-later
"""What the kube_access scenario left, asked of its real API server: the check-mode audit reported
every seeded risk by CIS id; converge removed what it was told to and what it owns, took the
anonymous user out of a binding it does not own, replaced a binding whose role changed, and left an
unmanaged binding alone; the API server's own SubjectAccessReviews agree; every namespace that is
not exempt has its Pod Security labels and NetworkPolicies, check mode named the pod restricted
refuses; and Pod Security and the workload policy refuse at create time what they must, each with
its own message (server-side dry runs: admission runs, nothing is stored). The lab has no network
plugin, so the NetworkPolicies are checked as objects."""

from __future__ import annotations

import json
import os
import subprocess
import typing as t
from pathlib import Path

import pytest

CONTAINER = "bulwark-mol-kube-access"
OWNED = {"app.kubernetes.io/managed-by": "bulwark.hardening"}
# Runs on the node with its admin credentials: GET a path (null on 404), POST a review, or POST an
# object as a server-side dry run ("DRY"), answering the refusal's status and message.
CLIENT = """
import json, sys
import kubernetes
kubernetes.config.load_kube_config("/etc/kubernetes/admin.conf")
client = kubernetes.client.ApiClient()
method, path, body = json.load(sys.stdin)
query = [("dryRun", "All")] if method == "DRY" else []
try:
    answer = client.call_api(path, "POST" if method == "DRY" else method, body=body, query_params=query,
                             auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
    print(json.dumps({"status": 201, "message": ""}) if method == "DRY" else answer.data.decode())
except kubernetes.client.ApiException as exc:
    if method == "DRY":
        print(json.dumps({"status": exc.status, "message": json.loads(exc.body).get("message", "")}))
    elif exc.status == 404:
        print("null")
    else:
        raise
"""


def api(method: str, path: str, body: dict[str, t.Any] | None = None) -> t.Any:
    proc = subprocess.run(
        ["docker", "exec", "-i", CONTAINER, "python3", "-c", CLIENT],
        input=json.dumps([method, path, body]),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def rbac(path: str) -> t.Any:
    return api("GET", f"/apis/rbac.authorization.k8s.io/v1/{path}")


def subjects(binding: dict[str, t.Any]) -> list[str]:
    return sorted(f"{s['kind']}:{s['name']}" for s in binding.get("subjects") or [])


def allowed(spec: dict[str, t.Any]) -> bool:
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
    return bool(api("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)["status"].get("allowed"))


@pytest.fixture(scope="module")
def check_audit() -> dict[str, t.Any]:
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "check-audit.json"
    return t.cast("dict[str, t.Any]", json.loads(path.read_text()))


def found(audit: dict[str, t.Any], control: str, **fields: t.Any) -> list[dict[str, t.Any]]:
    return [f for f in audit["findings"] if f["control"] == control and all(f[k] == v for k, v in fields.items())]


def test_check_mode_reported_every_seeded_risk_by_cis_id(check_audit: dict[str, t.Any]) -> None:
    assert found(check_audit, "CIS-K8s 5.1.1", subject="User:mallory", binding="ClusterRoleBinding/access-old-admin")
    assert found(check_audit, "CIS-K8s 5.1.2", subject="Group:system:authenticated", binding="ClusterRoleBinding/access-read-secrets")
    assert found(check_audit, "CIS-K8s 5.1.3", object="ClusterRole/access-wildcard")
    assert found(check_audit, "BWK-12", subject="User:system:anonymous", binding="ClusterRoleBinding/access-public-view")
    assert found(check_audit, "CIS-K8s 5.1.5", object="ServiceAccount/team-a/default")
    assert found(check_audit, "CIS-K8s 5.1.6", object="Pod/team-b/idle-token", waived=True)
    # The API server's own grants are reported, never open.
    masters = found(check_audit, "CIS-K8s 5.1.1", subject="Group:system:masters")
    assert masters and all(f["bootstrap"] for f in masters)
    assert all(not f["bootstrap"] and not f["waived"] for f in check_audit["open_findings"])


def test_converge_removed_the_listed_objects_and_kept_the_unmanaged_one() -> None:
    assert rbac("clusterrolebindings/access-old-admin") is None
    assert rbac("clusterrolebindings/access-read-secrets") is None
    assert rbac("clusterroles/access-wildcard") is None
    legacy = rbac("namespaces/team-b/rolebindings/legacy-viewers")
    assert subjects(legacy) == ["Group:legacy"] and not (legacy["metadata"].get("labels") or {})


def test_the_anonymous_user_left_a_binding_the_role_does_not_own() -> None:
    public = rbac("clusterrolebindings/access-public-view")
    assert subjects(public) == ["Group:devs"]
    assert not (public["metadata"].get("labels") or {})


def test_bindings_are_as_declared_and_the_changed_role_was_replaced() -> None:
    readers = rbac("namespaces/team-a/rolebindings/team-a-readers")
    assert (readers["roleRef"]["kind"], readers["roleRef"]["name"]) == ("Role", "team-a-reader")
    assert readers["metadata"]["labels"] == OWNED and subjects(readers) == ["Group:team-a"]
    assert rbac("namespaces/team-a/roles/team-a-reader")["metadata"]["labels"] == OWNED
    assert subjects(rbac("clusterrolebindings/oncall-view")) == ["Group:oncall"]


def test_default_service_accounts_mount_no_token() -> None:
    for namespace in ("default", "team-a", "team-b", "kube-system"):
        account = api("GET", f"/api/v1/namespaces/{namespace}/serviceaccounts/default")
        assert account["automountServiceAccountToken"] is False, namespace


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"user": "mallory", "groups": ["system:authenticated"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}}, False),
        ({"groups": ["system:authenticated"], "resourceAttributes": {"verb": "get", "resource": "secrets", "namespace": "team-b"}}, False),
        ({"groups": ["team-a", "system:authenticated"], "resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "team-a"}}, True),
        ({"groups": ["team-a", "system:authenticated"], "resourceAttributes": {"verb": "list", "resource": "secrets", "namespace": "team-a"}}, False),
        ({"user": "system:anonymous", "groups": ["system:unauthenticated"], "resourceAttributes": {"verb": "list", "resource": "pods"}}, False),
    ],
)
def test_the_api_server_answers_as_the_access_matrix_says(spec: dict[str, t.Any], expected: bool) -> None:
    assert allowed(spec) is expected


POLICY = "ValidatingAdmissionPolicy 'bulwark-workloads' with binding 'bulwark-workloads' denied request: "
POD_SECURITY = 'violates PodSecurity "restricted:v1.37": '
UNTRUSTED = "images not from a trusted registry (registry.example.com): "
TRUSTED = "registry.example.com/app:1.0"
# What restricted asks of a pod and its containers, so that the workload policy's own refusals show.
RESTRICTED_POD = {"securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}}}
RESTRICTED = {"securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
PODS = "/api/v1/namespaces/team-a/pods"
EXEMPT = {"kube-system", "kube-public", "kube-node-lease"}


def pod(*containers: dict[str, t.Any], **spec: t.Any) -> dict[str, t.Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {**RESTRICTED_POD, "containers": list(containers), **spec}}


def container(image: str = TRUSTED, **extra: t.Any) -> dict[str, t.Any]:
    return {"name": "c", "image": image, **RESTRICTED, **extra}


PRIVILEGED = container(securityContext={"privileged": True})
HOST_PATH = [{"name": "v", "hostPath": {"path": "/"}}]


def deployment(**spec: t.Any) -> dict[str, t.Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {"selector": {"matchLabels": {"app": "d"}}, "template": {"metadata": {"labels": {"app": "d"}}, "spec": spec}},
    }


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (PODS, pod(container("nginx:1.25")), POLICY + UNTRUSTED + "nginx:1.25"),
        (PODS, pod(container("docker.io.evil.com/x:1")), POLICY + UNTRUSTED + "docker.io.evil.com/x:1"),
        ("/apis/apps/v1/namespaces/team-a/deployments", deployment(containers=[PRIVILEGED]), POLICY + "privileged containers are not allowed (CIS-K8s 5.2.2)"),
        ("/apis/apps/v1/namespaces/team-a/deployments", deployment(containers=[container()], volumes=HOST_PATH), POLICY + "hostPath volumes are not allowed"),
        (PODS, pod(PRIVILEGED), POD_SECURITY + 'privileged (container "c" must not set securityContext.privileged=true)'),
        (PODS, pod(container(), volumes=HOST_PATH), POD_SECURITY + 'restricted volume types (volume "v" uses restricted volume type "hostPath")'),
        (PODS, pod({"name": "c", "image": TRUSTED}), POD_SECURITY + 'allowPrivilegeEscalation != false (container "c" must set'),
    ],
    ids=["implicit-docker-hub", "lookalike-registry", "deployment-template", "deployment-host-path", "privileged", "host-path", "no-security-context"],
)
def test_pod_security_and_the_workload_policy_refuse_at_create_time(path: str, body: dict[str, t.Any], message: str) -> None:
    answer = api("DRY", path, body)
    assert answer["status"] == 403
    assert message in answer["message"]


def test_a_compliant_pod_is_admitted() -> None:
    assert api("DRY", PODS, pod(container())) == {"status": 201, "message": ""}


def test_every_namespace_but_the_exempt_has_its_labels_and_policies() -> None:
    policies: dict[str, set[str]] = {}
    for policy in api("GET", "/apis/networking.k8s.io/v1/networkpolicies")["items"]:
        policies.setdefault(policy["metadata"]["namespace"], set()).add(policy["metadata"]["name"])
        assert policy["metadata"]["labels"] == OWNED
    for namespace in api("GET", "/api/v1/namespaces")["items"]:
        name, labels = namespace["metadata"]["name"], namespace["metadata"].get("labels") or {}
        if name in EXEMPT:
            assert name not in policies and "pod-security.kubernetes.io/enforce" not in labels, name
            continue
        assert policies.get(name) == {"bulwark-default-deny", "bulwark-allow-dns"}, name
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted" and labels["pod-security.kubernetes.io/enforce-version"] == "v1.37", name
        assert labels["pod-security.kubernetes.io/warn"] == labels["pod-security.kubernetes.io/audit"] == "restricted", name
    assert {"team-a", "team-b", "default"} <= set(policies)


def test_check_mode_named_the_running_pod_restricted_would_refuse() -> None:
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "check-namespaces.json"
    result = json.loads(path.read_text())
    (found,) = result["violations"]
    assert found["namespace"] == "team-b" and found["level"] == "restricted:v1.37"
    assert [text.split(":")[0] for text in found["pods"]] == ["idle-token"]
