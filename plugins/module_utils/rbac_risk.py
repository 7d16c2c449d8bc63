# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The risky grants of a cluster's RBAC objects, by CIS-K8s 5.1 control id: pure, no API access.

The ``k8s_rbac_audit`` module lists the objects as the API server returns them (plain dicts) and
hands them to ``audit()``. The findings are computed from the *effective* grants, the way the
RBAC authorizer decides a request:

- a ClusterRoleBinding grants its ClusterRole everywhere; a RoleBinding grants its Role, or the
  ClusterRole it names, in the binding's namespace only, so cluster-scoped resources (nodes,
  persistent volumes, webhook configurations) and non-resource URLs are not reached through it;
- an aggregated ClusterRole has the rules of every ClusterRole its selectors match (resolved
  here too, so a role the aggregation controller has not caught up with is judged by what it
  is about to hold), and each rule is reported with the role it came from;
- ``*`` matches any verb, API group or resource, a rule for ``*/proxy`` matches every
  ``proxy`` subresource, and ``pods`` does not match ``pods/exec``;
- a rule that names ``resourceNames`` never allows ``create`` (the name is not known yet);
- the group ``system:masters`` may do everything with no binding at all: the API server's
  authorizer lets it through before RBAC is asked.

The API server's own bootstrap bindings (``system:*`` and ``cluster-admin``, labelled
``kubernetes.io/bootstrapping=rbac-defaults`` and reconciled at every start) are reported with
``bootstrap: true`` and are never to be edited; the discovery grants they give everyone are not
findings at all.
"""

from __future__ import annotations

import dataclasses
import datetime
import re
import typing as t

__all__ = [
    "CHECKS",
    "Finding",
    "RbacError",
    "Subject",
    "Waiver",
    "audit",
    "NAMESPACE_NAME",
    "OWNER_LABEL",
    "is_bootstrap",
    "is_owned",
    "metadata",
    "object_ref",
    "parse_subject",
    "parse_waivers",
    "subject_of",
]

ALL = "*"
RBAC_GROUP = "rbac.authorization.k8s.io"
MASTERS = "system:masters"
CLUSTER_ADMIN = "ClusterRole/cluster-admin"
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAP_NAMES = frozenset({"cluster-admin", "admin", "edit", "view"})  # and every "system:" name
MIRROR_POD = "kubernetes.io/config.mirror"
# The label of what this collection manages (k8s_rbac prunes by it; the workload policy carries it).
OWNER_LABEL = ("app.kubernetes.io/managed-by", "bulwark.hardening")
NAMESPACE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?\Z")  # a DNS label

# Subjects every request of their kind carries: a grant to them is a grant to everyone.
PUBLIC_SUBJECTS = frozenset({"User:system:anonymous", "Group:system:unauthenticated", "Group:system:authenticated"})
# What the API server's defaults give those subjects (discovery, self-review, /version, /healthz).
DISCOVERY_DEFAULTS = frozenset(
    {
        ("ClusterRoleBinding/system:discovery", "Group:system:authenticated"),
        ("ClusterRoleBinding/system:basic-user", "Group:system:authenticated"),
        ("ClusterRoleBinding/system:public-info-viewer", "Group:system:authenticated"),
        ("ClusterRoleBinding/system:public-info-viewer", "Group:system:unauthenticated"),
    }
)

# (group, resource) a RoleBinding cannot reach: cluster-scoped, so only a ClusterRoleBinding grants them.
CLUSTER_SCOPED = frozenset(
    {
        ("", "nodes"),
        ("", "nodes/proxy"),
        ("", "persistentvolumes"),
        ("", "users"),
        ("", "groups"),
        ("authentication.k8s.io", "uids"),
        ("certificates.k8s.io", "certificatesigningrequests/approval"),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
    }
)

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")


class RbacError(ValueError):
    """Bad user input (a subject, a waiver, a row, a declared binding); the message is shown to the user as is."""


# --- the objects ----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Rule:
    """One PolicyRule, with the role whose own ``rules`` it was written in."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    resource_names: tuple[str, ...]
    non_resource_urls: tuple[str, ...]
    source: str

    @classmethod
    def from_api(cls, data: t.Mapping[str, t.Any], source: str) -> Rule:
        def strings(key: str) -> tuple[str, ...]:
            return tuple(str(value) for value in data.get(key) or ())

        return cls(
            strings("apiGroups"),
            strings("resources"),
            strings("verbs"),
            strings("resourceNames"),
            strings("nonResourceURLs"),
            source,
        )

    def as_api(self) -> dict[str, list[str]]:
        """The rule as the API writes it, without empty keys."""
        pairs = (
            ("apiGroups", self.api_groups),
            ("resources", self.resources),
            ("verbs", self.verbs),
            ("resourceNames", self.resource_names),
            ("nonResourceURLs", self.non_resource_urls),
        )
        return {key: list(values) for key, values in pairs if values}

    def body(self) -> tuple[tuple[str, ...], ...]:
        """The rule without its source: two roles holding the same rule hold one grant."""
        return (self.api_groups, self.resources, self.verbs, self.resource_names, self.non_resource_urls)

    def has_wildcard(self) -> bool:
        return any(ALL in values for values in (self.api_groups, self.resources, self.verbs, self.non_resource_urls))

    def allowed_verbs(self, verbs: frozenset[str] | None, group: str, resource: str) -> tuple[str, ...]:
        """The verbs of ``verbs`` (None: any verb) this rule allows on ``group``/``resource``, as RBAC matches them."""
        if not self.resources or not (ALL in self.api_groups or group in self.api_groups):
            return ()
        if not _resource_matches(self.resources, resource):
            return ()
        granted = set(self.verbs if verbs is None or ALL in self.verbs else verbs & set(self.verbs))
        if ALL in granted:
            granted = {ALL} if verbs is None else set(verbs)
        if self.resource_names:
            granted.discard("create")  # a name cannot be checked before the object exists
        return tuple(sorted(granted))


def _resource_matches(rule_resources: tuple[str, ...], resource: str) -> bool:
    # As the RBAC authorizer's ResourceMatches: "*", the exact "resource[/subresource]", or "*/subresource".
    subresource = resource.partition("/")[2]
    return any(
        candidate in (ALL, resource) or (subresource and candidate == f"{ALL}/{subresource}")
        for candidate in rule_resources
    )


@dataclasses.dataclass(frozen=True)
class Subject:
    kind: str
    name: str
    namespace: str = ""

    def __str__(self) -> str:
        if self.kind == "ServiceAccount":
            return f"ServiceAccount:{self.namespace}/{self.name}"
        return f"{self.kind}:{self.name}"


def parse_subject(text: t.Any, where: str) -> Subject:
    """``User:alice``, ``Group:system:authenticated`` or ``ServiceAccount:team-a/builder``."""
    kind, _colon, rest = text.partition(":") if isinstance(text, str) else ("", "", "")
    if kind in ("User", "Group") and rest.strip() == rest and rest:
        return Subject(kind, rest)
    if kind == "ServiceAccount":
        namespace, slash, name = rest.partition("/")
        if slash and namespace and name and "/" not in name and not any(c.isspace() for c in rest):
            return Subject(kind, name, namespace)
    raise RbacError(
        f"{where}: {text!r} is not a subject; write User:NAME, Group:NAME or ServiceAccount:NAMESPACE/NAME."
    )


def object_ref(kind: str, name: str, namespace: str = "") -> str:
    """How findings, waivers and plans name an object: ``ClusterRole/NAME``, ``RoleBinding/NAMESPACE/NAME``."""
    return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"


def metadata(obj: t.Mapping[str, t.Any]) -> t.Mapping[str, t.Any]:
    """An API object's metadata, empty when it has none."""
    return obj.get("metadata") or {}


def is_owned(obj: t.Mapping[str, t.Any]) -> bool:
    """Whether the object carries our ownership label (OWNER_LABEL), so that we may change or delete it."""
    return (metadata(obj).get("labels") or {}).get(OWNER_LABEL[0]) == OWNER_LABEL[1]


def subject_of(data: t.Mapping[str, t.Any], namespace: str) -> Subject:
    """A binding's subject as the API writes it; a service account without a namespace is in the binding's."""
    kind = str(data.get("kind"))
    account_namespace = str(data.get("namespace") or namespace) if kind == "ServiceAccount" else ""
    return Subject(kind, str(data.get("name")), account_namespace)


def is_bootstrap(obj: t.Mapping[str, t.Any]) -> bool:
    """A role or binding the API server reconciles at every start: its label, its autoupdate annotation and its names."""
    meta = metadata(obj)
    labels = meta.get("labels") or {}
    annotations = meta.get("annotations") or {}
    name = str(meta.get("name", ""))
    return (
        labels.get(BOOTSTRAP_LABEL[0]) == BOOTSTRAP_LABEL[1]
        and annotations.get(AUTOUPDATE, "true") == "true"
        and (name.startswith("system:") or name in BOOTSTRAP_NAMES)
    )


def _selector_matches(selector: t.Mapping[str, t.Any], labels: t.Mapping[str, str]) -> bool:
    """A metav1.LabelSelector; an empty one selects nothing in an aggregation rule, as in the controller."""
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not match_labels and not expressions:
        return False
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for expression in expressions:
        key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


class _Roles:
    """Every Role and ClusterRole by reference, aggregated ClusterRoles resolved."""

    def __init__(self, cluster_roles: t.Iterable[t.Mapping[str, t.Any]], roles: t.Iterable[t.Mapping[str, t.Any]]):
        self.cluster = {str(metadata(role).get("name")): role for role in cluster_roles}
        self.namespaced = {(str(metadata(r).get("namespace")), str(metadata(r).get("name"))): r for r in roles}
        self._resolved: dict[str, tuple[Rule, ...]] = {}

    def cluster_rules(self, name: str) -> tuple[Rule, ...] | None:
        if name not in self.cluster:
            return None
        if name not in self._resolved:
            self._resolved[name] = self._aggregate(name, frozenset())
        return self._resolved[name]

    def _aggregate(self, name: str, visiting: frozenset[str]) -> tuple[Rule, ...]:
        role = self.cluster[name]
        ref = object_ref("ClusterRole", name)
        rules: dict[tuple[tuple[str, ...], ...], Rule] = {}
        selectors = (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []
        if selectors:
            for other, other_role in sorted(self.cluster.items()):
                labels = metadata(other_role).get("labels") or {}
                if other == name or other in visiting or not any(_selector_matches(s, labels) for s in selectors):
                    continue
                for rule in self._aggregate(other, visiting | {name}):
                    rules.setdefault(rule.body(), rule)
        # The controller copies the selected roles' rules into this role's own: a copy is not a source.
        for data in role.get("rules") or []:
            rule = Rule.from_api(data, ref)
            rules.setdefault(rule.body(), rule)
        return tuple(rules.values())

    def rules(self, kind: str, name: str, namespace: str) -> tuple[Rule, ...] | None:
        if kind == "ClusterRole":
            return self.cluster_rules(name)
        role = self.namespaced.get((namespace, name))
        if role is None:
            return None
        return tuple(Rule.from_api(data, object_ref("Role", name, namespace)) for data in role.get("rules") or [])

    def unbound_wildcards(self, bound: set[str]) -> t.Iterator[tuple[str, str, Rule, bool]]:
        """(role reference, namespace, rule, bootstrap) of the wildcard rules of roles no binding names."""
        for name in sorted(self.cluster):
            ref = object_ref("ClusterRole", name)
            if ref not in bound:
                for rule in self.cluster_rules(name) or ():
                    if rule.has_wildcard() and rule.source == ref:
                        yield ref, "", rule, is_bootstrap(self.cluster[name])
        for namespace, name in sorted(self.namespaced):
            ref = object_ref("Role", name, namespace)
            if ref not in bound:
                for rule in self.rules("Role", name, namespace) or ():
                    if rule.has_wildcard():
                        yield ref, namespace, rule, is_bootstrap(self.namespaced[(namespace, name)])


@dataclasses.dataclass(frozen=True)
class Grant:
    """One subject of one binding, with the rules the binding's role gives it, where it gives them."""

    subject: Subject
    binding: str
    role: str
    namespace: str  # "" for cluster-wide (a ClusterRoleBinding)
    rules: tuple[Rule, ...]
    bootstrap: bool

    def reachable(self, group: str, resource: str) -> bool:
        return not self.namespace or (group, resource) not in CLUSTER_SCOPED


def _grants(
    bindings: t.Iterable[tuple[str, t.Mapping[str, t.Any]]], roles: _Roles, problems: list[str]
) -> t.Iterator[Grant]:
    for kind, binding in bindings:
        meta = metadata(binding)
        namespace = str(meta.get("namespace") or "") if kind == "RoleBinding" else ""
        ref = object_ref(kind, str(meta.get("name")), namespace)
        role_ref = binding.get("roleRef") or {}
        role_kind, role_name = str(role_ref.get("kind")), str(role_ref.get("name"))
        role = object_ref(role_kind, role_name, namespace if role_kind == "Role" else "")
        rules = roles.rules(role_kind, role_name, namespace)
        if rules is None:
            problems.append(f"{ref} names {role}, which does not exist: it grants nothing until someone creates it.")
            rules = ()
        for data in binding.get("subjects") or []:
            subject_kind = str(data.get("kind"))
            if subject_kind not in ("User", "Group", "ServiceAccount"):
                continue
            yield Grant(subject_of(data, namespace), ref, role, namespace, rules, is_bootstrap(binding))


# --- the checks -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class ResourceCheck:
    """A control that a grant of some verbs on some resources breaks."""

    control: str
    item: str
    does: str
    targets: tuple[tuple[str, str], ...]  # (API group, resource[/subresource])
    verbs: frozenset[str] | None  # None: any verb


RESOURCE_CHECKS: tuple[ResourceCheck, ...] = (
    ResourceCheck("CIS-K8s 5.1.2", "secret_access", "may read secrets", (("", "secrets"),), frozenset({"get", "list", "watch"})),
    ResourceCheck(
        "CIS-K8s 5.1.4",
        "pod_creation",
        "may create pods",
        (
            ("", "pods"),
            ("", "replicationcontrollers"),
            ("apps", "deployments"),
            ("apps", "replicasets"),
            ("apps", "statefulsets"),
            ("apps", "daemonsets"),
            ("batch", "jobs"),
            ("batch", "cronjobs"),
        ),
        frozenset({"create"}),
    ),
    ResourceCheck(
        "CIS-K8s 5.1.8",
        "bind_escalate_impersonate",
        "may bind or escalate roles",
        ((RBAC_GROUP, "roles"), (RBAC_GROUP, "clusterroles")),
        frozenset({"bind", "escalate"}),
    ),
    ResourceCheck(
        "CIS-K8s 5.1.8",
        "bind_escalate_impersonate",
        "may impersonate",
        (("", "users"), ("", "groups"), ("", "serviceaccounts"), ("authentication.k8s.io", "uids")),
        frozenset({"impersonate"}),
    ),
    ResourceCheck(
        "CIS-K8s 5.1.9",
        "persistent_volume_creation",
        "may create persistent volumes",
        (("", "persistentvolumes"),),
        frozenset({"create"}),
    ),
    ResourceCheck("CIS-K8s 5.1.10", "node_proxy", "may use the proxy of nodes", (("", "nodes/proxy"),), None),
    ResourceCheck(
        "CIS-K8s 5.1.11",
        "csr_approval",
        "may approve certificate signing requests",
        (("certificates.k8s.io", "certificatesigningrequests/approval"),),
        frozenset({"update", "patch"}),
    ),
    ResourceCheck(
        "CIS-K8s 5.1.12",
        "webhook_configuration",
        "may change admission webhooks",
        (
            ("admissionregistration.k8s.io", "validatingwebhookconfigurations"),
            ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"),
        ),
        frozenset({"create", "update", "patch", "delete", "deletecollection"}),
    ),
    ResourceCheck(
        "CIS-K8s 5.1.13",
        "service_account_tokens",
        "may create service account tokens",
        (("", "serviceaccounts/token"),),
        frozenset({"create"}),
    ),
)

# Every control this audit reports, with the item name its status is kept under.
CHECKS: dict[str, str] = {
    "CIS-K8s 5.1.1": "cluster_admin",
    "CIS-K8s 5.1.2": "secret_access",
    "CIS-K8s 5.1.3": "wildcards",
    "CIS-K8s 5.1.4": "pod_creation",
    "CIS-K8s 5.1.5": "default_service_accounts",
    "CIS-K8s 5.1.6": "token_automount",
    "CIS-K8s 5.1.7": "system_masters",
    "CIS-K8s 5.1.8": "bind_escalate_impersonate",
    "CIS-K8s 5.1.9": "persistent_volume_creation",
    "CIS-K8s 5.1.10": "node_proxy",
    "CIS-K8s 5.1.11": "csr_approval",
    "CIS-K8s 5.1.12": "webhook_configuration",
    "CIS-K8s 5.1.13": "service_account_tokens",
    "BWK-12": "public_grants",
}


@dataclasses.dataclass(frozen=True)
class Finding:
    control: str
    message: str
    subject: str | None = None
    binding: str | None = None
    role: str | None = None
    namespace: str | None = None  # where the grant holds; None: cluster-wide
    rule: Rule | None = None
    object: str | None = None  # what the finding is about when it is not a grant (a pod, a service account)
    bootstrap: bool = False

    def key(self) -> tuple[t.Any, ...]:
        number = tuple(int(part) for part in re.findall(r"[0-9]+", self.control))
        return (self.control.split()[0], number, self.subject or "", self.binding or "", self.role or "", self.object or "", str(self.rule))

    def as_dict(self, waiver: Waiver | None) -> dict[str, t.Any]:
        return {
            "control": self.control,
            "item": CHECKS[self.control],
            "message": self.message,
            "subject": self.subject,
            "binding": self.binding,
            "role": self.role,
            "namespace": self.namespace,
            "rule": self.rule.as_api() if self.rule else None,
            "rule_from": self.rule.source if self.rule else None,
            "object": self.object,
            "bootstrap": self.bootstrap,
            "waived": waiver is not None,
            "reason": waiver.reason if waiver else None,
        }


def _where(grant: Grant) -> str:
    return f"in namespace {grant.namespace}" if grant.namespace else "in every namespace"


def _by(grant: Grant) -> str:
    return f"by {grant.binding} -> {grant.role}"


def _grant_finding(grant: Grant, control: str, does: str, rule: Rule | None) -> Finding:
    source = f" (rule from {rule.source})" if rule and rule.source != grant.role else ""
    return Finding(
        control=control,
        message=f"{grant.subject} {does} {_where(grant)}, {_by(grant)}{source}",
        subject=str(grant.subject),
        binding=grant.binding,
        role=grant.role,
        namespace=grant.namespace or None,
        rule=rule,
        bootstrap=grant.bootstrap,
    )


def _resource_findings(grant: Grant) -> t.Iterator[Finding]:
    for rule in grant.rules:
        for check in RESOURCE_CHECKS:
            granted: set[str] = set()
            for group, resource in check.targets:
                if grant.reachable(group, resource):
                    granted.update(rule.allowed_verbs(check.verbs, group, resource))
            if granted:
                verbs = "any verb" if ALL in granted else "/".join(sorted(granted))
                yield _grant_finding(grant, check.control, f"{check.does} ({verbs})", rule)


def _grant_findings(grant: Grant, cluster_admins: frozenset[str]) -> t.Iterator[Finding]:
    subject = str(grant.subject)
    if subject == f"Group:{MASTERS}" and not grant.bootstrap:
        yield _grant_finding(grant, "CIS-K8s 5.1.7", f"is bound although {MASTERS} already has every right", None)
    if grant.subject.kind == "ServiceAccount" and grant.subject.name == "default" and grant.rules:
        yield _grant_finding(grant, "CIS-K8s 5.1.5", "is a default service account that is granted rights", None)
    if grant.role == CLUSTER_ADMIN:
        # Every other control follows from it: one finding, and none for an allowed administrator.
        if subject not in cluster_admins:
            yield _grant_finding(grant, "CIS-K8s 5.1.1", "is cluster-admin", None)
        return
    if subject in PUBLIC_SUBJECTS and (grant.binding, subject) not in DISCOVERY_DEFAULTS:
        for rule in grant.rules:
            if not grant.namespace or not rule.non_resource_urls:
                yield _grant_finding(grant, "BWK-12", "is everyone and is granted rights", rule)
    for rule in grant.rules:
        if rule.has_wildcard() and not (grant.namespace and not rule.resources):
            yield _grant_finding(grant, "CIS-K8s 5.1.3", "holds a wildcard rule", rule)
    yield from _resource_findings(grant)


def _service_account_findings(
    service_accounts: t.Iterable[t.Mapping[str, t.Any]], pods: t.Iterable[t.Mapping[str, t.Any]], granted: set[str]
) -> t.Iterator[Finding]:
    automount: dict[tuple[str, str], bool] = {}
    for account in service_accounts:
        meta = metadata(account)
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        mounts = account.get("automountServiceAccountToken") is not False
        automount[(namespace, name)] = mounts
        if name == "default" and mounts:
            yield Finding(
                control="CIS-K8s 5.1.5",
                message=f"ServiceAccount:{namespace}/default does not set automountServiceAccountToken: false",
                subject=f"ServiceAccount:{namespace}/default",
                namespace=namespace,
                object=object_ref("ServiceAccount", "default", namespace),
            )
    for pod in pods:
        meta = metadata(pod)
        if MIRROR_POD in (meta.get("annotations") or {}):
            continue  # a static pod's mirror: the kubelet, not the API, decides what it mounts
        spec = pod.get("spec") or {}
        namespace, name = str(meta.get("namespace")), str(meta.get("name"))
        account = str(spec.get("serviceAccountName") or "default")
        mounts = spec.get("automountServiceAccountToken")
        if mounts is None:
            mounts = automount.get((namespace, account), True)
        subject = f"ServiceAccount:{namespace}/{account}"
        if mounts and subject not in granted:
            yield Finding(
                control="CIS-K8s 5.1.6",
                message=f"Pod/{namespace}/{name} mounts the token of {subject}, which no binding grants anything",
                subject=subject,
                namespace=namespace,
                object=object_ref("Pod", name, namespace),
            )


MASTERS_FINDING = Finding(
    control="CIS-K8s 5.1.7",
    message=(
        f"Group:{MASTERS} may do everything, by the API server's authorizer and without any binding; RBAC cannot"
        " take it away, so no credential in use should carry it"
    ),
    subject=f"Group:{MASTERS}",
    bootstrap=True,
)


# --- waivers --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Waiver:
    """Accepts the findings of one control that match every field given."""

    control: str
    reason: str
    subject: str | None = None
    binding: str | None = None
    role: str | None = None
    namespace: str | None = None
    object: str | None = None
    expires: datetime.date | None = None

    def matches(self, finding: Finding) -> bool:
        return self.control == finding.control and all(
            wanted is None or wanted == getattr(finding, field)
            for field, wanted in (
                ("subject", self.subject),
                ("binding", self.binding),
                ("role", self.role),
                ("namespace", self.namespace),
                ("object", self.object),
            )
        )


_WAIVER_KEYS = ("control", "reason", "subject", "binding", "role", "namespace", "object", "expires")


def _one_line(value: t.Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or "\n" in value or "\x00" in value:
        raise RbacError(f"{where} must be one line of text, not {value!r}.")
    return value.strip()


def parse_waivers(entries: t.Iterable[t.Mapping[str, t.Any]], where: str = "waivers") -> list[Waiver]:
    waivers = []
    for index, entry in enumerate(entries):
        at = f"{where}[{index}]"
        unknown = sorted(set(entry) - set(_WAIVER_KEYS))
        if unknown:
            raise RbacError(f"{at}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(_WAIVER_KEYS)}.")
        control = entry.get("control")
        if control not in CHECKS:
            raise RbacError(f"{at}.control: {control!r} is not a control of this audit; use one of {', '.join(CHECKS)}.")
        reason = _one_line(entry.get("reason"), f"{at}.reason")
        fields = {key: _one_line(entry[key], f"{at}.{key}") for key in _WAIVER_KEYS[2:7] if entry.get(key) is not None}
        if "subject" in fields:
            fields["subject"] = str(parse_subject(fields["subject"], f"{at}.subject"))
        expires = entry.get("expires")
        if expires is not None and not isinstance(expires, datetime.date):
            if not (isinstance(expires, str) and _DATE.match(expires)):
                raise RbacError(f"{at}.expires must be a date written YYYY-MM-DD, not {expires!r}.")
            try:
                expires = datetime.date.fromisoformat(expires)
            except ValueError as exc:
                raise RbacError(f"{at}.expires: {exc}.") from None
        waivers.append(Waiver(str(control), reason, expires=expires, **fields))
    return waivers


# --- the audit ------------------------------------------------------------------------------------


@dataclasses.dataclass
class AuditResult:
    findings: list[dict[str, t.Any]]
    summary: dict[str, dict[str, int]]  # control -> {findings, waived, bootstrap, open}
    item_status: dict[str, str]
    unused_waivers: list[int]
    problems: list[str]

    @property
    def open_findings(self) -> list[dict[str, t.Any]]:
        return [f for f in self.findings if not f["waived"] and not f["bootstrap"]]


def audit(
    objects: t.Mapping[str, t.Sequence[t.Mapping[str, t.Any]]],
    *,
    cluster_admins: t.Iterable[str] = (),
    waivers: t.Sequence[Waiver] = (),
    today: datetime.date | None = None,
    unchecked: t.Collection[str] = (),
) -> AuditResult:
    """Findings of every check over ``objects``: the API lists ``clusterroles``, ``roles``,
    ``clusterrolebindings``, ``rolebindings``, ``serviceaccounts`` and ``pods`` (items only).

    ``unchecked``: controls whose objects were not read; their status is ``not-checked``, never ``ok``."""
    today = today or datetime.date.today()
    roles = _Roles(objects.get("clusterroles", ()), objects.get("roles", ()))
    problems: list[str] = []
    bindings = [("ClusterRoleBinding", b) for b in objects.get("clusterrolebindings", ())]
    bindings += [("RoleBinding", b) for b in objects.get("rolebindings", ())]
    grants = list(_grants(bindings, roles, problems))
    allowed = frozenset(cluster_admins)

    findings: dict[tuple[t.Any, ...], Finding] = {}
    candidates = [MASTERS_FINDING]
    for grant in grants:
        candidates.extend(_grant_findings(grant, allowed))
    bound = {grant.role for grant in grants}
    for role, namespace, rule, bootstrap in roles.unbound_wildcards(bound):
        candidates.append(
            Finding(
                control="CIS-K8s 5.1.3",
                message=f"{role} holds a wildcard rule (no binding uses it yet)",
                role=role,
                namespace=namespace or None,
                rule=rule,
                object=role,
                bootstrap=bootstrap,
            )
        )
    granted = {str(grant.subject) for grant in grants if grant.rules}
    candidates.extend(_service_account_findings(objects.get("serviceaccounts", ()), objects.get("pods", ()), granted))
    for finding in candidates:
        findings.setdefault(finding.key(), finding)

    active = [(index, w) for index, w in enumerate(waivers) if w.expires is None or w.expires >= today]
    used: set[int] = set()
    rows = []
    summary = {control: {"findings": 0, "waived": 0, "bootstrap": 0, "open": 0} for control in CHECKS}
    for key in sorted(findings):
        finding = findings[key]
        index, waiver = next(((i, w) for i, w in active if w.matches(finding)), (None, None))
        if index is not None:
            used.add(index)
        row = finding.as_dict(waiver)
        rows.append(row)
        counts = summary[finding.control]
        counts["findings"] += 1
        counts["waived" if waiver else "bootstrap" if finding.bootstrap else "open"] += 1
    item_status = {CHECKS[c]: "ok" for c in CHECKS}
    for control, counts in summary.items():
        if counts["open"]:
            item_status[CHECKS[control]] = "finding"
    for control in unchecked:
        item_status[CHECKS[control]] = "not-checked"
    unused = [index for index, _waiver in active if index not in used]
    return AuditResult(rows, summary, item_status, unused, problems)
