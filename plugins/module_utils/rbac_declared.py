# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""RBAC roles and bindings as declared, and nothing more: plan the changes, pure, no API access.

Also the one service-account setting CIS-K8s 5.1.5 asks for: no token for the default accounts.

The ``k8s_rbac`` module reads the live objects, calls ``plan()`` and applies its changes.

- A declared object carries our ownership label; a live object with that label that is no
  longer declared is deleted (``prune``). Objects without the label are never touched, unless
  the user lists them in ``remove`` or declares them (declaring one takes it over).
- A binding's subjects are made exactly the declared ones (a set: order does not count).
- A binding's ``roleRef`` cannot be changed (the API server refuses, kubernetes/kubernetes#66353),
  so a binding whose role changed is deleted and created again, and reported as replaced.
- ``remove_subjects`` (by default the anonymous user and the unauthenticated group) are taken
  out of every other binding, except the API server's bootstrap bindings, which it would put
  back at its next start; a binding left without subjects is deleted.
- Every binding must name a role that exists or is declared, in an existing namespace: checked
  before anything changes.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_changes import Change
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import (
    NAMESPACE_NAME,
    OWNER_LABEL,
    RbacError,
    Subject,
    is_bootstrap,
    is_owned,
    metadata,
    object_ref,
    parse_subject,
    subject_of,
)

__all__ = ["Change", "Plan", "plan"]

RBAC_API = "rbac.authorization.k8s.io"
RBAC_VERSION = f"{RBAC_API}/v1"
_NAME = re.compile(r"^[a-zA-Z0-9:._@-][a-zA-Z0-9:._@-]{0,252}\Z")  # RBAC names are path segments
_RULE_KEYS = {
    "api_groups": "apiGroups",
    "resources": "resources",
    "verbs": "verbs",
    "resource_names": "resourceNames",
    "non_resource_urls": "nonResourceURLs",
}
_ROLE_KINDS = ("ClusterRole", "Role")
_KINDS = ("ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding")


@dataclasses.dataclass(frozen=True)
class Plan:
    changes: tuple[Change, ...]
    item_status: dict[str, str]  # declared object ref -> ok | changed

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def refs(self, action: str) -> list[str]:
        return [change.ref for change in self.changes if change.action == action]


def _key(kind: str, obj: t.Mapping[str, t.Any]) -> tuple[str, str, str]:
    meta = metadata(obj)
    return (kind, str(meta.get("namespace") or ""), str(meta.get("name")))


def _name(value: t.Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value) or value in (".", ".."):
        raise RbacError(f"{where}: {value!r} is not a name the API accepts for an RBAC object.")
    return value


def _namespace(value: t.Any, where: str, namespaces: t.Collection[str]) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not NAMESPACE_NAME.match(value):
        raise RbacError(f"{where}: {value!r} is not a namespace name.")
    if value not in namespaces:
        raise RbacError(f"{where}: namespace {value!r} does not exist; create it first.")
    return value


def _rules(entries: t.Any, where: str) -> list[dict[str, list[str]]]:
    if not isinstance(entries, list):
        raise RbacError(f"{where} must be a list of rules, not {entries!r}.")
    rules = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        if not isinstance(entry, t.Mapping):
            raise RbacError(f"{at} must be a mapping of {', '.join(_RULE_KEYS)}, not {entry!r}.")
        unknown = sorted(str(key) for key in entry if key not in _RULE_KEYS)
        if unknown:
            raise RbacError(f"{at}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_RULE_KEYS)}.")
        rule: dict[str, list[str]] = {}
        for key, api_key in _RULE_KEYS.items():
            values = entry.get(key)
            if values is None:
                continue
            if not isinstance(values, list) or not all(isinstance(v, str) and v == v.strip() for v in values):
                raise RbacError(f"{at}.{key} must be a list of strings, not {values!r}.")
            if values:
                rule[api_key] = list(values)
        if not rule.get("verbs"):
            raise RbacError(f"{at}.verbs: a rule needs at least one verb.")
        if bool(rule.get("resources")) == bool(rule.get("nonResourceURLs")):
            raise RbacError(f"{at}: give resources (with api_groups) or non_resource_urls, not both or neither.")
        if rule.get("resources") and "apiGroups" not in rule:
            raise RbacError(f"{at}.api_groups: name the API groups of the resources ('' is the core group).")
        rules.append(rule)
    return rules


def _subject_object(subject: Subject) -> dict[str, str]:
    if subject.kind == "ServiceAccount":
        return {"kind": "ServiceAccount", "name": subject.name, "namespace": subject.namespace}
    return {"kind": subject.kind, "name": subject.name, "apiGroup": RBAC_API}


def _normal_rules(rules: t.Any) -> list[tuple[tuple[str, tuple[str, ...]], ...]]:
    # Order does not change what a role grants: neither of its rules nor of the values in one.
    return sorted(tuple(sorted((k, tuple(sorted(v))) for k, v in (rule or {}).items() if v)) for rule in rules or [])


def _labelled(live: t.Mapping[str, t.Any] | None, wanted: dict[str, t.Any]) -> dict[str, t.Any]:
    """``wanted`` as a full object: the live object's other labels, annotations and resourceVersion kept."""
    meta = dict(wanted["metadata"])
    if live is not None:
        live_meta = metadata(live)
        meta = {**{k: v for k, v in live_meta.items() if k in ("annotations", "resourceVersion")}, **meta}
        meta["labels"] = {**(live_meta.get("labels") or {}), **meta["labels"]}
    return {**wanted, "metadata": meta}


def _owned_metadata(name: str, namespace: str) -> dict[str, t.Any]:
    meta: dict[str, t.Any] = {"name": name, "labels": {OWNER_LABEL[0]: OWNER_LABEL[1]}}
    if namespace:
        meta["namespace"] = namespace
    return meta


def _declared_roles(entries: t.Sequence[t.Mapping[str, t.Any]], namespaces: t.Collection[str]) -> dict[tuple[str, str, str], dict[str, t.Any]]:
    wanted: dict[tuple[str, str, str], dict[str, t.Any]] = {}
    for index, entry in enumerate(entries):
        where = f"roles[{index}]"
        name = _name(entry.get("name"), f"{where}.name")
        namespace = _namespace(entry.get("namespace"), f"{where}.namespace", namespaces)
        kind = "Role" if namespace else "ClusterRole"
        key = (kind, namespace, name)
        if key in wanted:
            raise RbacError(f"{where} declares {object_ref(kind, name, namespace)} a second time; keep one.")
        rules = _rules(entry.get("rules"), f"{where}.rules")
        wanted[key] = {"apiVersion": RBAC_VERSION, "kind": kind, "metadata": _owned_metadata(name, namespace), "rules": rules}
    return wanted


def _declared_bindings(
    entries: t.Sequence[t.Mapping[str, t.Any]],
    namespaces: t.Collection[str],
    roles: t.Collection[tuple[str, str, str]],
) -> dict[tuple[str, str, str], dict[str, t.Any]]:
    wanted: dict[tuple[str, str, str], dict[str, t.Any]] = {}
    for index, entry in enumerate(entries):
        where = f"bindings[{index}]"
        name = _name(entry.get("name"), f"{where}.name")
        namespace = _namespace(entry.get("namespace"), f"{where}.namespace", namespaces)
        kind = "RoleBinding" if namespace else "ClusterRoleBinding"
        role_kind, slash, role_name = str(entry.get("role") or "").partition("/")
        if role_kind not in _ROLE_KINDS or not slash or not _NAME.match(role_name):
            raise RbacError(f"{where}.role: {entry.get('role')!r} is not a role; write ClusterRole/NAME or Role/NAME.")
        if role_kind == "Role" and not namespace:
            raise RbacError(f"{where}.role: a ClusterRoleBinding cannot name a Role; give the binding a namespace.")
        role_key = (role_kind, namespace if role_kind == "Role" else "", role_name)
        if role_key not in roles:
            raise RbacError(
                f"{where}.role: {object_ref(role_kind, role_name, role_key[1])} does not exist and is not declared"
                " in roles; a binding to it would grant nothing."
            )
        subjects = entry.get("subjects")
        if not isinstance(subjects, list) or not subjects:
            raise RbacError(f"{where}.subjects must be a non-empty list of subjects; to remove a binding, leave it out.")
        parsed = [parse_subject(text, f"{where}.subjects[{i}]") for i, text in enumerate(subjects)]
        key = (kind, namespace, name)
        if key in wanted:
            raise RbacError(f"{where} declares {object_ref(kind, name, namespace)} a second time; keep one.")
        unique = {str(subject): subject for subject in parsed}
        wanted[key] = {
            "apiVersion": RBAC_VERSION,
            "kind": kind,
            "metadata": _owned_metadata(name, namespace),
            "roleRef": {"apiGroup": RBAC_API, "kind": role_kind, "name": role_name},
            "subjects": [_subject_object(subject) for subject in unique.values()],
        }
    return wanted


def _parse_ref(text: t.Any, where: str) -> tuple[str, str, str]:
    parts = text.split("/") if isinstance(text, str) else []
    if len(parts) == 2 and parts[0] in ("ClusterRole", "ClusterRoleBinding") and _NAME.match(parts[1]):
        return (parts[0], "", parts[1])
    if len(parts) == 3 and parts[0] in ("Role", "RoleBinding") and NAMESPACE_NAME.match(parts[1]) and _NAME.match(parts[2]):
        return (parts[0], parts[1], parts[2])
    raise RbacError(
        f"{where}: {text!r} is not an RBAC object; write ClusterRole/NAME, ClusterRoleBinding/NAME, Role/NAMESPACE/NAME"
        " or RoleBinding/NAMESPACE/NAME."
    )


def plan(
    live: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
    namespaces: t.Collection[str],
    *,
    roles: t.Sequence[t.Mapping[str, t.Any]] = (),
    bindings: t.Sequence[t.Mapping[str, t.Any]] = (),
    prune: bool = True,
    remove: t.Sequence[str] = (),
    remove_subjects: t.Sequence[str] = (),
    default_tokens_off: bool = False,
) -> Plan:
    """The changes that make the cluster's RBAC what is declared.

    ``live``: the API lists of ``clusterroles``, ``roles``, ``clusterrolebindings`` and
    ``rolebindings`` (items only), and ``serviceaccounts`` when ``default_tokens_off``: every
    ``default`` service account then gets ``automountServiceAccountToken: false`` (CIS-K8s 5.1.5).
    Raises RbacError, before any change, for bad input.
    """
    current: dict[tuple[str, str, str], t.Mapping[str, t.Any]] = {}
    for kind, listing in zip(_KINDS, ("clusterroles", "roles", "clusterrolebindings", "rolebindings")):
        for obj in live.get(listing, ()):
            current[_key(kind, obj)] = obj
    wanted_roles = _declared_roles(roles, namespaces)
    existing_roles = {key for key in current if key[0] in _ROLE_KINDS} | set(wanted_roles)
    wanted = {**wanted_roles, **_declared_bindings(bindings, namespaces, existing_roles)}
    listed = [_parse_ref(text, f"remove[{i}]") for i, text in enumerate(remove)]
    for index, key in enumerate(listed):
        if key in wanted:
            raise RbacError(f"remove[{index}]: {object_ref(key[0], key[2], key[1])} is also declared; keep one.")
    dropped = [str(parse_subject(text, f"remove_subjects[{i}]")) for i, text in enumerate(remove_subjects)]

    changes: list[Change] = []
    status: dict[str, str] = {}
    for key, obj in wanted.items():
        kind, namespace, name = key
        before = current.get(key)
        action = _action(before, obj)
        status[object_ref(kind, name, namespace)] = "ok" if action is None else "changed"
        if action is not None:
            after = obj if action in ("create", "replace") else _labelled(before, obj)
            changes.append(Change(action, kind, name, namespace, dict(before) if before else None, after))

    doomed = {key for key in listed if key in current}
    if prune:
        doomed |= {key for key, obj in current.items() if is_owned(obj) and key not in wanted}
    for key, obj in current.items():
        kind, namespace, name = key
        if key in wanted or key in doomed or kind not in ("ClusterRoleBinding", "RoleBinding") or is_bootstrap(obj):
            continue
        subjects = obj.get("subjects") or []
        kept = [s for s in subjects if str(subject_of(s, namespace)) not in dropped]
        if len(kept) == len(subjects):
            continue
        if not kept:
            doomed.add(key)
            continue
        after = copy.deepcopy(dict(obj))
        after["subjects"] = kept
        changes.append(Change("update", kind, name, namespace, dict(obj), after))
    if default_tokens_off:
        for account in live.get("serviceaccounts", ()):
            meta = metadata(account)
            if meta.get("name") == "default" and account.get("automountServiceAccountToken") is not False:
                after = {**copy.deepcopy(dict(account)), "automountServiceAccountToken": False}
                namespace = str(meta.get("namespace"))
                changes.append(Change("update", "ServiceAccount", "default", namespace, dict(account), after))
    # Bindings go before the roles they name, so no binding points at a deleted role in between.
    for key in sorted(doomed, key=lambda k: (k[0] in _ROLE_KINDS, k)):
        kind, namespace, name = key
        changes.append(Change("delete", kind, name, namespace, dict(current[key]), None))
    return Plan(tuple(changes), status)


def _action(before: t.Mapping[str, t.Any] | None, wanted: t.Mapping[str, t.Any]) -> str | None:
    if before is None:
        return "create"
    if "roleRef" in wanted:
        role_ref = before.get("roleRef") or {}
        if (role_ref.get("kind"), role_ref.get("name")) != (wanted["roleRef"]["kind"], wanted["roleRef"]["name"]):
            return "replace"
        namespace = str(metadata(wanted).get("namespace") or "")
        have = sorted(str(subject_of(s, namespace)) for s in before.get("subjects") or [])
        want = sorted(str(subject_of(s, namespace)) for s in wanted["subjects"])
        same = have == want
    else:
        same = _normal_rules(before.get("rules")) == _normal_rules(wanted["rules"]) and not before.get("aggregationRule")
    return None if same and is_owned(before) else "update"
