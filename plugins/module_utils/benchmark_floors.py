# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The benchmark's floor for the role variables that set a control's value.

A role applies what its variables say, and its audit then finds that value in effect: a socket
mode of 0666 or seven days of audit logs would be applied and reported as passing. A value weaker
than the benchmark's is therefore refused before the role changes anything, unless the inventory
waives the control (``bulwark_waivers``, with a reason and an expiry). A null is not judged here:
the catalog makes it a waiver that names the variable.
"""

from __future__ import annotations

import ipaddress
import re
import typing as t
from dataclasses import dataclass

from ansible.module_utils.parsing.convert_bool import boolean

__all__ = ["FLOORS", "Floor", "catalog_floors", "floor_problems"]

_OCTAL_MODE = re.compile(r"0?[0-7]{3}\Z")


def _mode_at_most_660(value: t.Any) -> bool:
    if not isinstance(value, str) or not _OCTAL_MODE.match(value):
        return True  # not a mode at all: the role's own check names the form to use
    owner, group, others = (int(digit) for digit in value[-3:])
    return others == 0 and not (owner | group) & 1


def _at_least(floor: int) -> t.Callable[[t.Any], bool]:
    def holds(value: t.Any) -> bool:
        try:
            return int(value) >= floor
        except (TypeError, ValueError, OverflowError):
            return True  # not a number: argument_specs refuses it by name
    return holds


def _loopback(value: t.Any) -> bool:
    try:
        return ipaddress.ip_address(value).is_loopback
    except ValueError:
        return True  # not an address: the role's own check names the form to use


def _lacks(word: str) -> t.Callable[[t.Any], bool]:
    return lambda value: not isinstance(value, list) or word not in value


@dataclass(frozen=True)
class Floor:
    """CONTROL's benchmark value for VARIABLE: HOLDS(value) is false for a weaker one, which BENCHMARK describes."""

    control: str
    variable: str
    holds: t.Callable[[t.Any], bool]
    benchmark: str


FLOORS: tuple[Floor, ...] = (
    Floor("CIS-Docker 2.3", "docker_daemon_log_level", lambda value: value == "info", "info"),
    Floor("CIS-Docker 2.5", "docker_daemon_insecure_registries", lambda value: value == [], "no insecure registry ([])"),
    Floor("CIS-Docker 3.16", "docker_daemon_socket_mode", _mode_at_most_660,
          "0660 or stricter: no access for others, no execute bits"),
    Floor("CIS-K8s 1.2.6", "kube_apiserver_authorization_modes", _lacks("AlwaysAllow"), "a list without AlwaysAllow"),
    Floor("CIS-K8s 1.2.17", "kube_apiserver_audit_log_maxage", _at_least(30), "30 days or more"),
    Floor("CIS-K8s 1.2.18", "kube_apiserver_audit_log_maxbackup", _at_least(10), "10 files or more"),
    Floor("CIS-K8s 1.2.19", "kube_apiserver_audit_log_maxsize", _at_least(100), "100 MB or more"),
    Floor("CIS-K8s 1.3.7", "kube_controller_manager_bind_address", _loopback, "a loopback address, such as 127.0.0.1"),
    Floor("CIS-K8s 1.4.2", "kube_scheduler_bind_address", _loopback, "a loopback address, such as 127.0.0.1"),
)  # fmt: skip


def _is(wanted: bool) -> t.Callable[[t.Any], bool]:
    def holds(value: t.Any) -> bool:
        try:
            return boolean(value, strict=True) is wanted
        except TypeError:
            return True  # not a bool: argument_specs refuses it by name
    return holds


def catalog_floors(controls: t.Iterable[t.Any], options: t.Mapping[str, t.Mapping[str, t.Any]]) -> tuple[Floor, ...]:
    """The floors the control catalog implies for a role's OPTIONS: a bool variable whose control
    only null waives (``waived_when: null``) defaults to the benchmark's value, and the other value
    turns the control off (``docker_daemon_icc: true``, ``kube_apiserver_profiling: true``), which
    only a waiver may do. A bool whose other value is the waiver (``waived_when: false``) is not one."""
    floors = []
    for control in controls:
        spec = options.get(control.variable) or {}
        if spec.get("type") == "bool" and control.waivable and control.waived_when is None and "default" in spec:
            wanted = bool(spec["default"])
            floors.append(Floor(control.id, control.variable, _is(wanted), f"{str(wanted).lower()}"))
    return tuple(floors)


def floor_problems(
    values: t.Mapping[str, t.Any], waived: t.Collection[str], floors: t.Iterable[Floor] = FLOORS
) -> list[str]:
    """One message per variable in VALUES that is weaker than its control's floor, unless the
    control is in WAIVED (the ids of the waivers that apply to the host)."""
    problems = []
    for floor in floors:
        if floor.variable not in values or values[floor.variable] is None or floor.control in waived:
            continue
        value = values[floor.variable]
        if not floor.holds(value):
            problems.append(
                f"{floor.variable} {value!r} is weaker than {floor.control} asks ({floor.benchmark}). Use that,"
                f" or waive {floor.control} for this host in bulwark_waivers, with a reason and an expiry date."
            )
    return problems
