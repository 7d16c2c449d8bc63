# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The order of changes and of their undoing. The API is a recorder, because what is tested is
the order of calls, not the API server (tests/integration does that on a real one)."""

from __future__ import annotations

import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_api import ApiError
from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_changes import ApplyError, Change, apply_all, dry_run_all, fresh


class Recorder:
    """Records calls; fails the call whose path and method are in ``fail``."""

    def __init__(self, fail: t.Collection[tuple[str, str]] = ()) -> None:
        self.calls: list[tuple[str, str, bool]] = []
        self.fail = set(fail)
        self.last_warnings: list[str] = []

    def _record(self, method: str, path: str, dry_run: bool) -> dict[str, t.Any]:
        self.calls.append((method, path, dry_run))
        self.last_warnings = [f"{method} {path}"] if dry_run else []
        if (method, path) in self.fail:
            raise ApiError(f"{method} {path} refused")
        return {"metadata": {"resourceVersion": "11"}}

    def create(self, path: str, body: t.Mapping[str, t.Any], what: str, dry_run: bool = False) -> dict[str, t.Any]:
        return self._record("POST", f"{path}/{body['metadata']['name']}", dry_run)

    def replace(self, path: str, body: t.Mapping[str, t.Any], what: str, dry_run: bool = False) -> dict[str, t.Any]:
        return self._record("PUT", path, dry_run)

    def delete(self, path: str, what: str, dry_run: bool = False) -> None:
        self._record("DELETE", path, dry_run)


def obj(kind: str, name: str, ns: str = "") -> dict[str, t.Any]:
    meta: dict[str, t.Any] = {"name": name, "uid": "u", "resourceVersion": "5"}
    if ns:
        meta["namespace"] = ns
    return {"kind": kind, "metadata": meta, "status": {"phase": "Active"}}


NS = "/api/v1/namespaces/team-a"
NP = "/apis/networking.k8s.io/v1/namespaces/team-a/networkpolicies/deny"
CRB = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ops"
CHANGES = [
    Change("update", "Namespace", "team-a", "", obj("Namespace", "team-a"), obj("Namespace", "team-a")),
    Change("create", "NetworkPolicy", "deny", "team-a", None, obj("NetworkPolicy", "deny", "team-a")),
    Change("replace", "ClusterRoleBinding", "ops", "", obj("ClusterRoleBinding", "ops"), obj("ClusterRoleBinding", "ops")),
]


def test_a_dry_run_tries_a_replacement_under_another_name_and_returns_warnings() -> None:
    api = Recorder()
    warnings = dry_run_all(api, CHANGES)
    assert api.calls == [("PUT", NS, True), ("POST", NP, True), ("DELETE", CRB, True), ("POST", f"{CRB}-bulwark-dry-run", True)]
    assert warnings["Namespace/team-a"] == [f"PUT {NS}"]


def test_a_failure_undoes_what_was_done_last_first() -> None:
    api = Recorder(fail={("POST", CRB)})
    with pytest.raises(ApplyError) as caught:
        apply_all(api, CHANGES)
    assert api.calls == [
        ("PUT", NS, False),
        ("POST", NP, False),
        ("DELETE", CRB, False),
        ("POST", CRB, False),  # refused
        ("POST", CRB, False),  # the old binding created again: refused too, and reported
        ("DELETE", NP, False),
        ("PUT", NS, False),
    ]
    assert caught.value.rolled_back == ["deleted NetworkPolicy/team-a/deny", "put back Namespace/team-a"]
    assert caught.value.not_rolled_back == [f"created ClusterRoleBinding/ops again: POST {CRB} refused"]
    assert str(caught.value).startswith(f"POST {CRB} refused. Undone: deleted NetworkPolicy/team-a/deny; put back Namespace/team-a.")


def test_a_first_failure_says_nothing_had_changed() -> None:
    with pytest.raises(ApplyError, match="Nothing had been changed before it"):
        apply_all(Recorder(fail={("PUT", NS)}), CHANGES)


def test_an_object_created_again_has_no_server_fields() -> None:
    body = fresh(obj("ClusterRoleBinding", "ops"))
    assert body == {"kind": "ClusterRoleBinding", "metadata": {"name": "ops"}}


def test_a_diff_shows_labels_without_the_owner_label() -> None:
    after = {"kind": "Namespace", "metadata": {"name": "a", "labels": {"app.kubernetes.io/managed-by": "bulwark.hardening", "x": "1"}}, "spec": {}}
    diff = Change("update", "Namespace", "a", "", None, after).diff()
    assert diff["after"] == {"kind": "Namespace", "name": "a", "managed": True, "labels": {"x": "1"}, "spec": {}}
