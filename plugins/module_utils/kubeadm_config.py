# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pure logic for kubeadm's ClusterConfiguration (the ``ClusterConfiguration`` key of the
kube-system/kubeadm-config ConfigMap): set and remove the extraArgs of a control-plane component
and its extraVolumes, so that ``kubeadm upgrade`` regenerates the static pod manifests with the
flags the hardening set, instead of reverting them.

kubeadm.k8s.io/v1beta3 has extraArgs as a map; v1beta4 and v1 (kubeadm 1.31 and later; kubeadm
1.37 reads only these two) as a list of {name, value}, in which a name may appear more than once.
"""

from __future__ import annotations

import traceback
import typing as t
from dataclasses import dataclass

from ansible_collections.bulwark.hardening.plugins.module_utils._yaml import YamlError, load_yaml

try:
    import yaml
except ImportError:
    HAS_YAML = False
    YAML_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    HAS_YAML = True
    YAML_IMPORT_ERROR = None

__all__ = [
    "API_VERSIONS",
    "COMPONENTS",
    "HAS_YAML",
    "PATH_TYPES",
    "YAML_IMPORT_ERROR",
    "KubeadmConfigError",
    "Plan",
    "managed_args",
    "plan",
]

# apiVersion -> how extraArgs is written.
API_VERSIONS = {"kubeadm.k8s.io/v1beta3": "map", "kubeadm.k8s.io/v1beta4": "list", "kubeadm.k8s.io/v1": "list"}
# Where each component's section is in the ClusterConfiguration; local etcd has no extraVolumes.
SECTIONS = {
    "apiServer": ("apiServer",),
    "controllerManager": ("controllerManager",),
    "scheduler": ("scheduler",),
    "etcd": ("etcd", "local"),
}
COMPONENTS = tuple(SECTIONS)
PATH_TYPES = ("", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice")
VOLUME_KEYS = ("name", "hostPath", "mountPath", "readOnly", "pathType")


class KubeadmConfigError(ValueError):
    """Bad user input or bad ClusterConfiguration; the message is shown to the user as is."""


@dataclass(frozen=True)
class Plan:
    """``text`` is the input itself when nothing changes; ``drift`` has an entry per flag (by
    name) and volume (``extraVolumes/<name>``) that changes, ``{kubeadm: now, wanted: after}``."""

    changed: bool
    text: str
    drift: dict[str, dict[str, t.Any]]


# --------------------------------------------------------------------------- input


def parse_cluster_configuration(text: t.Any) -> dict[str, t.Any]:
    if not HAS_YAML:
        raise KubeadmConfigError("PyYAML is needed to read the ClusterConfiguration; install it.")
    if not isinstance(text, str):
        raise KubeadmConfigError(
            "expected the YAML text of the ClusterConfiguration (data.ClusterConfiguration of the kube-system/"
            f"kubeadm-config ConfigMap), got {type(text).__name__}"
        )
    try:
        config = load_yaml(text, "the ClusterConfiguration")
    except YamlError as exc:
        raise KubeadmConfigError(str(exc)) from exc
    if not isinstance(config, dict) or config.get("kind") != "ClusterConfiguration":
        raise KubeadmConfigError("the text is not a kubeadm ClusterConfiguration (kind: ClusterConfiguration)")
    if config.get("apiVersion") not in API_VERSIONS:
        raise KubeadmConfigError(
            f"apiVersion {config.get('apiVersion')!r} of the ClusterConfiguration is not supported;"
            f" supported are {', '.join(API_VERSIONS)}"
        )
    return config


def _normalize_args(extra_args: t.Any) -> dict[str, str | None]:
    if extra_args is None:
        return {}
    if not isinstance(extra_args, t.Mapping):
        raise KubeadmConfigError(
            f"extra_args: expected a mapping of flag names to values, got {type(extra_args).__name__}"
        )
    args: dict[str, str | None] = {}
    for name, value in extra_args.items():
        if not isinstance(name, str) or not name or name.startswith("-") or "=" in name:
            raise KubeadmConfigError(
                f"extra_args: {name!r} is not a flag name; give it without leading dashes and value,"
                " for example 'profiling'"
            )
        if value is not None and not isinstance(value, str):
            shown = str(value).lower() if isinstance(value, bool) else str(value)
            raise KubeadmConfigError(
                f"extra_args.{name}: expected a string (or null to remove the flag), got {type(value).__name__};"
                f" quote it: '{shown}'"
            )
        # Plain str: yaml.safe_dump cannot represent subclasses (such as Ansible's tagged strings).
        args[str(name)] = None if value is None else str(value)
    return args


def _normalize_volumes(extra_volumes: t.Any) -> list[dict[str, t.Any]]:
    if extra_volumes is None:
        return []
    if not isinstance(extra_volumes, list):
        raise KubeadmConfigError(f"extra_volumes: expected a list, got {type(extra_volumes).__name__}")
    volumes: list[dict[str, t.Any]] = []
    for index, volume in enumerate(extra_volumes):
        where = f"extra_volumes[{index}]"
        if not isinstance(volume, t.Mapping):
            raise KubeadmConfigError(f"{where}: expected a mapping with name, hostPath and mountPath")
        unknown = [key for key in volume if key not in VOLUME_KEYS]
        if unknown:
            raise KubeadmConfigError(f"{where}: unknown key {unknown[0]!r}; known keys are {', '.join(VOLUME_KEYS)}")
        for key in ("name", "hostPath", "mountPath"):
            if not isinstance(volume.get(key), str) or not volume[key]:
                raise KubeadmConfigError(f"{where}.{key}: a non-empty string is required")
        if "readOnly" in volume and not isinstance(volume["readOnly"], bool):
            raise KubeadmConfigError(f"{where}.readOnly: expected a bool")
        if "pathType" in volume and volume["pathType"] not in PATH_TYPES:
            raise KubeadmConfigError(
                f"{where}.pathType: {volume['pathType']!r} is not a hostPath type; use one of"
                f" {', '.join(p for p in PATH_TYPES if p)}"
            )
        if any(v["name"] == volume["name"] for v in volumes):
            raise KubeadmConfigError(f"{where}.name: the volume {volume['name']!r} is given twice")
        volumes.append({str(key): str(value) if isinstance(value, str) else value for key, value in volume.items()})
    return volumes


# --------------------------------------------------------------------------- edit


def _set_key(mapping: dict[str, t.Any], key: str, value: t.Any) -> None:
    """Set ``key``; a new key goes in sorted position when the keys are sorted (kubeadm writes them so)."""
    keys = list(mapping)
    if key in mapping or keys != sorted(keys):
        mapping[key] = value
        return
    items = [*mapping.items(), (key, value)]
    mapping.clear()
    mapping.update(sorted(items))


def _args_as_list(entries: t.Any, where: str, args: dict[str, str | None], drift: dict[str, t.Any]) -> list[t.Any]:
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries
    ):
        raise KubeadmConfigError(f"{where}: expected a list of {{name, value}} for this apiVersion")
    result = list(entries)
    for name, value in args.items():
        mine = [e for e in result if e["name"] == name]
        wanted = None if value is None else {"name": name, "value": value}
        if mine == ([wanted] if wanted else []):
            continue
        # Duplicates (and a mergeMethod, which makes kubeadm combine the value with its own
        # default) are replaced by one plain entry where the first one was.
        plain = len(mine) == 1 and set(mine[0]) <= {"name", "value"}
        drift[name] = {"kubeadm": (mine[0].get("value") if plain else mine) if mine else None, "wanted": value}
        first = result.index(mine[0]) if mine else None
        result = [e for e in result if e["name"] != name]
        if wanted is not None and first is not None:
            result.insert(first, wanted)
    new = sorted(
        name for name, value in args.items() if value is not None and not any(e["name"] == name for e in result)
    )
    result += [{"name": name, "value": args[name]} for name in new]
    return result


def _args_as_map(entries: t.Any, where: str, args: dict[str, str | None], drift: dict[str, t.Any]) -> dict[str, t.Any]:
    if not isinstance(entries, dict):
        raise KubeadmConfigError(f"{where}: expected a mapping of flag names to values for this apiVersion")
    result = dict(entries)
    for name, value in args.items():
        if (value is None and name not in result) or (value is not None and result.get(name) == value):
            continue
        drift[name] = {"kubeadm": result.get(name), "wanted": value}
        if value is None:
            del result[name]
        else:
            _set_key(result, name, value)
    return result


def _volumes(entries: t.Any, where: str, volumes: list[dict[str, t.Any]], drift: dict[str, t.Any]) -> list[t.Any]:
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) for e in entries
    ):
        raise KubeadmConfigError(f"{where}: expected a list of volumes with a name")
    result = list(entries)
    for volume in volumes:
        index = next((i for i, e in enumerate(result) if e["name"] == volume["name"]), None)
        current = result[index] if index is not None else None
        merged = {**(current or {}), **volume}  # keys not given (readOnly, pathType) are kept
        if merged == current:
            continue
        drift[f"extraVolumes/{volume['name']}"] = {"kubeadm": current, "wanted": merged}
        if index is None:
            result.append(merged)
        else:
            result[index] = merged
    return result


def managed_args(flags: t.Any, managed: t.Any) -> dict[str, str | None]:
    """extraArgs for the flags a change manages (MANAGED, names), as the manifest has them after it
    (FLAGS, as static_pod returns them): a flag the manifest no longer has is removed (None), and
    one without a value is ``"true"``, as pflag reads it."""
    if not isinstance(flags, t.Mapping):
        raise KubeadmConfigError(f"flags: expected a mapping of flag names to values, got {type(flags).__name__}")
    if not isinstance(managed, (list, tuple)) or not all(isinstance(name, str) for name in managed):
        raise KubeadmConfigError("managed: expected a list of flag names")
    args: dict[str, str | None] = {}
    for name in managed:
        if name not in flags:
            args[name] = None
        else:
            args[name] = "true" if flags[name] is None else str(flags[name])
    return args


def _section(config: dict[str, t.Any], component: str) -> dict[str, t.Any]:
    parent = config
    for depth, key in enumerate(SECTIONS[component]):
        where = ".".join(SECTIONS[component][: depth + 1])
        value = parent.get(key)
        if value is None:
            if component == "etcd" and isinstance(parent.get("external"), dict):
                raise KubeadmConfigError("etcd: this cluster's etcd is external (etcd.external); kubeadm does not run it")
            value = {}
        elif not isinstance(value, dict):
            raise KubeadmConfigError(f"{where}: expected a mapping in the ClusterConfiguration")
        parent = value
    return dict(parent)


def _store_section(config: dict[str, t.Any], component: str, section: dict[str, t.Any]) -> None:
    *parents, last = SECTIONS[component]
    target = config
    for key in parents:
        child = dict(target.get(key) or {})
        _set_key(target, key, child)
        target = child
    _set_key(target, last, section)


def plan(
    text: t.Any,
    extra_args: t.Any = None,
    extra_volumes: t.Any = None,
    component: str = "apiServer",
) -> Plan:
    """Set (value) and remove (None) the flags of ``extra_args`` and add or update (by name) the
    volumes of ``extra_volumes`` in the ``component`` section; everything else is kept as it is."""
    if component not in COMPONENTS:
        raise KubeadmConfigError(f"component: {component!r} is not one of {', '.join(COMPONENTS)}")
    args = _normalize_args(extra_args)
    volumes = _normalize_volumes(extra_volumes)
    if volumes and component == "etcd":
        raise KubeadmConfigError("extra_volumes: kubeadm's local etcd has no extraVolumes; mount its files another way")
    config = parse_cluster_configuration(text)
    style = API_VERSIONS[config["apiVersion"]]
    section = _section(config, component)
    drift: dict[str, dict[str, t.Any]] = {}

    if args:
        where = f"{'.'.join(SECTIONS[component])}.extraArgs"
        empty: t.Any = [] if style == "list" else {}
        current = section.get("extraArgs") or empty
        new_args = (_args_as_list if style == "list" else _args_as_map)(current, where, args, drift)
        if new_args != current:
            if new_args:
                _set_key(section, "extraArgs", new_args)
            else:
                section.pop("extraArgs", None)  # kubeadm omits an empty extraArgs
    if volumes:
        current_volumes = section.get("extraVolumes") or []
        new_volumes = _volumes(current_volumes, f"{component}.extraVolumes", volumes, drift)
        if new_volumes != current_volumes:
            _set_key(section, "extraVolumes", new_volumes)

    if not drift:
        return Plan(False, text, {})
    _store_section(config, component, section)
    rendered = yaml.safe_dump(config, sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 30)
    return Plan(True, str(rendered), drift)
