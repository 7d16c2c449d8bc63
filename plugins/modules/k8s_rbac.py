#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_rbac
short_description: Make a cluster's RBAC roles and bindings what is declared, and nothing more
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Creates or updates the roles and bindings of O(roles) and O(bindings), in one call, and labels them
    C(app.kubernetes.io/managed-by=bulwark.hardening). A binding's subjects become exactly the declared ones.
  - A binding whose role changed is deleted and created again and reported in RV(replaced), because the API server
    refuses to change a binding's C(roleRef) (kubernetes/kubernetes#66353).
  - With O(prune=true), roles and bindings that carry the label and are no longer declared are deleted. Objects without
    the label are never changed, unless listed in O(remove) or declared (declaring an existing object takes it over).
  - O(remove_subjects) are taken out of every binding that is not declared (the anonymous user and the unauthenticated
    group by default); a binding left without subjects is deleted. The API server's bootstrap bindings are left alone;
    it puts them back at its next start.
  - Everything is checked before anything changes; a binding to a role that neither exists nor is declared, or in a
    namespace that does not exist, is an error. Then every change is tried as a server-side dry run, so the API
    server's own validation and its escalation check refuse a change before any is made. When a change fails
    nonetheless, the changes made before it are undone and the module fails, naming them.
extends_documentation_fragment:
  - bulwark.hardening._attributes
  - kubernetes.core.k8s_auth_options
attributes:
  check_mode:
    support: full
    details:
      - Plans, and tries every change as a server-side dry run; nothing is stored.
  diff_mode:
    support: full
    details:
      - One entry per changed object, with its rules, role and subjects and whether it carries the label.
  idempotent:
    support: full
options:
  roles:
    description:
      - Roles to create or keep as declared. With O(roles[].namespace), a Role; without, a ClusterRole.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The role's name.
        type: str
        required: true
      namespace:
        description: The namespace of a Role; leave it out for a ClusterRole.
        type: str
      rules:
        description: The role's rules, each with O(roles[].rules[].verbs) and either resources or non-resource URLs.
        type: list
        elements: dict
        required: true
        suboptions:
          api_groups:
            description: API groups of the resources (V("") is the core group).
            type: list
            elements: str
          resources:
            description: Resources, with subresources as C(pods/log).
            type: list
            elements: str
          verbs:
            description: Verbs.
            type: list
            elements: str
            required: true
          resource_names:
            description: Object names the rule is limited to.
            type: list
            elements: str
          non_resource_urls:
            description: Non-resource paths (ClusterRoles only).
            type: list
            elements: str
  bindings:
    description:
      - Bindings to create or keep as declared. With O(bindings[].namespace), a RoleBinding; without, a
        ClusterRoleBinding.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The binding's name.
        type: str
        required: true
      namespace:
        description: The namespace of a RoleBinding; leave it out for a ClusterRoleBinding.
        type: str
      role:
        description: C(ClusterRole/NAME), or C(Role/NAME) of the binding's namespace.
        type: str
        required: true
      subjects:
        description: Exactly who is bound, each C(User:NAME), C(Group:NAME) or C(ServiceAccount:NAMESPACE/NAME).
        type: list
        elements: str
        required: true
  prune:
    description: Delete the roles and bindings that carry the label and are not declared.
    type: bool
    default: true
  remove:
    description:
      - Objects without the label to delete, written C(ClusterRoleBinding/NAME), C(RoleBinding/NAMESPACE/NAME),
        C(ClusterRole/NAME) or C(Role/NAMESPACE/NAME). One that does not exist is not an error.
    type: list
    elements: str
    default: []
  remove_subjects:
    description: Subjects to take out of every binding that is not declared (bootstrap bindings excepted).
    type: list
    elements: str
    default: ["User:system:anonymous", "Group:system:unauthenticated"]
  default_service_account_tokens:
    description:
      - V(false) sets C(automountServiceAccountToken=false) on the C(default) service account of every namespace
        (CIS-K8s 5.1.5), so a pod gets a token only when its own service account or its spec asks for one.
      - V(true) is refused (that is the API server's default); leave it unset to leave the accounts alone.
    type: bool
requirements:
  - The C(kubernetes) Python library (as for kubernetes.core).
  - Credentials that may list, create, update and delete roles and bindings, and list namespaces (and list and update
    service accounts for O(default_service_account_tokens)); to bind a role, they
    must hold its rights or the C(bind) verb (the API server's escalation check).
seealso:
  - module: bulwark.hardening.k8s_rbac_audit
  - module: bulwark.hardening.k8s_access_matrix
"""

EXAMPLES = r"""
- name: Bind the teams as declared and remove grants to anonymous users | CIS-K8s 5.1.1
  bulwark.hardening.k8s_rbac:
    kubeconfig: /etc/kubernetes/admin.conf
    roles:
      - name: team-a-deployer
        namespace: team-a
        rules:
          - {api_groups: [apps], resources: [deployments], verbs: [get, list, create, update, patch]}
    bindings:
      - name: team-a-deployers
        namespace: team-a
        role: Role/team-a-deployer
        subjects: ["Group:team-a", "ServiceAccount:ci/deployer"]
      - name: oncall-view
        role: ClusterRole/view
        subjects: ["Group:oncall"]
    remove:
      - ClusterRoleBinding/old-team-admin
"""

RETURN = r"""
created:
  description: The objects that were (or would be) created.
  returned: success
  type: list
  elements: str
  sample: ["RoleBinding/team-a/team-a-deployers"]
updated:
  description: The objects whose rules, subjects or label were (or would be) changed.
  returned: success
  type: list
  elements: str
  sample: ["ClusterRoleBinding/oncall-view"]
replaced:
  description: The bindings that were (or would be) deleted and created again because their role changed.
  returned: success
  type: list
  elements: str
  sample: []
deleted:
  description: The objects that were (or would be) deleted.
  returned: success
  type: list
  elements: str
  sample: ["ClusterRoleBinding/old-team-admin"]
item_status:
  description: Every declared object, V(ok) when it was already as declared and V(changed) otherwise.
  returned: success
  type: dict
  sample: {"RoleBinding/team-a/team-a-deployers": "changed", "ClusterRoleBinding/oncall-view": "ok"}
diff:
  description: One entry per changed object.
  returned: when diff mode is on
  type: list
  elements: dict
  sample: [{"before": null, "after": {"kind": "ClusterRoleBinding", "name": "oncall-view", "managed": true,
    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "oncall"}]}}]
"""

import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_api import Api, ApiError, k8s_module
from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_changes import ApplyError, apply_all, dry_run_all
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_declared import plan
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import RbacError

RULE_OPTIONS: dict[str, dict[str, t.Any]] = {
    "api_groups": {"type": "list", "elements": "str"},
    "resources": {"type": "list", "elements": "str"},
    "verbs": {"type": "list", "elements": "str", "required": True},
    "resource_names": {"type": "list", "elements": "str"},
    "non_resource_urls": {"type": "list", "elements": "str"},
}
ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "roles": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "namespace": {"type": "str"},
            "rules": {"type": "list", "elements": "dict", "required": True, "options": RULE_OPTIONS},
        },
    },
    "bindings": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str", "required": True},
            "namespace": {"type": "str"},
            "role": {"type": "str", "required": True},
            "subjects": {"type": "list", "elements": "str", "required": True},
        },
    },
    "prune": {"type": "bool", "default": True},
    "remove": {"type": "list", "elements": "str", "default": []},
    "remove_subjects": {
        "type": "list",
        "elements": "str",
        "default": ["User:system:anonymous", "Group:system:unauthenticated"],
    },
    "default_service_account_tokens": {"type": "bool"},
}

RBAC = "/apis/rbac.authorization.k8s.io/v1"
LISTINGS = ("clusterroles", "roles", "clusterrolebindings", "rolebindings")


def main() -> None:
    module = k8s_module(ARGUMENT_SPEC)
    params = module.params

    try:
        api = Api(params)
        live = {listing: api.list(f"{RBAC}/{listing}", f"list {listing}") for listing in LISTINGS}
        if params["default_service_account_tokens"] is False:
            live["serviceaccounts"] = api.list("/api/v1/serviceaccounts", "list service accounts", "metadata.name=default")
        namespaces = {str((ns.get("metadata") or {}).get("name")) for ns in api.list("/api/v1/namespaces", "list namespaces")}
    except ApiError as exc:
        module.fail_json(msg=f"{exc} Nothing was changed.")
    if params["default_service_account_tokens"] is True:
        module.fail_json(
            msg="default_service_account_tokens: true is the API server's default; set false to turn the default"
            " service accounts' tokens off (CIS-K8s 5.1.5), or leave it unset. Nothing was changed."
        )
    try:
        result = plan(
            live,
            namespaces,
            roles=params["roles"],
            bindings=params["bindings"],
            prune=params["prune"],
            remove=params["remove"],
            remove_subjects=params["remove_subjects"],
            default_tokens_off=params["default_service_account_tokens"] is False,
        )
    except RbacError as exc:
        module.fail_json(msg=f"{exc} Nothing was changed.")

    try:
        dry_run_all(api, result.changes)
    except ApiError as exc:
        module.fail_json(msg=f"the dry run refused a change: {exc} Nothing was changed.")
    if not module.check_mode:
        try:
            apply_all(api, result.changes)
        except ApplyError as exc:
            module.fail_json(msg=str(exc), rolled_back=exc.rolled_back, not_rolled_back=exc.not_rolled_back)

    output: dict[str, t.Any] = {
        "changed": result.changed,
        "created": result.refs("create"),
        "updated": result.refs("update"),
        "replaced": result.refs("replace"),
        "deleted": result.refs("delete"),
        "item_status": result.item_status,
    }
    if module._diff:
        output["diff"] = [change.diff() for change in result.changes]
    module.exit_json(**output)


if __name__ == "__main__":
    main()
