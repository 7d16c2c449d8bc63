# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The control catalog (meta/controls.yml) and the roles agree.

- every id at the end of a role task name is in the catalog (and the id list is well formed);
- every catalog control's role exists, and a task of that role names the control;
- every catalog control's variable is declared in that role's meta/argument_specs.yml.

Nothing here is skipped: a catalog role that does not exist yet is a failure.
"""

from __future__ import annotations

import re
import typing as t
from pathlib import Path

import pytest
import yaml
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    Catalog,
    ControlCatalogError,
    ControlIdError,
    load_catalog,
    parse_control_ids,
)

REPO = Path(__file__).resolve().parents[2]
CATALOG_FILE = REPO / "meta" / "controls.yml"
ROLES = REPO / "roles"


def _load() -> tuple[Catalog | None, str | None]:
    try:
        return (
            load_catalog(yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))),
            None,
        )
    except (OSError, yaml.YAMLError, ControlCatalogError) as exc:
        return None, f"{CATALOG_FILE.relative_to(REPO)}: {exc}"


CATALOG, CATALOG_ERROR = _load()


def _task_names(tasks: t.Any) -> t.Iterator[str]:
    """Names of the tasks in a task file, blocks included."""
    if not isinstance(tasks, list):
        return
    for task in tasks:
        if not isinstance(task, dict):
            continue
        if isinstance(task.get("name"), str):
            yield task["name"]
        for section in ("block", "rescue", "always"):
            yield from _task_names(task.get(section))


def role_task_names(role: str) -> list[tuple[str, str]]:
    """(file relative to the repository, task name) of every task and handler of a role."""
    found = []
    for folder in ("tasks", "handlers"):
        for path in sorted((ROLES / role / folder).rglob("*.yml")) + sorted(
            (ROLES / role / folder).rglob("*.yaml")
        ):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            found.extend(
                (str(path.relative_to(REPO)), name) for name in _task_names(data)
            )
    return found


def existing_roles() -> list[str]:
    return (
        sorted(p.name for p in ROLES.iterdir() if p.is_dir()) if ROLES.is_dir() else []
    )


def declared_variables(role: str) -> set[str]:
    path = ROLES / role / "meta" / "argument_specs.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    specs = (data or {}).get("argument_specs") or {}
    return {
        name
        for entry in specs.values()
        for name in ((entry or {}).get("options") or {})
    }


def _controls() -> list[t.Any]:
    if CATALOG is None:
        return [pytest.param(None, id="catalog-invalid")]
    return [pytest.param(control, id=control.id) for control in CATALOG.controls]


def _catalog_roles() -> list[t.Any]:
    if CATALOG is None:
        return [pytest.param(None, id="catalog-invalid")]
    return CATALOG.roles


def _require_catalog() -> Catalog:
    assert CATALOG is not None, CATALOG_ERROR
    return CATALOG


def test_catalog_is_valid() -> None:
    assert CATALOG_ERROR is None, CATALOG_ERROR
    assert _require_catalog().controls, "meta/controls.yml lists no control"


def test_every_id_in_a_role_task_name_is_in_the_catalog() -> None:
    catalog = _require_catalog()
    problems = []
    for role in existing_roles():
        for path, name in role_task_names(role):
            try:
                ids = parse_control_ids(name)
            except ControlIdError as exc:
                problems.append(f"{path}: {exc}")
                continue
            for cid in ids:
                control = catalog.get(cid)
                if control is None:
                    problems.append(
                        f"{path}: task {name!r} names {cid!r}, which is not in meta/controls.yml"
                    )
                elif control.role != role:
                    problems.append(
                        f"{path}: task {name!r} names {cid!r}, a control of role {control.role!r}"
                    )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("role", _catalog_roles())
def test_catalog_role_exists(role: str | None) -> None:
    _require_catalog()
    assert (ROLES / str(role) / "tasks").is_dir(), (
        f"meta/controls.yml names role {role!r}, but roles/{role}/tasks does not exist;"
        " write the role or remove its controls from the catalog."
    )


@pytest.mark.parametrize("control", _controls())
def test_control_is_named_by_a_task_of_its_role(control: t.Any) -> None:
    _require_catalog()
    names = role_task_names(control.role) if (ROLES / control.role).is_dir() else []
    naming = []
    for _path, name in names:
        try:
            if control.id in parse_control_ids(name):
                naming.append(name)
        except ControlIdError:
            continue  # reported by test_every_id_in_a_role_task_name_is_in_the_catalog
    assert naming, (
        f"{control.id} ({control.title}) belongs to role {control.role!r}, but no task in roles/{control.role}/tasks"
        f" or handlers ends with it; name the task that enforces it '... | {control.id}'."
    )


@pytest.mark.parametrize("control", _controls())
def test_control_variable_is_declared(control: t.Any) -> None:
    _require_catalog()
    declared = declared_variables(control.role)
    assert control.variable in declared, (
        f"{control.id}: variable {control.variable!r} is not declared in"
        f" roles/{control.role}/meta/argument_specs.yml (declared: {', '.join(sorted(declared)) or 'none'})."
    )


# A control id spelled otherwise ("CIS Docker 2.3", "CIS-K8S 1.2.1", "Benchmark 3.17") is one that
# neither the report nor a reader's search connects to the control.
_MISSPELLED_ID = re.compile(
    r"\bCIS[ _]?(?:Docker|K8s|Kubernetes) \d|\bCIS-(?!Docker\b|K8s\b)[A-Za-z0-9]+ \d|\bbwk-\d"
    r"|\bCIS (?:Docker|Kubernetes) Benchmark (?!1\.6\.0\b|1\.12\.0\b)\d"
)
_SPELLED_WHERE = ("roles/*/tasks/*.yml", "roles/*/handlers/*.yml", "roles/*/meta/*.yml", "roles/*/defaults/*.yml",
                  "roles/*/vars/*.yml", "roles/*/files/*", "plugins/modules/*.py", "plugins/action/*.py",
                  "playbooks/*.yml", "meta/controls.yml")  # fmt: skip


def test_control_ids_are_spelled_one_way() -> None:
    versions = {benchmark.version for benchmark in _require_catalog().benchmarks.values()}
    assert versions == {"1.6.0", "1.12.0", "1"}, "update _MISSPELLED_ID with the new benchmark versions"
    found = [
        f"{path.relative_to(REPO)}:{number}: {match.group(0)!r}"
        for pattern in _SPELLED_WHERE
        for path in sorted(REPO.glob(pattern))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        for match in _MISSPELLED_ID.finditer(line)
    ]
    assert not found, "write control ids as the catalog does (CIS-Docker 2.3, CIS-K8s 1.2.1, BWK-1):\n" + "\n".join(found)


def _role_text(role: str) -> str:
    """The role's own files, and the modules, which name the items a module makes itself."""
    folders = [ROLES / role / folder for folder in ("tasks", "vars", "defaults", "handlers", "templates")]
    folders += [REPO / "plugins" / "module_utils", REPO / "plugins" / "modules"]
    return "\n".join(path.read_text(encoding="utf-8") for folder in folders for path in sorted(folder.glob("*")) if path.is_file())


@pytest.mark.parametrize("control", _controls())
def test_report_items_are_stable_names_the_role_gives(control: t.Any) -> None:
    """An item is what the role's module keys item_status by: a name, never a default path that a
    variable can move (a report would then lose the control)."""
    _require_catalog()
    if not control.item:
        return  # the control is the whole task's result
    assert not control.item.startswith("/"), f"{control.id}: item {control.item!r} is a path; give the entry a name"
    head = control.item.split("/", 1)[0]  # a flag and its value, such as authorization-mode/AlwaysAllow
    assert re.search(rf"(?<![\w.-]){re.escape(head)}(?![\w-])", _role_text(control.role)), (
        f"{control.id}: item {control.item!r} appears nowhere in roles/{control.role} or plugins"
    )
