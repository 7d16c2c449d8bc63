# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""policy_objects(): the objects and their input checks. What the CEL admits is proven against a
real API server in tests/integration/test_workload_policy.py."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.workload_policy import WorkloadPolicyError, policy_objects


def test_objects_and_stages() -> None:
    policy, binding = policy_objects("p", ["registry.example.com/", "docker.io/library"], stage="deny", exempt_namespaces=["kube-system"])
    assert (policy["kind"], binding["kind"]) == ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    assert policy["spec"]["failurePolicy"] == "Fail"
    assert binding["spec"] == {
        "policyName": "p",
        "validationActions": ["Deny"],
        "matchResources": {
            "namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system"]}]}
        },
    }
    # Registries are matched with exactly one trailing "/".
    assert "['registry.example.com/', 'docker.io/library/']" in policy["spec"]["validations"][0]["expression"]
    resources = [r for rule in policy["spec"]["matchConstraints"]["resourceRules"] for r in rule["resources"]]
    assert resources == [
        "pods", "pods/ephemeralcontainers", "replicationcontrollers", "deployments", "replicasets", "statefulsets",
        "daemonsets", "jobs", "cronjobs",
    ]  # fmt: skip
    assert policy_objects("p", ["r.example"])[1]["spec"]["validationActions"] == ["Warn", "Audit"]


def test_optional_checks() -> None:
    def messages(**kwargs: t.Any) -> list[str]:
        validations = policy_objects("p", ["r.example"], **kwargs)[0]["spec"]["validations"]
        return [v.get("message") or v["messageExpression"].split(":")[0] for v in validations]

    assert len(messages()) == 7
    assert len(messages(deny_latest=False)) == 6
    assert "'images not pinned by digest" in messages(require_digest=True)


@pytest.mark.parametrize(
    ("registries", "kwargs", "message"),
    [
        ([], {}, "registries must be a non-empty list of registries, such as [registry.example.com]."),
        ("r.example", {}, "registries must be a non-empty list of registries"),
        (["https://r.example"], {}, "registries[0]: 'https://r.example' is not a registry or repository prefix;"),
        (["R.example"], {}, "registries[0]: 'R.example' is not a registry"),
        (["r.example//x"], {}, "registries[0]: 'r.example//x' is not a registry"),
        (["r.example'"], {}, "registries[0]: \"r.example'\" is not a registry"),
        (["r.example"], {"stage": "enforce"}, "stage must be one of warn, deny, not 'enforce'."),
        (["r.example"], {"exempt_namespaces": ["Kube_System"]}, "exempt_namespaces[0]: 'Kube_System' is not a namespace name."),
    ],
)
def test_bad_input_is_refused_by_name(registries: t.Any, kwargs: dict[str, t.Any], message: str) -> None:
    with pytest.raises(WorkloadPolicyError) as exc:
        policy_objects("p", registries, **kwargs)
    assert str(exc.value).startswith(message)
