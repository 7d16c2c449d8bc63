# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Changes to API objects, planned elsewhere and applied here: all of them dry-run first, then in
order, each remembered so that a failure part-way undoes what was done.

The planners (``rbac_declared``, ``namespace_policy``) are pure and return ``Change`` objects;
the modules hand them to an ``Applier`` over a ``k8s_api.Api``. Nothing here knows a kind
beyond the path it lives under.
"""

from __future__ import annotations

import copy
import dataclasses
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_api import ApiError
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import OWNER_LABEL, is_owned, metadata, object_ref

__all__ = ["Applier", "ApplyError", "Change", "apply_all", "collection_path", "dry_run_all", "object_path"]

# kind -> (API prefix, plural, namespaced)
_PATHS = {
    "ClusterRole": ("/apis/rbac.authorization.k8s.io/v1", "clusterroles", False),
    "Role": ("/apis/rbac.authorization.k8s.io/v1", "roles", True),
    "ClusterRoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "RoleBinding": ("/apis/rbac.authorization.k8s.io/v1", "rolebindings", True),
    "ServiceAccount": ("/api/v1", "serviceaccounts", True),
    "Namespace": ("/api/v1", "namespaces", False),
    "NetworkPolicy": ("/apis/networking.k8s.io/v1", "networkpolicies", True),
}
SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "managedFields", "generation", "selfLink")
_NOT_SHOWN = ("apiVersion", "kind", "metadata", "status")


def collection_path(kind: str, namespace: str) -> str:
    prefix, plural, namespaced = _PATHS[kind]
    return f"{prefix}/namespaces/{namespace}/{plural}" if namespaced else f"{prefix}/{plural}"


def object_path(kind: str, namespace: str, name: str) -> str:
    return f"{collection_path(kind, namespace)}/{name}"


@dataclasses.dataclass(frozen=True)
class Change:
    """One API call: ``create``, ``update``, ``replace`` (delete, then create) or ``delete``."""

    action: str
    kind: str
    name: str
    namespace: str
    before: dict[str, t.Any] | None  # the live object
    after: dict[str, t.Any] | None  # the object to write

    @property
    def ref(self) -> str:
        return object_ref(self.kind, self.name, self.namespace)

    def diff(self) -> dict[str, t.Any]:
        return {"before": _essence(self.before), "after": _essence(self.after), "before_header": self.ref, "after_header": self.ref}


def _essence(obj: t.Mapping[str, t.Any] | None) -> dict[str, t.Any] | None:
    """What a diff shows of an object: its name, labels, whether we own it, and its content."""
    if obj is None:
        return None
    meta = metadata(obj)
    shown: dict[str, t.Any] = {"kind": obj.get("kind"), "name": meta.get("name")}
    if meta.get("namespace"):
        shown["namespace"] = meta["namespace"]
    shown["managed"] = is_owned(obj)
    labels = {key: value for key, value in (meta.get("labels") or {}).items() if key != OWNER_LABEL[0]}
    if labels:
        shown["labels"] = labels
    shown.update((key, value) for key, value in obj.items() if key not in _NOT_SHOWN)
    return shown


def fresh(obj: t.Mapping[str, t.Any]) -> dict[str, t.Any]:
    """An object as it can be created again: without the fields the server set."""
    body = copy.deepcopy(dict(obj))
    body["metadata"] = {k: v for k, v in metadata(body).items() if k not in SERVER_FIELDS}
    body.pop("status", None)
    return body


class Applier:
    """Applies changes through an ``Api`` in order, remembering how to undo each one."""

    def __init__(self, api: t.Any) -> None:
        self.api = api
        self.undo: list[tuple[str, t.Callable[[], t.Any]]] = []

    def apply(self, change: Change, dry_run: bool) -> list[str]:
        """Makes (or, in a dry run, tries) one change; returns the warnings the API server gave."""
        api, kind, ns, name = self.api, change.kind, change.namespace, change.name
        what = f"{change.action} {change.ref}"
        path = object_path(kind, ns, name)
        warnings: list[str] = []
        if change.action in ("delete", "replace"):
            api.delete(path, what, dry_run)
            if not dry_run:
                before = fresh(change.before or {})
                self.undo.append((f"created {change.ref} again", lambda: api.create(collection_path(kind, ns), before, what)))
        if change.action in ("create", "replace"):
            body = change.after or {}
            if dry_run and change.action == "replace":
                # The object is still there during a dry run: try the new one under another name.
                body = copy.deepcopy(body)
                body["metadata"]["name"] = f"{name[:230]}-bulwark-dry-run"
            api.create(collection_path(kind, ns), body, what, dry_run)
            warnings.extend(api.last_warnings)
            if not dry_run:
                self.undo.append((f"deleted {change.ref}", lambda: api.delete(path, what)))
        if change.action == "update":
            written = api.replace(path, change.after or {}, what, dry_run)
            warnings.extend(api.last_warnings)
            if not dry_run:
                before = copy.deepcopy(dict(change.before or {}))
                before["metadata"]["resourceVersion"] = metadata(written).get("resourceVersion")
                self.undo.append((f"put back {change.ref}", lambda: api.replace(path, before, what)))
        return warnings

    def roll_back(self) -> tuple[list[str], list[str]]:
        """Undoes what was applied, last first; returns what was undone and what could not be."""
        done, failed = [], []
        for description, step in reversed(self.undo):
            try:
                step()
                done.append(description)
            except ApiError as exc:
                failed.append(f"{description}: {exc}")
        self.undo = []
        return done, failed


class ApplyError(ApiError):
    """A change failed part-way; what was undone and what could not be are attached."""

    def __init__(self, message: str, rolled_back: list[str], not_rolled_back: list[str]) -> None:
        super().__init__(message)
        self.rolled_back = rolled_back
        self.not_rolled_back = not_rolled_back


def dry_run_all(api: t.Any, changes: t.Sequence[Change]) -> dict[str, list[str]]:
    """Tries every change as a server-side dry run (admission and validation run, nothing is
    stored); returns the API server's warnings by object. Raises ApiError on the first refusal."""
    applier = Applier(api)
    return {change.ref: applier.apply(change, dry_run=True) for change in changes}


def apply_all(api: t.Any, changes: t.Sequence[Change]) -> None:
    """Applies every change, after they were all dry-run; undoes them all when one fails.

    Raises ApplyError, whose message says what was undone (and what could not be).
    """
    applier = Applier(api)
    for change in changes:
        try:
            applier.apply(change, dry_run=False)
        except ApiError as exc:
            done, failed = applier.roll_back()
            undone = f" Undone: {'; '.join(done)}." if done else " Nothing had been changed before it."
            left = f" Could not undo: {'; '.join(failed)}." if failed else ""
            raise ApplyError(f"{exc}.{undone}{left}", done, failed) from exc
