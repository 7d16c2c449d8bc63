#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_namespace_policies
short_description: Give every namespace Pod Security labels and default-deny NetworkPolicies, and prove them
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - In one call, for every namespace that is not in O(exempt_namespaces) or being deleted, sets the Pod Security
    Admission labels C(pod-security.kubernetes.io/enforce), C(audit) and C(warn), each with its pinned C(-version)
    label, and keeps the namespace's other labels.
  - Before an enforce label changes, the change is tried as a server-side dry run, and the API server's Pod Security
    warnings name the running pods the new level would refuse when they are next created. They are returned in
    RV(violations); unless O(allow_violations=true) the module then fails and changes nothing, so the impact is seen
    first. In check mode they are reported as warnings. Running pods are never evicted by a label; only their replacements would be refused.
  - After the labels are set, one pod the enforce level must refuse is sent as a dry run to a labelled namespace. Only
    a refusal by Pod Security makes the labels pass; if the API server admits it (the PodSecurity admission plugin is
    turned off), the labels are reported as not in effect.
  - With O(default_deny=true), each such namespace gets the NetworkPolicy C(bulwark-default-deny), which selects every
    pod and allows no ingress and no egress, and, with O(dns_egress), C(bulwark-allow-dns), which allows egress to the
    cluster DNS on port 53 (UDP and TCP). They carry the label C(app.kubernetes.io/managed-by=bulwark.hardening); ours
    that are no longer wanted are deleted. A policy of one of those names without the label is the user's, and an
    error before any change.
  - Reports every namespace without any NetworkPolicy, ours or the user's (CIS-K8s 5.3.2). A NetworkPolicy only
    filters traffic when the cluster's network plugin enforces it, which the API server cannot tell.
  - Exempt namespaces are left as they are, and reported with their reason.
  - Every change is tried as a server-side dry run before any is made; when one fails, the changes made before it are
    undone and the module fails, naming them.
extends_documentation_fragment:
  - bulwark.hardening._attributes
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    details:
      - Plans, tries every change as a server-side dry run (so RV(violations) are found and reported, without failing)
        and probes the namespaces that already carry the labels; nothing is stored.
  diff_mode:
    support: full
    details:
      - One entry per changed namespace or NetworkPolicy, with its labels or spec.
  idempotent:
    support: full
options:
  pod_security:
    description:
      - The Pod Security Admission levels. Leave it out to leave the namespaces' Pod Security labels as they are.
    type: dict
    suboptions:
      enforce:
        description: The level the API server enforces; pods that violate it are refused.
        type: str
        choices: [baseline, restricted]
        default: restricted
      audit:
        description: The level whose violations are recorded in the audit log.
        type: str
        choices: [privileged, baseline, restricted]
        default: restricted
      warn:
        description: The level whose violations are returned to the client as warnings.
        type: str
        choices: [privileged, baseline, restricted]
        default: restricted
      version:
        description:
          - The version of the levels' rules, such as V(v1.37), pinned so that an upgrade of the API server does not
            change what is refused. Leave it out for the API server's own minor version at the time of the run.
        type: str
  allow_violations:
    description:
      - Set the enforce labels even where running pods violate the new level (they keep running; their replacements
        would be refused). When false, such violations fail the module before any change.
    type: bool
    default: false
  default_deny:
    description: Give every namespace in scope the NetworkPolicy C(bulwark-default-deny). When false, ours are deleted.
    type: bool
    default: true
  dns_egress:
    description:
      - Allow egress to the cluster DNS, with the NetworkPolicy C(bulwark-allow-dns). Set null to allow no DNS.
    type: dict
    default: {}
    suboptions:
      namespace:
        description: The namespace the DNS pods run in.
        type: str
        default: kube-system
      pod_labels:
        description: The labels of the DNS pods; empty allows port 53 to any pod of O(dns_egress.namespace).
        type: dict
        default: {k8s-app: kube-dns}
  exempt_namespaces:
    description: Namespaces to leave alone, each with the reason, which is reported.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The namespace.
        type: str
        required: true
      reason:
        description: Why it is exempt.
        type: str
        required: true
notes:
  - Namespaces created after the run get their labels and policies at the next run; run it daily.
seealso:
  - name: Pod Security Admission
    description: The levels, their versions and the namespace labels.
    link: https://kubernetes.io/docs/concepts/security/pod-security-admission/
  - module: bulwark.hardening.k8s_rbac_audit
"""

EXAMPLES = r"""
- name: Enforce restricted and deny all traffic by default, except DNS
  bulwark.hardening.k8s_namespace_policies:
    kubeconfig: /etc/kubernetes/admin.conf
    pod_security:
      enforce: restricted
      version: v1.37
    exempt_namespaces:
      - name: kube-system
        reason: the control plane and node agents need host access
      - name: monitoring
        reason: the node exporter reads the host's /proc (review 2027-03)

- name: See which running pods restricted would refuse, changing nothing
  bulwark.hardening.k8s_namespace_policies:
    pod_security: {enforce: restricted}
    default_deny: false
  check_mode: true
  register: impact
"""

RETURN = r"""
labelled:
  description: The namespaces whose Pod Security labels were (or would be) set.
  returned: success
  type: list
  elements: str
  sample: ["team-a"]
created:
  description: The NetworkPolicies that were (or would be) created.
  returned: success
  type: list
  elements: str
  sample: ["NetworkPolicy/team-a/bulwark-default-deny", "NetworkPolicy/team-a/bulwark-allow-dns"]
updated:
  description: Our NetworkPolicies whose spec was (or would be) put back.
  returned: success
  type: list
  elements: str
  sample: []
deleted:
  description: Our NetworkPolicies that were (or would be) deleted, because they are no longer wanted.
  returned: success
  type: list
  elements: str
  sample: []
violations:
  description:
    - The running pods that violate a new enforce level, per namespace, as Pod Security words them.
  returned: success
  type: list
  elements: dict
  sample: [{"namespace": "team-a", "level": "restricted:v1.37",
    "pods": ["web-1 (and 2 other pods): allowPrivilegeEscalation != false, runAsNonRoot != true"]}]
probe:
  description:
    - The dry-run pod that Pod Security must refuse, and what the API server answered. Null when no namespace carried
      the labels yet.
  returned: when O(pod_security) is given
  type: dict
  sample: {"namespace": "team-a", "refused": true,
    "message": "pods \"bulwark-pod-security-probe\" is forbidden: violates PodSecurity \"restricted:v1.37\": ..."}
without_network_policy:
  description: The namespaces that have (or, in check mode, would have) no NetworkPolicy at all (CIS-K8s 5.3.2).
  returned: success
  type: list
  elements: str
  sample: ["kube-public"]
exempt:
  description: The exempt namespaces that exist, with their reasons.
  returned: success
  type: dict
  sample: {"kube-system": "the control plane and node agents need host access"}
unused_exemptions:
  description: Exempt namespaces that do not exist.
  returned: success
  type: list
  elements: str
  sample: []
terminating:
  description: Namespaces being deleted, which are left alone.
  returned: success
  type: list
  elements: str
  sample: []
item_status:
  description:
    - V(pod_security) (CIS-K8s 5.2.1), V(pod_security_restricted) and V(network_policies) (CIS-K8s 5.3.2), each V(ok),
      V(changed), V(not-in-effect) (the probe was admitted, or the enforce level is not restricted), V(finding) (a
      namespace in scope without any NetworkPolicy) or V(not-checked).
  returned: success
  type: dict
  sample: {"pod_security": "ok", "pod_security_restricted": "ok", "network_policies": "changed"}
msg:
  description: Why an item is not V(ok), in one sentence.
  returned: success
  type: str
diff:
  description: One entry per changed object.
  returned: when diff mode is on
  type: list
  elements: dict
"""

import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_api import Api, ApiError, k8s_module
from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_changes import ApplyError, apply_all, dry_run_all
from ansible_collections.bulwark.hardening.plugins.module_utils.namespace_policy import (
    NamespacePlan,
    PolicyError,
    item_status,
    plan,
    probe_pod,
    violations,
)

LEVEL_CHOICES = ["privileged", "baseline", "restricted"]
ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "pod_security": {
        "type": "dict",
        "options": {
            "enforce": {"type": "str", "choices": ["baseline", "restricted"], "default": "restricted"},
            "audit": {"type": "str", "choices": LEVEL_CHOICES, "default": "restricted"},
            "warn": {"type": "str", "choices": LEVEL_CHOICES, "default": "restricted"},
            "version": {"type": "str"},
        },
    },
    "allow_violations": {"type": "bool", "default": False},
    "default_deny": {"type": "bool", "default": True},
    "dns_egress": {
        "type": "dict",
        "default": {},
        "options": {
            "namespace": {"type": "str", "default": "kube-system"},
            "pod_labels": {"type": "dict", "default": {"k8s-app": "kube-dns"}},
        },
    },
    "exempt_namespaces": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {"name": {"type": "str", "required": True}, "reason": {"type": "str", "required": True}},
    },
}


def server_minor(api: Api) -> str:
    """``v1.37`` for an API server at v1.37.2: the version the Pod Security labels pin by default."""
    version = api.get("/version", "read its version")
    minor = "".join(ch for ch in str(version.get("minor") or "") if ch.isdigit())
    return f"v{version.get('major') or '1'}.{minor}"


def probe(api: Api, namespace: str, enforce: str) -> tuple[dict[str, t.Any], bool | None]:
    """Sends the pod the enforce level must refuse, as a dry run. Returns what the API server answered,
    and whether Pod Security refused it: True, False (admitted) or None (refused, but not by Pod Security)."""
    try:
        api.create(f"/api/v1/namespaces/{namespace}/pods", probe_pod(namespace, enforce), "create a dry-run probe pod", dry_run=True)
    except ApiError as exc:
        by_pod_security = "violates PodSecurity" in str(exc)
        return {"namespace": namespace, "refused": by_pod_security, "message": str(exc)}, (True if by_pod_security else None)
    return {"namespace": namespace, "refused": False, "message": "admitted"}, False


def explain(result: NamespacePlan, status: t.Mapping[str, str], enforce: str | None, probed: dict[str, t.Any] | None) -> str:
    reasons = []
    if status.get("pod_security") == "not-in-effect" and probed:
        reasons.append(
            f"the API server admitted a pod that {enforce} refuses in namespace {probed['namespace']}, which carries the labels"
            " (is the PodSecurity admission plugin turned off?)"
        )
    elif status.get("pod_security") == "not-checked" and probed:
        reasons.append(f"the probe pod was refused, but not by Pod Security: {probed['message']}")
    elif status.get("pod_security") == "not-checked":
        reasons.append("no namespace carries the labels yet, so Pod Security could not be probed")
    if status.get("pod_security_restricted") == "not-in-effect" and enforce != "restricted":
        reasons.append(f"the enforce level is {enforce}, not restricted")
    if status.get("network_policies") == "finding":
        lacking = sorted(set(result.without_network_policy) & set(result.in_scope))
        reasons.append(f"namespaces without any NetworkPolicy: {', '.join(lacking)}")
    return "; ".join(reasons)


def violation_message(found: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    lines = [f"  {item['namespace']} ({item['level']}): {'; '.join(item['pods']) or 'see the API server warnings'}" for item in found]
    return (
        "running pods violate the new Pod Security enforce level, and would be refused when they are next created:\n"
        + "\n".join(lines)
        + "\nFix them, exempt their namespace with a reason, or set allow_violations. Nothing was changed."
    )


def main() -> None:
    module = k8s_module(ARGUMENT_SPEC)
    params = module.params
    pod_security = params["pod_security"]
    enforce = pod_security["enforce"] if pod_security else None
    try:
        api = Api(params)
        namespaces = api.list("/api/v1/namespaces", "list namespaces")
        policies = api.list("/apis/networking.k8s.io/v1/networkpolicies", "list network policies in every namespace")
        version = server_minor(api) if pod_security and not pod_security.get("version") else ""
    except ApiError as exc:
        module.fail_json(msg=f"{exc} Nothing was changed.")
    try:
        result = plan(
            namespaces,
            policies,
            pod_security=pod_security,
            default_deny=params["default_deny"],
            dns_egress=params["dns_egress"],
            exempt_namespaces=params["exempt_namespaces"],
            server_version=version,
        )
    except PolicyError as exc:
        module.fail_json(msg=f"{exc} Nothing was changed.")

    try:
        warnings = dry_run_all(api, result.changes)
    except ApiError as exc:
        module.fail_json(msg=f"the dry run refused a change: {exc} Nothing was changed.")
    found = violations(warnings, result.enforce_changes)
    if found and not params["allow_violations"] and not module.check_mode:
        module.fail_json(msg=violation_message(found), violations=found)
    if not module.check_mode:
        try:
            apply_all(api, result.changes)
        except ApplyError as exc:
            module.fail_json(msg=str(exc), rolled_back=exc.rolled_back, not_rolled_back=exc.not_rolled_back)

    probed, refused = None, None
    if enforce is not None:
        labelled = result.labelled_as_declared if module.check_mode else result.in_scope
        if labelled:
            probed, refused = probe(api, labelled[0], enforce)
    status = item_status(result, enforce, refused)
    for item in found:
        verb = "would refuse" if module.check_mode else "now refuses"
        module.warn(f"Pod Security {item['level']} {verb} new pods like these in {item['namespace']}: {'; '.join(item['pods'])}")

    output: dict[str, t.Any] = {
        "changed": result.changed,
        "labelled": [change.name for change in result.changes if change.kind == "Namespace"],
        "created": result.refs("create"),
        "updated": result.refs("update"),
        "deleted": result.refs("delete"),
        "violations": found,
        "without_network_policy": list(result.without_network_policy),
        "exempt": result.exempt,
        "unused_exemptions": list(result.unused_exemptions),
        "terminating": list(result.terminating),
        "item_status": status,
        "msg": explain(result, status, enforce, probed),
    }
    if pod_security is not None:
        output["probe"] = probed
    if module._diff:
        output["diff"] = [change.diff() for change in result.changes]
    module.exit_json(**output)


if __name__ == "__main__":
    main()
