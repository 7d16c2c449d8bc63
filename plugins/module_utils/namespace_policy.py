# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Every namespace's baseline: Pod Security Admission labels and default-deny NetworkPolicies.
Pure: plans the changes from the live objects; the ``k8s_namespace_policies`` module applies them.

- Every namespace that is not exempt gets the ``pod-security.kubernetes.io/`` labels for
  enforce, audit and warn, each with its pinned version. Its other labels are kept. An exempt
  namespace is left as it is (exemptions carry a reason, which is reported).
- Every namespace that is not exempt gets ``bulwark-default-deny`` (no ingress, no egress for
  any pod) and, unless turned off, ``bulwark-allow-dns`` (egress to the cluster DNS on port 53).
  Policies carry our ownership label; ours where they are no longer wanted are deleted; a policy
  of one of our names without the label is the user's, and an error, never overwritten.
- CIS-K8s 5.3.2 asks that every namespace has a NetworkPolicy: any policy counts, ours or not.
"""

from __future__ import annotations

import copy
import dataclasses
import re
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils.k8s_changes import Change
from ansible_collections.bulwark.hardening.plugins.module_utils.rbac_risk import NAMESPACE_NAME, OWNER_LABEL, is_owned, metadata

__all__ = ["LEVELS", "PSA_PREFIX", "NamespacePlan", "PolicyError", "item_status", "plan", "probe_pod", "violations"]

PSA_PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
MODES = ("enforce", "audit", "warn")
DENY_NAME = "bulwark-default-deny"
DNS_NAME = "bulwark-allow-dns"
_VERSION = re.compile(r"^v1\.[0-9]{1,3}\Z")
# A label key: an optional DNS prefix, then a name of 63 characters at most.
_LABEL_KEY = re.compile(r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?\Z")
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?\Z")
_VIOLATION_HEAD = "existing pods in namespace"


class PolicyError(ValueError):
    """The input cannot be applied; the message names the option."""


@dataclasses.dataclass(frozen=True)
class NamespacePlan:
    changes: tuple[Change, ...]
    in_scope: tuple[str, ...]  # the namespaces that get labels and policies
    exempt: dict[str, str]  # namespace -> reason, for the exempt namespaces that exist
    unused_exemptions: tuple[str, ...]  # exempt namespaces that do not exist
    terminating: tuple[str, ...]  # left alone: the API server refuses new objects in them
    without_network_policy: tuple[str, ...]  # after the changes, in scope or exempt
    labelled_as_declared: tuple[str, ...]  # in scope, with every Pod Security label already as declared
    enforce_changes: tuple[str, ...]  # namespaces whose enforce level or version changes

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    def refs(self, *actions: str, kind: str = "NetworkPolicy") -> list[str]:
        return [change.ref for change in self.changes if change.action in actions and change.kind == kind]


def _exemptions(entries: t.Any) -> dict[str, str]:
    exempt: dict[str, str] = {}
    for index, entry in enumerate(entries or []):
        where = f"exempt_namespaces[{index}]"
        name, reason = (entry or {}).get("name"), (entry or {}).get("reason")
        if not isinstance(name, str) or not NAMESPACE_NAME.match(name):
            raise PolicyError(f"{where}.name: {name!r} is not a namespace name.")
        if not isinstance(reason, str) or not reason.strip():
            raise PolicyError(f"{where}.reason: say why {name} is exempt; the reason is reported with it.")
        if name in exempt:
            raise PolicyError(f"{where}: {name} is exempt a second time; keep one entry.")
        exempt[name] = reason.strip()
    return exempt


def pod_security_labels(pod_security: t.Mapping[str, t.Any], server_version: str) -> dict[str, str]:
    """The six labels; a version left out is the API server's own minor version."""
    version = pod_security.get("version") or server_version
    if not isinstance(version, str) or not _VERSION.match(version):
        raise PolicyError(f"pod_security.version: {version!r} is not a pinned version such as v1.37 (latest follows upgrades, so it is not pinned).")
    labels = {}
    for mode in MODES:
        level = pod_security.get(mode)
        if level not in LEVELS or (mode == "enforce" and level == "privileged"):
            allowed = LEVELS[1:] if mode == "enforce" else LEVELS
            raise PolicyError(f"pod_security.{mode}: {level!r} is not one of {', '.join(allowed)}.")
        labels[f"{PSA_PREFIX}{mode}"] = level
        labels[f"{PSA_PREFIX}{mode}-version"] = version
    return labels


def _selector_labels(labels: t.Any, where: str) -> dict[str, str]:
    if not isinstance(labels, t.Mapping):
        raise PolicyError(f"{where}: give a mapping of label to value, such as {{k8s-app: kube-dns}}.")
    for key, value in labels.items():
        if not isinstance(key, str) or not _LABEL_KEY.match(key) or not isinstance(value, str) or not _LABEL_VALUE.match(value):
            raise PolicyError(f"{where}: {key!r}: {value!r} is not a label and value.")
    return dict(labels)


def network_policies(namespace: str, default_deny: bool, dns: t.Mapping[str, t.Any] | None) -> dict[str, dict[str, t.Any]]:
    """The policies a namespace in scope gets, by name."""
    if not default_deny:
        return {}
    # DNS first: created before the deny, no pod loses name resolution in between.
    wanted: dict[str, dict[str, t.Any]] = {}
    if dns is not None:
        dns_namespace = dns.get("namespace")
        if not isinstance(dns_namespace, str) or not NAMESPACE_NAME.match(dns_namespace):
            raise PolicyError(f"dns_egress.namespace: {dns_namespace!r} is not a namespace name.")
        peer: dict[str, t.Any] = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": dns_namespace}}}
        pod_labels = _selector_labels(dns.get("pod_labels") or {}, "dns_egress.pod_labels")
        if pod_labels:
            peer["podSelector"] = {"matchLabels": pod_labels}
        ports = [{"protocol": protocol, "port": 53} for protocol in ("UDP", "TCP")]
        wanted[DNS_NAME] = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [peer], "ports": ports}]}
    wanted[DENY_NAME] = {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    return {
        name: {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": {OWNER_LABEL[0]: OWNER_LABEL[1]}},
            "spec": spec,
        }
        for name, spec in wanted.items()
    }


def _policy_change(namespace: str, name: str, live: t.Mapping[str, t.Any] | None, wanted: dict[str, t.Any]) -> Change | None:
    if live is None:
        return Change("create", "NetworkPolicy", name, namespace, None, wanted)
    if not is_owned(live):
        raise PolicyError(
            f"NetworkPolicy {namespace}/{name} exists and is not ours (it lacks {OWNER_LABEL[0]}={OWNER_LABEL[1]});"
            " rename it, or delete it so that the role can create its own."
        )
    if live.get("spec") == wanted["spec"]:
        return None
    after = copy.deepcopy(dict(live))
    after["spec"] = wanted["spec"]
    return Change("update", "NetworkPolicy", name, namespace, dict(live), after)


def plan(
    namespaces: t.Sequence[t.Mapping[str, t.Any]],
    policies: t.Sequence[t.Mapping[str, t.Any]],
    *,
    pod_security: t.Mapping[str, t.Any] | None,
    default_deny: bool,
    dns_egress: t.Mapping[str, t.Any] | None,
    exempt_namespaces: t.Any,
    server_version: str,
) -> NamespacePlan:
    """The changes that make every namespace's labels and policies as declared.

    Every input is checked before any change is planned; PolicyError names the option.
    """
    exempt = _exemptions(exempt_namespaces)
    labels = pod_security_labels(pod_security, server_version) if pod_security is not None else {}
    by_namespace: dict[str, dict[str, t.Mapping[str, t.Any]]] = {}
    for policy in policies:
        meta = metadata(policy)
        by_namespace.setdefault(str(meta.get("namespace")), {})[str(meta.get("name"))] = policy

    changes: list[Change] = []
    policy_changes: list[Change] = []
    in_scope, terminating, as_declared, enforce_changes, without = [], [], [], [], []
    names = set()
    for namespace in sorted(namespaces, key=lambda ns: str(metadata(ns).get("name"))):
        name = str(metadata(namespace).get("name"))
        names.add(name)
        live_policies = by_namespace.get(name, {})
        if name in exempt:
            if not live_policies:
                without.append(name)
            continue
        if (namespace.get("status") or {}).get("phase") == "Terminating":
            terminating.append(name)
            continue
        in_scope.append(name)
        live_labels = metadata(namespace).get("labels") or {}
        if all(live_labels.get(key) == value for key, value in labels.items()):
            if labels:
                as_declared.append(name)
        else:
            after = copy.deepcopy(dict(namespace))
            after["metadata"]["labels"] = {**live_labels, **labels}
            after.pop("status", None)
            changes.append(Change("update", "Namespace", name, "", dict(namespace), after))
            enforce_keys = (f"{PSA_PREFIX}enforce", f"{PSA_PREFIX}enforce-version")
            if any(live_labels.get(key) != labels[key] for key in enforce_keys):
                enforce_changes.append(name)
        wanted = network_policies(name, default_deny, dns_egress)
        for policy_name, body in wanted.items():
            change = _policy_change(name, policy_name, live_policies.get(policy_name), body)
            if change is not None:
                policy_changes.append(change)
        stale = [
            Change("delete", "NetworkPolicy", policy_name, name, dict(live), None)
            # The deny before the DNS allowance: no pod loses name resolution in between.
            for policy_name, live in sorted(live_policies.items(), key=lambda item: item[0] != DENY_NAME)
            if policy_name not in wanted and is_owned(live) and policy_name in (DENY_NAME, DNS_NAME)
        ]
        policy_changes.extend(stale)
        if not wanted and len(stale) == len(live_policies):
            without.append(name)
    return NamespacePlan(
        changes=tuple(changes + policy_changes),
        in_scope=tuple(in_scope),
        exempt={name: reason for name, reason in exempt.items() if name in names},
        unused_exemptions=tuple(name for name in exempt if name not in names),
        terminating=tuple(terminating),
        without_network_policy=tuple(without),
        labelled_as_declared=tuple(as_declared),
        enforce_changes=tuple(enforce_changes),
    )


def violations(warnings_by_ref: t.Mapping[str, t.Sequence[str]], enforce_changes: t.Sequence[str]) -> list[dict[str, t.Any]]:
    """The running pods a new enforce label would refuse, from the dry run's Pod Security warnings.

    The API server answers a namespace update that changes the enforce label with one warning
    ``existing pods in namespace "x" violate the new PodSecurity enforce level "restricted:v1.37"``
    and then one per group of pods: ``web-1 (and 2 other pods): privileged, runAsNonRoot != true``.
    """
    found = []
    for namespace in enforce_changes:
        warnings = list(warnings_by_ref.get(f"Namespace/{namespace}") or [])
        head = next((text for text in warnings if text.startswith(_VIOLATION_HEAD)), None)
        if head is not None:
            level = head.rsplit('"', 2)[-2] if head.count('"') >= 4 else ""
            found.append({"namespace": namespace, "level": level, "pods": [text for text in warnings if text != head]})
    return found


def probe_pod(namespace: str, enforce: str) -> dict[str, t.Any]:
    """A pod that the enforce level must refuse: no security context for restricted, privileged for baseline.

    Sent as a dry run, so it is never stored; refused by Pod Security proves the label is enforced.
    """
    container: dict[str, t.Any] = {"name": "probe", "image": "bulwark.invalid/pod-security-probe:1"}
    if enforce != "restricted":
        container["securityContext"] = {"privileged": True}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "bulwark-pod-security-probe", "namespace": namespace},
        "spec": {"containers": [container]},
    }


def item_status(result: NamespacePlan, enforce: str | None, probe_refused: bool | None) -> dict[str, str]:
    """``pod_security`` (CIS-K8s 5.2.1, baseline's 5.2.11-5.2.13), ``pod_security_restricted``
    (5.2.6-5.2.10, 5.7.2) and ``network_policies`` (5.3.2), as the report reads them.

    ``probe_refused`` is whether Pod Security refused the probe pod in a namespace that carries
    the labels (None: no namespace carried them yet, as in check mode before the first run).
    """
    status: dict[str, str] = {}
    if enforce is not None:
        labels_changed = any(change.kind == "Namespace" for change in result.changes)
        if probe_refused is False:
            psa = "not-in-effect"
        elif labels_changed:
            psa = "changed"
        elif probe_refused is None and result.in_scope:
            psa = "not-checked"
        else:
            psa = "ok"
        status["pod_security"] = psa
        status["pod_security_restricted"] = psa if enforce == "restricted" else "not-in-effect"
    if set(result.without_network_policy) & set(result.in_scope):
        status["network_policies"] = "finding"
    elif any(change.kind == "NetworkPolicy" for change in result.changes):
        status["network_policies"] = "changed"
    else:
        status["network_policies"] = "ok"
    return status
