# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pure logic for kube-apiserver audit policies (``audit.k8s.io/v1`` ``Policy``): find what
kube-apiserver would refuse or silently ignore, and requests for Secrets, ConfigMaps and
TokenReviews that would be logged with their bodies (level Request or RequestResponse), which
puts credentials into the audit log.

Rules are matched as kube-apiserver v1.37 does (k8s.io/apiserver pkg/audit/policy/checker.go):
the first rule that matches a request decides its level; a request no rule matches is not logged.
"""

from __future__ import annotations

import difflib
import typing as t

__all__ = [
    "API_VERSION",
    "LEVELS",
    "SENSITIVE",
    "lint_policy",
]

API_VERSION = "audit.k8s.io/v1"
LEVELS = ("None", "Metadata", "Request", "RequestResponse")
STAGES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
ABOVE_METADATA = ("Request", "RequestResponse")

# (API group, resource, name in messages): bodies of these hold secret values or tokens.
SENSITIVE: tuple[tuple[str, str, str], ...] = (
    ("", "secrets", "secrets"),
    ("", "configmaps", "configmaps"),
    ("authentication.k8s.io", "tokenreviews", "tokenreviews (authentication.k8s.io)"),
)

POLICY_KEYS = ("apiVersion", "kind", "metadata", "rules", "omitStages", "omitManagedFields")
RULE_KEYS = (
    "level",
    "users",
    "userGroups",
    "verbs",
    "resources",
    "namespaces",
    "nonResourceURLs",
    "omitStages",
    "omitManagedFields",
)
GROUP_RESOURCE_KEYS = ("group", "resources", "resourceNames")
# A rule with any of these matches only some requests, so it never hides the rules after it.
NARROWING_KEYS = ("users", "userGroups", "verbs", "namespaces")

NONE, SOME, ALL = 0, 1, 2  # how much of a resource's requests a rule matches


def _unknown_keys(value: t.Mapping[str, t.Any], known: t.Sequence[str], where: str) -> list[str]:
    # kube-apiserver falls back to lenient decoding and drops unknown fields (with a warning in its
    # log only), so a typo like "resource:" silently widens a rule to every resource.
    problems = []
    for key in value:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known keys are {', '.join(known)}"
            problems.append(f"{where}: unknown key '{key}', which kube-apiserver ignores{hint}")
    return problems


def _is_str_list(value: t.Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _check_stages(value: t.Any, where: str) -> list[str]:
    if value is None:
        return []
    if not _is_str_list(value):
        return [f"{where}: expected a list of stages ({', '.join(STAGES)})"]
    return [
        f"{where}[{index}]: '{stage}' is not a stage; use one of {', '.join(STAGES)}"
        for index, stage in enumerate(value)
        if stage not in STAGES
    ]


def _check_group_resources(value: t.Any, where: str) -> tuple[list[str], list[str]]:
    """(unknown keys, other problems) of a rule's resources."""
    if not isinstance(value, list) or not all(isinstance(item, t.Mapping) for item in value):
        return [], [f"{where}: expected a list of mappings with group, resources and resourceNames"]
    unknown: list[str] = []
    problems: list[str] = []
    for index, item in enumerate(value):
        here = f"{where}[{index}]"
        unknown += _unknown_keys(item, GROUP_RESOURCE_KEYS, here)
        if not isinstance(item.get("group") or "", str):
            problems.append(f'{here}.group: expected a string ("" is the core group)')
        for key in ("resources", "resourceNames"):
            if item.get(key) is not None and not _is_str_list(item[key]):
                problems.append(f"{here}.{key}: expected a list of strings")
        if item.get("resourceNames") and not item.get("resources"):
            problems.append(f"{here}.resourceNames: needs at least one resource in {here}.resources")
    return unknown, problems


def _check_rule(rule: t.Any, where: str) -> tuple[list[str], bool]:
    """The problems of a rule, and whether kube-apiserver would use it as it is read here (unknown
    keys are dropped by kube-apiserver as by the analysis, so they do not stop it)."""
    if not isinstance(rule, t.Mapping):
        return [f"{where}: expected a mapping"], False
    unknown = _unknown_keys(rule, RULE_KEYS, where)
    problems: list[str] = []
    level = rule.get("level")
    if level is None:
        problems.append(f"{where}.level is missing; use one of {', '.join(LEVELS)}")
    elif level not in LEVELS:
        problems.append(f"{where}.level: '{level}' is not a level; use one of {', '.join(LEVELS)}")
    for key in ("users", "userGroups", "verbs", "namespaces", "nonResourceURLs"):
        if rule.get(key) is not None and not _is_str_list(rule[key]):
            problems.append(f"{where}.{key}: expected a list of strings")
    if rule.get("resources") is not None:
        more_unknown, more = _check_group_resources(rule["resources"], f"{where}.resources")
        unknown += more_unknown
        problems += more
    problems += _check_stages(rule.get("omitStages"), f"{where}.omitStages")
    urls = rule.get("nonResourceURLs")
    if urls and _is_str_list(urls):
        if rule.get("resources") or rule.get("namespaces"):
            problems.append(f"{where}: nonResourceURLs cannot be combined with resources or namespaces")
        for index, url in enumerate(urls):
            if url != "*" and (not url.startswith("/") or "*" in url[:-1]):
                problems.append(
                    f"{where}.nonResourceURLs[{index}]: '{url}' must start with '/' and may end with '*' only"
                )
    return unknown + problems, not problems


def _reach(rule: t.Mapping[str, t.Any], group: str, resource: str) -> int:
    """NONE, SOME or ALL of the requests for ``resource`` in ``group`` that ``rule`` matches."""
    resources = rule.get("resources") or []
    if rule.get("nonResourceURLs") and not resources and not rule.get("namespaces"):
        return NONE  # only matches requests that are not for resources
    narrowed = any(rule.get(key) for key in NARROWING_KEYS)
    if not resources:
        return SOME if narrowed else ALL
    reach = NONE
    for item in resources:
        if (item.get("group") or "") not in (group, "*"):  # missing or null is the core group
            continue
        names = item.get("resources") or []
        if not names:
            return SOME if narrowed else ALL  # every resource of the group
        if any(name in (resource, "*", f"{resource}/*") for name in names):
            reach = max(reach, SOME if item.get("resourceNames") else ALL)
    return SOME if narrowed and reach else reach


def lint_policy(policy: t.Any) -> list[str]:
    """The problems of an audit policy, each a sentence; an empty list when there are none."""
    if not isinstance(policy, t.Mapping):
        return [f"the policy is not a mapping (got {type(policy).__name__})"]
    problems = []
    if policy.get("apiVersion") != API_VERSION or policy.get("kind") != "Policy":
        problems.append(
            f"apiVersion/kind are {policy.get('apiVersion')!r}/{policy.get('kind')!r}, not '{API_VERSION}'/'Policy'"
        )
    problems += _unknown_keys(policy, POLICY_KEYS, "the policy")
    problems += _check_stages(policy.get("omitStages"), "omitStages")

    rules = policy.get("rules")
    if not rules:
        problems.append("the policy logs nothing: rules is missing or empty, and kube-apiserver refuses such a policy")
        return problems
    if not isinstance(rules, list):
        problems.append("rules: expected a list of rules")
        return problems

    # Rules that kube-apiserver would refuse are reported and left out of the analysis.
    valid: list[tuple[int, t.Mapping[str, t.Any]]] = []
    for index, rule in enumerate(rules):
        rule_problems, usable = _check_rule(rule, f"rules[{index}]")
        problems += rule_problems
        if usable:
            valid.append((index, rule))
    if valid and all(rule["level"] == "None" for _index, rule in valid):
        problems.append("the policy logs nothing: every rule has level None")

    for group, resource, name in SENSITIVE:
        for index, rule in valid:
            reach = _reach(rule, group, resource)
            if reach == NONE:
                continue
            if rule["level"] in ABOVE_METADATA:
                problems.append(f"rules[{index}] (level {rule['level']}) logs {name} above Metadata")
            if reach == ALL:
                break  # the first rule that matches every such request: later ones are never reached
    return problems
