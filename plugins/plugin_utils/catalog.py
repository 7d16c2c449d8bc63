# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Controller-side helpers shared by the report callback and the action plugins: where the control
catalog is and how it is read, and how the callback hands its report to ``controls_gate``."""

from __future__ import annotations

import json
import os
import typing as t

import yaml
from ansible_collections.bulwark.hardening.plugins.module_utils._io import write_atomically
from ansible_collections.bulwark.hardening.plugins.module_utils.controls import (
    Catalog,
    ControlCatalogError,
    load_catalog,
)

# plugins/plugin_utils/catalog.py -> <collection>/meta/controls.yml
DEFAULT_CATALOG = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "meta", "controls.yml")
)
CATALOG_ENV = "BULWARK_CATALOG_PATH"
# The callback writes the report as it stands when controls_gate starts, and names the file here;
# the gate's worker process inherits the environment of the controller process that runs the callback.
SNAPSHOT_ENV = "BULWARK_CONTROLS_SNAPSHOT"


def catalog_path() -> str:
    """The catalog the collection reads: BULWARK_CATALOG_PATH when set (tests), else the shipped one."""
    return os.environ.get(CATALOG_ENV) or DEFAULT_CATALOG


def read_catalog(path: str) -> Catalog:
    """Read and validate a catalog file; every failure becomes ``ControlCatalogError`` naming the path."""
    try:
        with open(path, encoding="utf-8") as handle:
            # libyaml's loader when PyYAML has it: every host's guard reads the catalog (10 ms, not 50).
            data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # nosec B506: a safe loader
    except OSError as exc:
        raise ControlCatalogError(f"cannot read the control catalog {path}: {exc.strerror or exc}.") from exc
    except yaml.YAMLError as exc:
        raise ControlCatalogError(f"the control catalog {path} is not valid YAML: {exc}") from exc
    try:
        return load_catalog(data)
    except ControlCatalogError as exc:
        raise ControlCatalogError(f"{path}: {exc}") from exc


def write_report(path: str, text: str, mode: int = 0o644) -> None:
    """Write a whole report or leave the old one: a reader never sees half a file."""
    write_atomically(os.path.abspath(path), text.encode("utf-8"), mode=mode, directory_mode=0o755)


def read_json(path: str) -> t.Any:
    """A JSON file's content, or None when it is missing or not JSON (a previous report is optional)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None
