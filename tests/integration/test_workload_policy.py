# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kube_policies role on a real API server: its ValidatingAdmissionPolicy (the
workload_admission_policy filter, applied with kubernetes.core.k8s), which the API server evaluates
at create time (no webhook), then its namespace policies (k8s_namespace_policies): Pod Security
labels, the running pods a new level would refuse, the probe, and default-deny NetworkPolicies.
Requests are server-side dry runs (admission runs, nothing is stored) unless a test stores a pod on
purpose; the lab has no kubelet, so a stored pod only waits for a node. The lab has no network
plugin either, so NetworkPolicies are tested as objects: nothing here enforces them."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from conftest import LabTarget, LabTargets, wait_for

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  roles:
    - role: bulwark.hardening.kube_policies
"""
REGISTRIES = ["registry.example.com", "docker.io/library"]
# Creates objects of a JSON list (stdin) as server-side dry runs ("store" as argument: for real);
# prints [status, message, warnings] for each.
DRY_RUN = """
import json, sys
import kubernetes
kubernetes.config.load_kube_config("/etc/kubernetes/admin.conf")
client = kubernetes.client.ApiClient()
query = [] if sys.argv[1:] == ["store"] else [("dryRun", "All")]
out = []
for path, body in json.load(sys.stdin):
    try:
        answer = client.call_api(path, "POST", body=body, query_params=query, auth_settings=["BearerToken"],
                                 _preload_content=False, _return_http_data_only=True)
        out.append([200, "", answer.headers.get("Warning", "")])
    except kubernetes.client.ApiException as exc:
        out.append([exc.status, json.loads(exc.body).get("message", ""), ""])
print(json.dumps(out))
"""
PODS = "/api/v1/namespaces/default/pods"
DENIED = "ValidatingAdmissionPolicy 'bulwark-workloads' with binding 'bulwark-workloads' denied request: "


def pod(image: str, **spec: t.Any) -> dict[str, t.Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": image}], **spec}}


def template(kind: str, spec: dict[str, t.Any]) -> tuple[str, dict[str, t.Any]]:
    meta = {"name": "w"}
    if kind == "CronJob":
        body = {"schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"spec": {**spec, "restartPolicy": "Never"}}}}}
        cronjob = {"apiVersion": "batch/v1", "kind": kind, "metadata": meta, "spec": body}
        return "/apis/batch/v1/namespaces/default/cronjobs", cronjob
    selector = {"matchLabels": {"app": "w"}}
    body = {"selector": selector, "template": {"metadata": {"labels": {"app": "w"}}, "spec": spec}}
    workload = {"apiVersion": "apps/v1", "kind": kind, "metadata": meta, "spec": body}
    return "/apis/apps/v1/namespaces/default/" + kind.lower() + "s", workload


TRUSTED = "registry.example.com/app:1.0"
UNTRUSTED = "images not from a trusted registry (registry.example.com, docker.io/library): "
PRIVILEGED = [{"name": "c", "image": TRUSTED, "securityContext": {"privileged": True}}]
CASES: list[tuple[str, tuple[str, dict[str, t.Any]], str | None]] = [  # fmt: skip
    ("trusted", (PODS, pod(TRUSTED)), None),
    ("implicit-docker-library", (PODS, pod("nginx:1.25")), None),  # docker.io/library/nginx
    ("docker-hub-user", (PODS, pod("someone/nginx:1.25")), UNTRUSTED + "someone/nginx:1.25"),
    ("lookalike-registry", (PODS, pod("docker.io.evil.com/x:1")), UNTRUSTED + "docker.io.evil.com/x:1"),
    ("other-port", (PODS, pod("registry.example.com:5000/app:1")), UNTRUSTED + "registry.example.com:5000/app:1"),
    ("untagged-nginx", (PODS, pod("nginx")), "images without a tag or tagged latest: nginx"),
    ("latest", (PODS, pod("registry.example.com/app:latest")), "images without a tag or tagged latest: registry.example.com/app:latest"),
    ("digest", (PODS, pod("registry.example.com/app@sha256:" + "a" * 64)), None),
    ("init-container", (PODS, pod(TRUSTED, initContainers=[{"name": "i", "image": "quay.io/x:1"}])),
     UNTRUSTED + "quay.io/x:1"),
    ("privileged", (PODS, pod(TRUSTED, containers=PRIVILEGED)), "privileged containers are not allowed (CIS-K8s 5.2.2)"),
    ("host-pid", (PODS, pod(TRUSTED, hostPID=True)), "hostPID is not allowed (CIS-K8s 5.2.3)"),
    ("host-ipc", (PODS, pod(TRUSTED, hostIPC=True)), "hostIPC is not allowed (CIS-K8s 5.2.4)"),
    ("host-network", (PODS, pod(TRUSTED, hostNetwork=True)), "hostNetwork is not allowed (CIS-K8s 5.2.5)"),
    ("host-path", (PODS, pod(TRUSTED, volumes=[{"name": "v", "hostPath": {"path": "/"}}])), "hostPath volumes are not allowed"),
    ("deployment-privileged", template("Deployment", {"containers": PRIVILEGED}), "privileged containers are not allowed (CIS-K8s 5.2.2)"),
    ("daemonset-host-network", template("DaemonSet", {"containers": [{"name": "c", "image": TRUSTED}], "hostNetwork": True}),
     "hostNetwork is not allowed (CIS-K8s 5.2.5)"),
    ("cronjob-untrusted", template("CronJob", {"containers": [{"name": "c", "image": "quay.io/x:1"}]}), UNTRUSTED + "quay.io/x:1"),
    ("deployment-trusted", template("Deployment", {"containers": [{"name": "c", "image": TRUSTED}]}), None),
    ("exempt-namespace", ("/api/v1/namespaces/kube-system/pods", pod("quay.io/x:1")), None),
]


def has_default_service_account(node: LabTarget, namespace: str) -> bool:
    """The controller manager makes it; a pod cannot be admitted before it exists."""
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/default"
    script = (
        "import kubernetes; kubernetes.config.load_kube_config('/etc/kubernetes/admin.conf');"
        f" kubernetes.client.ApiClient().call_api('{path}', 'GET', auth_settings=['BearerToken'])"
    )
    return node.exec("python3", "-c", script, check=False).returncode == 0


@pytest.fixture(scope="module")
def node(lab_targets: LabTargets) -> LabTarget:
    target = lab_targets.start_control_plane("bulwark-it-workloads")
    wait_for(lambda: has_default_service_account(target, "default"), "the default service account of namespace default")
    return target


def dry_run(node: LabTarget, requests: list[tuple[str, dict[str, t.Any]]], *mode: str) -> list[list[t.Any]]:
    proc = node.exec("python3", "-c", DRY_RUN, *mode, stdin=json.dumps(requests).encode(), check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return t.cast("list[list[t.Any]]", json.loads(proc.stdout))


def apply(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any], stage: str, *flags: str) -> t.Any:
    playbook = tmp_path / "policy.yml"
    playbook.write_text(PLAYBOOK)
    # The namespace policies are off here: Pod Security would refuse these pods before the policy does.
    extra = {
        "kube_policies_trusted_registries": REGISTRIES,
        "kube_policies_workload_stage": stage,
        "kube_policies_pod_security": False,
        "kube_policies_default_deny": False,
    }
    run = run_playbook(node, playbook, extra, *flags)
    assert run.rc == 0, run
    return run


def test_check_mode_changes_nothing(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    assert apply(node, tmp_path, run_playbook, "deny", "--check").stats(node.name)["changed"] == 1
    assert dry_run(node, [(PODS, pod("quay.io/x:1"))]) == [[200, "", ""]]


def test_warn_stage_admits_and_warns(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    assert apply(node, tmp_path, run_playbook, "warn").stats(node.name)["changed"] == 1
    assert apply(node, tmp_path, run_playbook, "warn").stats(node.name)["changed"] == 0  # right after creation too
    [(status, message, warning)] = dry_run(node, [(PODS, pod("quay.io/x:1"))])
    assert (status, message) == (200, "")
    assert "images not from a trusted registry" in warning


def test_deny_stage_refuses_at_create_time_with_the_policy_s_message(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    apply(node, tmp_path, run_playbook, "deny")
    assert apply(node, tmp_path, run_playbook, "deny").stats(node.name)["changed"] == 0  # idempotent
    answers = dry_run(node, [case[1] for case in CASES])
    wrong = []
    for (name, _request, expected), (status, message, _warning) in zip(CASES, answers):
        if expected is None and status != 200:
            wrong.append(f"{name}: refused ({status} {message})")
        elif expected is not None and (status != 403 or not message.endswith(DENIED + expected)):
            wrong.append(f"{name}: {status} {message!r}, expected the refusal {expected!r}")
    assert not wrong, "\n".join(wrong)


# --- the namespace policies: Pod Security labels and default-deny NetworkPolicies ---------------

NAMESPACES = "Enforce Pod Security and deny traffic by default in every namespace"
RESTRICTED_POD = {
    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [
        {"name": "c", "image": TRUSTED, "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}
    ],
}
# Reads namespaces and network policies as JSON: {namespace: [labels, [policy names]]}.
READ = """
import json
import kubernetes
kubernetes.config.load_kube_config("/etc/kubernetes/admin.conf")
core, net = kubernetes.client.CoreV1Api(), kubernetes.client.NetworkingV1Api()
out = {ns.metadata.name: [ns.metadata.labels or {}, []] for ns in core.list_namespace().items}
for policy in net.list_network_policy_for_all_namespaces().items:
    out[policy.metadata.namespace][1].append(policy.metadata.name)
print(json.dumps(out))
"""


def namespaces(node: LabTarget) -> dict[str, t.Any]:
    return t.cast("dict[str, t.Any]", json.loads(node.exec("python3", "-c", READ).stdout))


def policies_run(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any], *flags: str, **extra: t.Any) -> t.Any:
    playbook = tmp_path / "policy.yml"
    playbook.write_text(PLAYBOOK)
    variables = {"kube_policies_trusted_registries": REGISTRIES, "kube_policies_workload_stage": "deny", "kube_policies_pod_security_version": "v1.37"}
    return run_playbook(node, playbook, {**variables, **extra}, *flags)


def result_of(run: t.Any, node: LabTarget) -> dict[str, t.Any]:
    return next(result for name, result in run.results(node.name) if NAMESPACES in name)


@pytest.fixture(scope="module")
def violator(node: LabTarget) -> LabTarget:
    """A namespace with a stored pod that restricted refuses (no security context)."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-x"}}
    web = {**pod(TRUSTED), "metadata": {"name": "web", "namespace": "team-x"}}
    stored = dry_run(node, [("/api/v1/namespaces", namespace)], "store")
    assert [status for status, _message, _warning in stored[:1]] == [200], stored
    wait_for(lambda: has_default_service_account(node, "team-x"), "the default service account of namespace team-x")
    assert dry_run(node, [("/api/v1/namespaces/team-x/pods", web)], "store")[0][0] == 200
    return node


def test_check_mode_names_the_running_pods_a_new_level_would_refuse(violator: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    run = policies_run(violator, tmp_path, run_playbook, "--check")
    assert run.rc == 0, run
    result = result_of(run, violator)
    (found,) = [item for item in result["violations"] if item["namespace"] == "team-x"]
    assert found["level"] == "restricted:v1.37"
    assert any(text.startswith("web:") and "runAsNonRoot != true" in text for text in found["pods"]), found
    assert result["item_status"]["pod_security"] == "changed"
    assert result["probe"] is None, "no namespace carries the labels yet"
    assert {"default", "team-x"} <= set(result["labelled"])
    assert "NetworkPolicy/team-x/bulwark-default-deny" in result["created"]
    assert {"kube-system", "kube-public", "kube-node-lease"} == set(result["exempt"])
    live = namespaces(violator)
    assert "pod-security.kubernetes.io/enforce" not in live["team-x"][0] and live["team-x"][1] == [], "check mode stored nothing"


def test_violations_stop_the_run_before_any_change(violator: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    run = policies_run(violator, tmp_path, run_playbook)
    assert run.rc != 0
    [(name, message)] = run.failures(violator.name)
    assert NAMESPACES in name
    assert "team-x (restricted:v1.37): web: " in message and message.endswith("Nothing was changed.")
    live = namespaces(violator)
    assert all("pod-security.kubernetes.io/enforce" not in labels and not names for labels, names in live.values()), live


def test_labels_and_policies_are_set_proven_and_kept(violator: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    run = policies_run(violator, tmp_path, run_playbook, kube_policies_allow_violations=True)
    assert run.rc == 0, run
    result = result_of(run, violator)
    assert result["changed"] and result["item_status"] == {"pod_security": "changed", "pod_security_restricted": "changed", "network_policies": "changed"}
    assert result["probe"]["refused"] is True and 'violates PodSecurity "restricted:v1.37"' in result["probe"]["message"], result["probe"]
    live = namespaces(violator)
    for name in ("default", "team-x"):
        labels, names = live[name]
        assert {k: v for k, v in labels.items() if k.startswith("pod-security")} == {
            "pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "v1.37",
            "pod-security.kubernetes.io/audit": "restricted", "pod-security.kubernetes.io/audit-version": "v1.37",
            "pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/warn-version": "v1.37",
        }  # fmt: skip
        assert sorted(names) == ["bulwark-allow-dns", "bulwark-default-deny"]
    for name in ("kube-system", "kube-public", "kube-node-lease"):
        assert live[name][1] == [] and "pod-security.kubernetes.io/enforce" not in live[name][0], f"{name} is exempt"

    again = policies_run(violator, tmp_path, run_playbook)
    assert again.rc == 0 and again.stats(violator.name)["changed"] == 0, again
    assert result_of(again, violator)["item_status"] == {"pod_security": "ok", "pod_security_restricted": "ok", "network_policies": "ok"}

    team_x = "/api/v1/namespaces/team-x/pods"
    (plain, restricted) = dry_run(violator, [(team_x, pod(TRUSTED)), (team_x, {**pod(TRUSTED), "spec": RESTRICTED_POD})])
    assert plain[0] == 403 and 'violates PodSecurity "restricted:v1.37"' in plain[1], plain
    assert restricted[0] == 200, restricted


def test_namespaces_without_a_policy_are_findings_and_a_foreign_policy_is_an_error(
    violator: LabTarget, run_module: t.Callable[..., dict[str, t.Any]]
) -> None:
    args = {"kubeconfig": "/etc/kubernetes/admin.conf", "default_deny": False, "exempt_namespaces": [{"name": "kube-system", "reason": "control plane"}]}
    result = run_module(violator, "bulwark.hardening.k8s_namespace_policies", args, "--check")
    assert {"default", "team-x", "kube-public", "kube-node-lease"} <= set(result["without_network_policy"]), result
    assert result["item_status"] == {"network_policies": "finding"}
    assert "namespaces without any NetworkPolicy: default, kube-node-lease, kube-public, team-x" in result["msg"]
    assert "NetworkPolicy/team-x/bulwark-default-deny" in result["deleted"]

    foreign = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "bulwark-default-deny", "namespace": "kube-public"},
               "spec": {"podSelector": {}}}  # fmt: skip
    assert dry_run(violator, [("/apis/networking.k8s.io/v1/namespaces/kube-public/networkpolicies", foreign)], "store")[0][0] == 200
    result = run_module(violator, "bulwark.hardening.k8s_namespace_policies", {**args, "default_deny": True})
    assert result.get("failed"), result
    assert result["msg"].startswith("NetworkPolicy kube-public/bulwark-default-deny exists and is not ours")
    assert namespaces(violator)["kube-node-lease"][1] == [], "nothing was created before the error"
