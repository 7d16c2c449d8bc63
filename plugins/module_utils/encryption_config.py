# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pure logic for kube-apiserver's EncryptionConfiguration file (encryption at rest): parse and
validate it as kube-apiserver v1.37 does, plan the change that makes a provider the one that
encrypts a set of resources, render it, and redact it for output. Nothing here touches the host:
callers pass the file content in, and a function that makes a new key.

The rules kube-apiserver applies (k8s.io/apiserver pkg/server/options/encryptionconfig):
- the first provider of a resource's group encrypts, every provider of the group is tried to
  decrypt, so old keys and ``identity`` must stay in the list for data written earlier;
- a resource is looked up literally first, then as ``*.<group>``, then as ``*.*``; a literal
  resource listed after a wildcard that covers it is an error ("masked by earlier rule").
"""

from __future__ import annotations

import base64
import binascii
import copy
import datetime
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
    "API_VERSION",
    "HAS_YAML",
    "KEY_BYTES",
    "KIND",
    "PROVIDERS",
    "REDACTED",
    "YAML_IMPORT_ERROR",
    "EncryptionConfigError",
    "Plan",
    "check_key",
    "default_key_name",
    "parse_encryption_config",
    "plan",
    "redact",
    "render_encryption_config",
    "secret_values",
]

API_VERSION = "apiserver.config.k8s.io/v1"
KIND = "EncryptionConfiguration"
REDACTED = "<redacted>"
KEY_BYTES = 32  # what new keys get: the only size secretbox takes, the largest AES one

# Key sizes kube-apiserver accepts (validation_encryption.go: aesKeySizes, secretBoxKeySizes).
KEY_SIZES: dict[str, tuple[int, ...]] = {"secretbox": (32,), "aescbc": (16, 24, 32), "aesgcm": (16, 24, 32)}
PROVIDERS = tuple(KEY_SIZES)  # the providers this module can make the active one
PROVIDER_TYPES = ("aescbc", "aesgcm", "secretbox", "kms", "identity")

HEADER = (
    "# Managed by bulwark.hardening.kube_encryption_config. Never delete a key: data encrypted\n"
    "# with it could no longer be read. Keep this file root-only (0600).\n"
)


class EncryptionConfigError(ValueError):
    """Bad user input or bad file content; the message is shown to the user as is."""


# --------------------------------------------------------------------------- parse / validate


def provider_type(entry: t.Mapping[str, t.Any]) -> str:
    """``secretbox`` for ``{secretbox: {keys: [...]}}``; entries are validated to have one key."""
    return next(iter(entry))


def check_key(key: t.Any, where: str, ptype: str) -> None:
    if not isinstance(key, dict) or not isinstance(key.get("name"), str) or not key["name"]:
        raise EncryptionConfigError(f"{where}: every key needs a non-empty 'name' and a 'secret'")
    name = key["name"]
    secret = key.get("secret")
    # The secret itself never goes into a message: only the key's place and name do.
    if not isinstance(secret, str) or not secret:
        raise EncryptionConfigError(f"{where} (key '{name}'): the secret is missing or not a string")
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise EncryptionConfigError(
            f"{where} (key '{name}'): the secret is not valid base64; kube-apiserver would refuse the file"
        ) from exc
    sizes = KEY_SIZES[ptype]
    if len(raw) not in sizes:
        allowed = " or ".join(str(size) for size in sizes)
        raise EncryptionConfigError(
            f"{where} (key '{name}'): the secret is {len(raw)} bytes; {ptype} needs {allowed} bytes"
            " (base64 of os.urandom output)"
        )


def _check_provider(entry: t.Any, where: str) -> None:
    if not isinstance(entry, dict) or len(entry) != 1 or provider_type(entry) not in PROVIDER_TYPES:
        raise EncryptionConfigError(f"{where}: a provider is a mapping with exactly one of {', '.join(PROVIDER_TYPES)}")
    ptype = provider_type(entry)
    if ptype not in KEY_SIZES:
        return  # identity has no settings; kms settings are the KMS plugin's business
    body = entry[ptype]
    keys = body.get("keys") if isinstance(body, dict) else None
    if not isinstance(keys, list) or not keys:
        raise EncryptionConfigError(f"{where}.{ptype}.keys: at least one key is required")
    for index, key in enumerate(keys):
        check_key(key, f"{where}.{ptype}.keys[{index}]", ptype)


def validate_config(config: t.Mapping[str, t.Any]) -> None:
    """Raise EncryptionConfigError (without the path) for what kube-apiserver would refuse and
    for keys it would refuse; the first problem found is reported."""
    if config.get("apiVersion") != API_VERSION or config.get("kind") != KIND:
        raise EncryptionConfigError(
            f"apiVersion/kind are {config.get('apiVersion')!r}/{config.get('kind')!r}," f" not {API_VERSION!r}/{KIND!r}"
        )
    groups = config.get("resources")
    if groups is None:
        return  # an empty configuration: the module adds the first group
    if not isinstance(groups, list):
        raise EncryptionConfigError("resources: expected a list of resource groups")
    for index, group in enumerate(groups):
        where = f"resources[{index}]"
        if not isinstance(group, dict):
            raise EncryptionConfigError(f"{where}: expected a mapping with resources and providers")
        names = group.get("resources")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise EncryptionConfigError(f"{where}.resources: expected a non-empty list of resource names")
        providers = group.get("providers")
        if not isinstance(providers, list) or not providers:
            raise EncryptionConfigError(f"{where}.providers: at least one provider is required")
        for number, entry in enumerate(providers):
            _check_provider(entry, f"{where}.providers[{number}]")


def parse_encryption_config(text: str, path: str) -> dict[str, t.Any] | None:
    """The parsed and validated file; None when it is empty (treated as a missing file)."""
    if not HAS_YAML:
        raise EncryptionConfigError("PyYAML is needed to read the encryption configuration; install it on the target.")
    try:
        config = load_yaml(text, path)
    except YamlError as exc:
        raise EncryptionConfigError(f"{exc}; nothing was changed.") from exc
    if config is None:
        return None
    if not isinstance(config, dict):
        raise EncryptionConfigError(f"{path} is not an {KIND} (the top level is not a mapping); nothing was changed.")
    try:
        validate_config(config)
    except EncryptionConfigError as exc:
        raise EncryptionConfigError(f"{path}: {exc}; nothing was changed.") from exc
    return config


def render_encryption_config(config: t.Mapping[str, t.Any]) -> str:
    """The file content: a header comment, then the keys in the order they are in."""
    body = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False, allow_unicode=True, width=1 << 30)
    return HEADER + str(body)


# --------------------------------------------------------------------------- secrets


def redact(value: t.Any) -> t.Any:
    """A copy of ``value`` with every ``secret`` replaced by REDACTED, safe for diff output."""
    if isinstance(value, dict):
        return {k: REDACTED if k == "secret" else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def secret_values(value: t.Any) -> set[str]:
    """Every ``secret`` string inside ``value`` (for AnsibleModule.no_log_values)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "secret" and isinstance(v, str) and v:
                found.add(v)
            else:
                found |= secret_values(v)
    elif isinstance(value, list):
        for v in value:
            found |= secret_values(v)
    return found


def default_key_name(now: datetime.datetime) -> str:
    """``bulwark-20250131120000`` for a key created at that UTC time."""
    return "bulwark-" + now.astimezone(datetime.timezone.utc).strftime("%Y%m%d%H%M%S")


# --------------------------------------------------------------------------- plan


@dataclass(frozen=True)
class Plan:
    """What making ``provider`` the active one for the resources does to the file.

    ``before`` is None when there was no file. ``group`` is the index in ``after['resources']``
    of the group that applies to the resources; ``providers`` are its provider types in order.
    ``after`` holds a new key when ``created_key``: callers must never output it unredacted.
    """

    changed: bool
    before: dict[str, t.Any] | None
    after: dict[str, t.Any]
    group: int
    provider: str
    key_name: str
    providers: tuple[str, ...]
    created_key: bool

    def diff(self) -> dict[str, str]:
        """The whole file before and after, as YAML text with every secret redacted."""
        before = "" if self.before is None else render_encryption_config(redact(self.before))
        return {"before": before, "after": render_encryption_config(redact(self.after))}


def _split(resource: str) -> tuple[str, str]:
    # As schema.ParseGroupResource: "secrets" -> ("", "secrets"), "deployments.apps" -> ("apps", ...)
    name, _dot, group = resource.partition(".")
    return group, name


def _covering_group(groups: list[dict[str, t.Any]], resource: str) -> tuple[int, bool] | None:
    """(index, literal) of the group whose providers kube-apiserver uses for ``resource``."""
    for index, group in enumerate(groups):
        if resource in group["resources"]:
            return index, True
    api_group = _split(resource)[0]
    for wildcard in (f"*.{api_group}", "*.*"):
        for index, group in enumerate(groups):
            if wildcard in group["resources"]:
                return index, False
    return None


def _find_group(groups: list[dict[str, t.Any]], resources: t.Sequence[str]) -> tuple[int, bool] | None:
    """The one group that covers every resource (None: none does); several is an error, because
    changing one of them would leave the others encrypted differently than asked."""
    found = {resource: _covering_group(groups, resource) for resource in resources}
    if len(set(found.values())) > 1:
        where = ", ".join(
            f"{resource} in resources[{hit[0]}]" if hit else f"{resource} in none" for resource, hit in found.items()
        )
        raise EncryptionConfigError(
            f"resources: the resources are encrypted by different groups of the file ({where}); give the resources of"
            " one group, or list them together in one group by hand first"
        )
    return next(iter(found.values()))


def _providers(
    providers: list[dict[str, t.Any]],
    provider: str,
    new_secret: t.Callable[[], str],
    key_name: str,
    keep_identity: bool,
) -> tuple[list[dict[str, t.Any]], dict[str, t.Any], bool]:
    """(wanted providers, the active entry, whether its key is new).

    The first ``provider`` entry (or a new one with one key) first, every other provider after it
    in its order (their keys decrypt older data), ``identity`` last (it reads data written before
    encryption) or dropped. The keys of existing entries are never touched.
    """
    active = next((entry for entry in providers if provider_type(entry) == provider), None)
    created_key = active is None
    if active is None:
        active = {provider: {"keys": [{"name": key_name, "secret": new_secret()}]}}
    rest = [entry for entry in providers if entry is not active and provider_type(entry) != "identity"]
    identity = [entry for entry in providers if provider_type(entry) == "identity"][:1] or [{"identity": {}}]
    return [active, *rest, *(identity if keep_identity else [])], active, created_key


def plan(
    current: t.Mapping[str, t.Any] | None,
    provider: str,
    resources: t.Sequence[str],
    new_secret: t.Callable[[], str],
    *,
    key_name: str,
    keep_identity: bool = True,
) -> Plan:
    """Make ``provider`` the first provider of the group that covers ``resources``.

    Never rotates: a group whose first provider is already ``provider`` keeps its keys. A
    ``provider`` entry further down is moved first. Otherwise ``new_secret()`` is called once for
    a key named ``key_name``. A resource covered only by a wildcard group gets a group of its own,
    placed before the wildcard and with the wildcard's providers after the new one.
    """
    if provider not in PROVIDERS:
        raise EncryptionConfigError(f"provider: {provider!r} is not one of {', '.join(PROVIDERS)}")
    if not resources or not all(isinstance(r, str) and r for r in resources):
        raise EncryptionConfigError("resources: give at least one resource name, for example 'secrets'")
    if current is not None:
        validate_config(current)
    after: dict[str, t.Any] = (
        copy.deepcopy(dict(current)) if current is not None else {"apiVersion": API_VERSION, "kind": KIND}
    )
    groups: list[dict[str, t.Any]] = after.get("resources") or []
    after["resources"] = groups

    found = _find_group(groups, resources)
    if found is not None and found[1]:
        # A group lists the resources: edit its providers in place.
        index = found[0]
        providers = groups[index]["providers"]
        groups[index]["providers"], active, created_key = _providers(
            providers, provider, new_secret, key_name, keep_identity
        )
    else:
        # Only a wildcard group covers the resources, or none does. Its providers must stay
        # after the new one (they decrypt what is stored), so the resources get a group of their
        # own, placed before the wildcard group (which would mask it otherwise), or first (last
        # for wildcard resources) when there is none.
        carried = copy.deepcopy(groups[found[0]]["providers"]) if found else []
        wanted, active, created_key = _providers(carried, provider, new_secret, key_name, keep_identity)
        if found is not None and wanted == carried:
            index = found[0]  # the wildcard group already encrypts them as asked
        else:
            if found is not None:
                index = found[0]
            elif any(r.startswith("*.") for r in resources):
                index = len(groups)
            else:
                index = 0
            groups.insert(index, {"resources": list(resources), "providers": wanted})

    changed = current is None or after != current
    return Plan(
        changed=changed,
        before=copy.deepcopy(dict(current)) if current is not None else None,
        after=after,
        group=index,
        provider=provider,
        key_name=str(active[provider]["keys"][0]["name"]),
        providers=tuple(provider_type(entry) for entry in groups[index]["providers"]),
        created_key=created_key,
    )
