# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""strict_module: a string or a mapping where a module wants a list (or the reverse) is refused by
the option's name, before anything runs, and without echoing any value."""

from __future__ import annotations

import typing as t

import pytest
from ansible_collections.bulwark.hardening.plugins.modules import (
    audit_rules,
    group_members,
    kube_encryption_config,
    nftables_policy,
    path_permissions,
)

ModuleRunner = t.Callable[..., t.Tuple[int, t.Dict[str, t.Any]]]


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        (group_members, {"name": "docker", "members": "alice,bob"},
         "members must be a list, not the string 'alice,bob'; give a list, such as [alice, bob]."),
        (audit_rules, {"path": "/x.rules", "key": "k", "watches": "/etc/docker"}, "watches must be a list"),
        (audit_rules, {"path": "/x.rules", "key": "k", "watches": ["/etc/docker"]},
         "watches[0] must be a dict, not the string '/etc/docker'"),
        (path_permissions, {"paths": {"path": "/etc"}}, "paths must be a list, not a dict"),
        (nftables_policy, {"policy": "default drop"}, "policy must be a dict, not the string 'default drop'"),
    ],
)
def test_wrong_shapes_are_refused_by_name(
    run_module: ModuleRunner, module: t.Any, args: dict[str, t.Any], message: str
) -> None:
    rc, result = run_module(module, **args)
    assert rc == 1 and result["failed"] is True
    assert message in result["msg"] and result["msg"].endswith("Nothing was changed.")
    assert "invocation" not in result  # no value is echoed back


def test_a_long_value_of_the_wrong_shape_is_not_echoed_whole(run_module: ModuleRunner) -> None:
    value = "s3cr3t-" + "x" * 200
    rc, result = run_module(kube_encryption_config, path="/x.yaml", resources=value)
    assert rc == 1
    assert "resources must be a list, not a string of 207 characters starting 's3cr3t-xxxxxxxxxxxxx'" in result["msg"]
    assert value not in result["msg"]
