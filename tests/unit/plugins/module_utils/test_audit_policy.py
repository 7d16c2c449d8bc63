# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Audit policy lint: first-match-wins analysis of Secrets, ConfigMaps and TokenReviews (as
k8s.io/apiserver v0.37 pkg/audit/policy/checker.go matches rules), and the checks of what
kube-apiserver refuses or silently drops. The role's shipped policy must lint clean."""

from __future__ import annotations

import typing as t
from pathlib import Path

import pytest
import yaml

from ansible_collections.bulwark.hardening.plugins.module_utils.audit_policy import lint_policy

SHIPPED = Path(__file__).parents[4] / "roles" / "kube_apiserver" / "files" / "audit-policy.yaml"

CORE_SENSITIVE = {"group": "", "resources": ["secrets", "configmaps"]}
TOKENREVIEWS = {"group": "authentication.k8s.io", "resources": ["tokenreviews"]}
SENSITIVE_AT_METADATA = {"level": "Metadata", "resources": [CORE_SENSITIVE, TOKENREVIEWS]}


def policy(*rules: t.Any, **extra: t.Any) -> dict[str, t.Any]:
    return {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": list(rules), **extra}


def all_three(index: int, level: str = "RequestResponse") -> list[str]:
    return [
        f"rules[{index}] (level {level}) logs secrets above Metadata",
        f"rules[{index}] (level {level}) logs configmaps above Metadata",
        f"rules[{index}] (level {level}) logs tokenreviews (authentication.k8s.io) above Metadata",
    ]


def test_shipped_policy_is_clean() -> None:
    shipped = yaml.safe_load(SHIPPED.read_text())
    assert lint_policy(shipped) == []
    # It logs changes with their bodies, so the Metadata rule above them is what keeps it clean.
    levels = [rule["level"] for rule in shipped["rules"]]
    assert "Request" in levels and shipped["omitStages"] == ["RequestReceived"]


@pytest.mark.parametrize(
    "clean",
    [
        pytest.param(policy({"level": "Metadata"}), id="everything at Metadata"),
        pytest.param(policy(SENSITIVE_AT_METADATA, {"level": "RequestResponse"}), id="sensitive first"),
        pytest.param(
            policy({"level": "None", "resources": [{"group": "*"}]}, {"level": "RequestResponse"}),
            id="every resource at None, then only non-resource requests are left",
        ),
        pytest.param(
            policy(
                {
                    "level": "Metadata",
                    "resources": [{"group": "", "resources": ["*"]}, {"group": "authentication.k8s.io"}],
                },
                {"level": "Request"},
            ),
            id="wildcard resource and a whole group",
        ),
        pytest.param(
            policy(
                {"level": "Metadata", "resources": [{"resources": ["secrets/*", "configmaps"]}, TOKENREVIEWS]},
                {"level": "Request"},
            ),
            id="resource/* matches the resource, a missing group is the core group",
        ),
        pytest.param(
            policy(
                {
                    "level": "Metadata",
                    "resources": [{"group": None, "resources": ["secrets", "configmaps"]}, TOKENREVIEWS],
                },
                {"level": "Request"},
            ),
            id="a null group is the core group",
        ),
        pytest.param(
            policy(
                {"level": "RequestResponse", "nonResourceURLs": ["/apis*"]},
                {"level": "RequestResponse", "resources": [{"group": "apps"}]},
                {"level": "Request", "resources": [{"group": "", "resources": ["pods", "secrets/status", "*/status"]}]},
                {"level": "Metadata"},
            ),
            id="rules at Request that cannot match the sensitive resources",
        ),
        pytest.param(
            policy(
                {"level": "None", "users": ["system:kube-proxy"]},
                SENSITIVE_AT_METADATA,
                {"level": "Request"},
                omitStages=["RequestReceived"],
            ),
            id="a narrowed rule at None before the sensitive rule",
        ),
        pytest.param(
            policy({**SENSITIVE_AT_METADATA, "omitStages": ["RequestReceived", "Panic"], "omitManagedFields": True}),
            id="stages and omitManagedFields",
        ),
    ],
)
def test_clean_policies(clean: dict[str, t.Any]) -> None:
    assert lint_policy(clean) == []


@pytest.mark.parametrize(
    ("bad", "problems"),
    [
        pytest.param(policy({"level": "RequestResponse"}), all_three(0), id="everything with bodies"),
        pytest.param(
            policy({"level": "Metadata", "resources": [{"group": "", "resources": ["secrets"]}]}, {"level": "Request"}),
            [
                "rules[1] (level Request) logs configmaps above Metadata",
                "rules[1] (level Request) logs tokenreviews (authentication.k8s.io) above Metadata",
            ],
            id="only secrets are covered",
        ),
        pytest.param(
            policy({**SENSITIVE_AT_METADATA, "verbs": ["get", "list", "watch"]}, {"level": "RequestResponse"}),
            all_three(1),
            id="a rule narrowed by verbs does not cover the writes",
        ),
        pytest.param(
            policy({**SENSITIVE_AT_METADATA, "level": "None", "users": ["admin"]}, {"level": "Request"}),
            all_three(1, "Request"),
            id="narrowed by users",
        ),
        pytest.param(
            policy({**SENSITIVE_AT_METADATA, "userGroups": ["system:masters"]}, {"level": "Request"}),
            all_three(1, "Request"),
            id="narrowed by userGroups",
        ),
        pytest.param(
            policy({**SENSITIVE_AT_METADATA, "namespaces": ["kube-system"]}, {"level": "Request"}),
            all_three(1, "Request"),
            id="narrowed by namespaces",
        ),
        pytest.param(
            policy(
                {
                    "level": "Metadata",
                    "resources": [{**CORE_SENSITIVE, "resourceNames": ["cluster-info"]}, TOKENREVIEWS],
                },
                {"level": "Request"},
            ),
            all_three(1, "Request")[:2],
            id="narrowed by resourceNames",
        ),
        pytest.param(
            policy({"level": "RequestResponse", "users": ["admin"]}, SENSITIVE_AT_METADATA, {"level": "Request"}),
            all_three(0),
            id="a narrowed rule above Metadata before the sensitive rule",
        ),
        pytest.param(
            policy({"level": "Request", "resources": [{"group": "*", "resources": ["*"]}]}, SENSITIVE_AT_METADATA),
            all_three(0, "Request"),
            id="wildcard group and resource",
        ),
        pytest.param(
            policy({"level": "Request", "resources": [{"group": ""}]}, SENSITIVE_AT_METADATA),
            all_three(0, "Request")[:2],
            id="the whole core group",
        ),
        pytest.param(
            policy(
                {"level": "Request", "verbs": ["create"], "resources": [{"group": "", "resources": ["secrets"]}]},
                {
                    "level": "RequestResponse",
                    "resources": [{"group": "", "resources": ["secrets"], "resourceNames": ["x"]}],
                },
                SENSITIVE_AT_METADATA,
            ),
            [
                "rules[0] (level Request) logs secrets above Metadata",
                "rules[1] (level RequestResponse) logs secrets above Metadata",
            ],
            id="every partial rule above Metadata is reported",
        ),
        pytest.param(
            policy({"level": "RequestResponse", "resource": [{"group": "apps"}]}),
            [
                "rules[0]: unknown key 'resource', which kube-apiserver ignores; did you mean 'resources'?",
                *all_three(0),
            ],
            id="a misspelt key widens the rule",
        ),
        pytest.param(
            policy(),
            ["the policy logs nothing: rules is missing or empty, and kube-apiserver refuses such a policy"],
            id="no rules",
        ),
        pytest.param(
            {"apiVersion": "audit.k8s.io/v1", "kind": "Policy"},
            ["the policy logs nothing: rules is missing or empty, and kube-apiserver refuses such a policy"],
            id="rules missing",
        ),
        pytest.param(
            policy({"level": "None"}, {"level": "None", "nonResourceURLs": ["/healthz"]}),
            ["the policy logs nothing: every rule has level None"],
            id="everything at None",
        ),
        pytest.param(
            policy({"level": "Full"}, {"level": "Metadata"}),
            ["rules[0].level: 'Full' is not a level; use one of None, Metadata, Request, RequestResponse"],
            id="unknown level",
        ),
        pytest.param(
            policy({"verbs": ["get"]}, {"level": "Metadata"}),
            ["rules[0].level is missing; use one of None, Metadata, Request, RequestResponse"],
            id="missing level",
        ),
        pytest.param(
            {"apiVersion": "audit.k8s.io/v1beta1", "kind": "Policy", "rules": [{"level": "Metadata"}]},
            ["apiVersion/kind are 'audit.k8s.io/v1beta1'/'Policy', not 'audit.k8s.io/v1'/'Policy'"],
            id="removed apiVersion",
        ),
        pytest.param(
            policy({"level": "Metadata", "omitStages": ["ResponseStarted", "Done"]}, omitStages=["requestreceived"]),
            [
                "omitStages[0]: 'requestreceived' is not a stage; use one of RequestReceived, ResponseStarted,"
                " ResponseComplete, Panic",
                "rules[0].omitStages[1]: 'Done' is not a stage; use one of RequestReceived, ResponseStarted,"
                " ResponseComplete, Panic",
            ],
            id="unknown stages",
        ),
        pytest.param(
            policy(
                {"level": "None", "nonResourceURLs": ["/healthz"], "namespaces": ["default"]}, {"level": "Metadata"}
            ),
            ["rules[0]: nonResourceURLs cannot be combined with resources or namespaces"],
            id="non-resource URLs with namespaces",
        ),
        pytest.param(
            policy({"level": "None", "nonResourceURLs": ["healthz", "/a*b", "*", "/livez*"]}, {"level": "Metadata"}),
            [
                "rules[0].nonResourceURLs[0]: 'healthz' must start with '/' and may end with '*' only",
                "rules[0].nonResourceURLs[1]: '/a*b' must start with '/' and may end with '*' only",
            ],
            id="bad non-resource URLs",
        ),
        pytest.param(
            policy({"level": "Metadata", "verbs": "get", "users": [1]}),
            ["rules[0].users: expected a list of strings", "rules[0].verbs: expected a list of strings"],
            id="wrong types",
        ),
        pytest.param(
            policy(
                {
                    "level": "Metadata",
                    "resources": [{"group": "", "resourceNames": ["x"], "names": ["y"]}],
                    "verb": ["get"],
                },
                {"level": "Metadata", "resources": {"group": ""}},
                {"level": "Metadata", "resources": [{"group": 1, "resources": "pods"}]},
            ),
            [
                "rules[0]: unknown key 'verb', which kube-apiserver ignores; did you mean 'verbs'?",
                "rules[0].resources[0]: unknown key 'names', which kube-apiserver ignores; known keys are group,"
                " resources, resourceNames",
                "rules[0].resources[0].resourceNames: needs at least one resource in rules[0].resources[0].resources",
                "rules[1].resources: expected a list of mappings with group, resources and resourceNames",
                'rules[2].resources[0].group: expected a string ("" is the core group)',
                "rules[2].resources[0].resources: expected a list of strings",
            ],
            id="bad resources",
        ),
        pytest.param(
            policy("Metadata", {"level": "Metadata"}, metadata={"name": "x"}, extra=True),
            [
                "the policy: unknown key 'extra', which kube-apiserver ignores; known keys are apiVersion, kind,"
                " metadata, rules, omitStages, omitManagedFields",
                "rules[0]: expected a mapping",
            ],
            id="a rule that is not a mapping, an unknown top-level key",
        ),
        pytest.param(
            {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": {"level": "None"}},
            ["rules: expected a list of rules"],
            id="rules not a list",
        ),
        pytest.param(["level: None"], ["the policy is not a mapping (got list)"], id="not a mapping"),
        pytest.param(None, ["the policy is not a mapping (got NoneType)"], id="nothing"),
    ],
)
def test_problems(bad: t.Any, problems: list[str]) -> None:
    assert lint_policy(bad) == problems
