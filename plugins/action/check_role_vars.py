# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The controller side of bulwark.hardening.check_role_vars: the role's argument spec, its
variables as the role will read them, type_problems() between the two, and the benchmark's
floors, which the host's waivers lift. Nothing runs on the host."""

from __future__ import annotations

import os
import typing as t

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.bulwark.hardening.plugins.module_utils.benchmark_floors import (
    FLOORS,
    catalog_floors,
    floor_problems,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import ControlCatalogError
from ansible_collections.bulwark.hardening.plugins.module_utils.role_vars import type_problems
from ansible_collections.bulwark.hardening.plugins.module_utils.waivers import (
    VARIABLE as WAIVERS,
    WaiverError,
    load_waivers,
    waivers_for_host,
)
from ansible_collections.bulwark.hardening.plugins.plugin_utils.catalog import catalog_path, read_catalog


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(("argument_specs", "entry_point"))

    def run(self, tmp: t.Any = None, task_vars: dict[str, t.Any] | None = None) -> dict[str, t.Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        path = self._task.args.get("argument_specs")
        if not path:
            role_path = task_vars.get("role_path")
            if not role_path:
                raise AnsibleActionFail("check_role_vars runs in a role, or needs argument_specs (the spec file).")
            path = os.path.join(str(role_path), "meta", "argument_specs.yml")
        entry_point = str(self._task.args.get("entry_point", "main"))
        specs = self._loader.load_from_file(str(path)) or {}
        options = ((specs.get("argument_specs") or {}).get(entry_point) or {}).get("options")
        if not isinstance(options, dict):
            raise AnsibleActionFail(f"{path} has no options for the entry point {entry_point!r}.")
        # Templated as the role will read them: what a role task sees is what is checked.
        values = {name: self._templar.template(task_vars[name]) for name in options if name in task_vars}
        problems = type_problems(options, values)
        waivers: list[dict[str, t.Any]] = []
        floors = FLOORS
        raw_waivers = self._templar.template(task_vars.get(WAIVERS))
        try:
            controls = read_catalog(catalog_path()).controls
            floors += catalog_floors(controls, options)
            if raw_waivers is not None:
                waivers = self._host_waivers(raw_waivers, task_vars, {control.id for control in controls})
        except WaiverError as exc:
            problems.append(str(exc))
        except ControlCatalogError as exc:
            # Waivers are checked against the catalog, so they need it; without waivers the run goes on
            # with the fixed floors, and the report (which reads the catalog too) says what is wrong with it.
            if raw_waivers is not None:
                problems.append(str(exc))
        problems += floor_problems(values, {waiver["id"] for waiver in waivers}, floors)
        result.update(changed=False, checked=sorted(values))
        if problems:
            result.update(failed=True, problems=problems, msg=" ".join(problems) + " Nothing was changed.")
        else:
            result[WAIVERS] = waivers
        return result

    @staticmethod
    def _host_waivers(raw: t.Any, task_vars: dict[str, t.Any], known: set[str]) -> list[dict[str, t.Any]]:
        """The inventory's waivers (RAW), checked against the catalog's ids (KNOWN), that apply to this host."""
        waivers = load_waivers(raw, known)
        host = str(task_vars.get("inventory_hostname", ""))
        groups = [str(group) for group in task_vars.get("group_names") or []]
        return [waiver.as_dict() for waiver in waivers_for_host(waivers, host, groups)]
