# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The daemon.json keys that dockerd knows (Linux, Docker Engine 20.10 to 28), as data.

Sources: the ``json`` tags of moby's ``daemon/config`` package and the "Daemon configuration
file" section of the dockerd reference. One row per key: the JSON type dockerd decodes it into,
the dockerd flags that set the same directive (dockerd refuses to start when both are given), the
allowed values where dockerd checks them, and a note when the key is deprecated or removed.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

# Type names used in the table. They are also the words used in error messages.
BOOL = "bool"
INT = "int"
STR = "str"
LIST_STR = "list[str]"
LIST_DICT = "list[dict]"
DICT = "dict"
DICT_STR = "dict[str,str]"
DICT_BOOL = "dict[str,bool]"
DICT_DICT = "dict[str,dict]"

TYPES = (BOOL, INT, STR, LIST_STR, LIST_DICT, DICT, DICT_STR, DICT_BOOL, DICT_DICT)


@dataclass(frozen=True)
class KeySpec:
    """What dockerd accepts for one daemon.json key."""

    type: str
    # dockerd flags (long names without dashes, or one-letter short names) that set the same
    # directive; None means "the flag named like the key".
    flags: tuple[str, ...] | None = None
    choices: tuple[str, ...] = ()
    # Shown as a warning when the key is set: deprecated or removed in some Docker release.
    note: str | None = None
    # Keys allowed inside a dict-valued key (only where dockerd fixes them).
    subkeys: tuple[str, ...] = ()

    def flag_names(self, key: str) -> tuple[str, ...]:
        return (key,) if self.flags is None else self.flags


NO_FLAG: tuple[str, ...] = ()

SCHEMA: t.Mapping[str, KeySpec] = {
    "allow-direct-routing": KeySpec(BOOL),
    "allow-nondistributable-artifacts": KeySpec(LIST_STR, note="deprecated in Docker 27 and ignored since Docker 28"),
    "api-cors-header": KeySpec(
        STR, note="deprecated in Docker 27 and rejected since Docker 28; use a reverse proxy for CORS"
    ),
    "authorization-plugins": KeySpec(LIST_STR, flags=("authorization-plugin",)),
    "bip": KeySpec(STR),
    "bip6": KeySpec(STR),
    "bridge": KeySpec(STR, flags=("bridge", "b")),
    "bridge-accept-fwmark": KeySpec(STR),
    "builder": KeySpec(DICT, flags=NO_FLAG),
    "cdi-spec-dirs": KeySpec(LIST_STR, flags=("cdi-spec-dir",)),
    "cgroup-parent": KeySpec(STR),
    "cluster-advertise": KeySpec(STR, note="removed in Docker 23 (legacy overlay networks)"),
    "cluster-store": KeySpec(STR, note="removed in Docker 23 (legacy overlay networks)"),
    "cluster-store-opts": KeySpec(
        DICT_STR, flags=("cluster-store-opt",), note="removed in Docker 23 (legacy overlay networks)"
    ),
    "containerd": KeySpec(STR),
    "containerd-namespace": KeySpec(STR),
    # The flag is spelled --containerd-plugins-namespace; dockerd does not compare the two.
    "containerd-plugin-namespace": KeySpec(STR, flags=NO_FLAG),
    "cpu-rt-period": KeySpec(INT),
    "cpu-rt-runtime": KeySpec(INT),
    "cri-containerd": KeySpec(BOOL),
    "data-root": KeySpec(STR),
    "debug": KeySpec(BOOL, flags=("debug", "D")),
    "default-address-pools": KeySpec(LIST_DICT, flags=("default-address-pool",)),
    "default-cgroupns-mode": KeySpec(STR, choices=("host", "private")),
    "default-gateway": KeySpec(STR),
    "default-gateway-v6": KeySpec(STR),
    "default-ipc-mode": KeySpec(STR, choices=("shareable", "private")),
    "default-network-opts": KeySpec(DICT_DICT, flags=("default-network-opt",)),
    "default-runtime": KeySpec(STR),
    "default-shm-size": KeySpec(STR),
    "default-ulimits": KeySpec(DICT_DICT, flags=("default-ulimit",)),
    "dns": KeySpec(LIST_STR),
    "dns-opts": KeySpec(LIST_STR, flags=("dns-opt",)),
    "dns-search": KeySpec(LIST_STR),
    "exec-opts": KeySpec(LIST_STR, flags=("exec-opt",)),
    "exec-root": KeySpec(STR),
    "experimental": KeySpec(BOOL),
    "features": KeySpec(DICT_BOOL, flags=("feature",)),
    "firewall-backend": KeySpec(STR, choices=("iptables", "nftables")),
    "fixed-cidr": KeySpec(STR),
    "fixed-cidr-v6": KeySpec(STR),
    "graph": KeySpec(STR, flags=("graph", "g"), note="removed in Docker 23; use data-root"),
    "group": KeySpec(STR, flags=("group", "G")),
    "host-gateway-ip": KeySpec(STR, note="deprecated in Docker 28; use host-gateway-ips"),
    "host-gateway-ips": KeySpec(LIST_STR, flags=("host-gateway-ip",)),
    "hosts": KeySpec(LIST_STR, flags=("host", "H")),
    "icc": KeySpec(BOOL),
    "init": KeySpec(BOOL),
    "init-path": KeySpec(STR),
    "insecure-registries": KeySpec(LIST_STR, flags=("insecure-registry",)),
    "ip": KeySpec(STR),
    "ip-forward": KeySpec(BOOL),
    "ip-forward-no-drop": KeySpec(BOOL),
    "ip-masq": KeySpec(BOOL),
    "ip6tables": KeySpec(BOOL),
    "iptables": KeySpec(BOOL),
    "ipv6": KeySpec(BOOL),
    "labels": KeySpec(LIST_STR, flags=("label",)),
    "live-restore": KeySpec(BOOL),
    "log-driver": KeySpec(STR),
    "log-format": KeySpec(STR, choices=("text", "json")),
    "log-level": KeySpec(STR, flags=("log-level", "l"), choices=("debug", "info", "warn", "error", "fatal")),
    "log-opts": KeySpec(DICT_STR, flags=("log-opt",)),
    "max-concurrent-downloads": KeySpec(INT),
    "max-concurrent-uploads": KeySpec(INT),
    "max-download-attempts": KeySpec(INT),
    "metrics-addr": KeySpec(STR),
    "mtu": KeySpec(INT),
    "network-control-plane-mtu": KeySpec(INT),
    "network-diagnostic-port": KeySpec(INT),
    "no-new-privileges": KeySpec(BOOL),
    "node-generic-resources": KeySpec(LIST_STR, flags=("node-generic-resource",)),
    "oom-score-adjust": KeySpec(INT, note="deprecated in Docker 24 and removed in Docker 25"),
    "pidfile": KeySpec(STR, flags=("pidfile", "p")),
    # dockerd flattens this object and compares its members with --http-proxy etc.
    "proxies": KeySpec(DICT_STR, flags=NO_FLAG, subkeys=("http-proxy", "https-proxy", "no-proxy")),
    "raw-logs": KeySpec(BOOL),
    "registry-mirrors": KeySpec(LIST_STR, flags=("registry-mirror",)),
    "rootless": KeySpec(BOOL),
    # --add-runtime and "runtimes" are merged by dockerd, never a conflict.
    "runtimes": KeySpec(DICT_DICT, flags=NO_FLAG),
    "seccomp-profile": KeySpec(STR),
    "selinux-enabled": KeySpec(BOOL),
    "shutdown-timeout": KeySpec(INT),
    "storage-driver": KeySpec(STR, flags=("storage-driver", "s")),
    "storage-opts": KeySpec(LIST_STR, flags=("storage-opt",)),
    "swarm-default-advertise-addr": KeySpec(STR),
    "tls": KeySpec(BOOL),
    "tlscacert": KeySpec(STR),
    "tlscert": KeySpec(STR),
    "tlskey": KeySpec(STR),
    "tlsverify": KeySpec(BOOL),
    "userland-proxy": KeySpec(BOOL),
    "userland-proxy-path": KeySpec(STR),
    "userns-remap": KeySpec(STR),
}

# Flags whose directive lives inside an object of daemon.json: flag -> (key, member).
NESTED_FLAGS: t.Mapping[str, tuple[str, str]] = {
    "http-proxy": ("proxies", "http-proxy"),
    "https-proxy": ("proxies", "https-proxy"),
    "no-proxy": ("proxies", "no-proxy"),
}

# dockerd flags that are booleans and have no daemon.json key (they never take a value).
OTHER_BOOL_FLAGS = frozenset(("help", "h", "version", "v", "validate"))

# Keys whose value must be a non-negative integer (dockerd rejects negatives).
NON_NEGATIVE_INT_KEYS = frozenset(
    ("max-concurrent-downloads", "max-concurrent-uploads", "max-download-attempts", "mtu", "network-control-plane-mtu")
)

# Schemes dockerd accepts in "hosts" (daemon side; ssh:// is client-only).
HOST_SCHEMES = ("unix", "tcp", "fd", "npipe")
