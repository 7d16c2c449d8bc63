# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A trailing newline passes a check anchored with '$' (Python's $ matches before a final newline),
and then adds a line to a rule, unit or rules file. Every anchored check ends with \\Z instead."""

from __future__ import annotations

import typing as t

import pytest
from ansible_collections.bulwark.hardening.plugins.module_utils import audit_rules, controls, nft_policy, path_permissions, waivers

CASES: list[tuple[t.Callable[[str], t.Any], str, type[Exception]]] = [
    (lambda v: nft_policy.normalize_policy({"input": {"log_rate": v}}, None, "bulwark"), "5/minute", nft_policy.NftPolicyError),
    (lambda v: nft_policy.normalize_policy({}, None, v), "bulwark", nft_policy.NftPolicyError),
    (lambda v: path_permissions.parse_mode(v, "mode"), "0644", path_permissions.PathPermissionsError),
    (controls.split_control_id, "CIS-Docker 2.2", ValueError),
    (audit_rules.validate_key, "docker", audit_rules.AuditRulesError),
    (lambda v: audit_rules.validate_watches([{"path": v}]), "/etc/docker", audit_rules.AuditRulesError),
    (lambda v: waivers.load_waivers([{"id": "BWK-1", "reason": "r", "expires": v}], {"BWK-1"}), "2027-01-31", waivers.WaiverError),
]


@pytest.mark.parametrize(("check", "good", "error"), CASES)
@pytest.mark.parametrize("tail", ["\n", "\r\n", "\n-D"])
def test_a_value_with_a_line_after_it_is_refused(check: t.Callable[[str], t.Any], good: str, error: type[Exception], tail: str) -> None:
    check(good)  # the value itself is fine
    with pytest.raises(error):
        check(good + tail)
