# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kube_policies role's ValidatingAdmissionPolicy (the workload_admission_policy filter, applied
with kubernetes.core.k8s) on a real API server, which evaluates its CEL at create time (no webhook). Every request here is a
server-side dry run: admission runs, nothing is stored; the lab has no kubelet, so an admitted pod
would only wait for a node anyway."""

from __future__ import annotations

import json
import typing as t
from pathlib import Path

import pytest

from conftest import LabTarget, LabTargets

PLAYBOOK = """\
- hosts: all
  gather_facts: false
  roles:
    - role: bulwark.hardening.kube_policies
"""
REGISTRIES = ["registry.example.com", "docker.io/library"]
# Creates objects of a JSON list (stdin) as server-side dry runs; prints [status, message, warnings] for each.
DRY_RUN = """
import json, sys
import kubernetes
kubernetes.config.load_kube_config("/etc/kubernetes/admin.conf")
client = kubernetes.client.ApiClient()
out = []
for path, body in json.load(sys.stdin):
    try:
        answer = client.call_api(path, "POST", body=body, query_params=[("dryRun", "All")], auth_settings=["BearerToken"],
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


@pytest.fixture(scope="module")
def node(lab_targets: LabTargets) -> LabTarget:
    return lab_targets.start_control_plane("bulwark-it-workloads")


def dry_run(node: LabTarget, requests: list[tuple[str, dict[str, t.Any]]]) -> list[list[t.Any]]:
    proc = node.exec("python3", "-c", DRY_RUN, stdin=json.dumps(requests).encode(), check=False)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return t.cast("list[list[t.Any]]", json.loads(proc.stdout))


def apply(node: LabTarget, tmp_path: Path, run_playbook: t.Callable[..., t.Any], stage: str, *flags: str) -> t.Any:
    playbook = tmp_path / "policy.yml"
    playbook.write_text(PLAYBOOK)
    extra = {"kube_policies_trusted_registries": REGISTRIES, "kube_policies_workload_stage": stage}
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
