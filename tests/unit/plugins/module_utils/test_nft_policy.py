# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Pure logic of the host firewall policy: validation messages, normalisation, merging,
rendering (golden text) and the comparison of nft's JSON listings.

The listings at the end of this file are real ``nft -j list table inet bulwark`` output of
nft 1.0.6 (Debian 12), captured in a bulwark-lab/base container for POLICY below: WANTED as the
module gets it from the scratch network namespace, LIVE_COUNTERS from the live ruleset after
traffic (other handles, counters not zero), and three live tables changed by hand.
"""

from __future__ import annotations

import json
import re
import typing as t

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.nft_policy import (
    BUILTIN_SERVICES,
    AllowRule,
    NftPolicyError,
    Policy,
    compare,
    foreign_table,
    expand_services,
    merge_allow,
    normalize_networks,
    normalize_policy,
    normalize_ports,
    parse_listing,
    render_removal,
    render_table,
    render_transaction,
    service_catalog,
    strip_counter_text,
)

CATALOG = "docker-tls, etcd, kube-apiserver, kubelet, node-exporter, nodeports, ssh"
BAD_NET = "is not an IPv4 or IPv6 network (for example '10.0.0.0/8', '192.0.2.7' or 'fd00::/8')."
BAD_PORT = "is not a port; give a number (22) or a range ('8000-8100')."

# The policy the captured listings were made from.
POLICY: dict[str, t.Any] = {
    "input": {"allow": [{"service": "ssh", "sources": ["10.0.0.0/8", "fd00::/8"]}, {"ports": [8080]}]},
    "forward": {"published": [{"ports": [8080], "sources": ["172.30.0.0/16"]}]},
}


# --------------------------------------------------------------------------- networks


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], []),
        (None, []),
        (["10.0.0.0/8"], ["10.0.0.0/8"]),
        (["192.0.2.7"], ["192.0.2.7/32"]),
        ([" 192.0.2.7 "], ["192.0.2.7/32"]),
        (["2001:DB8::/32", "10.1.0.0/16", "10.0.0.0/8"], ["10.0.0.0/8", "2001:db8::/32"]),
        (["192.0.2.7", "192.0.2.6/32"], ["192.0.2.6/31"]),
        (["fd00::1", "fd00::/8", "::/0"], ["::/0"]),
        (["0.0.0.0/0", "10.0.0.0/8"], ["0.0.0.0/0"]),
        (["2001:db8::1", "10.0.0.1"], ["10.0.0.1/32", "2001:db8::1/128"]),
    ],
)
def test_normalize_networks(values: t.Any, expected: list[str]) -> None:
    assert normalize_networks(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["10.0.0.0/8", "10.0.0.300/8"], f"networks[1]: '10.0.0.300/8' {BAD_NET}"),
        (["host.example"], f"networks[0]: 'host.example' {BAD_NET}"),
        (["10.0.0.0/33"], f"networks[0]: '10.0.0.0/33' {BAD_NET}"),
        (
            ["10.0.0.1/8"],
            "networks[0]: '10.0.0.1/8' has host bits set; write '10.0.0.0/8' for the network or '10.0.0.1' for the single host.",
        ),
        (
            ["fd00::1/8"],
            "networks[0]: 'fd00::1/8' has host bits set; write 'fd00::/8' for the network or 'fd00::1' for the single host.",
        ),
        (["fe80::1%eth0"], "networks[0]: 'fe80::1%eth0' has a zone index; nftables matches addresses without one."),
        (
            ["::ffff:192.0.2.7"],
            "networks[0]: '::ffff:192.0.2.7' is IPv4-mapped IPv6, which never appears as a source; write '192.0.2.7'.",
        ),
        ([10], "networks[0]: 10 is not an IPv4 or IPv6 network; give a string such as '10.0.0.0/8'."),
        ([None], "networks[0]: None is not an IPv4 or IPv6 network; give a string such as '10.0.0.0/8'."),
        ("10.0.0.0/8", "networks: must be a list of networks, not a string."),
    ],
)
def test_normalize_networks_errors(values: t.Any, message: str) -> None:
    with pytest.raises(NftPolicyError) as exc:
        normalize_networks(values)
    assert str(exc.value) == message


# --------------------------------------------------------------------------- ports


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (22, ["22"]),
        ("22", ["22"]),
        ("30000-32767", ["30000-32767"]),
        ([8080, "22", "8000-8100", 8081], ["22", "8000-8100"]),
        (["22", 23, "24-30"], ["22-30"]),
        ([" 443 ", 443], ["443"]),
        (["1-65535"], ["1-65535"]),
        (["80-80"], ["80"]),
    ],
)
def test_normalize_ports(values: t.Any, expected: list[str]) -> None:
    assert normalize_ports(values) == expected


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([22, 0], "ports[1]: 0 is out of range; ports are 1 to 65535."),
        (["70000"], "ports[0]: '70000' is out of range; ports are 1 to 65535."),
        (["22", "9000-8000"], "ports[1]: '9000-8000' is an empty range; write the lower port first ('8000-9000')."),
        (["22:30"], f"ports[0]: '22:30' {BAD_PORT}"),
        (["ssh"], f"ports[0]: 'ssh' {BAD_PORT}"),
        ([True], f"ports[0]: True {BAD_PORT}"),
        ([22.5], f"ports[0]: 22.5 {BAD_PORT}"),
        ([], "ports: no ports given; give at least one port (22) or range ('8000-8100')."),
        (None, "ports: no ports given; give at least one port (22) or range ('8000-8100')."),
        ({"a": 1}, "ports: must be a list of ports, not a dictionary."),
    ],
)
def test_normalize_ports_errors(values: t.Any, message: str) -> None:
    with pytest.raises(NftPolicyError) as exc:
        normalize_ports(values)
    assert str(exc.value) == message


# --------------------------------------------------------------------------- services


def test_builtin_catalog() -> None:
    assert service_catalog() == BUILTIN_SERVICES
    assert {name: spec[0] for name, spec in BUILTIN_SERVICES.items()} == {
        "ssh": ("22",),
        "docker-tls": ("2376",),
        "kube-apiserver": ("6443",),
        "etcd": ("2379-2380",),
        "kubelet": ("10250",),
        "nodeports": ("30000-32767",),
        "node-exporter": ("9100",),
    }


def test_catalog_overrides() -> None:
    catalog = service_catalog({"ssh": 2222, "dns": {"ports": [53], "protocol": "udp"}, "web": ["80", 443]})
    assert catalog["ssh"] == (("2222",), "tcp")
    assert catalog["dns"] == (("53",), "udp")
    assert catalog["web"] == (("80", "443"), "tcp")
    assert catalog["etcd"] == BUILTIN_SERVICES["etcd"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ([1], "services: must be a dictionary of service names, not a list."),
        ({"SSH": 22}, "services: 'SSH' is not a service name; use lower-case letters, digits, '-', '_' and '.'."),
        ({"app": {"port": 22}}, "services.app: unknown key 'port'; a service has 'ports' and 'protocol'."),
        ({"app": {"ports": [0]}}, "services.app.ports[0]: 0 is out of range; ports are 1 to 65535."),
        ({"app": {"ports": [1], "protocol": "sctp"}}, "services.app.protocol: 'sctp' is not allowed; use 'tcp' or 'udp'."),
        ({"app": "http"}, f"services.app[0]: 'http' {BAD_PORT}"),
    ],
)
def test_catalog_errors(overrides: t.Any, message: str) -> None:
    with pytest.raises(NftPolicyError) as exc:
        service_catalog(overrides)
    assert str(exc.value) == message


def test_expand_services() -> None:
    allow = [
        {"service": "ssh", "sources": ["192.0.2.0/24"]},
        {"service": "metrics"},
        {"service": "etcd", "protocol": "udp"},
        {"ports": ["8001", 8000], "sources": ["fd00::1", "10.0.0.1"]},
    ]
    assert expand_services(allow, {"metrics": {"ports": [9100, 9256]}}) == [
        {"ports": ["22"], "protocol": "tcp", "service": "ssh", "sources": ["192.0.2.0/24"]},
        {"ports": ["9100", "9256"], "protocol": "tcp", "service": "metrics", "sources": []},
        {"ports": ["2379-2380"], "protocol": "udp", "service": "etcd", "sources": []},
        {"ports": ["8000-8001"], "protocol": "tcp", "sources": ["10.0.0.1/32", "fd00::1/128"]},
    ]


def test_expand_services_unknown_name() -> None:
    with pytest.raises(NftPolicyError) as exc:
        expand_services([{"service": "ssh"}, {"service": "nope"}])
    assert str(exc.value) == (
        f"allow[1].service: 'nope' is not in the service catalog ({CATALOG}); give 'ports' instead, or add it with 'services'."
    )


# --------------------------------------------------------------------------- merge


def test_merge_allow_unions_sources_and_any_wins() -> None:
    layers = [
        [{"service": "ssh", "sources": ["10.0.0.0/8"]}, {"ports": [8080, "8000-8100"], "sources": ["192.0.2.1"]}],
        [
            {"service": "ssh", "sources": ["192.0.2.7", "10.1.0.0/16", "fd00::/8"]},
            {"ports": ["8000-8100"], "protocol": "tcp"},
            {"service": "ssh", "protocol": "udp", "sources": ["192.0.2.9"]},
        ],
        [{"ports": [53], "protocol": "udp", "sources": ["192.0.2.9"]}, {"service": "ssh", "sources": ["10.0.0.0/8"]}],
    ]
    assert merge_allow(layers) == [
        {"service": "ssh", "sources": ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]},
        {"ports": ["8000-8100"], "protocol": "tcp", "sources": []},
        {"service": "ssh", "protocol": "udp", "sources": ["192.0.2.9/32"]},
        {"ports": ["53"], "protocol": "udp", "sources": ["192.0.2.9/32"]},
    ]


def test_merge_allow_any_first_stays_any() -> None:
    layers = [[{"service": "ssh"}], [{"service": "ssh", "sources": ["10.0.0.0/8"]}]]
    assert merge_allow(layers) == [{"service": "ssh", "sources": []}]


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([[{"service": "ssh", "sources": ["10.0.0.1/8"]}]], "layers[0][0].sources[0]: '10.0.0.1/8' has host bits set;"
         " write '10.0.0.0/8' for the network or '10.0.0.1' for the single host."),
        ([[{"service": "ssh"}], "x"], "layers[1]: must be a list of allow entries, not a string."),
        ([[], [{"ports": [22], "service": "ssh"}]], "layers[1][0]: give either 'service' or 'ports'."),
        ([[{"ports": ["22-"]}]], f"layers[0][0].ports[0]: '22-' {BAD_PORT}"),
        ([[{"service": "ssh", "source": []}]], "layers[0][0]: unknown key 'source'; use 'service' or 'ports', 'protocol' and 'sources'."),
    ],
)
def test_merge_allow_errors(layers: t.Any, message: str) -> None:
    with pytest.raises(NftPolicyError) as exc:
        merge_allow(layers)
    assert str(exc.value) == message


# --------------------------------------------------------------------------- policy


def test_normalize_policy() -> None:
    policy = normalize_policy(POLICY, {"ssh": 2222})
    assert policy == Policy(
        table="bulwark",
        allow=(
            AllowRule("allow[0] ssh/tcp", ("2222",), "tcp", ("10.0.0.0/8",), ("fd00::/8",)),
            AllowRule("allow[1] 8080/tcp", ("8080",), "tcp"),
        ),
        forward=True,
        published=(AllowRule("published[0] 8080/tcp", ("8080",), "tcp", ("172.30.0.0/16",)),),
    )


def test_normalize_policy_defaults_and_disabled_forward() -> None:
    policy = normalize_policy({"forward": {"enabled": False, "published": [{"service": "ssh"}]}}, table="fw")
    assert (policy.table, policy.allow, policy.forward, policy.icmp_echo, policy.log_drops) == ("fw", (), False, True, True)
    assert (policy.log_rate, policy.log_prefix) == ("5/minute", "bulwark drop: ")
    # What the module passes when suboptions are left out: None everywhere.
    assert normalize_policy({"input": None, "forward": None}) == Policy(table="bulwark")
    nones = {"service": "ssh", "ports": None, "protocol": None, "sources": None}
    assert normalize_policy({"input": {"allow": [nones], "log_rate": None}}).allow == (AllowRule("allow[0] ssh/tcp", ("22",), "tcp"),)


@pytest.mark.parametrize(
    ("policy", "extra", "message"),
    [
        (
            {"input": {"allow": [{"service": "ssh"}, {"ports": [1]}, {"ports": [2], "sources": ["10.0.0.0/8", "10.0.0.300/8"]}]}},
            {},
            f"policy.input.allow[2].sources[1]: '10.0.0.300/8' {BAD_NET}",
        ),
        (
            {"input": {"allow": [{"service": "sshd"}]}},
            {},
            f"policy.input.allow[0].service: 'sshd' is not in the service catalog ({CATALOG}); give 'ports' instead,"
            " or add it with 'services'.",
        ),
        ({"input": {"allow": [{"service": "ssh", "ports": [22]}]}}, {}, "policy.input.allow[0]: give either 'service' or 'ports', not both."),
        ({"input": {"allow": [{}]}}, {}, f"policy.input.allow[0]: give 'service' (one of {CATALOG}) or 'ports'."),
        (
            {"input": {"allow": [{"ports": [22], "protocol": "icmp"}]}},
            {},
            "policy.input.allow[0].protocol: 'icmp' is not allowed; use 'tcp' or 'udp'.",
        ),
        (
            {"input": {"allow": [{"ports": [22], "sources": "10.0.0.0/8"}]}},
            {},
            "policy.input.allow[0].sources: must be a list of networks, not a string.",
        ),
        (
            {"input": {"log_rate": "5 per minute"}},
            {},
            "policy.input.log_rate: '5 per minute' is not a rate; use '<count>/<second|minute|hour|day>', such as '5/minute'.",
        ),
        (
            {"input": {"log_prefix": 'a"b'}},
            {},
            "policy.input.log_prefix: 'a\"b' cannot be used; give printable text of at most 127 bytes without '\"' or '\\'.",
        ),
        (
            {"input": {"log_prefix": "x" * 128}},
            {},
            f"policy.input.log_prefix: '{'x' * 128}' cannot be used; give printable text of at most 127 bytes without '\"' or '\\'.",
        ),
        ({"input": {"icmp_echo": "yes"}}, {}, "policy.input.icmp_echo: 'yes' is not a boolean; use true or false."),
        ({"forward": {"published": [{"ports": ["x"]}]}}, {}, f"policy.forward.published[0].ports[0]: 'x' {BAD_PORT}"),
        ({"forward": {"published": [{"ports": [80], "sources": ["10.0.0.1/8"]}]}}, {}, "policy.forward.published[0].sources[0]:"
         " '10.0.0.1/8' has host bits set; write '10.0.0.0/8' for the network or '10.0.0.1' for the single host."),
        ({"inputs": {}}, {}, "policy: unknown key 'inputs'; known keys are forward, input."),
        ([], {}, "policy: must be a dictionary, not a list."),
        ({}, {"table": "my-table"}, "table: 'my-table' is not a table name; use a letter, then letters, digits or '_' (at most 32)."),
        ({}, {"services": {"app": {"ports": [0]}}}, "services.app.ports[0]: 0 is out of range; ports are 1 to 65535."),
    ],
)
def test_normalize_policy_errors(policy: t.Any, extra: dict[str, t.Any], message: str) -> None:
    with pytest.raises(NftPolicyError) as exc:
        normalize_policy(policy, **extra)
    assert str(exc.value) == message


# --------------------------------------------------------------------------- render


def tabs(text: str) -> str:
    """Golden texts are written with 4 spaces per level; nft (and the renderer) use tabs."""
    return re.sub(r"(?m)^((?:    )+)", lambda m: "\t" * (len(m.group(1)) // 4), text)


GOLDEN = tabs("""\
table inet bulwark {
    comment "managed by bulwark.hardening"
    set in_0_ports {
        type inet_service
        flags interval
        elements = { 22 }
    }

    set in_0_v4 {
        type ipv4_addr
        flags interval
        elements = { 10.0.0.0/8, 192.0.2.7 }
    }

    set in_0_v6 {
        type ipv6_addr
        flags interval
        elements = { 2001:db8::1, fd00::/8 }
    }

    set in_1_ports {
        type inet_service
        flags interval
        elements = { 53 }
    }

    set in_1_v6 {
        type ipv6_addr
        flags interval
        elements = { 2001:db8::/32 }
    }

    set in_2_ports {
        type inet_service
        flags interval
        elements = { 8000-8100, 9100 }
    }

    set fwd_0_ports {
        type inet_service
        flags interval
        elements = { 8080 }
    }

    set fwd_0_v4 {
        type ipv4_addr
        flags interval
        elements = { 172.30.231.20 }
    }

    set fwd_1_ports {
        type inet_service
        flags interval
        elements = { 9000-9010 }
    }

    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iif "lo" accept
        icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
        icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-solicit, \
nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
        ip6 saddr fe80::/10 icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept
        icmp type echo-request limit rate 10/second accept
        icmpv6 type echo-request limit rate 10/second accept
        tcp dport @in_0_ports ip saddr @in_0_v4 accept comment "allow[0] ssh/tcp"
        tcp dport @in_0_ports ip6 saddr @in_0_v6 accept comment "allow[0] ssh/tcp"
        udp dport @in_1_ports ip6 saddr @in_1_v6 accept comment "allow[1] 53/udp"
        tcp dport @in_2_ports accept comment "allow[2] 8000-8100,9100/tcp"
        limit rate 5/minute log prefix "bulwark drop: "
        counter drop
    }

    chain forward {
        type filter hook forward priority filter - 10; policy accept;
        ct state established,related accept
        ct status dnat meta l4proto tcp ct original proto-dst @fwd_0_ports ip saddr @fwd_0_v4 accept comment "published[0] 8080/tcp"
        ct status dnat meta l4proto udp ct original proto-dst @fwd_1_ports accept comment "published[1] 9000-9010/udp"
        ct status dnat counter drop
    }
}
""")

GOLDEN_MINIMAL = tabs("""\
table inet fw {
    comment "managed by bulwark.hardening"
    chain input {
        type filter hook input priority filter; policy drop;
        ct state established,related accept
        ct state invalid drop
        iif "lo" accept
        icmp type { destination-unreachable, time-exceeded, parameter-problem } accept
        icmpv6 type { destination-unreachable, packet-too-big, time-exceeded, parameter-problem, nd-router-solicit, \
nd-router-advert, nd-neighbor-solicit, nd-neighbor-advert } accept
        ip6 saddr fe80::/10 icmpv6 type { mld-listener-query, mld-listener-report, mld-listener-done, mld2-listener-report } accept
        counter drop
    }
}
""")


def test_render_golden() -> None:
    policy = normalize_policy(
        {
            "input": {
                "allow": [
                    {"service": "ssh", "sources": ["192.0.2.7", "10.0.0.0/8", "fd00::/8", "2001:db8::1"]},
                    {"ports": [53], "protocol": "udp", "sources": ["2001:db8::/32"]},
                    {"ports": ["8000-8100", 9100, "8050"]},
                ]
            },
            "forward": {"published": [{"ports": [8080], "sources": ["172.30.231.20"]}, {"ports": ["9000-9010"], "protocol": "udp"}]},
        }
    )
    assert render_table(policy) == GOLDEN


def test_render_minimal_without_echo_logging_and_forward() -> None:
    policy = normalize_policy({"input": {"icmp_echo": False, "log_drops": False}, "forward": {"enabled": False}}, table="fw")
    assert render_table(policy) == GOLDEN_MINIMAL


def test_render_log_settings() -> None:
    policy = normalize_policy({"input": {"log_rate": "1/second", "log_prefix": "fw: "}})
    assert '\t\tlimit rate 1/second log prefix "fw: "\n\t\tcounter drop\n' in render_table(policy)


def test_transaction_replaces_only_our_table() -> None:
    policy = normalize_policy({}, table="fw")
    text = render_transaction(policy)
    assert text == (
        "# Managed by bulwark.hardening.nftables_policy; changes made here are overwritten.\n"
        "table inet fw {}\ndelete table inet fw\n" + render_table(policy)
    )
    assert "flush ruleset" not in text
    assert render_removal("fw") == "table inet fw {}\ndelete table inet fw\n"


# --------------------------------------------------------------------------- compare


def listing(sample: dict[str, t.Any]) -> str:
    return json.dumps(sample)


def test_captured_listing_was_made_from_policy() -> None:
    # The sets of WANTED hold what the policy renders.
    text = render_table(normalize_policy(POLICY))
    model = parse_listing(listing(WANTED), "bulwark")
    assert model is not None
    assert sorted(model.sets) == sorted(line.split()[1] for line in text.splitlines() if line.startswith("\tset "))
    assert sorted(model.chains) == ["forward", "input"]
    body = text.split("\tchain input {\n", 1)[1].split("\n\t}\n", 1)[0].splitlines()
    assert len(model.chains["input"].rules) == len(body) - 1  # all but the "type ... hook ..." line


def test_parse_listing_ignores_handles_and_counter_values() -> None:
    wanted, live = parse_listing(listing(WANTED), "bulwark"), parse_listing(listing(LIVE_COUNTERS), "bulwark")
    assert wanted == live
    assert compare(wanted, live).changed is False
    assert compare(wanted, live).item_status == {"input": "ok", "forward": "ok"}
    assert "handle" not in json.dumps(wanted.chains["input"].rules)
    assert '{"counter":null}' in wanted.chains["input"].rules[-1]


def test_parse_listing_missing_table() -> None:
    assert parse_listing(listing(WANTED), "other") is None
    assert parse_listing(listing(WANTED), "bulwark", family="ip") is None
    assert parse_listing('{"nftables": [{"metainfo": {"version": "1.0.6"}}]}', "bulwark") is None


def test_parse_listing_of_the_whole_ruleset_keeps_to_our_table() -> None:
    foreign = [
        {"table": {"family": "ip", "name": "bulwark", "handle": 9}},
        {"chain": {"family": "ip", "table": "bulwark", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
        {"table": {"family": "inet", "name": "user_table", "handle": 10}},
        {"rule": {"family": "inet", "table": "user_table", "chain": "input", "handle": 2, "expr": [{"accept": None}]}},
    ]
    mixed = {"nftables": WANTED["nftables"] + foreign}
    assert parse_listing(json.dumps(mixed), "bulwark") == parse_listing(listing(WANTED), "bulwark")


@pytest.mark.parametrize(
    ("sample", "status"),
    [
        ("DRIFT_RULE_ADDED", {"input": "changed", "forward": "ok"}),
        ("DRIFT_ELEMENT_REMOVED", {"input": "changed", "forward": "ok"}),
        ("DRIFT_POLICY_ACCEPT", {"input": "changed", "forward": "ok"}),
    ],
)
def test_drift_is_detected(sample: str, status: dict[str, str]) -> None:
    wanted, live = parse_listing(listing(WANTED), "bulwark"), parse_listing(listing(globals()[sample]), "bulwark")
    result = compare(wanted, live)
    assert (result.changed, result.item_status) == (True, status)


def _edited(edit: t.Callable[[list[dict[str, t.Any]]], None]) -> t.Any:
    objects = json.loads(listing(LIVE_COUNTERS))["nftables"]
    edit(objects)
    return parse_listing(json.dumps({"nftables": objects}), "bulwark")


def test_forward_chain_drift_and_absence() -> None:
    wanted = parse_listing(listing(WANTED), "bulwark")

    def forward_priority(objects: list[dict[str, t.Any]]) -> None:
        for item in objects:
            if item.get("chain", {}).get("name") == "forward":
                item["chain"]["prio"] = 0

    def drop_forward(objects: list[dict[str, t.Any]]) -> None:
        objects[:] = [o for o in objects if o.get("chain", {}).get("name") != "forward" and o.get("rule", {}).get("chain") != "forward"
                      and not o.get("set", {}).get("name", "").startswith("fwd_")]

    def forward_set_element(objects: list[dict[str, t.Any]]) -> None:
        for item in objects:
            if item.get("set", {}).get("name") == "fwd_0_v4":
                item["set"]["elem"].append("192.0.2.66")

    assert compare(wanted, _edited(forward_priority)).item_status == {"input": "ok", "forward": "changed"}
    assert compare(wanted, _edited(forward_set_element)).item_status == {"input": "ok", "forward": "changed"}
    assert compare(wanted, _edited(drop_forward)).item_status == {"input": "ok", "forward": "changed"}
    assert compare(_edited(drop_forward), _edited(drop_forward)).changed is False


def test_other_objects_are_drift() -> None:
    wanted = parse_listing(listing(WANTED), "bulwark")

    def extra_chain(objects: list[dict[str, t.Any]]) -> None:
        objects.append({"chain": {"family": "inet", "table": "bulwark", "name": "extra", "handle": 99}})

    def extra_set(objects: list[dict[str, t.Any]]) -> None:
        objects.append({"set": {"family": "inet", "name": "x", "table": "bulwark", "type": "ipv4_addr", "handle": 98}})

    def dormant(objects: list[dict[str, t.Any]]) -> None:
        objects[1]["table"]["flags"] = ["dormant"]

    for edit in (extra_chain, extra_set, dormant):
        result = compare(wanted, _edited(edit))
        assert (result.changed, result.item_status) == (True, {"input": "ok", "forward": "ok", "other": "changed"}), edit


def test_compare_missing_tables() -> None:
    wanted = parse_listing(listing(WANTED), "bulwark")
    assert compare(wanted, None).item_status == {"input": "changed", "forward": "changed"}
    assert compare(wanted, None).changed is True
    assert compare(None, wanted).changed is True  # state=absent, table still there
    assert compare(None, None) == compare(None, None)
    assert compare(None, None).changed is False
    assert compare(None, None).item_status == {"input": "ok", "forward": "ok"}


def test_anonymous_set_order_is_not_drift() -> None:
    wanted = parse_listing(listing(WANTED), "bulwark")

    def reorder(objects: list[dict[str, t.Any]]) -> None:
        for item in objects:
            for expr in item.get("rule", {}).get("expr", []):
                right = expr.get("match", {}).get("right")
                if isinstance(right, dict) and isinstance(right.get("set"), list):
                    right["set"].reverse()

    assert compare(wanted, _edited(reorder)).changed is False


def test_strip_counter_text() -> None:
    text = "\t\tip saddr @s counter packets 12 bytes 3456 accept\n\t\tcounter packets 0 bytes 0 drop\n"
    assert strip_counter_text(text) == "\t\tip saddr @s counter accept\n\t\tcounter drop\n"


# --------------------------------------------------------------------------- captured listings
# fmt: off
WANTED: dict[str, t.Any] = (
    {'nftables': [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
                  {'table': {'family': 'inet', 'name': 'bulwark', 'handle': 2}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 3,
                           'flags': ['interval'],
                           'elem': [22]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 4,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '10.0.0.0', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v6',
                           'table': 'bulwark',
                           'type': 'ipv6_addr',
                           'handle': 5,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': 'fd00::', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_1_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 6,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 7,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 8,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '172.30.0.0', 'len': 16}}]}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'input',
                             'handle': 1,
                             'type': 'filter',
                             'hook': 'input',
                             'prio': 0,
                             'policy': 'drop'}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'forward',
                             'handle': 2,
                             'type': 'filter',
                             'hook': 'forward',
                             'prio': -10,
                             'policy': 'accept'}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 9,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 10,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'invalid'}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 11,
                            'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'iif'}}, 'right': 'lo'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 13,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmp', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'time-exceeded', 'parameter-problem']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 15,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem',
                                                                  'nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                                                  'nd-neighbor-advert']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 17,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}},
                                                'right': {'prefix': {'addr': 'fe80::', 'len': 10}}}},
                                     {'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['mld-listener-query', 'mld-listener-report', 'mld-listener-done',
                                                                  'mld2-listener-report']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 18,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmp', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 19,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 20,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@in_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 21,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}}, 'right': '@in_0_v6'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 22,
                            'comment': 'allow[1] 8080/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_1_ports'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 23,
                            'expr': [{'limit': {'rate': 5, 'burst': 5, 'per': 'minute'}}, {'log': {'prefix': 'bulwark drop: '}}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 24,
                            'expr': [{'counter': {'packets': 0, 'bytes': 0}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 25,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 26,
                            'comment': 'published[0] 8080/tcp',
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}},
                                     {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'tcp'}},
                                     {'match': {'op': '==', 'left': {'ct': {'key': 'proto-dst', 'dir': 'original'}}, 'right': '@fwd_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@fwd_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 27,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}}, {'counter': {'packets': 0, 'bytes': 0}},
                                     {'drop': None}]}}]}
)

LIVE_COUNTERS: dict[str, t.Any] = (
    {'nftables': [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
                  {'table': {'family': 'inet', 'name': 'bulwark', 'handle': 29}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 3,
                           'flags': ['interval'],
                           'elem': [22]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 4,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '10.0.0.0', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v6',
                           'table': 'bulwark',
                           'type': 'ipv6_addr',
                           'handle': 5,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': 'fd00::', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_1_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 6,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 7,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 8,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '172.30.0.0', 'len': 16}}]}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'input',
                             'handle': 1,
                             'type': 'filter',
                             'hook': 'input',
                             'prio': 0,
                             'policy': 'drop'}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'forward',
                             'handle': 2,
                             'type': 'filter',
                             'hook': 'forward',
                             'prio': -10,
                             'policy': 'accept'}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 9,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 10,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'invalid'}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 11,
                            'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'iif'}}, 'right': 'lo'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 13,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmp', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'time-exceeded', 'parameter-problem']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 15,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem',
                                                                  'nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                                                  'nd-neighbor-advert']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 17,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}},
                                                'right': {'prefix': {'addr': 'fe80::', 'len': 10}}}},
                                     {'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['mld-listener-query', 'mld-listener-report', 'mld-listener-done',
                                                                  'mld2-listener-report']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 18,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmp', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 19,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 20,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@in_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 21,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}}, 'right': '@in_0_v6'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 22,
                            'comment': 'allow[1] 8080/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_1_ports'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 23,
                            'expr': [{'limit': {'rate': 5, 'burst': 5, 'per': 'minute'}}, {'log': {'prefix': 'bulwark drop: '}}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 24,
                            'expr': [{'counter': {'packets': 2, 'bytes': 120}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 25,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 26,
                            'comment': 'published[0] 8080/tcp',
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}},
                                     {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'tcp'}},
                                     {'match': {'op': '==', 'left': {'ct': {'key': 'proto-dst', 'dir': 'original'}}, 'right': '@fwd_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@fwd_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 27,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}}, {'counter': {'packets': 0, 'bytes': 0}},
                                     {'drop': None}]}}]}
)

DRIFT_RULE_ADDED: dict[str, t.Any] = (
    {'nftables': [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
                  {'table': {'family': 'inet', 'name': 'bulwark', 'handle': 29}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 3,
                           'flags': ['interval'],
                           'elem': [22]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 4,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '10.0.0.0', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v6',
                           'table': 'bulwark',
                           'type': 'ipv6_addr',
                           'handle': 5,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': 'fd00::', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_1_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 6,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 7,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 8,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '172.30.0.0', 'len': 16}}]}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'input',
                             'handle': 1,
                             'type': 'filter',
                             'hook': 'input',
                             'prio': 0,
                             'policy': 'drop'}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'forward',
                             'handle': 2,
                             'type': 'filter',
                             'hook': 'forward',
                             'prio': -10,
                             'policy': 'accept'}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 9,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 10,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'invalid'}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 11,
                            'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'iif'}}, 'right': 'lo'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 13,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmp', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'time-exceeded', 'parameter-problem']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 15,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem',
                                                                  'nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                                                  'nd-neighbor-advert']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 17,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}},
                                                'right': {'prefix': {'addr': 'fe80::', 'len': 10}}}},
                                     {'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['mld-listener-query', 'mld-listener-report', 'mld-listener-done',
                                                                  'mld2-listener-report']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 18,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmp', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 19,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 20,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@in_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 21,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}}, 'right': '@in_0_v6'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 22,
                            'comment': 'allow[1] 8080/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_1_ports'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 23,
                            'expr': [{'limit': {'rate': 5, 'burst': 5, 'per': 'minute'}}, {'log': {'prefix': 'bulwark drop: '}}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 24,
                            'expr': [{'counter': {'packets': 2, 'bytes': 120}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 28,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': 9999}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 25,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 26,
                            'comment': 'published[0] 8080/tcp',
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}},
                                     {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'tcp'}},
                                     {'match': {'op': '==', 'left': {'ct': {'key': 'proto-dst', 'dir': 'original'}}, 'right': '@fwd_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@fwd_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 27,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}}, {'counter': {'packets': 0, 'bytes': 0}},
                                     {'drop': None}]}}]}
)

DRIFT_ELEMENT_REMOVED: dict[str, t.Any] = (
    {'nftables': [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
                  {'table': {'family': 'inet', 'name': 'bulwark', 'handle': 31}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 3,
                           'flags': ['interval'],
                           'elem': [22]}},
                  {'set': {'family': 'inet', 'name': 'in_0_v4', 'table': 'bulwark', 'type': 'ipv4_addr', 'handle': 4, 'flags': ['interval']}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v6',
                           'table': 'bulwark',
                           'type': 'ipv6_addr',
                           'handle': 5,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': 'fd00::', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_1_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 6,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 7,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 8,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '172.30.0.0', 'len': 16}}]}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'input',
                             'handle': 1,
                             'type': 'filter',
                             'hook': 'input',
                             'prio': 0,
                             'policy': 'drop'}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'forward',
                             'handle': 2,
                             'type': 'filter',
                             'hook': 'forward',
                             'prio': -10,
                             'policy': 'accept'}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 9,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 10,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'invalid'}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 11,
                            'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'iif'}}, 'right': 'lo'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 13,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmp', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'time-exceeded', 'parameter-problem']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 15,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem',
                                                                  'nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                                                  'nd-neighbor-advert']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 17,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}},
                                                'right': {'prefix': {'addr': 'fe80::', 'len': 10}}}},
                                     {'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['mld-listener-query', 'mld-listener-report', 'mld-listener-done',
                                                                  'mld2-listener-report']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 18,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmp', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 19,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 20,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@in_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 21,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}}, 'right': '@in_0_v6'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 22,
                            'comment': 'allow[1] 8080/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_1_ports'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 23,
                            'expr': [{'limit': {'rate': 5, 'burst': 5, 'per': 'minute'}}, {'log': {'prefix': 'bulwark drop: '}}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 24,
                            'expr': [{'counter': {'packets': 0, 'bytes': 0}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 25,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 26,
                            'comment': 'published[0] 8080/tcp',
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}},
                                     {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'tcp'}},
                                     {'match': {'op': '==', 'left': {'ct': {'key': 'proto-dst', 'dir': 'original'}}, 'right': '@fwd_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@fwd_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 27,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}}, {'counter': {'packets': 0, 'bytes': 0}},
                                     {'drop': None}]}}]}
)

DRIFT_POLICY_ACCEPT: dict[str, t.Any] = (
    {'nftables': [{'metainfo': {'version': '1.0.6', 'release_name': 'Lester Gooch #5', 'json_schema_version': 1}},
                  {'table': {'family': 'inet', 'name': 'bulwark', 'handle': 32}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 3,
                           'flags': ['interval'],
                           'elem': [22]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 4,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '10.0.0.0', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_0_v6',
                           'table': 'bulwark',
                           'type': 'ipv6_addr',
                           'handle': 5,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': 'fd00::', 'len': 8}}]}},
                  {'set': {'family': 'inet',
                           'name': 'in_1_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 6,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_ports',
                           'table': 'bulwark',
                           'type': 'inet_service',
                           'handle': 7,
                           'flags': ['interval'],
                           'elem': [8080]}},
                  {'set': {'family': 'inet',
                           'name': 'fwd_0_v4',
                           'table': 'bulwark',
                           'type': 'ipv4_addr',
                           'handle': 8,
                           'flags': ['interval'],
                           'elem': [{'prefix': {'addr': '172.30.0.0', 'len': 16}}]}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'input',
                             'handle': 1,
                             'type': 'filter',
                             'hook': 'input',
                             'prio': 0,
                             'policy': 'accept'}},
                  {'chain': {'family': 'inet',
                             'table': 'bulwark',
                             'name': 'forward',
                             'handle': 2,
                             'type': 'filter',
                             'hook': 'forward',
                             'prio': -10,
                             'policy': 'accept'}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 9,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 10,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': 'invalid'}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 11,
                            'expr': [{'match': {'op': '==', 'left': {'meta': {'key': 'iif'}}, 'right': 'lo'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 13,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmp', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'time-exceeded', 'parameter-problem']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 15,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['destination-unreachable', 'packet-too-big', 'time-exceeded', 'parameter-problem',
                                                                  'nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit',
                                                                  'nd-neighbor-advert']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 17,
                            'expr': [{'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}},
                                                'right': {'prefix': {'addr': 'fe80::', 'len': 10}}}},
                                     {'match': {'op': '==',
                                                'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}},
                                                'right': {'set': ['mld-listener-query', 'mld-listener-report', 'mld-listener-done',
                                                                  'mld2-listener-report']}}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 18,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmp', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 19,
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'icmpv6', 'field': 'type'}}, 'right': 'echo-request'}},
                                     {'limit': {'rate': 10, 'burst': 5, 'per': 'second'}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 20,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@in_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 21,
                            'comment': 'allow[0] ssh/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip6', 'field': 'saddr'}}, 'right': '@in_0_v6'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 22,
                            'comment': 'allow[1] 8080/tcp',
                            'expr': [{'match': {'op': '==', 'left': {'payload': {'protocol': 'tcp', 'field': 'dport'}}, 'right': '@in_1_ports'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 23,
                            'expr': [{'limit': {'rate': 5, 'burst': 5, 'per': 'minute'}}, {'log': {'prefix': 'bulwark drop: '}}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'input',
                            'handle': 24,
                            'expr': [{'counter': {'packets': 0, 'bytes': 0}}, {'drop': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 25,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'state'}}, 'right': ['established', 'related']}}, {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 26,
                            'comment': 'published[0] 8080/tcp',
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}},
                                     {'match': {'op': '==', 'left': {'meta': {'key': 'l4proto'}}, 'right': 'tcp'}},
                                     {'match': {'op': '==', 'left': {'ct': {'key': 'proto-dst', 'dir': 'original'}}, 'right': '@fwd_0_ports'}},
                                     {'match': {'op': '==', 'left': {'payload': {'protocol': 'ip', 'field': 'saddr'}}, 'right': '@fwd_0_v4'}},
                                     {'accept': None}]}},
                  {'rule': {'family': 'inet',
                            'table': 'bulwark',
                            'chain': 'forward',
                            'handle': 27,
                            'expr': [{'match': {'op': 'in', 'left': {'ct': {'key': 'status'}}, 'right': 'dnat'}}, {'counter': {'packets': 0, 'bytes': 0}},
                                     {'drop': None}]}}]}
)
# fmt: on


def test_a_table_without_our_comment_is_foreign_unless_it_is_the_default() -> None:
    ours = 'table inet mine {\n\tcomment "managed by bulwark.hardening"\n}\n'
    assert not foreign_table("mine", ours)
    assert foreign_table("filter", "table inet filter {\n\tchain input {\n\t}\n}\n")
    assert not foreign_table("bulwark", "table inet bulwark {\n}\n")  # made before the comment existed


def test_a_null_policy_is_refused() -> None:
    with pytest.raises(NftPolicyError, match="^policy: required with state present"):
        normalize_policy(None)
