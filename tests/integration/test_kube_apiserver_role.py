# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kube_apiserver role against a real kube-apiserver and etcd, run from kubeadm's manifests by
the lab's static-pod runner (probes included, as kubelet runs them).

Bad input is refused before the node changes; a change the API server does not survive is rolled
back (manifest and files), the API server is healthy again, and the play says why. The last
test hardens the node for real and measures how long the API server was away.

The tests share one node and run in order: each failure leaves the node as it found it, which is
what the rollback promises.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import LabTarget, LabTargets, Outage, PlaybookRun, readyz

MANIFEST = "/etc/kubernetes/manifests/kube-apiserver.yaml"
MANIFESTS = ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]
ROLE_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  serial: 1
  roles:
    - role: bulwark.hardening.kube_apiserver
"""


@pytest.fixture(scope="module")
def node(lab_targets: LabTargets) -> LabTarget:
    return lab_targets.start_control_plane("bulwark-it-kube")


@pytest.fixture(scope="module")
def playbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("kube") / "kube_apiserver.yml"
    path.write_text(ROLE_PLAYBOOK)
    return path


def apiserver_pid(node: LabTarget) -> str:
    return node.sh("pgrep -x kube-apiserver || true")


def failed_message(run: PlaybookRun, host: str) -> str:
    failures = run.failures(host)
    assert failures, run
    return failures[-1][1]


def test_unknown_flag_is_refused_before_anything_changes(node, playbook, run_playbook):
    before = node.read(MANIFEST)
    run = run_playbook(node, playbook, {"kube_apiserver_extra_args": {"insecure-port": "0"}})
    assert run.rc != 0
    message = failed_message(run, node.name)
    assert "does not know the flag 'insecure-port' (did you mean 'secure-port'?)" in message
    assert "Kubernetes v1.37.2" in message
    assert node.read(MANIFEST) == before
    # Refused by the plan, before any configuration file (the encryption key's too) was written.
    assert node.read("/etc/kubernetes/bulwark/audit-policy.yaml") is None
    assert node.read("/etc/kubernetes/bulwark/encryption.yaml") is None


def test_a_string_for_a_list_is_refused_by_name(node, playbook, run_playbook):
    # It used to plan --authorization-mode=Node,RBAC,N,o,d,e,R,B,A,C.
    before = node.read(MANIFEST)
    run = run_playbook(node, playbook, {"kube_apiserver_authorization_modes": "Node,RBAC"})
    assert run.rc != 0
    assert failed_message(run, node.name).startswith(
        "kube_apiserver_authorization_modes must be a list, not the string 'Node,RBAC'; give a list, such as"
        " [Node, RBAC]"
    )
    assert node.read(MANIFEST) == before
    assert node.read("/etc/kubernetes/bulwark/encryption.yaml") is None


def test_manifest_that_is_not_yaml_is_refused_and_left_as_it_is(node, playbook, run_playbook):
    original = node.read(MANIFEST)
    broken = original.replace(b"  containers:\n", b"  containers:\n  - command: [kube-apiserver\n", 1)
    node.write(broken, MANIFEST)
    try:
        run = run_playbook(node, playbook)
        assert run.rc != 0
        message = failed_message(run, node.name)
        assert MANIFEST in message and "line" in message and "column" in message
        assert node.read(MANIFEST) == broken
    finally:
        node.write(original, MANIFEST)
    deadline = time.monotonic() + 60
    while readyz(node.address) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)


def test_flag_value_the_api_server_rejects_is_rolled_back(node, playbook, run_playbook):
    before = node.read(MANIFEST)
    run = run_playbook(
        node,
        playbook,
        {"kube_apiserver_extra_args": {"service-cluster-ip-range": "10.96.0.0/400"}, "kube_apiserver_rollout_timeout": 60},
    )
    assert run.rc != 0
    message = failed_message(run, node.name)
    assert "was not healthy within 60 s" in message
    assert "The previous manifest and files are back, and kube-apiserver is healthy again" in message
    assert "service-cluster-ip-range[0] is not a valid cidr" in message  # the API server's own words, from its log
    assert node.read(MANIFEST) == before
    assert readyz(node.address) == 200
    # Nothing was left in the manifests directory for kubelet to start as a second API server.
    assert node.sh("ls -A /etc/kubernetes/manifests").split() == MANIFESTS


def test_anonymous_auth_off_is_caught_by_the_probes_and_rolled_back(node, playbook, run_playbook):
    # No anonymous requests at all starts fine, but kubelet's anonymous probes then get 401 and
    # kubelet kills the API server over and over: the rollout gate runs the probes the same way.
    # The old API server takes up to its grace period (30 s) to drain and exit, so the gate waits 60 s.
    before = node.read(MANIFEST)
    run = run_playbook(
        node, playbook, {"kube_apiserver_anonymous_auth": "disabled", "kube_apiserver_rollout_timeout": 60}
    )
    assert run.rc != 0
    message = failed_message(run, node.name)
    assert "answered HTTP 401" in message
    assert "The previous manifest and files are back, and kube-apiserver is healthy again" in message
    assert node.read(MANIFEST) == before
    assert node.sh("ls -A /etc/kubernetes/manifests").split() == MANIFESTS
    assert readyz(node.address) == 200


def test_hardening_rolls_out_and_a_second_run_changes_nothing(node, playbook, run_playbook):
    pid_before = apiserver_pid(node)
    with Outage(node.address) as outage:
        run = run_playbook(node, playbook)
    assert run.rc == 0, run
    assert run.stats(node.name)["changed"] > 0
    waited = next(result["waited"] for name, result in run.results(node.name) if "roll them out or back" in name)
    print(f"\nrollout: play {run.seconds:.1f} s, gate waited {waited:.1f} s, /readyz down {outage.longest:.1f} s")
    assert apiserver_pid(node) != pid_before
    assert outage.longest < 60
    assert readyz(node.address) == 200

    pid = apiserver_pid(node)
    again = run_playbook(node, playbook)
    assert again.rc == 0, again
    assert again.stats(node.name)["changed"] == 0
    assert apiserver_pid(node) == pid
    print(f"converged run: {again.seconds:.1f} s")
    # A clean run warns of nothing: the node's kubernetes client is one kubernetes.core supports.
    warnings = [(name, w) for name, result in run.results(node.name) + again.results(node.name) for w in result.get("warnings", [])]
    assert not warnings, warnings
    assert "[WARNING]" not in run.stderr + again.stderr, run.stderr + again.stderr
