# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""kube_controller_manager, kube_scheduler and kube_etcd against a real kubeadm node whose four
static pods the lab's runner starts (probes included, as kubelet runs them).

An unknown flag is refused before anything changes; a value the scheduler rejects is rolled back
with the scheduler's own words and the old manifest bytes; an etcd rollout is gated on etcd and
then on the API server, whose longest time without a ready /readyz is measured. The tests share
one node and run in order: each failure leaves the node as it found it.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import LabTarget, LabTargets, Outage, PlaybookRun, readyz

MANIFESTS = "/etc/kubernetes/manifests"
ROLE_PLAYBOOK = """\
- hosts: all
  gather_facts: false
  serial: 1
  roles:
    - role: bulwark.hardening.{role}
"""


@pytest.fixture(scope="module")
def node(lab_targets: LabTargets) -> LabTarget:
    return lab_targets.start_control_plane("bulwark-it-cp")


@pytest.fixture(scope="module")
def playbooks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("control-plane")
    paths = {}
    for role in ("kube_controller_manager", "kube_scheduler", "kube_etcd"):
        paths[role] = directory / f"{role}.yml"
        paths[role].write_text(ROLE_PLAYBOOK.format(role=role))
    return paths


def failed_message(run: PlaybookRun, host: str) -> str:
    failures = run.failures(host)
    assert failures, run
    return failures[-1][1]


def pid(node: LabTarget, command: str) -> str:
    return node.sh(f"pgrep -x {command} || true").strip()


def manifests(node: LabTarget) -> list[str]:
    return node.sh(f"ls -A {MANIFESTS}").split()


FOUR = ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]


def test_unknown_controller_manager_flag_is_refused_before_any_change(node, playbooks, run_playbook):
    manifest = f"{MANIFESTS}/kube-controller-manager.yaml"
    before, running = node.read(manifest), pid(node, "kube-controller-manager")
    run = run_playbook(node, playbooks["kube_controller_manager"], {"kube_controller_manager_extra_args": {"insecure-port": "0"}})
    assert run.rc != 0
    message = failed_message(run, node.name)
    assert "kube-controller-manager (Kubernetes v1.37.2) does not know the flag 'insecure-port'" in message
    assert "nothing was changed" in message
    assert node.read(manifest) == before
    assert pid(node, "kube-controller-manager") == running
    assert node.sh("ls -A /var/backups/bulwark 2>/dev/null || true").split() == []  # no backup: nothing was written


def test_bools_given_as_strings_mean_what_they_spell(node, playbooks, run_playbook):
    # As -e and every AWX survey answer give them: strings, which Jinja would take as true.
    run = run_playbook(
        node,
        playbooks["kube_controller_manager"],
        {"kube_controller_manager_rotate_kubelet_server_certificate": "false", "kube_controller_manager_profiling": "no"},
        "--check",
    )
    assert run.rc == 0, run
    planned = next(result for name, result in run.results(node.name) if "Set kube-controller-manager's flags" in name)
    assert planned["flags"]["profiling"] == "false"  # not "no", which the controller manager would refuse
    assert "RotateKubeletServerCertificate" not in (planned["flags"].get("feature-gates") or "")
    assert "feature-gates/RotateKubeletServerCertificate" not in planned["item_status"]  # waived, not set


def test_a_value_the_scheduler_rejects_is_rolled_back(node, playbooks, run_playbook):
    manifest = f"{MANIFESTS}/kube-scheduler.yaml"
    before = node.read(manifest)
    run = run_playbook(
        node,
        playbooks["kube_scheduler"],
        {"kube_scheduler_extra_args": {"leader-elect-lease-duration": "banana"}, "kube_scheduler_rollout_timeout": 30},
    )
    assert run.rc != 0
    message = failed_message(run, node.name)
    assert message.startswith("kube-scheduler was not healthy within 30 s:"), message
    assert "The previous manifest and files are back, and kube-scheduler is healthy again." in message
    # The scheduler's own words, from its log.
    assert 'invalid argument "banana" for "--leader-elect-lease-duration" flag' in message
    assert node.read(manifest) == before  # the old bytes
    assert manifests(node) == FOUR
    assert node.sh("curl --silent --insecure https://127.0.0.1:10259/healthz") == "ok"


def test_an_etcd_rollout_waits_for_etcd_and_then_the_api_server(node, playbooks, run_playbook):
    etcd_before, api_before = pid(node, "etcd"), pid(node, "kube-apiserver")
    with Outage(node.address) as outage:
        run = run_playbook(node, playbooks["kube_etcd"])
    assert run.rc == 0, run
    rollout = next(result for name, result in run.results(node.name) if "Set etcd's flags" in name)
    assert rollout["changed"] and rollout["restarted"]
    assert [gate["command"] for gate in rollout["gates"]] == ["etcd", "kube-apiserver"]
    assert rollout["gates"][0]["pid"] == int(pid(node, "etcd")) != int(etcd_before)
    assert pid(node, "kube-apiserver") == api_before  # the API server rode out the restart of etcd
    print(
        f"\netcd rollout: play {run.seconds:.1f} s, gates {[(g['command'], g['waited']) for g in rollout['gates']]},"
        f" API server /readyz not ready for at most {outage.longest:.1f} s"
    )
    assert outage.longest < 60
    assert readyz(node.address) == 200
    assert "--auto-tls=false" in node.sh("ps -C etcd -o args=")

    again = run_playbook(node, playbooks["kube_etcd"])
    assert again.rc == 0, again
    assert again.stats(node.name)["changed"] == 0
    assert pid(node, "etcd") == str(rollout["gates"][0]["pid"])


def test_an_etcd_flag_etcd_rejects_is_rolled_back_and_the_api_server_is_ready_again(node, playbooks, run_playbook):
    manifest = f"{MANIFESTS}/etcd.yaml"
    before = node.read(manifest)
    run = run_playbook(
        node,
        playbooks["kube_etcd"],
        {"kube_etcd_extra_args": {"snapshot-count": "many"}, "kube_etcd_rollout_timeout": 30},
    )
    assert run.rc != 0
    message = failed_message(run, node.name)
    assert message.startswith("etcd was not healthy within 30 s:"), message
    assert "The previous manifest and files are back, and etcd and kube-apiserver are healthy again." in message
    assert node.read(manifest) == before
    deadline = time.monotonic() + 30
    while readyz(node.address) != 200 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert readyz(node.address) == 200
