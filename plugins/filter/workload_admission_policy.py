# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
from __future__ import annotations

DOCUMENTATION = r"""
name: workload_admission_policy
short_description: A ValidatingAdmissionPolicy and binding that admit workloads only from trusted registries
version_added: 0.1.0
author: Bulwark developers (!UNKNOWN)
description:
  - Renders a ValidatingAdmissionPolicy (CEL, evaluated by the API server itself; no webhook) and its binding, for
    kubernetes.core.k8s to apply in one call.
  - "It checks pods and the pod templates of replication controllers, deployments, replica sets, stateful sets, daemon
    sets, jobs and cron jobs, with their containers, init containers and ephemeral containers: images only from the
    registries given as input (CIS-K8s 5.5.1), normalised as the container runtime reads them (C(nginx) is
    C(docker.io/library/nginx)) and matched with a trailing C(/) (C(docker.io) does not admit C(docker.io.evil.com/x));
    no C(:latest) or untagged image unless O(deny_latest=false); digests only with O(require_digest=true); no
    privileged container (CIS-K8s 5.2.2), no host PID (5.2.3), IPC (5.2.4) or network (5.2.5) namespace, no hostPath
    volume."
  - Roll out in stages - O(stage=warn) warns and audits, O(stage=deny) refuses.
  - Bad input fails with a message naming it.
options:
  _input:
    description: Trusted registries or repository prefixes, such as C(registry.example.com) or C(docker.io/library).
    type: list
    elements: str
    required: true
  name:
    description: The name of the policy and of its binding.
    type: str
    default: bulwark-workloads
  stage:
    description: V(warn) (the binding's actions are Warn and Audit) or V(deny).
    type: str
    default: warn
    choices: [warn, deny]
  deny_latest:
    description: Refuse images tagged C(latest) or not tagged at all (unless pinned by digest).
    type: bool
    default: true
  require_digest:
    description: Refuse images that are not pinned by a C(@sha256:) digest.
    type: bool
    default: false
  exempt_namespaces:
    description: Namespaces the binding leaves out, such as C(kube-system).
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Admit workloads from the company registry only, warning first | CIS-K8s 5.5.1
  kubernetes.core.k8s:
    kubeconfig: /etc/kubernetes/admin.conf
    definition: >-
      {{ ['registry.example.com'] | bulwark.hardening.workload_admission_policy(stage='warn',
         exempt_namespaces=['kube-system']) }}
"""

RETURN = r"""
_value:
  description: The ValidatingAdmissionPolicy and its ValidatingAdmissionPolicyBinding, as the API takes them.
  type: list
  elements: dict
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.workload_policy import (
    WorkloadPolicyError,
    policy_objects,
)


def _workload_admission_policy(
    registries, name="bulwark-workloads", stage="warn", deny_latest=True, require_digest=False, exempt_namespaces=()
):
    try:
        return policy_objects(
            name,
            registries,
            stage=stage,
            deny_latest=bool(deny_latest),
            require_digest=bool(require_digest),
            exempt_namespaces=exempt_namespaces or (),
        )
    except WorkloadPolicyError as exc:
        raise AnsibleFilterError(f"workload_admission_policy: {exc}") from exc


class FilterModule:
    """bulwark.hardening Kubernetes workload policy filters."""

    def filters(self):
        return {"workload_admission_policy": _workload_admission_policy}
