# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""An access matrix: rows of (subject, verb, resource, namespace) -> allowed, as SubjectAccessReviews.

Pure: ``parse_rows`` validates the table, ``review()`` builds the review the API server answers,
``compare`` lines the answers up with the table. A review is asked with the groups a real
request of that subject carries, or a grant to a group would be missed: every authenticated
user is in ``system:authenticated``, and a service account is also in ``system:serviceaccounts``
and ``system:serviceaccounts:<namespace>``.
"""

from __future__ import annotations

import dataclasses
import re
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import (
    NAMESPACE_NAME,
    RbacError,
    Subject,
    parse_subject,
)

__all__ = ["AccessRow", "Answer", "compare", "parse_rows", "review", "table"]

AUTHENTICATED = "system:authenticated"
UNAUTHENTICATED = "system:unauthenticated"
ANONYMOUS = "system:anonymous"

_WORD = re.compile(r"^[a-z*][a-zA-Z0-9*-]*\Z")
_RESOURCE = re.compile(r"^(?P<resource>[a-z0-9*][a-z0-9-]*)(?:\.(?P<group>[a-z0-9.-]+))?(?:/(?P<sub>[a-z0-9-]+))?\Z")
_KEYS = ("subject", "verb", "resource", "non_resource_url", "namespace", "name", "groups", "allowed")


@dataclasses.dataclass(frozen=True)
class AccessRow:
    subject: Subject
    verb: str
    allowed: bool
    resource: str = ""  # as written: "pods", "deployments.apps/scale"
    plural: str = ""  # the resource alone: "deployments"
    group: str = ""
    subresource: str = ""
    non_resource_url: str = ""
    namespace: str = ""
    name: str = ""
    groups: tuple[str, ...] = ()  # more groups of a user

    def as_dict(self) -> dict[str, t.Any]:
        return {
            "subject": str(self.subject),
            "verb": self.verb,
            "resource": self.resource or None,
            "non_resource_url": self.non_resource_url or None,
            "namespace": self.namespace or None,
            "name": self.name or None,
            "groups": list(self.groups),
            "allowed": self.allowed,
        }


def _text(entry: t.Mapping[str, t.Any], key: str, where: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or not value or value != value.strip() or "\n" in value:
        raise RbacError(f"{where}.{key} must be a non-empty string without surrounding blanks, not {value!r}.")
    return value


def _row(entry: t.Mapping[str, t.Any], where: str) -> AccessRow:
    unknown = sorted(str(key) for key in entry if key not in _KEYS)
    if unknown:
        raise RbacError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_KEYS)}.")
    subject = parse_subject(entry.get("subject"), f"{where}.subject")
    verb = _text(entry, "verb", where)
    if not _WORD.match(verb):
        raise RbacError(f"{where}.verb: {verb or None!r} is not a verb; write one like get, list, create or impersonate.")
    if not isinstance(entry.get("allowed"), bool):
        raise RbacError(f"{where}.allowed must be true or false, not {entry.get('allowed')!r}.")
    resource, url = _text(entry, "resource", where), _text(entry, "non_resource_url", where)
    if bool(resource) == bool(url):
        raise RbacError(f"{where}: give either resource (such as pods or deployments.apps/scale) or non_resource_url.")
    namespace, name = _text(entry, "namespace", where), _text(entry, "name", where)
    if namespace and not NAMESPACE_NAME.match(namespace):
        raise RbacError(f"{where}.namespace: {namespace!r} is not a namespace name.")
    groups = entry.get("groups") or []
    if not isinstance(groups, list) or not all(isinstance(g, str) and g.strip() == g and g for g in groups):
        raise RbacError(f"{where}.groups must be a list of group names, not {groups!r}.")
    if groups and subject.kind != "User":
        raise RbacError(f"{where}.groups: only a User has groups of its own; {subject} has the groups of its kind.")
    if url:
        if not url.startswith("/") or resource or namespace or name:
            raise RbacError(f"{where}.non_resource_url: {url!r} must be a path such as /metrics, without namespace or name.")
        return AccessRow(subject, verb, entry["allowed"], non_resource_url=url, groups=tuple(groups))
    match = _RESOURCE.match(resource)
    if not match:
        raise RbacError(
            f"{where}.resource: {resource!r} is not a resource; write RESOURCE[.GROUP][/SUBRESOURCE], such as pods,"
            " pods/exec or deployments.apps/scale."
        )
    return AccessRow(
        subject,
        verb,
        entry["allowed"],
        resource=resource,
        plural=match["resource"],
        group=match["group"] or "",
        subresource=match["sub"] or "",
        namespace=namespace,
        name=name,
        groups=tuple(groups),
    )


def parse_rows(entries: t.Sequence[t.Mapping[str, t.Any]], where: str = "rows") -> list[AccessRow]:
    rows: list[AccessRow] = []
    seen: dict[tuple[t.Any, ...], int] = {}
    for index, entry in enumerate(entries):
        row = _row(entry, f"{where}[{index}]")
        question = dataclasses.astuple(dataclasses.replace(row, allowed=False))
        if question in seen:
            raise RbacError(f"{where}[{index}] asks the same as {where}[{seen[question]}]; keep one.")
        seen[question] = index
        rows.append(row)
    return rows


def _identity(row: AccessRow) -> dict[str, t.Any]:
    subject = row.subject
    if subject.kind == "ServiceAccount":
        ns = subject.namespace
        user = f"system:serviceaccount:{ns}:{subject.name}"
        return {"user": user, "groups": ["system:serviceaccounts", f"system:serviceaccounts:{ns}", AUTHENTICATED]}
    if subject.kind == "User":
        implied = UNAUTHENTICATED if subject.name == ANONYMOUS else AUTHENTICATED
        return {"user": subject.name, "groups": [*row.groups, implied]}
    if subject.name in (AUTHENTICATED, UNAUTHENTICATED):
        return {"groups": [subject.name]}
    return {"groups": [subject.name, AUTHENTICATED]}


def review(row: AccessRow) -> dict[str, t.Any]:
    """The SubjectAccessReview that asks the API server the row's question."""
    spec = _identity(row)
    if row.non_resource_url:
        spec["nonResourceAttributes"] = {"path": row.non_resource_url, "verb": row.verb}
    else:
        attributes = {"verb": row.verb, "resource": row.plural, "group": row.group}
        for key, value in (("subresource", row.subresource), ("namespace", row.namespace), ("name", row.name)):
            if value:
                attributes[key] = value
        spec["resourceAttributes"] = attributes
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}


@dataclasses.dataclass(frozen=True)
class Answer:
    allowed: bool
    reason: str

    @classmethod
    def from_api(cls, data: t.Mapping[str, t.Any]) -> Answer:
        status = data.get("status") or {}
        reason = str(status.get("reason") or status.get("evaluationError") or "")
        return cls(bool(status.get("allowed")), reason)


def compare(rows: t.Sequence[AccessRow], answers: t.Sequence[Answer]) -> list[dict[str, t.Any]]:
    """Every row with what the API server said; ``holds`` is false where it differs from the table."""
    results = []
    for row, answer in zip(rows, answers):
        results.append({**row.as_dict(), "actual": answer.allowed, "holds": answer.allowed == row.allowed, "reason": answer.reason})
    return results


def _word(allowed: bool) -> str:
    return "allowed" if allowed else "denied"


def table(results: t.Sequence[t.Mapping[str, t.Any]]) -> str:
    """The rows that differ, as an aligned text table (the play's failure message)."""
    header = ("subject", "verb", "resource", "namespace", "expected", "actual")
    lines = [
        (
            row["subject"],
            row["verb"],
            row["non_resource_url"] or (row["resource"] + (f" {row['name']}" if row["name"] else "")),
            row["namespace"] or "(cluster)",
            _word(row["allowed"]),
            _word(row["actual"]) + (f" ({row['reason']})" if row["reason"] and row["actual"] else ""),
        )
        for row in results
        if not row["holds"]
    ]
    widths = [max(len(line[i]) for line in [header, *lines]) for i in range(len(header) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths)) + "  " + line[-1] for line in [header, *lines]
    )
