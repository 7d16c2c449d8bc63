# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The kube_audit_policy_lint filter wrapper: mappings and YAML text in, the pure function's
problems out (the tables are in tests/unit/plugins/module_utils/test_audit_policy.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.filter.kube_audit import FilterModule

FILTERS = FilterModule().filters()
SHIPPED = Path(__file__).parents[4] / "roles" / "kube_apiserver" / "files" / "audit-policy.yaml"


def test_filter_names() -> None:
    assert sorted(FILTERS) == ["kube_audit_policy_lint"]


def test_mapping_and_text() -> None:
    bad = {"apiVersion": "audit.k8s.io/v1", "kind": "Policy", "rules": [{"level": "Request"}]}
    expected = [
        "rules[0] (level Request) logs secrets above Metadata",
        "rules[0] (level Request) logs configmaps above Metadata",
        "rules[0] (level Request) logs tokenreviews (authentication.k8s.io) above Metadata",
    ]
    assert FILTERS["kube_audit_policy_lint"](bad) == expected
    text = "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Request\n"
    assert FILTERS["kube_audit_policy_lint"](text) == expected


def test_shipped_policy_text_is_clean() -> None:
    assert FILTERS["kube_audit_policy_lint"](SHIPPED.read_text()) == []


def test_invalid_yaml() -> None:
    with pytest.raises(AnsibleFilterError, match=r"^kube_audit_policy_lint: the policy is not valid YAML: "):
        FILTERS["kube_audit_policy_lint"]("rules: [\n")
