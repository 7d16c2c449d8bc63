# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Pure logic for the host firewall: validate and normalise networks, ports and service names,
merge allowlists, render one nftables table of our own (``table inet <name>``) from a declarative
policy, and compare nft's JSON listing of the live table with the wanted one.

Nothing here touches the host: the module runs ``nft`` and passes its output in.
"""

from __future__ import annotations

import ipaddress
import json
import re
import typing as t
from dataclasses import dataclass, field

__all__ = [
    "BUILTIN_SERVICES",
    "AllowRule",
    "Comparison",
    "NftPolicyError",
    "Policy",
    "TableModel",
    "compare",
    "expand_services",
    "merge_allow",
    "normalize_networks",
    "normalize_policy",
    "normalize_ports",
    "parse_listing",
    "render_removal",
    "render_table",
    "render_transaction",
    "service_catalog",
    "strip_counters",
]


class NftPolicyError(ValueError):
    """Bad user input; the message names the entry and is shown to the user as is."""


# --------------------------------------------------------------------------- service catalog

# name -> (ports, protocol). Overridable with the module's ``services`` option or the filters'
# ``services`` argument; an override replaces the whole entry.
BUILTIN_SERVICES: dict[str, tuple[tuple[str, ...], str]] = {
    "ssh": (("22",), "tcp"),
    "docker-tls": (("2376",), "tcp"),
    "kube-apiserver": (("6443",), "tcp"),
    "etcd": (("2379-2380",), "tcp"),
    "kubelet": (("10250",), "tcp"),
    "nodeports": (("30000-32767",), "tcp"),
    "node-exporter": (("9100",), "tcp"),
}

PROTOCOLS = ("tcp", "udp")
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,62}\Z")
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}\Z")
_RATE = re.compile(r"^([1-9][0-9]{0,8})/(second|minute|hour|day)\Z")
_PORT = re.compile(r"^[0-9]{1,5}\Z")
_RANGE = re.compile(r"^([0-9]{1,5})-([0-9]{1,5})\Z")
LOG_PREFIX_MAX = 127  # NF_LOG_PREFIXLEN - 1

Network = t.Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


def _kind(value: t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a dictionary"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, (int, float)):
        return "a number"
    return "a string"


def _as_list(value: t.Any, path: str, what: str) -> list[t.Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    raise NftPolicyError(f"{path}: must be a list of {what}, not {_kind(value)}.")


# --------------------------------------------------------------------------- networks


def _parse_network(value: t.Any, path: str) -> Network:
    if not isinstance(value, str) or isinstance(value, bool):
        raise NftPolicyError(f"{path}: {value!r} is not an IPv4 or IPv6 network; give a string such as '10.0.0.0/8'.")
    text = value.strip()
    if "%" in text:
        raise NftPolicyError(f"{path}: '{value}' has a zone index; nftables matches addresses without one.")
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise NftPolicyError(
            f"{path}: '{value}' is not an IPv4 or IPv6 network (for example '10.0.0.0/8', '192.0.2.7' or 'fd00::/8')."
        ) from None
    mapped = getattr(network.network_address, "ipv4_mapped", None)
    if mapped is not None:
        instead = f"'{mapped}'" if network.prefixlen == 128 else "the IPv4 network"
        raise NftPolicyError(f"{path}: '{value}' is IPv4-mapped IPv6, which never appears as a source; write {instead}.")
    if network.network_address != ipaddress.ip_interface(text).ip:
        # 10.0.0.1/8 is ambiguous in an allowlist: the host 10.0.0.1 or the whole 10.0.0.0/8? Widening
        # it silently to the /8 could open the port to far more hosts than meant, so it is an error.
        raise NftPolicyError(
            f"{path}: '{value}' has host bits set; write '{network.with_prefixlen}' for the network"
            f" or '{ipaddress.ip_interface(text).ip}' for the single host."
        )
    return network


def _collapse(networks: t.Iterable[Network]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    networks = list(networks)  # iterated twice
    v4 = [n for n in networks if n.version == 4]
    v6 = [n for n in networks if n.version == 6]
    return (
        tuple(n.with_prefixlen for n in ipaddress.collapse_addresses(v4)),  # type: ignore[arg-type]
        tuple(n.with_prefixlen for n in ipaddress.collapse_addresses(v6)),  # type: ignore[arg-type]
    )


def normalize_networks(values: t.Any, path: str = "networks") -> list[str]:
    """Canonical networks: ``10.1.2.3`` -> ``10.1.2.3/32``; overlapping and adjacent networks
    collapsed; IPv4 first, then IPv6, each sorted. A network with host bits set is an error."""
    items = _as_list(values, path, "networks")
    v4, v6 = _collapse(_parse_network(item, f"{path}[{index}]") for index, item in enumerate(items))
    return list(v4 + v6)


# --------------------------------------------------------------------------- ports


def _port_number(text: str, value: t.Any, path: str) -> int:
    number = int(text)
    if not 1 <= number <= 65535:
        raise NftPolicyError(f"{path}: {value!r} is out of range; ports are 1 to 65535.")
    return number


def _parse_port(value: t.Any, path: str) -> tuple[int, int]:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise NftPolicyError(f"{path}: {value!r} is not a port; give a number (22) or a range ('8000-8100').")
    text = str(value).strip()
    if _PORT.match(text):
        number = _port_number(text, value, path)
        return number, number
    match = _RANGE.match(text)
    if not match:
        raise NftPolicyError(f"{path}: {value!r} is not a port; give a number (22) or a range ('8000-8100').")
    low = _port_number(match.group(1), value, path)
    high = _port_number(match.group(2), value, path)
    if low > high:
        raise NftPolicyError(f"{path}: {value!r} is an empty range; write the lower port first ('{high}-{low}').")
    return low, high


def _merge_ranges(ranges: t.Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _port_text(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}-{high}"


def normalize_ports(values: t.Any, path: str = "ports") -> list[str]:
    """Canonical ports as strings: ``22`` -> ``"22"``; ranges ``"8000-8100"``; sorted, with
    overlapping and adjacent ranges merged (an nftables interval set refuses overlaps). A single
    port or range may be given without a list."""
    if isinstance(values, (int, str)) and not isinstance(values, bool):
        values = [values]
    items = _as_list(values, path, "ports")
    if not items:
        raise NftPolicyError(f"{path}: no ports given; give at least one port (22) or range ('8000-8100').")
    ranges = [_parse_port(item, f"{path}[{index}]") for index, item in enumerate(items)]
    return [_port_text(low, high) for low, high in _merge_ranges(ranges)]


def _protocol(value: t.Any, path: str, default: str = "tcp") -> str:
    if value is None:
        return default
    if not isinstance(value, str) or value.lower() not in PROTOCOLS:
        raise NftPolicyError(f"{path}: {value!r} is not allowed; use 'tcp' or 'udp'.")
    return value.lower()


# --------------------------------------------------------------------------- services


def service_catalog(overrides: t.Any = None, path: str = "services") -> dict[str, tuple[tuple[str, ...], str]]:
    """The built-in catalog with ``overrides`` applied. An override is ``{ports, protocol}``, or
    just the ports (``ssh: 2222``); it replaces the built-in entry of the same name."""
    catalog = dict(BUILTIN_SERVICES)
    if overrides is None:
        return catalog
    if not isinstance(overrides, dict):
        raise NftPolicyError(f"{path}: must be a dictionary of service names, not {_kind(overrides)}.")
    for name, spec in overrides.items():
        where = f"{path}.{name}"
        if not isinstance(name, str) or not _SERVICE_NAME.match(name):
            raise NftPolicyError(
                f"{path}: {name!r} is not a service name; use lower-case letters, digits, '-', '_' and '.'."
            )
        if isinstance(spec, dict):
            unknown = sorted(set(spec) - {"ports", "protocol"})
            if unknown:
                raise NftPolicyError(f"{where}: unknown key '{unknown[0]}'; a service has 'ports' and 'protocol'.")
            ports = normalize_ports(spec.get("ports"), f"{where}.ports")
            protocol = _protocol(spec.get("protocol"), f"{where}.protocol")
        else:
            ports = normalize_ports(spec, where)
            protocol = "tcp"
        catalog[name] = (tuple(ports), protocol)
    return catalog


def _entry(value: t.Any, path: str) -> dict[str, t.Any]:
    if not isinstance(value, dict):
        raise NftPolicyError(f"{path}: must be a dictionary with 'service' or 'ports', not {_kind(value)}.")
    unknown = sorted(set(value) - {"service", "ports", "protocol", "sources"})
    if unknown:
        raise NftPolicyError(f"{path}: unknown key '{unknown[0]}'; use 'service' or 'ports', 'protocol' and 'sources'.")
    return value


def _expand(
    entry: dict[str, t.Any], catalog: dict[str, tuple[tuple[str, ...], str]], path: str
) -> tuple[str | None, tuple[str, ...], str]:
    """(service, ports, protocol) of one allow entry."""
    service, ports = entry.get("service"), entry.get("ports")
    if service is not None and ports is not None:
        raise NftPolicyError(f"{path}: give either 'service' or 'ports', not both.")
    if service is None and ports is None:
        raise NftPolicyError(f"{path}: give 'service' (one of {', '.join(sorted(catalog))}) or 'ports'.")
    if service is not None:
        if not isinstance(service, str) or service not in catalog:
            raise NftPolicyError(
                f"{path}.service: {service!r} is not in the service catalog ({', '.join(sorted(catalog))});"
                " give 'ports' instead, or add it with 'services'."
            )
        service_ports, service_protocol = catalog[service]
        return service, service_ports, _protocol(entry.get("protocol"), f"{path}.protocol", service_protocol)
    return None, tuple(normalize_ports(ports, f"{path}.ports")), _protocol(entry.get("protocol"), f"{path}.protocol")


def expand_services(
    entries: t.Any, services: t.Any = None, path: str = "allow", services_path: str = "services"
) -> list[dict[str, t.Any]]:
    """Allow entries with ``service`` names replaced by the catalog's ports and protocol (the
    name is kept as ``service``), ports and sources normalised."""
    catalog = service_catalog(services, services_path)
    result = []
    for index, raw in enumerate(_as_list(entries, path, "allow entries")):
        where = f"{path}[{index}]"
        entry = _entry(raw, where)
        service, ports, protocol = _expand(entry, catalog, where)
        expanded: dict[str, t.Any] = {"ports": list(ports), "protocol": protocol}
        if service is not None:
            expanded["service"] = service
        expanded["sources"] = normalize_networks(entry.get("sources"), f"{where}.sources")
        result.append(expanded)
    return result


def merge_allow(layers: t.Any, path: str = "layers") -> list[dict[str, t.Any]]:
    """Merge allow lists from several inventory layers into one.

    Entries for the same service (and protocol, when given) or the same ports and protocol are
    merged into one whose sources are the union, collapsed and sorted. An entry without sources
    allows any source, and that wins: the merged entry has ``sources: []``. The order is that of
    first appearance. Services are not expanded, so overrides given later still apply.
    """
    merged: dict[tuple[t.Any, ...], dict[str, t.Any]] = {}
    sources: dict[tuple[t.Any, ...], list[Network] | None] = {}
    for layer_index, layer in enumerate(_as_list(layers, path, "allow lists")):
        for index, raw in enumerate(_as_list(layer, f"{path}[{layer_index}]", "allow entries")):
            where = f"{path}[{layer_index}][{index}]"
            entry = _entry(raw, where)
            service, ports = entry.get("service"), entry.get("ports")
            if (service is None) == (ports is None):
                raise NftPolicyError(f"{where}: give either 'service' or 'ports'.")
            out: dict[str, t.Any]
            if service is not None:
                if not isinstance(service, str) or not _SERVICE_NAME.match(service):
                    raise NftPolicyError(f"{where}.service: {service!r} is not a service name.")
                protocol = None if entry.get("protocol") is None else _protocol(entry["protocol"], f"{where}.protocol")
                key: tuple[t.Any, ...] = ("service", service, protocol)
                out = {"service": service} if protocol is None else {"service": service, "protocol": protocol}
            else:
                canonical = normalize_ports(ports, f"{where}.ports")
                protocol = _protocol(entry.get("protocol"), f"{where}.protocol")
                key = ("ports", tuple(canonical), protocol)
                out = {"ports": canonical, "protocol": protocol}
            raw_sources = _as_list(entry.get("sources"), f"{where}.sources", "networks")
            parsed = [_parse_network(item, f"{where}.sources[{i}]") for i, item in enumerate(raw_sources)]
            if key not in merged:
                merged[key] = out
                sources[key] = []
            known = sources[key]
            sources[key] = None if (known is None or not parsed) else known + parsed
    result = []
    for key, out in merged.items():
        networks = sources[key]
        v4, v6 = _collapse(networks or [])
        result.append(dict(out, sources=list(v4 + v6)))
    return result


# --------------------------------------------------------------------------- policy


@dataclass(frozen=True)
class AllowRule:
    """One allow entry, normalised. No sources at all means any source."""

    label: str
    ports: tuple[str, ...]
    protocol: str
    v4: tuple[str, ...] = ()
    v6: tuple[str, ...] = ()

    @property
    def any_source(self) -> bool:
        return not self.v4 and not self.v6


@dataclass(frozen=True)
class Policy:
    table: str
    allow: tuple[AllowRule, ...] = ()
    icmp_echo: bool = True
    log_drops: bool = True
    log_rate: str = "5/minute"
    log_prefix: str = "bulwark drop: "
    forward: bool = False
    published: tuple[AllowRule, ...] = ()


def _section(value: t.Any, path: str, keys: t.Collection[str]) -> dict[str, t.Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise NftPolicyError(f"{path}: must be a dictionary, not {_kind(value)}.")
    unknown = sorted(set(value) - set(keys))
    if unknown:
        raise NftPolicyError(f"{path}: unknown key '{unknown[0]}'; known keys are {', '.join(sorted(keys))}.")
    return value


def _bool(value: t.Any, path: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise NftPolicyError(f"{path}: {value!r} is not a boolean; use true or false.")
    return value


def _rules(entries: t.Any, catalog: dict[str, tuple[tuple[str, ...], str]], path: str) -> tuple[AllowRule, ...]:
    rules = []
    for index, raw in enumerate(_as_list(entries, path, "entries")):
        where = f"{path}[{index}]"
        entry = _entry(raw, where)
        service, ports, protocol = _expand(entry, catalog, where)
        raw_sources = _as_list(entry.get("sources"), f"{where}.sources", "networks")
        v4, v6 = _collapse(_parse_network(item, f"{where}.sources[{i}]") for i, item in enumerate(raw_sources))
        what = service if service is not None else ",".join(ports)
        rules.append(AllowRule(f"{path.rsplit('.', 1)[-1]}[{index}] {what}/{protocol}", ports, protocol, v4, v6))
    return tuple(rules)


def normalize_policy(policy: t.Any, services: t.Any = None, table: str = "bulwark", path: str = "policy") -> Policy:
    """Validate the module's ``policy`` option (and ``services``, ``table``) into a Policy.

    Every error names the entry (``policy.input.allow[2].sources[1]``) and what is allowed."""
    if not isinstance(table, str) or not _TABLE_NAME.match(table):
        raise NftPolicyError(
            f"table: {table!r} is not a table name; use a letter, then letters, digits or '_' (at most 32)."
        )
    if policy is None:
        raise NftPolicyError(
            f"{path}: required with state present, a mapping with input (and forward); null would load a table"
            " that drops every new connection and allows none."
        )
    catalog = service_catalog(services)
    top = _section(policy, path, ("input", "forward"))
    section = _section(top.get("input"), f"{path}.input", ("allow", "icmp_echo", "log_drops", "log_rate", "log_prefix"))
    rate = section.get("log_rate")
    rate = "5/minute" if rate is None else rate
    if not isinstance(rate, str) or not _RATE.match(rate):
        raise NftPolicyError(
            f"{path}.input.log_rate: {rate!r} is not a rate; use '<count>/<second|minute|hour|day>', such as '5/minute'."
        )
    prefix = section.get("log_prefix")
    prefix = "bulwark drop: " if prefix is None else prefix
    if (
        not isinstance(prefix, str)
        or len(prefix.encode("utf-8")) > LOG_PREFIX_MAX
        or any(c in prefix for c in '"\\') or not prefix.isprintable()
    ):
        raise NftPolicyError(
            f"{path}.input.log_prefix: {prefix!r} cannot be used; give printable text of at most"
            f" {LOG_PREFIX_MAX} bytes without '\"' or '\\'."
        )
    forward = _section(top.get("forward"), f"{path}.forward", ("enabled", "published"))
    return Policy(
        table=table,
        allow=_rules(section.get("allow"), catalog, f"{path}.input.allow"),
        icmp_echo=_bool(section.get("icmp_echo"), f"{path}.input.icmp_echo", True),
        log_drops=_bool(section.get("log_drops"), f"{path}.input.log_drops", True),
        log_rate=rate,
        log_prefix=prefix,
        forward=bool(forward) and _bool(forward.get("enabled"), f"{path}.forward.enabled", True),
        published=_rules(forward.get("published"), catalog, f"{path}.forward.published"),
    )


# --------------------------------------------------------------------------- render

ICMP_TYPES = ("destination-unreachable", "time-exceeded", "parameter-problem")
ICMPV6_TYPES = (
    "destination-unreachable",
    "packet-too-big",
    "time-exceeded",
    "parameter-problem",
    "nd-router-solicit",
    "nd-router-advert",
    "nd-neighbor-solicit",
    "nd-neighbor-advert",
)
# Multicast listener discovery: IPv6 hosts join the solicited-node groups that neighbour
# discovery uses with it (RFC 4890 4.4.1); link-local sources only.
MLD_TYPES = ("mld-listener-query", "mld-listener-report", "mld-listener-done", "mld2-listener-report")
ECHO_RATE = "10/second"
HEADER = "# Managed by bulwark.hardening.nftables_policy; changes made here are overwritten.\n"


def _element(text: str) -> str:
    # A single host as nft lists it: 192.0.2.7, not 192.0.2.7/32.
    for suffix in ("/32", "/128"):
        if text.endswith(suffix) and (suffix == "/128") == (":" in text):
            return text[: -len(suffix)]
    return text


def _set(name: str, kind: str, elements: t.Sequence[str]) -> list[str]:
    elements = [_element(element) for element in elements]
    return [
        f"\tset {name} {{",
        f"\t\ttype {kind}",
        "\t\tflags interval",
        f"\t\telements = {{ {', '.join(elements)} }}",
        "\t}",
        "",
    ]


def _sets(prefix: str, rules: t.Sequence[AllowRule]) -> list[str]:
    lines: list[str] = []
    for index, rule in enumerate(rules):
        lines += _set(f"{prefix}_{index}_ports", "inet_service", rule.ports)
        if rule.v4:
            lines += _set(f"{prefix}_{index}_v4", "ipv4_addr", rule.v4)
        if rule.v6:
            lines += _set(f"{prefix}_{index}_v6", "ipv6_addr", rule.v6)
    return lines


def _source_matches(prefix: str, index: int, rule: AllowRule) -> list[str]:
    if rule.any_source:
        return [""]
    matches = []
    if rule.v4:
        matches.append(f" ip saddr @{prefix}_{index}_v4")
    if rule.v6:
        matches.append(f" ip6 saddr @{prefix}_{index}_v6")
    return matches


# Marks a table as made by this module: only such a table is replaced or deleted. (nft 1.0.6 lists a
# table's comment in its text listing, not in its JSON.)
OWNER_COMMENT = "managed by bulwark.hardening"
DEFAULT_TABLE = "bulwark"


def foreign_table(table: str, listing: str) -> bool:
    """Whether the live table, listed as text, is someone else's: it lacks our comment. The default
    table ``bulwark`` is ours whatever it says, as releases before the comment made it without one."""
    return table != DEFAULT_TABLE and f'comment "{OWNER_COMMENT}"' not in listing


def render_table(policy: Policy) -> str:
    """The table definition in nft syntax (one tab per level, as ``nft list`` prints)."""
    lines = [f"table inet {policy.table} {{", f'\tcomment "{OWNER_COMMENT}"']
    lines += _sets("in", policy.allow)
    if policy.forward:
        lines += _sets("fwd", policy.published)
    lines += [
        "\tchain input {",
        "\t\ttype filter hook input priority filter; policy drop;",
        "\t\tct state established,related accept",
        "\t\tct state invalid drop",
        '\t\tiif "lo" accept',
        f"\t\ticmp type {{ {', '.join(ICMP_TYPES)} }} accept",
        f"\t\ticmpv6 type {{ {', '.join(ICMPV6_TYPES)} }} accept",
        f"\t\tip6 saddr fe80::/10 icmpv6 type {{ {', '.join(MLD_TYPES)} }} accept",
    ]
    if policy.icmp_echo:
        lines += [
            f"\t\ticmp type echo-request limit rate {ECHO_RATE} accept",
            f"\t\ticmpv6 type echo-request limit rate {ECHO_RATE} accept",
        ]
    for index, rule in enumerate(policy.allow):
        for source in _source_matches("in", index, rule):
            lines.append(f'\t\t{rule.protocol} dport @in_{index}_ports{source} accept comment "{rule.label}"')
    if policy.log_drops:
        lines.append(f'\t\tlimit rate {policy.log_rate} log prefix "{policy.log_prefix}"')
    lines += ["\t\tcounter drop", "\t}"]
    if policy.forward:
        lines += [
            "",
            "\tchain forward {",
            # Before Docker's filter chains (priority filter, 0), whether they are iptables-nft's
            # (DOCKER-USER) or Docker's native nftables tables; a drop here is final.
            "\t\ttype filter hook forward priority filter - 10; policy accept;",
            "\t\tct state established,related accept",
        ]
        for index, rule in enumerate(policy.published):
            # `ct original proto-dst` (the port before DNAT) needs `meta l4proto` in front of it.
            # A named set, not an anonymous one: nft 1.0.6 lists an anonymous set after
            # `ct original proto-dst` as "0x1f90 [invalid type]", which it cannot read back.
            for source in _source_matches("fwd", index, rule):
                lines.append(
                    f"\t\tct status dnat meta l4proto {rule.protocol} ct original proto-dst @fwd_{index}_ports"
                    f'{source} accept comment "{rule.label}"'
                )
        lines += ["\t\tct status dnat counter drop", "\t}"]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _recreate(table: str) -> str:
    # Creates the table when it is missing, so that the delete cannot fail; nothing else in the
    # ruleset is named, so nothing else is touched. nft runs the whole file as one transaction.
    return f"table inet {table} {{}}\ndelete table inet {table}\n"


def render_transaction(policy: Policy) -> str:
    """The content of ``nft -f``: replace our table atomically. Also the persisted file."""
    return HEADER + _recreate(policy.table) + render_table(policy)


def render_removal(table: str) -> str:
    return _recreate(table)


# --------------------------------------------------------------------------- compare


def strip_counters(value: t.Any) -> t.Any:
    """``value`` (nft JSON) with the packet and byte values of counters removed, anonymous
    set elements sorted, and handles dropped: what is left is what the rules do."""
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if key == "handle":
                continue
            if key == "counter" and isinstance(item, dict):
                item = {k: v for k, v in item.items() if k not in ("packets", "bytes")} or None
            result[key] = strip_counters(item)
        if "set" in result and isinstance(result["set"], list):
            result["set"] = sorted(result["set"], key=_canonical)
        if "elem" in result and isinstance(result["elem"], list):
            result["elem"] = sorted(result["elem"], key=_canonical)
        return result
    if isinstance(value, list):
        return [strip_counters(item) for item in value]
    return value


def _canonical(value: t.Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


_COUNTER_TEXT = re.compile(r"counter packets [0-9]+ bytes [0-9]+")


def strip_counter_text(text: str) -> str:
    """``nft list`` text without counter values, for the diff."""
    return _COUNTER_TEXT.sub("counter", text)


@dataclass(frozen=True)
class Chain:
    declaration: str  # canonical JSON of type, hook, prio, policy, ...
    rules: tuple[str, ...]  # canonical JSON of each rule, in order

    def references(self) -> frozenset[str]:
        return frozenset(re.findall(r'"@([A-Za-z0-9_./]+)"', "".join(self.rules)))


@dataclass(frozen=True)
class TableModel:
    """One table as nft lists it, reduced to what the rules do."""

    table: str  # canonical JSON of the table's own attributes (flags)
    chains: dict[str, Chain] = field(default_factory=dict)
    sets: dict[str, str] = field(default_factory=dict)  # name -> canonical JSON
    other: tuple[str, ...] = ()  # anything else: maps, named counters, flowtables, ...


_DROP = ("family", "table", "name", "chain", "handle")


def parse_listing(data: str | dict[str, t.Any], table: str, family: str = "inet") -> TableModel | None:
    """The model of ``family table`` from ``nft -j list table`` (or ``list ruleset``) output;
    None when the listing does not have it."""
    doc = json.loads(data) if isinstance(data, str) else data
    objects = doc.get("nftables", []) if isinstance(doc, dict) else []
    found = False
    table_attrs = ""
    chains: dict[str, dict[str, t.Any]] = {}
    sets: dict[str, str] = {}
    other: list[str] = []
    for item in objects:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, body), = item.items()
        if kind == "metainfo" or not isinstance(body, dict) or body.get("family") != family:
            continue
        if kind == "table":
            if body.get("name") == table:
                found = True
                table_attrs = _canonical(strip_counters({k: v for k, v in body.items() if k not in _DROP}))
            continue
        if body.get("table") != table:
            continue
        clean = strip_counters({k: v for k, v in body.items() if k not in _DROP})
        if kind == "chain":
            chains.setdefault(body["name"], {"rules": []})["declaration"] = _canonical(clean)
        elif kind == "rule":
            chains.setdefault(body["chain"], {"rules": []})["rules"].append(_canonical(clean))
        elif kind == "set":
            sets[body["name"]] = _canonical(clean)
        else:
            other.append(_canonical({kind: dict(clean, name=body.get("name"))}))
    if not found:
        return None
    return TableModel(
        table=table_attrs,
        chains={
            name: Chain(chain.get("declaration", ""), tuple(chain["rules"])) for name, chain in sorted(chains.items())
        },
        sets=dict(sorted(sets.items())),
        other=tuple(sorted(other)),
    )


@dataclass(frozen=True)
class Comparison:
    changed: bool
    item_status: dict[str, str]


CHAINS = ("input", "forward")


def compare(wanted: TableModel | None, live: TableModel | None) -> Comparison:
    """Compare chain by chain: a chain is ``ok`` when its declaration (hook, priority, policy),
    its rules in order, and the sets its rules use are the same. ``other`` is reported only
    when the table has objects that neither chain accounts for, or other table attributes."""
    empty = TableModel(table="")
    want, have = wanted or empty, live or empty
    status: dict[str, str] = {}
    explained: set[str] = set()
    for name in CHAINS:
        a, b = want.chains.get(name), have.chains.get(name)
        used = set()
        for chain in (a, b):
            if chain is not None:
                used |= chain.references()
        explained |= used
        same = a == b and all(want.sets.get(s) == have.sets.get(s) for s in used)
        status[name] = "ok" if same else "changed"
    table_same = (wanted is None) == (live is None) and want.table == have.table
    extra_chains = {n: c for n, c in want.chains.items() if n not in CHAINS} != {
        n: c for n, c in have.chains.items() if n not in CHAINS
    }
    extra_sets = {n: s for n, s in want.sets.items() if n not in explained} != {
        n: s for n, s in have.sets.items() if n not in explained
    }
    if extra_chains or extra_sets or want.other != have.other or (not table_same and wanted is not None and live is not None):
        status["other"] = "changed"
    changed = not table_same or any(value == "changed" for value in status.values())
    return Comparison(changed=changed, item_status=status)
