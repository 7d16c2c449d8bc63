# SPDX-License-Identifier: GPL-3.0-or-later
"""Build the bulwark lab images and run the lab targets on a private Docker network.

No container registry is reachable from the lab machines, so every image is made here: the base
by debootstrap + `docker import`, the others by `docker build FROM` the base. Each image carries a
label with the hash of its recipe; a run whose recipes did not change builds nothing.

Runs as root with the system python3 (stdlib only), on Debian 12. See lab/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import hashlib
import ipaddress
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
IMAGES_DIR = LAB_DIR / "images"

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
DEFAULT_CACHE = "/var/cache/bulwark"
# Inside Docker's default pool (172.17-31/16), but a /24 this deep is only taken by auto-allocation
# after a dozen other networks; BULWARK_LAB_SUBNET moves it when it clashes anyway.
DEFAULT_SUBNET = "172.30.117.0/24"
NETWORK = "bulwark-lab"
RECIPE_LABEL = "org.bulwark.lab.recipe"
TARGET_LABEL = "org.bulwark.lab.target"
# debootstrap root (~320 MB) + its tarball (~150 MB) + images (~600 MB), with room to spare.
MIN_FREE_MB = 3072
ENGINE_TIMEOUT_S = 60
READY_TIMEOUT_S = 120

# What `docker import` adds to the base root; part of the base recipe hash. (STOPSIGNAL is refused
# by import in Docker 20.10: the containers get --stop-signal instead.)
IMPORT_CHANGES = ("ENV container=docker", 'CMD ["/bin/bash"]')

ROOT_MESSAGE = "the lab needs root for docker and debootstrap: run as root (sudo make lab)"


class LabError(Exception):
    """A problem the user can act on; main() prints the message as is and exits 2."""


# --- what the lab is made of -------------------------------------------------------------------


@dataclass(frozen=True)
class Image:
    name: str
    parent: str | None  # None: made by debootstrap; otherwise `docker build FROM` the parent
    packages: tuple[str, ...]
    # Pinned Python wheels from PyPI, fetched on the host (the build cannot reach PyPI) into the
    # build context's wheels/ and installed by the Dockerfile without their dependencies.
    wheels: tuple[str, ...] = ()

    @property
    def tag(self) -> str:
        return f"bulwark-lab/{self.name}:latest"

    @property
    def recipe_dir(self) -> Path:
        return IMAGES_DIR / self.name


# debootstrap --include: systemd as PID 1, python3 for Ansible, and the tools the roles drive.
BASE_PACKAGES = (
    "python3,systemd,systemd-sysv,sudo,iproute2,nftables,iptables,procps,ca-certificates,"
    "iputils-ping,netcat-openbsd,dbus"
)
# In build order: parents first.
IMAGES: dict[str, Image] = {
    image.name: image
    for image in (
        Image("base", None, tuple(BASE_PACKAGES.split(","))),
        Image("dind", "base", ("docker.io", "openssl", "curl", "auditd", "python3-apt")),
        Image("syslog", "base", ("rsyslog", "rsyslog-gnutls", "rsyslog-openssl", "rsyslog-relp", "openssl", "logrotate")),
        # kubeadm's node layout, run by the static-pod runner (no kubelet yet); the Kubernetes
        # binaries are bind-mounted from the cache, so a new build needs no image rebuild.
        # kubernetes.core wants kubernetes>=24.2.0 and Debian 12 has 22.6; 30.1.0 is the newest that
        # runs on Debian's own dependencies of python3-kubernetes (31 adds durationpy).
        Image(
            "control-plane",
            "base",
            ("python3-yaml", "python3-kubernetes", "python3-pip", "openssl", "curl"),
            wheels=("kubernetes==30.1.0",),
        ),
    )
}

# Named capabilities instead of --privileged, which cannot start here (LAB.md host fact 1).
SYSTEMD_CAPS = ("SYS_ADMIN", "NET_ADMIN", "NET_RAW", "SYS_PTRACE", "AUDIT_CONTROL", "AUDIT_WRITE")
DOCKER_PROBE = ("docker", "version", "--format", "{{.Server.Version}}")


@dataclass(frozen=True)
class Target:
    name: str
    image: str
    group: str  # inventory group
    host: int  # fixed address in the lab subnet, so firewall tests can name their peers
    caps: tuple[str, ...] = SYSTEMD_CAPS
    cgroup_rw: bool = False  # the inner dockerd creates cgroups; systemd alone needs only ro
    sysctls: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()  # container paths kept on named volumes (removed by `down`)
    probe: tuple[str, ...] = ()  # run in the container after systemd is up; exit 0 = ready
    binaries: tuple[str, ...] = ()  # built Go binaries bind-mounted read-only at /usr/local/bin
    setup: tuple[str, ...] = ()  # run once after boot with the target's IP appended; exit 0 = ready

    @property
    def container(self) -> str:
        return f"bulwark-lab-{self.name}"


TARGETS: dict[str, Target] = {
    target.name: target
    for target in (
        Target(
            "docker-host",
            "dind",
            "docker_hosts",
            10,
            caps=(*SYSTEMD_CAPS, "MKNOD"),
            cgroup_rw=True,
            # /proc/sys is read-only in the container: set what dockerd would write (LAB.md 3).
            sysctls=("net.ipv4.ip_forward=1", "net.ipv4.conf.default.route_localnet=1"),
            # overlay2 does not work on overlayfs: the inner /var/lib/docker must be a volume.
            volumes=("/var/lib/docker",),
            probe=DOCKER_PROBE,
        ),
        Target("node", "base", "nodes", 11),
        Target("syslog", "syslog", "log_receivers", 12),
        Target(
            "control-plane",
            "control-plane",
            "control_plane",
            13,
            binaries=("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubeadm", "etcd"),
            setup=("/usr/local/sbin/bulwark-kubeadm-init",),
        ),
    )
}
GROUPS = ("docker_hosts", "nodes", "log_receivers", "control_plane")
# What the lab's targets cannot do, as waivers in its inventory (bulwark_waivers), so that a report
# of the lab says why instead of failing. The lab renews them each time it writes the inventory.
LAB_WAIVERS: dict[str, tuple[tuple[str, ...], str]] = {
    "docker_hosts": (
        tuple(f"CIS-Docker 1.1.{n}" for n in (3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18)),
        "the lab's Docker host is a container outside the host's PID namespace, whose audit rules the kernel"
        " refuses (tests/integration/test_audit_rules.py loads them for real)",
    ),
}
LAB_WAIVER_DAYS = 30


@dataclass(frozen=True)
class GoBuild:
    """Binaries built from a pinned Go module recipe in lab/kube/<name> through the module proxy."""

    name: str
    module: str  # the required module whose version names the build
    binaries: tuple[tuple[str, str], ...]  # (binary, package)
    version_vars: tuple[str, ...] = ()  # packages whose gitVersion/gitMajor/gitMinor get the version

    @property
    def recipe_dir(self) -> Path:
        return LAB_DIR / "kube" / self.name


GO_BUILDS: dict[str, GoBuild] = {
    build.name: build
    for build in (
        GoBuild(
            "kubernetes",
            "k8s.io/kubernetes",
            (
                ("kube-apiserver", "k8s.io/kubernetes/cmd/kube-apiserver"),
                ("kube-controller-manager", "k8s.io/kubernetes/cmd/kube-controller-manager"),
                ("kube-scheduler", "k8s.io/kubernetes/cmd/kube-scheduler"),
                ("kubeadm", "k8s.io/kubernetes/cmd/kubeadm"),
            ),
            # Without these the binaries report v0.0.0-master as their version.
            ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"),
        ),
        GoBuild("etcd", "go.etcd.io/etcd/server/v3", (("etcd", "go.etcd.io/etcd/server/v3"),)),
    )
}
BINARY_BUILDS = {binary: build for build in GO_BUILDS.values() for binary, _package in build.binaries}


# --- pure functions ----------------------------------------------------------------------------


def validate_names(kind: str, names: Iterable[str], known: Iterable[str]) -> list[str]:
    """Return NAMES without duplicates, or fail naming every unknown one and the known ones."""
    known = sorted(known)
    names = list(dict.fromkeys(names))
    unknown = [name for name in names if name not in known]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        listed = ", ".join(repr(name) for name in unknown)
        raise LabError(f"unknown {kind}{plural} {listed}; known {kind}s: {', '.join(known)}")
    return names


def with_parents(names: Iterable[str]) -> list[str]:
    """The images NAMES need, parents included, in build order."""
    wanted: set[str] = set()
    for name in names:
        current: str | None = name
        while current is not None:
            wanted.add(current)
            current = IMAGES[current].parent
    return [name for name in IMAGES if name in wanted]


def recipe_hash(
    files: Mapping[str, bytes],
    parent_hash: str,
    packages: Iterable[str],
    suite: str,
    source: str = "",
) -> str:
    """sha256 of everything that decides an image's content.

    FILES maps recipe file names (relative to the image's recipe dir) to their content. SOURCE holds
    the inputs of an image without a parent that live outside its files (mirrors, `docker import`
    changes). Package order does not matter, as neither debootstrap nor apt-get cares.
    """
    digest = hashlib.sha256()

    def feed(kind: str, data: bytes) -> None:
        # Length-prefixed, so that no two different recipes concatenate to the same bytes.
        digest.update(f"{kind}:{len(data)}:".encode() + data)

    feed("suite", suite.encode())
    feed("source", source.encode())
    feed("parent", parent_hash.encode())
    for package in sorted(set(packages)):
        feed("package", package.encode())
    for name in sorted(files):
        feed("file", name.encode())
        feed("content", files[name])
    return digest.hexdigest()


def plan_builds(
    order: Sequence[str], wanted: Mapping[str, str], current: Mapping[str, str | None], force: Iterable[str] = ()
) -> dict[str, str]:
    """Which images of ORDER to build, and why: WANTED and CURRENT map names to recipe hashes."""
    force = set(force)
    plan: dict[str, str] = {}
    for name in order:
        if name in force:
            plan[name] = "forced"
        elif current.get(name) is None:
            plan[name] = "missing"
        elif current[name] != wanted[name]:
            plan[name] = "recipe changed"
    return plan


def _apt_entries(filename: str, text: str) -> Iterator[tuple[str, str]]:
    """(uri, suite) of every enabled `deb` entry, from one-line (.list) or deb822 (.sources) text."""
    if filename.endswith(".sources"):
        stanza: dict[str, str] = {}
        key = ""
        for line in [*text.splitlines(), ""]:  # the blank line ends the last stanza
            if line.startswith("#"):
                continue
            if not line.strip():
                if "deb" in stanza.get("types", "").split() and stanza.get("enabled", "yes") != "no":
                    for uri in stanza.get("uris", "").split():
                        for suite in stanza.get("suites", "").split():
                            yield uri, suite
                stanza, key = {}, ""
            elif line[0] in " \t" and key:
                stanza[key] += " " + line.strip()
            else:
                key, _sep, value = line.partition(":")
                key = key.strip().lower()
                stanza[key] = value.strip()
        return
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while words and not words[0].endswith("]"):
                words.pop(0)
            words = words[1:]
        if len(words) >= 2:
            yield words[0], words[1]


def apt_mirrors(sources: Iterable[tuple[str, str]], suite: str) -> tuple[str, str]:
    """(archive, security) mirrors for SUITE from apt sources files given as (name, text).

    The first http(s) entry for the suite wins, as apt tries them in file order too; Debian's
    public mirrors are the fallback.
    """
    found: dict[str, str] = {}
    for filename, text in sources:
        for uri, entry_suite in _apt_entries(filename, text):
            if uri.startswith(("http://", "https://")):
                found.setdefault(entry_suite, uri.rstrip("/"))
    return (
        found.get(suite, DEFAULT_MIRROR),
        found.get(f"{suite}-security", DEFAULT_SECURITY_MIRROR),
    )


def check_disk(free_mb: Mapping[str, int], cache_dir: str, need_mb: int = MIN_FREE_MB) -> None:
    """Fail on the first directory of FREE_MB (path -> free MiB) that has less than NEED_MB."""
    for path, free in free_mb.items():
        if free < need_mb:
            if path == cache_dir:
                fix = "free some space there or set BULWARK_CACHE to a directory on a bigger disk"
            else:
                fix = "free some space there (docker system prune removes unused images)"
            raise LabError(f"not enough disk space: {path} has {free} MiB free, the lab needs {need_mb} MiB; {fix}")


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    """The lab subnet: IPv4, /24 or larger (the targets sit at .10-.12, dynamic addresses above)."""
    try:
        subnet = ipaddress.ip_network(text)
    except ValueError:
        subnet = None
    if not isinstance(subnet, ipaddress.IPv4Network) or subnet.prefixlen > 24:
        raise LabError(
            f"BULWARK_LAB_SUBNET={text!r} is not usable: give an IPv4 network of /24 or larger,"
            f" e.g. {DEFAULT_SUBNET}"
        )
    return subnet


def target_ip(subnet: ipaddress.IPv4Network, target: Target) -> str:
    return str(subnet.network_address + target.host)


def network_create_args(subnet: ipaddress.IPv4Network) -> list[str]:
    # Dynamic addresses (test clients attached without --ip) come from the upper half only, so
    # they never take a target's fixed address.
    upper_half = list(subnet.subnets(prefixlen_diff=1))[1]
    # fmt: off
    return [
        "docker", "network", "create", "--driver", "bridge", "--subnet", str(subnet),
        "--ip-range", str(upper_half), "--label", f"{TARGET_LABEL}=network", NETWORK,
    ]
    # fmt: on


def volume_name(target: Target, path: str) -> str:
    return target.container + path.replace("/", "-")


def docker_run_args(target: Target, ip: str, binaries: Mapping[str, Path] | None = None) -> list[str]:
    """`docker run` for a target: systemd as PID 1 without --privileged (LAB.md 2-4).

    BINARIES maps the target's built binaries to their paths in the cache.
    """
    cgroup_mode = "rw" if target.cgroup_rw else "ro"
    # fmt: off
    args = [
        "docker", "run", "--detach", "--pull", "never",
        "--name", target.container, "--hostname", target.container,
        "--label", f"{TARGET_LABEL}={target.name}",
        "--network", NETWORK, "--ip", ip,
        # The host namespace is the default on this cgroup v1 host; say so, the mount relies on it.
        "--cgroupns", "host", "--volume", f"/sys/fs/cgroup:/sys/fs/cgroup:{cgroup_mode}",
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--tmpfs", "/tmp",
        "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
        # systemd halts cleanly on SIGRTMIN+3; `docker import` cannot put STOPSIGNAL in the image.
        "--stop-signal", "SIGRTMIN+3",
    ]
    # fmt: on
    for cap in target.caps:
        args += ["--cap-add", cap]
    for sysctl in target.sysctls:
        args += ["--sysctl", sysctl]
    for path in target.volumes:
        args += ["--volume", f"{volume_name(target, path)}:{path}"]
    for name in target.binaries:
        args += ["--volume", f"{(binaries or {})[name]}:/usr/local/bin/{name}:ro"]
    return [*args, IMAGES[target.image].tag, "/lib/systemd/systemd"]


def required_version(go_mod: str, module: str) -> str:
    """The version GO_MOD (the text of a go.mod) requires of MODULE."""
    for line in go_mod.splitlines():
        words = line.replace("require ", "", 1).split()
        if len(words) >= 2 and words[0] == module:
            return words[1]
    raise LabError(f"go.mod does not require {module}")


def go_ldflags(build: GoBuild, version: str) -> str:
    """-s -w (no debug info: a third of the size) and the version the binaries report."""
    flags = ["-s", "-w"]
    major, minor = version.lstrip("v").split(".")[:2]
    for package in build.version_vars:
        flags += [
            f"-X {package}.gitVersion={version}",
            f"-X {package}.gitMajor={major}",
            f"-X {package}.gitMinor={minor}",
            f"-X {package}.gitTreeState=clean",
        ]
    return " ".join(flags)


def render_inventory(running: Mapping[str, str], today: datetime.date | None = None) -> str:
    """Ansible YAML inventory of the RUNNING targets (target name -> IP); every group is listed, and a
    group with members carries its LAB_WAIVERS, expiring LAB_WAIVER_DAYS after TODAY."""
    expires = ((today or datetime.date.today()) + datetime.timedelta(days=LAB_WAIVER_DAYS)).isoformat()
    lines = [
        "# Written by lab/bulwark_lab.py on every up and down: do not edit.",
        "all:",
        "  vars:",
        "    ansible_connection: community.docker.docker",
        "    ansible_python_interpreter: /usr/bin/python3",
        "  children:",
    ]
    for group in GROUPS:
        members = [t for t in TARGETS.values() if t.group == group and t.name in running]
        lines.append(f"    {group}:")
        lines.append("      hosts:" if members else "      hosts: {}")
        for target in members:
            lines.append(f"        {target.container}:")
            lines.append(f"          bulwark_lab_ip: {running[target.name]}")
        if members and group in LAB_WAIVERS:
            ids, reason = LAB_WAIVERS[group]
            lines.append("      vars:")
            lines.append("        bulwark_waivers:")
            for control_id in ids:
                lines.append(f"          - {{id: {control_id}, expires: {expires}, reason: {json.dumps(reason)}}}")
    return "\n".join(lines) + "\n"


# --- host I/O ----------------------------------------------------------------------------------


def run(cmd: Sequence[str], *, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """Run CMD capturing its output; with CHECK, a failure becomes a LabError quoting its stderr."""
    try:
        proc = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{cmd[0]} is not installed; run: bulwark_lab.py preflight") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{shlex.join(cmd)}` did not finish within {timeout} s") from exc
    if check and proc.returncode != 0:
        output = (proc.stderr.strip() or proc.stdout.strip() or "no output").splitlines()
        raise LabError(f"`{shlex.join(cmd)}` failed (exit {proc.returncode}): {output[-1]}")
    return proc


def run_logged(
    cmd: Sequence[str], log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> None:
    """Run a long build step with its output appended to LOG; on failure, quote the log's end."""
    with log.open("a") as out:
        out.write(f"$ {shlex.join(cmd)}\n")
        out.flush()
        code = subprocess.run(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            check=False,
        ).returncode
    if code != 0:
        raise LabError(f"`{shlex.join(cmd)}` failed (exit {code}); {log_tail(log)}")


def log_tail(log: Path, lines: int = 8) -> str:
    try:
        tail = log.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return f"no log at {log}"
    return f"last lines of {log}:\n" + "\n".join(f"    {line}" for line in tail)


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError(ROOT_MESSAGE)


def lab_dir(cache: Path, *parts: str) -> Path:
    path = cache.joinpath("lab", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def lab_lock(cache: Path) -> Iterator[None]:
    """Serialize runs that build or start things: two debootstraps would only fight."""
    with (lab_dir(cache) / "lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"waiting for another bulwark_lab.py run to finish ({handle.name})", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def free_mb(path: Path) -> int:
    while not path.exists():  # the directory may not be made yet: ask its file system
        path = path.parent
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize // 2**20


def read_apt_sources(etc_apt: Path = Path("/etc/apt")) -> list[tuple[str, str]]:
    """The machine's apt sources as (file name, text), in the order apt reads them."""
    files = [etc_apt / "sources.list"]
    parts = etc_apt / "sources.list.d"
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return [(f.name, f.read_text(errors="replace")) for f in files if f.is_file()]


def apt_install(packages: Sequence[str]) -> None:
    print(f"installing {' '.join(packages)} with apt-get", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        code = subprocess.run(cmd, env=env, check=False).returncode
        if code != 0:
            raise LabError(f"`{shlex.join(cmd)}` failed (exit {code}); see its output above")


def docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    return run(["docker", "info", "--format", "{{.ServerVersion}}"], check=False, timeout=20).returncode == 0


def ensure_engine(cache: Path) -> None:
    """Make `docker info` work: install docker.io if needed, then start dockerd."""
    if docker_answers():
        return
    if os.environ.get("DOCKER_HOST"):
        # Starting a local daemon would not help a client that talks to another one.
        raise LabError(
            f"the docker engine at DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer;"
            " start it, or unset DOCKER_HOST to use (and start) the local engine"
        )
    if not Path("/usr/sbin/dockerd").exists() or shutil.which("docker") is None:
        apt_install(["docker.io"])
        if docker_answers():  # the package starts the service where systemd runs
            return
    # sd_booted(3): this directory exists only when systemd is PID 1.
    if Path("/run/systemd/system").is_dir():
        print("starting the docker engine: systemctl start docker", flush=True)
        run(["systemctl", "start", "docker"], check=False, timeout=ENGINE_TIMEOUT_S)
        if not engine_answers():
            journal = run(["journalctl", "-u", "docker.service", "-n", "8", "--no-pager", "-o", "cat"], check=False)
            raise LabError(
                "the docker engine did not start with `systemctl start docker`; last lines of its journal:\n"
                + "\n".join(f"    {line}" for line in journal.stdout.splitlines())
            )
        return
    log = lab_dir(cache) / "dockerd.log"
    print(f"starting the docker engine: dockerd (log: {log})", flush=True)
    with log.open("a") as out:
        # A session of its own, so dockerd outlives this program and its terminal.
        daemon = subprocess.Popen(
            ["/usr/sbin/dockerd"],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    if not engine_answers(daemon):
        if daemon.poll() is None:
            what = f"dockerd did not answer within {ENGINE_TIMEOUT_S} s"
        else:
            what = f"dockerd exited with code {daemon.returncode}"
        raise LabError(f"the docker engine did not start: {what}; {log_tail(log)}")


def engine_answers(daemon: subprocess.Popen[bytes] | None = None) -> bool:
    """Wait until docker answers; give up early when the DAEMON we started has exited."""
    deadline = time.monotonic() + ENGINE_TIMEOUT_S
    while time.monotonic() < deadline:
        if docker_answers():
            return True
        if daemon is not None and daemon.poll() is not None:
            return False
        time.sleep(0.5)
    return False


def docker_root() -> Path:
    return Path(run(["docker", "info", "--format", "{{.DockerRootDir}}"]).stdout.strip() or "/var/lib/docker")


def ensure_debootstrap() -> None:
    if not Path("/usr/sbin/debootstrap").exists():
        apt_install(["debootstrap"])


def free_space(cache: Path) -> dict[str, int]:
    """Free MiB where a build writes: the cache (debootstrap, tarball) and docker's data root."""
    root = docker_root()
    return {str(cache): free_mb(cache), str(root): free_mb(root)}


def image_inspect(tag: str, template: str) -> str | None:
    proc = run(["docker", "image", "inspect", "--format", template, tag], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else None


def image_recipe(tag: str) -> str | None:
    return image_inspect(tag, f'{{{{index .Config.Labels "{RECIPE_LABEL}"}}}}') or None


def read_recipe_files(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def recipe_hashes(mirror: str, security: str) -> dict[str, str]:
    hashes: dict[str, str] = {}
    for image in IMAGES.values():  # parents first, so their hash is known
        # The mirrors end up in the image's sources.list, so they are part of its recipe.
        source = "\n".join((mirror, security, *IMPORT_CHANGES)) if image.parent is None else ""
        parent_hash = hashes[image.parent] if image.parent else ""
        files = read_recipe_files(image.recipe_dir)
        hashes[image.name] = recipe_hash(files, parent_hash, (*image.packages, *image.wheels), SUITE, source)
    return hashes


def unmount_below(path: Path) -> None:
    """Undo mounts debootstrap left behind when it was interrupted, before anything deletes PATH.

    rmtree through a live /proc or /sys bind would try to delete the host's files.
    """
    prefix = f"{path}/"
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [line.split()[1] for line in mounts if line.split()[1].startswith(prefix)]
    for point in sorted(points, key=len, reverse=True):
        run(["umount", "--lazy", point], check=False)


def make_base_tarball(image: Image, mirror: str, security: str, cache: Path, tarball: Path, log: Path) -> None:
    """Run the base recipe (rootfs.sh: debootstrap, trim, tar) in a scratch dir of the cache."""
    builds = lab_dir(cache, "build")
    for leftover in builds.iterdir():  # from a run that was killed (we hold the lock)
        unmount_below(leftover)
        shutil.rmtree(leftover, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f"{image.name}-", dir=builds))
    partial = tarball.with_suffix(".partial")
    try:
        script = image.recipe_dir / "rootfs.sh"
        debs = lab_dir(cache, "debs")
        packages = ",".join(image.packages)
        args = [str(work / "rootfs"), str(partial), SUITE, mirror, security, str(debs), packages]
        run_logged(["sh", str(script), *args], log)
        partial.rename(tarball)  # only a complete tarball may be found by the next run
    finally:
        unmount_below(work)
        shutil.rmtree(work, ignore_errors=True)
        partial.unlink(missing_ok=True)
    for old in tarball.parent.glob(f"{image.name}-*.tar"):
        if old != tarball:
            old.unlink()


@contextlib.contextmanager
def build_context(image: Image, cache: Path, log: Path) -> Iterator[Path]:
    """The image's recipe dir, or a copy of it with its wheels in wheels/ when it has any."""
    if not image.wheels:
        yield image.recipe_dir
        return
    wheels = lab_dir(cache, "wheels", image.name)
    # The host's pip (the toolchain's, when `make bootstrap` made it) reaches PyPI; the build does not.
    pip = next((str(path) for path in sorted(cache.glob("venv-*/bin/pip"))), None)
    cmd = [pip] if pip else [sys.executable, "-m", "pip"]
    run_logged([*cmd, "download", "--quiet", "--no-deps", "--only-binary", ":all:", "--dest", str(wheels),
                *image.wheels], log)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix=f"{image.name}-", dir=lab_dir(cache, "build")) as work:
        context = Path(work) / "context"
        shutil.copytree(image.recipe_dir, context)
        names = {wheel.split("==")[0].lower().replace("-", "_") for wheel in image.wheels}
        (context / "wheels").mkdir()
        for wheel in wheels.glob("*.whl"):
            if wheel.name.split("-")[0].lower() in names:
                shutil.copy2(wheel, context / "wheels" / wheel.name)
        yield context


def build_image(image: Image, recipe: str, mirror: str, security: str, cache: Path, force: bool) -> None:
    log = lab_dir(cache, "logs") / f"{image.name}.log"
    log.write_text("")
    old_id = image_inspect(image.tag, "{{.Id}}")
    if image.parent is None:
        # The trimmed root, kept by recipe hash: after `docker system prune -a` the rebuild is an
        # import of a few seconds instead of a debootstrap of more than a minute.
        tarball = lab_dir(cache, "rootfs") / f"{image.name}-{recipe[:16]}.tar"
        if force or not tarball.exists():
            ensure_debootstrap()
            make_base_tarball(image, mirror, security, cache, tarball, log)
        # fmt: off
        run_logged(
            [
                "docker", "import",
                *(arg for change in IMPORT_CHANGES for arg in ("--change", change)),
                "--change", f"LABEL {RECIPE_LABEL}={recipe}", str(tarball), image.tag,
            ],
            log,
        )
        # fmt: on
    else:
        with build_context(image, cache, log) as context:
            # fmt: off
            run_logged(
                [
                    "docker", "build", "--build-arg", f"BASE={IMAGES[image.parent].tag}",
                    "--build-arg", f"PACKAGES={' '.join(image.packages)}",
                    "--label", f"{RECIPE_LABEL}={recipe}", "--tag", image.tag, str(context),
                ],
                log,
                # The classic builder uses local images for FROM and never asks a registry.
                env={"DOCKER_BUILDKIT": "0"},
            )
            # fmt: on
    if old_id and old_id != image_inspect(image.tag, "{{.Id}}"):
        # Drop the image this build replaced; docker refuses (and we let it) while it is in use.
        run(["docker", "image", "rm", old_id], check=False)


def ensure_images(names: Iterable[str], cache: Path, force: Iterable[str] = ()) -> None:
    order = with_parents(names)
    mirror, security = apt_mirrors(read_apt_sources(), SUITE)
    hashes = recipe_hashes(mirror, security)
    plan = plan_builds(order, hashes, {name: image_recipe(IMAGES[name].tag) for name in order}, force)
    if plan:
        check_disk(free_space(cache), str(cache))
    for name in order:
        image = IMAGES[name]
        if name not in plan:
            print(f"{name}: up to date ({image.tag}, recipe {hashes[name][:12]})")
            continue
        print(f"{name}: building {image.tag} ({plan[name]}; log: {cache / 'lab/logs' / name}.log)", flush=True)
        started = time.monotonic()
        build_image(image, hashes[name], mirror, security, cache, force=plan[name] == "forced")
        print(f"{name}: built in {time.monotonic() - started:.1f} s (recipe {hashes[name][:12]})", flush=True)


def find_go() -> str:
    for candidate in (shutil.which("go"), "/usr/local/go/bin/go", "/usr/lib/go/bin/go"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise LabError(
        "Go is needed to build the Kubernetes binaries and was not found in PATH or /usr/local/go;"
        " install a Go release at least as new as the `go` line of lab/kube/kubernetes/go.mod"
    )


def go_build_dir(build: GoBuild, cache: Path, go: str) -> tuple[Path, str, str]:
    """(cache dir, version, recipe hash) of BUILD: the dir is named by version and recipe hash."""
    files = read_recipe_files(build.recipe_dir)
    version = required_version(files["go.mod"].decode(), build.module)
    toolchain = run([go, "env", "GOVERSION"]).stdout.strip()
    recipe = recipe_hash(files, "", (), toolchain, go_ldflags(build, version))
    return cache / "kube" / f"{build.name}-{version}-{recipe[:12]}", version, recipe


def build_go(build: GoBuild, cache: Path, go: str, out: Path, version: str) -> None:
    log = lab_dir(cache, "logs") / f"go-{build.name}.log"
    log.write_text("")
    partial = out.with_name(out.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    env = {
        # Module and build caches live in the lab cache: a second build of another version reuses them.
        "GOMODCACHE": str(cache / "go" / "mod"),
        "GOCACHE": str(cache / "go" / "build"),
        "GOFLAGS": "-mod=readonly -trimpath",
        "GOTOOLCHAIN": "local",
        # Static binaries: the static-pod runner gives each pod a root with nothing but its mounts.
        "CGO_ENABLED": "0",
        "HOME": str(cache / "go"),
    }
    for binary, package in build.binaries:
        cmd = [go, "build", "-ldflags", go_ldflags(build, version), "-o", str(partial / binary), package]
        started = time.monotonic()
        run_logged(cmd, log, env=env, cwd=build.recipe_dir)
        print(f"{build.name}: built {binary} {version} in {time.monotonic() - started:.0f} s", flush=True)
    shutil.rmtree(out, ignore_errors=True)
    partial.rename(out)  # only a complete set of binaries may be found by the next run
    for old in out.parent.glob(f"{build.name}-*"):
        if old != out:
            shutil.rmtree(old, ignore_errors=True)


def ensure_binaries(names: Iterable[str], cache: Path) -> dict[str, Path]:
    """Build the Go binaries NAMES need (cold: several minutes on 2 cores); map each to its path."""
    names = list(names)
    paths: dict[str, Path] = {}
    builds = [build for build in GO_BUILDS.values() if any(BINARY_BUILDS[name] is build for name in names)]
    if not builds:
        return paths
    go = find_go()
    for build in builds:
        out, version, recipe = go_build_dir(build, cache, go)
        if all((out / binary).is_file() for binary, _package in build.binaries):
            print(f"{build.name}: up to date ({version}, recipe {recipe[:12]})")
        else:
            check_disk(free_space(cache), str(cache), need_mb=MIN_FREE_MB + 4096)
            print(f"{build.name}: building {version} (log: {cache / 'lab/logs'}/go-{build.name}.log)", flush=True)
            build_go(build, cache, go, out, version)
        paths.update({binary: out / binary for binary, _package in build.binaries})
    # Stable names for Molecule scenarios and tests, which mount the binaries without the lab tool.
    current = cache / "kube" / "bin"
    current.mkdir(parents=True, exist_ok=True)
    for binary, path in paths.items():
        link = current / binary
        if not link.is_symlink() or link.readlink() != path:
            partial = link.with_name(f".{binary}.partial")
            partial.unlink(missing_ok=True)
            partial.symlink_to(path)
            partial.replace(link)
    return {name: paths[name] for name in names}


def run_setup(target: Target, ip: str) -> None:
    """The target's one-time setup (kubeadm phases for the control plane), quoting its output on failure."""
    proc = run(["docker", "exec", target.container, *target.setup, ip], check=False, timeout=300)
    if proc.returncode != 0:
        lines = (proc.stdout + proc.stderr).strip().splitlines()[-12:]
        raise LabError(
            f"{target.name}: setup `{shlex.join(target.setup)}` failed (exit {proc.returncode}):\n"
            + "\n".join(f"    {line}" for line in lines)
        )


def lab_subnet() -> ipaddress.IPv4Network:
    return parse_subnet(os.environ.get("BULWARK_LAB_SUBNET") or DEFAULT_SUBNET)


def ensure_network(subnet: ipaddress.IPv4Network) -> None:
    template = "{{range .IPAM.Config}}{{.Subnet}} {{end}}"
    existing = run(["docker", "network", "inspect", "--format", template, NETWORK], check=False)
    if existing.returncode == 0:
        subnets = existing.stdout.split()
        if str(subnet) not in subnets:
            raise LabError(
                f"docker network {NETWORK} has subnet {' '.join(subnets) or 'none'}, not {subnet}:"
                f" run `bulwark_lab.py down --all` first, or set BULWARK_LAB_SUBNET to the old one"
            )
        return
    created = run(network_create_args(subnet), check=False)
    if created.returncode != 0:
        reason = (created.stderr.strip().splitlines() or ["no output"])[-1]
        raise LabError(
            f"cannot create docker network {NETWORK} on {subnet} ({reason}); if that subnet is"
            " taken, set BULWARK_LAB_SUBNET to a free one such as 172.30.118.0/24"
        )


def container_state(name: str) -> tuple[str, str] | None:
    """(status, image id) of a container, or None when there is none."""
    proc = run(["docker", "container", "inspect", "--format", "{{.State.Status}} {{.Image}}", name], check=False)
    if proc.returncode != 0:
        return None
    status, image_id = proc.stdout.split()
    return status, image_id


def wait_ready(target: Target) -> str:
    """Wait for systemd to finish booting (and the target's probe to pass); return systemd's state."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    state = "not started"
    while time.monotonic() < deadline:
        status = container_state(target.container)
        if status is None or status[0] != "running":
            logs = run(["docker", "logs", "--tail", "8", target.container], check=False)
            lines = (logs.stdout + logs.stderr).strip().splitlines()
            raise LabError(
                f"{target.name}: container {target.container} stopped while booting; last log lines:\n"
                + "\n".join(f"    {line}" for line in lines)
            )
        systemd = run(["docker", "exec", target.container, "systemctl", "is-system-running"], check=False)
        state = systemd.stdout.strip() or systemd.stderr.strip()
        # "degraded" is a booted system with a failed unit: a role may be there to fix it.
        if state in ("running", "degraded") and probe_passes(target):
            return state
        time.sleep(0.25)
    raise LabError(
        f"{target.name} was not ready after {READY_TIMEOUT_S} s (systemd: {state!r}); look at"
        f" `docker logs {target.container}` and `docker exec {target.container} systemctl --failed`"
    )


def probe_passes(target: Target) -> bool:
    return not target.probe or run(["docker", "exec", target.container, *target.probe], check=False).returncode == 0


def running_targets() -> dict[str, str]:
    """Lab targets that run now, as target name -> IP on the lab network."""
    names = run(["docker", "ps", "--filter", f"label={TARGET_LABEL}", "--format", "{{.Names}}"]).stdout.split()
    by_container = {t.container: t.name for t in TARGETS.values()}
    containers = [name for name in names if name in by_container]
    if not containers:
        return {}
    template = f'{{{{.Name}}}} {{{{(index .NetworkSettings.Networks "{NETWORK}").IPAddress}}}}'
    running = {}
    for line in run(["docker", "container", "inspect", "--format", template, *containers]).stdout.splitlines():
        name, ip = line.split()
        running[by_container[name.lstrip("/")]] = ip
    return running


def write_inventory(cache: Path) -> Path:
    path = lab_dir(cache) / "inventory.yml"
    partial = path.with_suffix(".partial")
    partial.write_text(render_inventory(running_targets()))
    partial.replace(path)  # readers never see half a file
    return path


def remove_target(target: Target) -> None:
    if container_state(target.container) is None:
        print(f"{target.name}: not running")
    else:
        # A clean systemd halt first: the docker-host then stops its inner containers, which
        # would otherwise leave their cgroups behind on the host (LAB.md 4).
        run(["docker", "stop", "--time", "20", target.container], check=False)
        run(["docker", "rm", "--force", "--volumes", target.container])
        print(f"{target.name}: removed {target.container}")
    volumes = run(["docker", "volume", "ls", "--quiet", "--filter", f"label={TARGET_LABEL}={target.name}"])
    for volume in volumes.stdout.split():
        run(["docker", "volume", "rm", volume])
        print(f"{target.name}: removed volume {volume}")


# --- subcommands -------------------------------------------------------------------------------


def cmd_preflight(args: argparse.Namespace, cache: Path) -> None:
    require_root()
    ensure_engine(cache)
    ensure_debootstrap()
    space = free_space(cache)
    check_disk(space, str(cache))
    print(f"docker engine: {run(['docker', 'info', '--format', '{{.ServerVersion}}']).stdout.strip()}")
    for path, free in space.items():
        print(f"free space: {path} {free} MiB")
    print(f"debian mirrors: {' '.join(apt_mirrors(read_apt_sources(), SUITE))}")
    print(f"lab subnet: {lab_subnet()}")
    print("preflight: ok")


def cmd_engine(args: argparse.Namespace, cache: Path) -> None:
    require_root()
    with lab_lock(cache):
        ensure_engine(cache)
    print(f"docker engine {run(['docker', 'info', '--format', '{{.ServerVersion}}']).stdout.strip()}: running")


def cmd_images(args: argparse.Namespace, cache: Path) -> None:
    names = validate_names("image", args.names, IMAGES) or list(IMAGES)
    require_root()
    with lab_lock(cache):
        ensure_engine(cache)
        ensure_images(names, cache, force=names if args.force else ())


def cmd_binaries(args: argparse.Namespace, cache: Path) -> None:
    names = validate_names("binary", args.names, BINARY_BUILDS) or list(BINARY_BUILDS)
    require_root()
    with lab_lock(cache):
        for name, path in ensure_binaries(names, cache).items():
            print(f"{name}: {path}")


def cmd_up(args: argparse.Namespace, cache: Path) -> None:
    targets = [TARGETS[name] for name in validate_names("target", args.targets, TARGETS)]
    subnet = lab_subnet()
    require_root()
    with lab_lock(cache):
        ensure_engine(cache)
        ensure_images({target.image for target in targets}, cache)
        binaries = ensure_binaries(dict.fromkeys(name for target in targets for name in target.binaries), cache)
        ensure_network(subnet)
        booting = []
        for target in targets:
            state = container_state(target.container)
            if state and state[0] == "running":
                note = ""
                if state[1] != image_inspect(IMAGES[target.image].tag, "{{.Id}}"):
                    note = "; it runs an older image: down and up it to refresh"
                print(f"{target.name}: already running ({target.container}{note})")
                continue
            if state:  # stopped or half-made: a stopped systemd container is not worth reviving
                run(["docker", "rm", "--force", target.container])
            for path in target.volumes:
                name = volume_name(target, path)
                run(["docker", "volume", "create", "--label", f"{TARGET_LABEL}={target.name}", name])
            run(docker_run_args(target, target_ip(subnet, target), binaries))
            booting.append((target, time.monotonic()))
        for target, started in booting:
            systemd = wait_ready(target)
            if target.setup:
                run_setup(target, target_ip(subnet, target))
            print(
                f"{target.name}: ready in {time.monotonic() - started:.1f} s"
                f" ({target.container}, {target_ip(subnet, target)}, systemd {systemd})"
            )
        print(f"inventory: {write_inventory(cache)}")


def cmd_down(args: argparse.Namespace, cache: Path) -> None:
    names = list(TARGETS) if args.all else validate_names("target", args.targets, TARGETS)
    require_root()
    with lab_lock(cache):
        ensure_engine(cache)
        for name in names:
            remove_target(TARGETS[name])
        # The network goes with the last target; docker refuses while a test's own client
        # container is still attached to it, and that is fine.
        targets_left = run(["docker", "ps", "--all", "--quiet", "--filter", f"label={TARGET_LABEL}"]).stdout.strip()
        if not targets_left and run(["docker", "network", "rm", NETWORK], check=False).returncode == 0:
            print(f"removed network {NETWORK}")
        print(f"inventory: {write_inventory(cache)}")


def cmd_status(args: argparse.Namespace, cache: Path) -> None:
    require_root()
    if not docker_answers():
        raise LabError("the docker engine is not running; start it with: bulwark_lab.py engine")
    hashes = recipe_hashes(*apt_mirrors(read_apt_sources(), SUITE))
    print("images:")
    for name, image in IMAGES.items():
        current = image_recipe(image.tag)
        freshness = "up to date" if current == hashes[name] else "missing" if current is None else "stale"
        print(f"  {name:<12} {image.tag:<28} {freshness}")
    running = running_targets()
    print("targets:")
    for name, target in TARGETS.items():
        state = container_state(target.container)
        where = running.get(name, "")
        print(f"  {name:<12} {target.container:<28} {state[0] if state else 'absent':<10} {where}")
    print(f"inventory: {cache / 'lab' / 'inventory.yml'}")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bulwark_lab.py",
        description="Build the bulwark lab images and run lab targets on the docker network "
        f"'{NETWORK}'. Needs root.",
        epilog=f"environment: BULWARK_CACHE (default {DEFAULT_CACHE}) holds logs, the rootfs "
        f"cache and inventory.yml under lab/; BULWARK_LAB_SUBNET (default {DEFAULT_SUBNET}). "
        f"Images: {', '.join(IMAGES)}. Targets: {', '.join(TARGETS)}.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser(
        "preflight", help="install/start docker and debootstrap if missing, check root and disk space"
    ).set_defaults(func=cmd_preflight)
    commands.add_parser("engine", help="install and start the docker engine if it does not answer").set_defaults(
        func=cmd_engine
    )
    images = commands.add_parser("images", help="build the images whose recipe changed (default: all)")
    images.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(IMAGES)}")
    images.add_argument("--force", action="store_true", help="rebuild NAMEs from scratch (no rootfs cache)")
    images.set_defaults(func=cmd_images)
    binaries = commands.add_parser(
        "binaries", help="build the Kubernetes binaries and etcd from source (cached by version and recipe)"
    )
    binaries.add_argument("names", nargs="*", metavar="NAME", help=f"one of: {', '.join(BINARY_BUILDS)}")
    binaries.set_defaults(func=cmd_binaries)
    up = commands.add_parser("up", help="start targets (building their images if needed)")
    up.add_argument("targets", nargs="+", metavar="TARGET", help=f"one of: {', '.join(TARGETS)}")
    up.set_defaults(func=cmd_up)
    down = commands.add_parser("down", help="remove targets and their volumes")
    which = down.add_mutually_exclusive_group(required=True)
    which.add_argument("targets", nargs="*", default=[], metavar="TARGET", help=f"one of: {', '.join(TARGETS)}")
    which.add_argument("--all", action="store_true", help="every target, and the lab network")
    down.set_defaults(func=cmd_down)
    commands.add_parser("status", help="show images, targets and the inventory path").set_defaults(func=cmd_status)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    cache = Path(os.environ.get("BULWARK_CACHE") or DEFAULT_CACHE).absolute()
    try:
        args.func(args, cache)
    except LabError as exc:
        print(f"bulwark_lab.py: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
