#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rbac_audit
short_description: Report every risky RBAC grant of a Kubernetes cluster by its CIS-K8s 5.1 control id
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Reads every ClusterRole, Role, ClusterRoleBinding, RoleBinding, ServiceAccount and Pod of the cluster and returns
    one finding per risky grant, with its control id, the subject, the binding, the role and the rule that grants it.
  - "Findings come from the I(effective) grants, as the RBAC authorizer decides a request: a RoleBinding to a ClusterRole
    grants it in the binding's namespace only (so not nodes, persistent volumes or webhook configurations); aggregated
    ClusterRoles have the rules of the roles their selectors match, each reported with the role it came from; C(*) in
    verbs, API groups and resources, C(*/subresource), subresources, C(resourceNames) and C(nonResourceURLs) are matched
    as the authorizer matches them; and the group C(system:masters) may do everything without any binding."
  - "Controls: CIS-K8s 5.1.1 cluster-admin bound beyond O(cluster_admins); 5.1.2 get, list or watch on secrets;
    5.1.3 wildcards in a role (also when no binding uses it yet); 5.1.4 create on pods or on the workload controllers
    that create them (replication controllers, deployments, replica sets, stateful sets, daemon sets, jobs, cron jobs);
    5.1.5 default service accounts that are granted rights or do not set C(automountServiceAccountToken: false);
    5.1.6 pods that mount the token of a service account no binding grants anything; 5.1.7 bindings to
    C(system:masters), and that group's rights; 5.1.8 bind or escalate on roles, impersonate on users, groups, service
    accounts or uids; 5.1.9 create on persistent volumes; 5.1.10 any verb on nodes/proxy; 5.1.11 update or patch on
    certificatesigningrequests/approval; 5.1.12 changes to validating or mutating webhook configurations;
    5.1.13 create on serviceaccounts/token; and BWK-12 any grant to C(system:anonymous), C(system:unauthenticated) or
    C(system:authenticated) beyond the API server's discovery defaults."
  - The API server's own bootstrap bindings (named C(system:*) or C(cluster-admin), labelled
    C(kubernetes.io/bootstrapping=rbac-defaults) and reconciled at every start) are reported with RV(findings[].bootstrap)
    true; they come back at the next restart whatever is done to them, so they are reported, never to be edited.
  - Reads only; nothing on the cluster changes, in check mode or not.
extends_documentation_fragment:
  - bulwark.hardening._attributes
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details:
      - The module changes nothing, so there is nothing to diff.
  idempotent:
    support: full
options:
  cluster_admins:
    description:
      - The subjects that may be bound to the C(cluster-admin) ClusterRole (CIS-K8s 5.1.1), written C(User:NAME),
        C(Group:NAME) or C(ServiceAccount:NAMESPACE/NAME).
      - The bootstrap binding of C(system:masters) is reported as bootstrap whatever this holds.
    type: list
    elements: str
    default: []
  waivers:
    description:
      - Findings someone accepted. A waiver holds for the findings of its O(waivers[].control) that match every other
        field it gives; a waived finding is returned with RV(findings[].waived) true and its reason.
    type: list
    elements: dict
    default: []
    suboptions:
      control:
        description: The control id, as in RV(findings[].control) (V(CIS-K8s 5.1.2), V(BWK-12)).
        type: str
        required: true
      reason:
        description: Why the finding is accepted (a ticket, an owner).
        type: str
        required: true
      subject:
        description: Only findings of this subject (C(User:NAME), C(Group:NAME), C(ServiceAccount:NAMESPACE/NAME)).
        type: str
      binding:
        description: Only findings of this binding (C(ClusterRoleBinding/NAME), C(RoleBinding/NAMESPACE/NAME)).
        type: str
      role:
        description: Only findings of this role (C(ClusterRole/NAME), C(Role/NAMESPACE/NAME)).
        type: str
      namespace:
        description: Only findings that hold in this namespace.
        type: str
      object:
        description: Only findings about this object (C(Pod/NAMESPACE/NAME), C(ServiceAccount/NAMESPACE/default)).
        type: str
      expires:
        description: The last day (C(YYYY-MM-DD)) the waiver holds; after it, the findings are open again.
        type: str
  pods:
    description:
      - Read the cluster's pods for CIS-K8s 5.1.6. On a cluster with very many pods, V(false) skips that control
        (reported in RV(skipped)).
    type: bool
    default: true
requirements:
  - The C(kubernetes) Python library (as for kubernetes.core).
  - Credentials that may list the objects above in every namespace (the C(view) ClusterRole does not include secrets
    and is enough; RBAC objects need C(get) and C(list) on C(rbac.authorization.k8s.io)).
notes:
  - A binding whose role does not exist grants nothing until someone creates the role; it is returned in
    RV(problems).
  - CIS-K8s 5.1.6 asks that tokens are mounted only where needed, which no API can tell; a token is reported as not needed
    when no binding names the pod's service account. Grants to groups of service accounts do not count as a need.
seealso:
  - module: bulwark.hardening.k8s_access_matrix
  - name: CIS Kubernetes Benchmark
    description: Section 5.1, RBAC and service accounts.
    link: https://www.cisecurity.org/benchmark/kubernetes
"""

EXAMPLES = r"""
- name: Audit the cluster's RBAC grants | CIS-K8s 5.1.1 5.1.2 5.1.3
  bulwark.hardening.k8s_rbac_audit:
    kubeconfig: /etc/kubernetes/admin.conf
    cluster_admins:
      - Group:kubeadm:cluster-admins
    waivers:
      - control: CIS-K8s 5.1.4
        subject: ServiceAccount:ci/deployer
        reason: the CI pipeline deploys workloads (OPS-1234)
        expires: "2027-06-30"
  register: __rbac

- name: Fail when a finding is open
  ansible.builtin.assert:
    that: __rbac.open_findings | length == 0
    fail_msg: "{{ __rbac.open_findings | map(attribute='message') | list }}"
"""

RETURN = r"""
findings:
  description: Every finding, bootstrap and waived ones included, sorted by control, subject and binding.
  returned: success
  type: list
  elements: dict
  contains:
    control:
      description: The control id.
      type: str
      sample: CIS-K8s 5.1.2
    item:
      description: The name the control's status is kept under in RV(item_status).
      type: str
      sample: secret_access
    message:
      description: The finding in one line.
      type: str
      sample: "Group:system:authenticated may read secrets (get/list) in every namespace, by
        ClusterRoleBinding/read-secrets -> ClusterRole/secret-reader"
    subject:
      description: Who holds the grant, or null for a role no binding uses.
      type: str
      sample: Group:system:authenticated
    binding:
      description: The binding that grants it, or null.
      type: str
      sample: ClusterRoleBinding/read-secrets
    role:
      description: The role the binding names, or null.
      type: str
      sample: ClusterRole/secret-reader
    namespace:
      description: The namespace where the grant holds; null when it holds in every namespace.
      type: str
      sample: null
    rule:
      description: The rule that grants it, as the API writes it, or null when the finding is not about one rule.
      type: dict
      sample: {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}
    rule_from:
      description: The role the rule is written in; differs from RV(findings[].role) for an aggregated ClusterRole.
      type: str
      sample: ClusterRole/secret-reader
    object:
      description: The object the finding is about when it is not a grant (a pod, a service account, an unbound role).
      type: str
      sample: null
    bootstrap:
      description: Whether the API server's own bootstrap binding grants it (reported, never to be edited).
      type: bool
      sample: false
    waived:
      description: Whether a waiver accepts it.
      type: bool
      sample: false
    reason:
      description: The waiver's reason, or null.
      type: str
      sample: null
msg:
  description: How many findings are open, and the first three.
  returned: success
  type: str
  sample: "1 open findings: CIS-K8s 5.1.1: User:mallory is cluster-admin in every namespace, by
    ClusterRoleBinding/old-admin -> ClusterRole/cluster-admin"
open_findings:
  description: The findings that are neither waived nor bootstrap ones; the controls they break fail.
  returned: success
  type: list
  elements: dict
  sample: []
summary:
  description: Per control, the number of findings, and of those waived, bootstrap and open.
  returned: success
  type: dict
  sample: {"CIS-K8s 5.1.2": {"findings": 3, "waived": 0, "bootstrap": 2, "open": 1}}
item_status:
  description:
    - Per control's item, V(ok) when it has no open finding, V(finding) when it has, and V(not-checked) when its objects
      were not read (see RV(skipped)).
  returned: success
  type: dict
  sample: {"cluster_admin": "ok", "secret_access": "finding"}
problems:
  description: What the audit noticed that is not a finding, such as a binding to a role that does not exist.
  returned: success
  type: list
  elements: str
  sample: ["RoleBinding/team-a/old names Role/team-a/gone, which does not exist: it grants nothing until someone creates it."]
unused_waivers:
  description: The indexes of O(waivers) that matched no finding, so they can be removed.
  returned: success
  type: list
  elements: int
  sample: [2]
skipped:
  description: The controls that were not checked, and why.
  returned: success
  type: dict
  sample: {}
objects:
  description: How many objects of each kind were read.
  returned: success
  type: dict
  sample: {"clusterroles": 70, "roles": 10, "clusterrolebindings": 55, "rolebindings": 12, "serviceaccounts": 40,
    "pods": 12}
"""

import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_api import Api, ApiError, k8s_module
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import (
    RbacError,
    audit,
    parse_subject,
    parse_waivers,
)

WAIVER_OPTIONS: dict[str, dict[str, t.Any]] = {
    "control": {"type": "str", "required": True},
    "reason": {"type": "str", "required": True},
    "subject": {"type": "str"},
    "binding": {"type": "str"},
    "role": {"type": "str"},
    "namespace": {"type": "str"},
    "object": {"type": "str"},
    "expires": {"type": "str"},
}

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "cluster_admins": {"type": "list", "elements": "str", "default": []},
    "waivers": {"type": "list", "elements": "dict", "default": [], "options": WAIVER_OPTIONS},
    "pods": {"type": "bool", "default": True},
}

LISTS = {
    "clusterroles": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "roles": "/apis/rbac.authorization.k8s.io/v1/roles",
    "clusterrolebindings": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "rolebindings": "/apis/rbac.authorization.k8s.io/v1/rolebindings",
    "serviceaccounts": "/api/v1/serviceaccounts",
    "pods": "/api/v1/pods",
}


def main() -> None:
    module = k8s_module(ARGUMENT_SPEC)
    params = module.params
    try:
        admins = [str(parse_subject(s, f"cluster_admins[{i}]")) for i, s in enumerate(params["cluster_admins"])]
        waivers = parse_waivers(params["waivers"])
    except RbacError as exc:
        module.fail_json(msg=f"{exc} Nothing was read.")

    kinds = [kind for kind in LISTS if params["pods"] or kind != "pods"]
    try:
        api = Api(params)
        objects = {kind: api.list(LISTS[kind], f"list {kind} in every namespace") for kind in kinds}
    except ApiError as exc:
        module.fail_json(msg=str(exc))

    skipped = {} if params["pods"] else {"CIS-K8s 5.1.6": "pods is false: the cluster's pods were not read"}
    result = audit(objects, cluster_admins=admins, waivers=waivers, unchecked=skipped)
    open_findings = result.open_findings
    summary = "; ".join(f"{row['control']}: {row['message']}" for row in open_findings[:3])
    more = f"; and {len(open_findings) - 3} more" if len(open_findings) > 3 else ""
    module.exit_json(
        changed=False,
        msg=f"{len(open_findings)} open findings: {summary}{more}" if open_findings else "no open findings",
        findings=result.findings,
        open_findings=open_findings,
        summary=result.summary,
        item_status=result.item_status,
        problems=result.problems,
        unused_waivers=result.unused_waivers,
        skipped=skipped,
        objects={kind: len(items) for kind, items in objects.items()},
    )


if __name__ == "__main__":
    main()
