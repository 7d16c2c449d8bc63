# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""A ValidatingAdmissionPolicy for workloads, and its binding: pure, renders API objects.

The API server evaluates the policy's CEL itself (GA since Kubernetes 1.30), so no webhook has
to run, be reachable or fail open. It checks every pod, and the pod template of every workload
controller that makes pods (Pod Security Admission looks at pods only, so a Deployment with a
privileged template would otherwise only warn):

- images come from declared registries. An image is normalised as the container runtime reads
  it: ``nginx`` is ``docker.io/library/nginx``, ``team/app`` is ``docker.io/team/app``, and a first
  component with a ``.`` or ``:`` (or ``localhost``) is a registry. A registry matches with its
  trailing ``/``, so ``docker.io`` does not admit ``docker.io.evil.com/x``;
- optionally no ``:latest`` (or no tag at all) and only images pinned by digest;
- no privileged container, no host PID, network or IPC namespace, no hostPath volume
  (CIS-K8s 5.2.2, 5.2.3, 5.2.4, 5.2.5, and 5.5.1 for the registries).

Containers, init containers and ephemeral containers are all checked.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import NAMESPACE_NAME, OWNER_LABEL

__all__ = ["WorkloadPolicyError", "policy_objects"]

_REGISTRY = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[a-z0-9._-]+)*/?\Z")
ACTIONS = {"warn": ["Warn", "Audit"], "deny": ["Deny"]}

# The pod spec of the object under review, whichever kind it is.
_SPEC = (
    "object.kind == 'Pod' ? object.spec : "
    "object.kind == 'CronJob' ? object.spec.jobTemplate.spec.template.spec : object.spec.template.spec"
)
# CEL for one image reference ``i``, normalised as the container runtime reads it.
_NORMALISED = (
    "(i.contains('/') && (i.split('/')[0].contains('.') || i.split('/')[0].contains(':')"
    " || i.split('/')[0] == 'localhost') ? i : i.contains('/') ? 'docker.io/' + i : 'docker.io/library/' + i)"
)
# The part of an image after its last "/", without a digest: "app:1.2".
_NAME_AND_TAG = "i.split('/')[i.split('/').size() - 1].split('@')[0]"


class WorkloadPolicyError(ValueError):
    """Bad user input; the message names the variable and is shown as is."""


def _cel_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _registries(values: t.Any, where: str) -> list[str]:
    if not isinstance(values, list) or not values:
        raise WorkloadPolicyError(f"{where} must be a non-empty list of registries, such as [registry.example.com].")
    prefixes = []
    for index, value in enumerate(values):
        if not isinstance(value, str) or not _REGISTRY.match(value) or "//" in value:
            raise WorkloadPolicyError(
                f"{where}[{index}]: {value!r} is not a registry or repository prefix; write it as an image starts,"
                " such as registry.example.com, registry.example.com:5000/team or docker.io/library."
            )
        prefixes.append(value.rstrip("/") + "/")
    return prefixes


def _validations(prefixes: list[str], deny_latest: bool, require_digest: bool) -> list[dict[str, str]]:
    trusted = "[" + ", ".join(_cel_string(p) for p in prefixes) + "]"
    untrusted = f"variables.images.filter(i, !{trusted}.exists(r, {_NORMALISED}.startsWith(r)))"
    shown = ", ".join(prefix.rstrip("/") for prefix in prefixes)
    checks = [
        {
            "expression": f"{untrusted}.size() == 0",
            "messageExpression": f"'images not from a trusted registry ({shown}): ' + {untrusted}.join(', ')",
            "reason": "Forbidden",
        }
    ]
    if deny_latest:
        untagged = f"(!{_NAME_AND_TAG}.contains(':') || {_NAME_AND_TAG}.endsWith(':latest'))"
        latest = f"variables.images.filter(i, !i.contains('@') && {untagged})"
        checks.append(
            {
                "expression": f"{latest}.size() == 0",
                "messageExpression": f"'images without a tag or tagged latest: ' + {latest}.join(', ')",
                "reason": "Forbidden",
            }
        )
    if require_digest:
        loose = "variables.images.filter(i, !i.contains('@sha256:'))"
        checks.append(
            {
                "expression": f"{loose}.size() == 0",
                "messageExpression": f"'images not pinned by digest: ' + {loose}.join(', ')",
                "reason": "Forbidden",
            }
        )
    privileged = "has(c.securityContext) && has(c.securityContext.privileged) && c.securityContext.privileged"
    checks += [
        {
            "expression": (
                f"variables.spec.containers.all(c, !({privileged}))"
                f" && (!has(variables.spec.initContainers) || variables.spec.initContainers.all(c, !({privileged})))"
                " && (!has(variables.spec.ephemeralContainers)"
                f" || variables.spec.ephemeralContainers.all(c, !({privileged})))"
            ),
            "message": "privileged containers are not allowed (CIS-K8s 5.2.2)",
            "reason": "Forbidden",
        },
        {
            "expression": "!(has(variables.spec.hostPID) && variables.spec.hostPID)",
            "message": "hostPID is not allowed (CIS-K8s 5.2.3)",
            "reason": "Forbidden",
        },
        {
            "expression": "!(has(variables.spec.hostIPC) && variables.spec.hostIPC)",
            "message": "hostIPC is not allowed (CIS-K8s 5.2.4)",
            "reason": "Forbidden",
        },
        {
            "expression": "!(has(variables.spec.hostNetwork) && variables.spec.hostNetwork)",
            "message": "hostNetwork is not allowed (CIS-K8s 5.2.5)",
            "reason": "Forbidden",
        },
        {
            "expression": "!has(variables.spec.volumes) || variables.spec.volumes.all(v, !has(v.hostPath))",
            "message": "hostPath volumes are not allowed",
            "reason": "Forbidden",
        },
    ]
    return checks


def _rule(group: str, resources: list[str]) -> dict[str, t.Any]:
    return {"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"], "resources": resources}


def policy_objects(
    name: str,
    registries: t.Any,
    *,
    stage: str = "warn",
    deny_latest: bool = True,
    require_digest: bool = False,
    exempt_namespaces: t.Any = (),
    where: str = "registries",
) -> list[dict[str, t.Any]]:
    """The ValidatingAdmissionPolicy and its binding, as the API takes them."""
    prefixes = _registries(registries, where)
    if stage not in ACTIONS:
        raise WorkloadPolicyError(f"stage must be one of {', '.join(ACTIONS)}, not {stage!r}.")
    exempt = list(exempt_namespaces)
    for index, namespace in enumerate(exempt):
        if not isinstance(namespace, str) or not NAMESPACE_NAME.match(namespace):
            raise WorkloadPolicyError(f"exempt_namespaces[{index}]: {namespace!r} is not a namespace name.")
    images = (
        "variables.spec.containers.map(c, c.image)"
        " + (has(variables.spec.initContainers) ? variables.spec.initContainers.map(c, c.image) : [])"
        " + (has(variables.spec.ephemeralContainers) ? variables.spec.ephemeralContainers.map(c, c.image) : [])"
    )
    labels = {OWNER_LABEL[0]: OWNER_LABEL[1]}
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    _rule("", ["pods", "pods/ephemeralcontainers", "replicationcontrollers"]),
                    _rule("apps", ["deployments", "replicasets", "statefulsets", "daemonsets"]),
                    _rule("batch", ["jobs", "cronjobs"]),
                ]
            },
            "variables": [{"name": "spec", "expression": _SPEC}, {"name": "images", "expression": images}],
            "validations": _validations(prefixes, deny_latest, require_digest),
        },
    }
    binding: dict[str, t.Any] = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": name, "labels": labels},
        "spec": {"policyName": name, "validationActions": ACTIONS[stage]},
    }
    if exempt:
        binding["spec"]["matchResources"] = {
            "namespaceSelector": {
                "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": exempt}]
            }
        }
    return [policy, binding]
