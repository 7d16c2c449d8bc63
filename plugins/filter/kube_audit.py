# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
"""Filters for kube-apiserver audit policies (the kube_apiserver role).

Each filter is documented in ``plugins/filter/<name>.yml``. The logic is in
module_utils/audit_policy.py.
"""

from __future__ import annotations

import typing as t

import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.audit_policy import lint_policy


def kube_audit_policy_lint(policy: t.Any) -> list[str]:
    # The text of a policy file (lookup('file', ...)) is read as YAML first.
    if isinstance(policy, str):
        try:
            policy = yaml.safe_load(policy)
        except yaml.YAMLError as exc:
            raise AnsibleFilterError(f"kube_audit_policy_lint: the policy is not valid YAML: {exc}") from exc
    return lint_policy(policy)


class FilterModule:
    """bulwark.hardening audit policy filters."""

    def filters(self) -> dict[str, t.Callable[..., t.Any]]:
        return {"kube_audit_policy_lint": kube_audit_policy_lint}
