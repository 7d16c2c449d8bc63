# SPDX-License-Identifier: GPL-3.0-or-later
"""Unit tests of the pure parts of lab/bulwark_lab.py: tables of input and exact output."""

from __future__ import annotations

import datetime
import ipaddress
import itertools
from pathlib import Path
from typing import Any

import bulwark_lab as lab
import pytest
import yaml

KNOWN_TARGETS = "control-plane, docker-host, node, syslog"


@pytest.mark.parametrize(
    ("kind", "names", "known", "expected"),
    [
        ("target", ["node"], lab.TARGETS, ["node"]),
        ("target", ["syslog", "node", "syslog"], lab.TARGETS, ["syslog", "node"]),
        ("target", [], lab.TARGETS, []),
        ("image", ["dind", "base"], lab.IMAGES, ["dind", "base"]),
    ],
)
def test_validate_names_accepts(kind: str, names: list[str], known: dict, expected: list[str]) -> None:
    assert lab.validate_names(kind, names, known) == expected


@pytest.mark.parametrize(
    ("kind", "names", "known", "message"),
    [
        ("target", ["nosuch"], lab.TARGETS, f"unknown target 'nosuch'; known targets: {KNOWN_TARGETS}"),
        (
            "target",
            ["a", "node", "b"],
            lab.TARGETS,
            f"unknown targets 'a', 'b'; known targets: {KNOWN_TARGETS}",
        ),
        ("image", ["web"], lab.IMAGES, "unknown image 'web'; known images: base, control-plane, dind, syslog"),
        ("target", ["Node"], lab.TARGETS, f"unknown target 'Node'; known targets: {KNOWN_TARGETS}"),
    ],
)
def test_validate_names_rejects(kind: str, names: list[str], known: dict, message: str) -> None:
    with pytest.raises(lab.LabError) as caught:
        lab.validate_names(kind, names, known)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("names", "order"),
    [
        (["base"], ["base"]),
        (["dind"], ["base", "dind"]),
        (["syslog", "dind"], ["base", "dind", "syslog"]),
        (["syslog", "base", "syslog"], ["base", "syslog"]),
        ([], []),
    ],
)
def test_with_parents_in_build_order(names: list[str], order: list[str]) -> None:
    assert lab.with_parents(names) == order


def test_every_target_runs_a_known_image_in_a_known_group() -> None:
    for target in lab.TARGETS.values():
        assert target.image in lab.IMAGES
        assert target.group in lab.GROUPS


RECIPE: dict[str, Any] = {
    "files": {"Dockerfile": b"FROM x\n"},
    "parent_hash": "p",
    "packages": ["a", "b"],
    "suite": "bookworm",
}


def test_recipe_hash_is_pinned() -> None:
    # The hash is stored in image labels: changing how it is computed rebuilds every lab image.
    assert lab.recipe_hash(**RECIPE) == "180de9bcd91318473c14832c01a1d2a53c7f5be097c61476c89b0046fcf0ee79"


def test_recipe_hash_ignores_package_order_and_duplicates() -> None:
    assert lab.recipe_hash(**{**RECIPE, "packages": ["b", "a", "a"]}) == lab.recipe_hash(**RECIPE)


@pytest.mark.parametrize(
    "change",
    [
        {"files": {"Dockerfile": b"FROM y\n"}},
        {"files": {"Dockerfile.old": b"FROM x\n"}},
        {"files": {"Dockerfile": b"FROM x\n", "extra.sh": b""}},
        {"parent_hash": "q"},
        {"packages": ["a"]},
        {"packages": ["a", "b", "c"]},
        {"suite": "trixie"},
        {"source": "http://mirror.example/debian"},
    ],
)
def test_recipe_hash_changes_with_every_input(change: dict) -> None:
    assert lab.recipe_hash(**{**RECIPE, **change}) != lab.recipe_hash(**RECIPE)


def test_recipe_hash_fields_cannot_run_into_each_other() -> None:
    one = lab.recipe_hash({"ab": b"c"}, "", [], "bookworm")
    other = lab.recipe_hash({"a": b"bc"}, "", [], "bookworm")
    assert one != other
    assert lab.recipe_hash({}, "", ["ab"], "s") != lab.recipe_hash({}, "", ["a", "b"], "s")


@pytest.mark.parametrize(
    ("current", "force", "plan"),
    [
        ({"base": "h1", "dind": "h2"}, [], {}),
        ({"base": None, "dind": "h2"}, [], {"base": "missing"}),
        ({"base": "h1", "dind": "old"}, [], {"dind": "recipe changed"}),
        ({"base": "old", "dind": None}, [], {"base": "recipe changed", "dind": "missing"}),
        ({"base": "h1", "dind": "h2"}, ["base"], {"base": "forced"}),
        ({}, [], {"base": "missing", "dind": "missing"}),
    ],
)
def test_plan_builds(current: dict, force: list[str], plan: dict) -> None:
    assert lab.plan_builds(["base", "dind"], {"base": "h1", "dind": "h2"}, current, force) == plan


THIS_MACHINE = """\
Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
"""


@pytest.mark.parametrize(
    ("sources", "mirrors"),
    [
        ([("debian.sources", THIS_MACHINE)], ("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")),
        ([], (lab.DEFAULT_MIRROR, lab.DEFAULT_SECURITY_MIRROR)),
        (
            [("sources.list", "deb [arch=amd64 signed-by=/k.gpg] http://m.example/debian/ bookworm main\n")],
            ("http://m.example/debian", lab.DEFAULT_SECURITY_MIRROR),
        ),
        (
            [("sources.list", "deb [ arch=amd64 ] https://m.example/d bookworm main # comment\n")],
            ("https://m.example/d", lab.DEFAULT_SECURITY_MIRROR),
        ),
        (
            # Comments, deb-src, cdrom and file URIs, other suites: none of them is a mirror.
            [
                (
                    "sources.list",
                    "# deb http://commented.example/debian bookworm main\n"
                    "deb-src http://src.example/debian bookworm main\n"
                    "deb cdrom:[Debian 12]/ bookworm main\n"
                    "deb file:///srv/repo bookworm main\n"
                    "deb http://old.example/debian bullseye main\n"
                    "deb https://packages.cloud.google.com/apt cloud-sdk-bookworm main\n",
                )
            ],
            (lab.DEFAULT_MIRROR, lab.DEFAULT_SECURITY_MIRROR),
        ),
        (
            # The first entry wins, as in apt; a disabled deb822 stanza does not count.
            [
                ("a.sources", "Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nEnabled: no\n"),
                ("b.list", "deb http://first.example/debian bookworm main\n"),
                ("c.list", "deb http://second.example/debian bookworm main\n"),
            ],
            ("http://first.example/debian", lab.DEFAULT_SECURITY_MIRROR),
        ),
        (
            # deb822 continuation lines, and several URIs and types in one stanza.
            [
                (
                    "x.sources",
                    "Types: deb-src deb\nURIs:\n http://one.example/debian\n http://two.example/debian\n"
                    "Suites: bookworm-security bookworm\n",
                )
            ],
            ("http://one.example/debian", "http://one.example/debian"),
        ),
        (
            # A .sources-style text in a .list file is not deb822: apt would not read it so either.
            [("wrong.list", "Types: deb\nURIs: http://x.example/debian\nSuites: bookworm\n")],
            (lab.DEFAULT_MIRROR, lab.DEFAULT_SECURITY_MIRROR),
        ),
    ],
)
def test_apt_mirrors(sources: list[tuple[str, str]], mirrors: tuple[str, str]) -> None:
    assert lab.apt_mirrors(sources, "bookworm") == mirrors


def test_read_apt_sources_reads_what_apt_reads(tmp_path: Path) -> None:
    (tmp_path / "sources.list").write_text("main")
    parts = tmp_path / "sources.list.d"
    parts.mkdir()
    for name in ("b.sources", "a.list", "nodesource.sources.disabled-by-farm", "c.list.save"):
        (parts / name).write_text(name)
    assert lab.read_apt_sources(tmp_path) == [
        ("sources.list", "main"),
        ("a.list", "a.list"),
        ("b.sources", "b.sources"),
    ]


def test_check_disk_passes_with_room() -> None:
    lab.check_disk({"/var/cache/bulwark": 3072, "/var/lib/docker": 80000}, "/var/cache/bulwark")


@pytest.mark.parametrize(
    ("free", "message"),
    [
        (
            {"/mnt/small": 1, "/var/lib/docker": 80000},
            "not enough disk space: /mnt/small has 1 MiB free, the lab needs 3072 MiB;"
            " free some space there or set BULWARK_CACHE to a directory on a bigger disk",
        ),
        (
            {"/mnt/small": 5000, "/var/lib/docker": 3071},
            "not enough disk space: /var/lib/docker has 3071 MiB free, the lab needs 3072 MiB;"
            " free some space there (docker system prune removes unused images)",
        ),
    ],
)
def test_check_disk_names_path_space_and_fix(free: dict[str, int], message: str) -> None:
    with pytest.raises(lab.LabError) as caught:
        lab.check_disk(free, "/mnt/small")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "ips", "ip_range"),
    [
        ("172.30.117.0/24", ("172.30.117.10", "172.30.117.11", "172.30.117.12"), "172.30.117.128/25"),
        ("10.20.0.0/16", ("10.20.0.10", "10.20.0.11", "10.20.0.12"), "10.20.128.0/17"),
    ],
)
def test_subnet_addresses(text: str, ips: tuple[str, ...], ip_range: str) -> None:
    subnet = lab.parse_subnet(text)
    targets = (lab.TARGETS["docker-host"], lab.TARGETS["node"], lab.TARGETS["syslog"])
    assert tuple(lab.target_ip(subnet, t) for t in targets) == ips
    args = lab.network_create_args(subnet)
    assert args[args.index("--ip-range") + 1] == ip_range
    # Fixed target addresses must stay out of the range docker hands out on its own.
    assert not any(ipaddress.ip_address(ip) in ipaddress.ip_network(ip_range) for ip in ips)


@pytest.mark.parametrize("text", ["172.30.117.0/25", "fd00::/64", "lab", "172.30.117.5/24", ""])
def test_parse_subnet_rejects(text: str) -> None:
    with pytest.raises(lab.LabError) as caught:
        lab.parse_subnet(text)
    assert str(caught.value) == (
        f"BULWARK_LAB_SUBNET={text!r} is not usable: give an IPv4 network of /24 or larger, e.g. 172.30.117.0/24"
    )


def test_docker_run_args_node() -> None:
    assert lab.docker_run_args(lab.TARGETS["node"], "172.30.117.11") == [
        "docker", "run", "--detach", "--pull", "never",
        "--name", "bulwark-lab-node", "--hostname", "bulwark-lab-node",
        "--label", "org.bulwark.lab.target=node",
        "--network", "bulwark-lab", "--ip", "172.30.117.11",
        "--cgroupns", "host", "--volume", "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        "--stop-signal", "SIGRTMIN+3",
        "--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cap-add", "NET_RAW",
        "--cap-add", "SYS_PTRACE", "--cap-add", "AUDIT_CONTROL", "--cap-add", "AUDIT_WRITE",
        "bulwark-lab/base:latest", "/lib/systemd/systemd",
    ]  # fmt: skip


def test_docker_run_args_docker_host() -> None:
    args = lab.docker_run_args(lab.TARGETS["docker-host"], "172.30.117.10")
    pairs = set(itertools.pairwise(args))
    assert ("--cap-add", "MKNOD") in pairs
    assert ("--sysctl", "net.ipv4.ip_forward=1") in pairs
    assert ("--sysctl", "net.ipv4.conf.default.route_localnet=1") in pairs
    assert ("--volume", "/sys/fs/cgroup:/sys/fs/cgroup:rw") in pairs
    assert ("--volume", "bulwark-lab-docker-host-var-lib-docker:/var/lib/docker") in pairs
    assert args[-2:] == ["bulwark-lab/dind:latest", "/lib/systemd/systemd"]


@pytest.mark.parametrize("target", sorted(lab.TARGETS))
def test_no_target_asks_for_privileged(target: str) -> None:
    # --privileged and --cap-add ALL cannot start on these hosts (LAB.md host fact 1).
    binaries = {name: Path(f"/cache/{name}") for name in lab.TARGETS[target].binaries}
    args = lab.docker_run_args(lab.TARGETS[target], "172.30.117.2", binaries)
    assert "--privileged" not in args
    assert "ALL" not in args


EMPTY_INVENTORY = """\
# Written by lab/bulwark_lab.py on every up and down: do not edit.
all:
  vars:
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
  children:
    docker_hosts:
      hosts: {}
    nodes:
      hosts: {}
    log_receivers:
      hosts: {}
    control_plane:
      hosts: {}
"""


def test_render_inventory_empty() -> None:
    assert lab.render_inventory({}) == EMPTY_INVENTORY


def test_render_inventory_node() -> None:
    assert lab.render_inventory({"node": "172.30.117.11"}) == EMPTY_INVENTORY.replace(
        "    nodes:\n      hosts: {}\n",
        "    nodes:\n      hosts:\n        bulwark-lab-node:\n          bulwark_lab_ip: 172.30.117.11\n",
    )


def test_render_inventory_is_yaml_with_every_group() -> None:
    running = {"node": "172.30.117.11", "docker-host": "172.30.117.10", "syslog": "172.30.117.12"}
    parsed = yaml.safe_load(lab.render_inventory(running))
    groups = parsed["all"]["children"]
    assert groups["docker_hosts"]["hosts"] == {"bulwark-lab-docker-host": {"bulwark_lab_ip": "172.30.117.10"}}
    assert groups["nodes"]["hosts"] == {"bulwark-lab-node": {"bulwark_lab_ip": "172.30.117.11"}}
    assert groups["log_receivers"]["hosts"] == {"bulwark-lab-syslog": {"bulwark_lab_ip": "172.30.117.12"}}
    assert parsed["all"]["vars"] == {
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
    }


def test_recipes_are_in_the_tree() -> None:
    assert set(lab.read_recipe_files(lab.IMAGES["base"].recipe_dir)) == {"rootfs.sh"}
    for name in ("dind", "syslog"):
        assert set(lab.read_recipe_files(lab.IMAGES[name].recipe_dir)) == {"Dockerfile"}
    assert set(lab.read_recipe_files(lab.IMAGES["control-plane"].recipe_dir)) == {
        "Dockerfile",
        "bulwark-kubeadm-init",
        "bulwark-static-pods.service",
        "static_pod_runner.py",
    }
    for build in lab.GO_BUILDS.values():
        assert set(lab.read_recipe_files(build.recipe_dir)) == {"go.mod", "go.sum", "tools.go"}


def test_recipe_hashes_chain_to_the_parent() -> None:
    hashes = lab.recipe_hashes("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")
    assert hashes == lab.recipe_hashes("http://deb.debian.org/debian", "http://deb.debian.org/debian-security")
    assert len(set(hashes.values())) == len(lab.IMAGES)
    # Another mirror lands in the base's sources.list, so every image is a new recipe.
    moved = lab.recipe_hashes("http://mirror.example/debian", "http://deb.debian.org/debian-security")
    assert all(moved[name] != hashes[name] for name in lab.IMAGES)


def test_docker_run_args_control_plane_mounts_the_built_binaries_read_only() -> None:
    names = ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubeadm", "etcd")
    assert lab.TARGETS["control-plane"].binaries == names
    binaries = {name: Path(f"/cache/kube/b/{name}") for name in names}
    args = lab.docker_run_args(lab.TARGETS["control-plane"], "172.30.117.13", binaries)
    pairs = set(zip(args, args[1:]))
    for name in binaries:
        assert ("--volume", f"/cache/kube/b/{name}:/usr/local/bin/{name}:ro") in pairs
    assert args[-2:] == ["bulwark-lab/control-plane:latest", "/lib/systemd/systemd"]


def test_every_target_binary_has_a_build() -> None:
    for target in lab.TARGETS.values():
        assert all(name in lab.BINARY_BUILDS for name in target.binaries)


@pytest.mark.parametrize(
    ("build", "module", "version"),
    [("kubernetes", "k8s.io/kubernetes", "v1.37.2"), ("etcd", "go.etcd.io/etcd/server/v3", "v3.7.0")],
)
def test_the_go_recipes_pin_their_release(build: str, module: str, version: str) -> None:
    go_mod = (lab.GO_BUILDS[build].recipe_dir / "go.mod").read_text()
    assert lab.GO_BUILDS[build].module == module
    assert lab.required_version(go_mod, module) == version


def test_every_kubernetes_staging_module_is_replaced_by_its_release() -> None:
    # A staging module left at v0.0.0 makes `go build` fail; one at another release mixes versions.
    go_mod = (lab.GO_BUILDS["kubernetes"].recipe_dir / "go.mod").read_text()
    block = go_mod.split("replace (", 1)[1].split(")", 1)[0]
    targets = {line.split("=>")[1].split()[1] for line in block.strip().splitlines()}
    assert targets == {"v0.37.2"}
    assert "k8s.io/api => k8s.io/api v0.37.2" in block


def test_required_version_reads_single_and_block_requires() -> None:
    text = "module x\n\nrequire a.b/c v1.2.3\n\nrequire (\n\td.e/f v0.1.0 // indirect\n)\n"
    assert lab.required_version(text, "a.b/c") == "v1.2.3"
    assert lab.required_version(text, "d.e/f") == "v0.1.0"
    with pytest.raises(lab.LabError, match="does not require g.h/i"):
        lab.required_version(text, "g.h/i")


def test_go_ldflags_stamp_the_kubernetes_version() -> None:
    flags = lab.go_ldflags(lab.GO_BUILDS["kubernetes"], "v1.37.2")
    assert flags.startswith("-s -w ")
    assert "-X k8s.io/component-base/version.gitVersion=v1.37.2" in flags
    assert "-X k8s.io/component-base/version.gitMinor=37" in flags
    assert "-X k8s.io/client-go/pkg/version.gitMajor=1" in flags
    assert lab.go_ldflags(lab.GO_BUILDS["etcd"], "v3.7.0") == "-s -w"


def test_the_docker_hosts_group_waives_what_a_container_cannot_do() -> None:
    parsed = yaml.safe_load(lab.render_inventory({"docker-host": "172.30.117.10"}, today=datetime.date(2026, 12, 1)))
    waivers = parsed["all"]["children"]["docker_hosts"]["vars"]["bulwark_waivers"]
    assert [w["id"] for w in waivers] == [f"CIS-Docker 1.1.{n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18)]
    # Renewed on every write, and read by YAML as the date it is.
    assert {w["expires"] for w in waivers} == {datetime.date(2026, 12, 31)}
    assert all("PID namespace" in w["reason"] for w in waivers)
    assert "vars" not in parsed["all"]["children"]["control_plane"]
