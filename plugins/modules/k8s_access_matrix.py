#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_access_matrix
short_description: Assert who may do what on a Kubernetes cluster, through SubjectAccessReviews
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Asks the API server, for each row of O(rows), whether its subject may do its verb on its resource (or non-resource
    URL) in its namespace, and compares the answer with the row's O(rows[].allowed). The API server's own authorizers
    answer (RBAC, Node, and the C(system:masters) group), so the answer is the one a real request would get.
  - Each review carries the groups a real request of the subject carries, or a grant to a group would be missed.
    A C(User) is in C(system:authenticated) (C(system:anonymous) in C(system:unauthenticated)) and in the groups of
    O(rows[].groups); a C(ServiceAccount) is in C(system:serviceaccounts), C(system:serviceaccounts:NAMESPACE) and
    C(system:authenticated); a C(Group) row asks for a member of that group, who is also in C(system:authenticated).
  - Returns every row with the answer, and fails with a table of the rows that do not hold unless
    O(fail_on_difference=false).
extends_documentation_fragment:
  - bulwark.hardening._attributes
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    details:
      - A SubjectAccessReview is a question, not an object the API server keeps, so the rows are asked in check mode too.
  diff_mode:
    support: none
    details:
      - The module changes nothing, so there is nothing to diff.
  idempotent:
    support: full
options:
  rows:
    description:
      - The access matrix, one question each. Two rows may not ask the same question.
    type: list
    elements: dict
    required: true
    suboptions:
      subject:
        description: Who asks, written C(User:NAME), C(Group:NAME) or C(ServiceAccount:NAMESPACE/NAME).
        type: str
        required: true
      verb:
        description: The verb (V(get), V(list), V(create), V(impersonate), ...).
        type: str
        required: true
      resource:
        description:
          - The resource as C(kubectl auth can-i) writes it, C(RESOURCE[.GROUP][/SUBRESOURCE]) (V(secrets), V(pods/exec),
            V(deployments.apps/scale)). Either this or O(rows[].non_resource_url).
        type: str
      non_resource_url:
        description: A non-resource path such as V(/metrics). Either this or O(rows[].resource).
        type: str
      namespace:
        description: The namespace; leave it out to ask across all namespaces (or for a cluster-scoped resource).
        type: str
      name:
        description: One object by name.
        type: str
      groups:
        description: More groups of a C(User) subject (as its credentials would carry them).
        type: list
        elements: str
      allowed:
        description: Whether the subject must be allowed (V(true)) or denied (V(false)).
        type: bool
        required: true
  fail_on_difference:
    description:
      - Fail, with a table of the rows that do not hold, when any row does not hold. With V(false), the rows are only
        returned.
    type: bool
    default: true
requirements:
  - The C(kubernetes) Python library (as for kubernetes.core).
  - Credentials that may create C(subjectaccessreviews) in C(authorization.k8s.io) (C(cluster-admin) may; the
    C(system:auth-delegator) ClusterRole grants it alone).
seealso:
  - module: bulwark.hardening.k8s_rbac_audit
  - name: SubjectAccessReview
    description: How the API server answers who may do what.
    link: https://kubernetes.io/docs/reference/access-authn-authz/authorization/#checking-api-access
"""

EXAMPLES = r"""
- name: Assert the access model of team A
  bulwark.hardening.k8s_access_matrix:
    kubeconfig: /etc/kubernetes/admin.conf
    rows:
      - {subject: "Group:team-a", verb: create, resource: deployments.apps, namespace: team-a, allowed: true}
      - {subject: "Group:team-a", verb: get, resource: secrets, namespace: team-b, allowed: false}
      - {subject: "ServiceAccount:team-a/builder", verb: create, resource: pods/exec, namespace: team-a, allowed: false}
      - {subject: "User:system:anonymous", verb: get, non_resource_url: /metrics, allowed: false}
      - {subject: "User:alice", groups: [oncall], verb: get, resource: nodes/proxy, allowed: false}
"""

RETURN = r"""
rows:
  description: Every row as asked, with the API server's answer.
  returned: success
  type: list
  elements: dict
  contains:
    subject:
      description: The subject.
      type: str
      sample: Group:team-a
    verb:
      description: The verb.
      type: str
      sample: get
    resource:
      description: The resource as written, or null for a non-resource URL.
      type: str
      sample: secrets
    non_resource_url:
      description: The non-resource path, or null.
      type: str
      sample: null
    namespace:
      description: The namespace, or null.
      type: str
      sample: team-b
    name:
      description: The object's name, or null.
      type: str
      sample: null
    groups:
      description: The extra groups of a User subject.
      type: list
      elements: str
      sample: []
    allowed:
      description: What the row expects.
      type: bool
      sample: false
    actual:
      description: What the API server answered.
      type: bool
      sample: true
    holds:
      description: Whether the answer is what the row expects.
      type: bool
      sample: false
    reason:
      description: The authorizer's reason when it gave one (the binding that allows it).
      type: str
      sample: 'RBAC: allowed by ClusterRoleBinding "read-secrets" of ClusterRole "secret-reader" to Group "team-a"'
differences:
  description: The rows that do not hold (also in RV(rows), with RV(rows[].holds) false).
  returned: success
  type: list
  elements: dict
  sample: []
table:
  description: The rows that do not hold as a text table; only the header when every row holds.
  returned: success
  type: str
  sample: "subject       verb  resource  namespace  expected  actual\nGroup:team-a  get   secrets   team-b     denied    allowed"
"""

import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.access_matrix import (
    Answer,
    compare,
    parse_rows,
    review,
    table,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_api import Api, ApiError, k8s_module
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import RbacError

ROW_OPTIONS: dict[str, dict[str, t.Any]] = {
    "subject": {"type": "str", "required": True},
    "verb": {"type": "str", "required": True},
    "resource": {"type": "str"},
    "non_resource_url": {"type": "str"},
    "namespace": {"type": "str"},
    "name": {"type": "str"},
    "groups": {"type": "list", "elements": "str"},
    "allowed": {"type": "bool", "required": True},
}

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "rows": {"type": "list", "elements": "dict", "required": True, "options": ROW_OPTIONS},
    "fail_on_difference": {"type": "bool", "default": True},
}

REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"


def main() -> None:
    module = k8s_module(ARGUMENT_SPEC)
    try:
        rows = parse_rows(module.params["rows"])
    except RbacError as exc:
        module.fail_json(msg=f"{exc} Nothing was asked.")

    try:
        api = Api(module.params)
        answers = [Answer.from_api(api.create(REVIEWS, review(row), "create subjectaccessreviews")) for row in rows]
    except ApiError as exc:
        module.fail_json(msg=str(exc))

    results = compare(rows, answers)
    differences = [row for row in results if not row["holds"]]
    output = {"changed": False, "rows": results, "differences": differences, "table": table(results)}
    if differences and module.params["fail_on_difference"]:
        module.fail_json(
            msg=f"{len(differences)} of {len(results)} rows of the access matrix do not hold:\n{output['table']}", **output
        )
    module.exit_json(**output)


if __name__ == "__main__":
    main()
