# SPDX-License-Identifier: GPL-3.0-or-later
"""The lab CLI for real: real docker, real mounts, real users. No mocks.

Tests marked `lab` fail (they never skip) without root and a docker engine. The `up`/`down`
tests use the real target names, so they replace a `node` or `docker-host` a developer had running.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import bulwark_lab as lab
import pytest
from conftest import LAB_SCRIPT, docker, run_lab

CACHE = Path(os.environ.get("BULWARK_CACHE") or "/var/cache/bulwark")
INVENTORY = CACHE / "lab" / "inventory.yml"
ERROR = "bulwark_lab.py: error: "


def inventory_groups() -> dict[str, list[str]]:
    """The inventory as Ansible itself reads it: group -> hosts."""
    listed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-inventory"), "-i", str(INVENTORY), "--list"],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(listed.stdout)
    return {group: data.get(group, {}).get("hosts", []) for group in lab.GROUPS}


def image_ids() -> dict[str, str]:
    return {
        name: docker("image", "inspect", "--format", "{{.Id}}", image.tag).stdout.strip()
        for name, image in lab.IMAGES.items()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["up", "nosuch"], "unknown target 'nosuch'; known targets: control-plane, docker-host, node, syslog"),
        (["down", "node", "web"], "unknown target 'web'; known targets: control-plane, docker-host, node, syslog"),
        (["images", "base", "nope"], "unknown image 'nope'; known images: base, control-plane, dind, syslog"),
    ],
)
def test_unknown_name_exits_2_with_one_line(args: list[str], message: str) -> None:
    result = run_lab(*args)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"{ERROR}{message}\n")


@pytest.mark.lab
def test_non_root_is_told_to_run_as_root(lab_host: None) -> None:
    # A world-readable copy: the checkout itself may sit where nobody cannot read (e.g. /root).
    where = Path(tempfile.mkdtemp(prefix="bulwark-lab-test-"))
    try:
        where.chmod(0o755)
        script = Path(shutil.copy(LAB_SCRIPT, where / "bulwark_lab.py"))
        result = run_lab("images", prefix=["runuser", "-u", "nobody", "--"], script=script)
    finally:
        shutil.rmtree(where)
    assert (result.returncode, result.stdout, result.stderr) == (2, "", f"{ERROR}{lab.ROOT_MESSAGE}\n")


@pytest.mark.lab
def test_an_engine_that_cannot_start_is_reported_with_its_log(lab_host: None, tmp_path: Path) -> None:
    """The real start path, without touching the running daemon.

    A docker context that points at a dead socket makes the CLI believe no engine runs, so it
    starts /usr/sbin/dockerd. That dockerd stops at once at the live daemon's pidfile, before it
    touches containerd, networks or /var/lib/docker, and the CLI must quote its log.
    """
    pidfile = Path("/var/run/docker.pid")
    if not (pidfile.is_file() and Path("/proc", pidfile.read_text().strip()).is_dir()):
        pytest.fail(f"{pidfile} does not name a running dockerd: a second dockerd could start here")
    config = tmp_path / "docker-config"
    env = {**os.environ, "DOCKER_CONFIG": str(config)}
    env.pop("DOCKER_HOST", None)
    subprocess.run(
        ["docker", "context", "create", "dead", "--docker", f"host=unix://{tmp_path}/dead.sock"],
        env=env, capture_output=True, check=True,
    )  # fmt: skip
    (config / "config.json").write_text('{"currentContext": "dead"}')
    cache = tmp_path / "cache"
    result = run_lab("engine", env={**env, "BULWARK_CACHE": str(cache)}, timeout=180)
    assert result.returncode == 2, result.stdout + result.stderr
    if Path("/run/systemd/system").is_dir():  # the engine is a systemd service there
        assert result.stderr.startswith(f"{ERROR}the docker engine did not start with `systemctl start docker`")
    else:
        log = cache / "lab" / "dockerd.log"
        first, *quoted = result.stderr.splitlines()
        assert first == f"{ERROR}the docker engine did not start: dockerd exited with code 1; last lines of {log}:"
        assert quoted[-1].strip() == log.read_text().splitlines()[-1].strip()
        assert "pid file found" in quoted[-1]
    assert docker("info", "--format", "{{.ServerVersion}}").returncode == 0


@pytest.fixture
def tiny_cache(lab_host: None, tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs to serve as BULWARK_CACHE."""
    mountpoint = tmp_path / "tiny"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "bulwark-lab-test", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


def disk_message(path: Path) -> str:
    return (
        rf"{ERROR}not enough disk space: {re.escape(str(path))} has [01] MiB free, the lab needs 3072 MiB;"
        r" free some space there or set BULWARK_CACHE to a directory on a bigger disk\n"
    )


@pytest.mark.lab
def test_preflight_refuses_a_cache_without_room(tiny_cache: Path) -> None:
    result = run_lab("preflight", env={"BULWARK_CACHE": str(tiny_cache)})
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.fullmatch(disk_message(tiny_cache), result.stderr), result.stderr


@pytest.mark.lab
def test_build_checks_room_before_it_starts(lab_images: None, tiny_cache: Path) -> None:
    before = image_ids()
    result = run_lab("images", "--force", "base", env={"BULWARK_CACHE": str(tiny_cache)}, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert re.fullmatch(disk_message(tiny_cache), result.stderr), result.stderr
    assert image_ids() == before


@pytest.mark.lab
def test_images_on_a_warm_cache_build_nothing_in_seconds(lab_images: None) -> None:
    before = image_ids()
    started = time.monotonic()
    result = run_lab("images")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    hashes = lab.recipe_hashes(*lab.apt_mirrors(lab.read_apt_sources(), lab.SUITE))
    assert result.stdout.splitlines() == [
        f"{name}: up to date ({image.tag}, recipe {hashes[name][:12]})" for name, image in lab.IMAGES.items()
    ]
    assert elapsed < 10, f"a warm `images` took {elapsed:.1f} s"
    assert image_ids() == before
    for name, image in lab.IMAGES.items():
        label = docker("image", "inspect", "--format", f'{{{{index .Config.Labels "{lab.RECIPE_LABEL}"}}}}', image.tag)
        assert label.stdout.strip() == hashes[name]


@pytest.mark.lab
def test_up_node_boots_systemd_with_python_and_down_removes_it(lab_images: None) -> None:
    run_lab("down", "node")  # a known start, whatever an earlier run left behind
    try:
        up = run_lab("up", "node", timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"inventory: {INVENTORY}" in up.stdout.splitlines()
        container = "bulwark-lab-node"
        assert docker("exec", container, "cat", "/proc/1/comm").stdout.strip() == "systemd"
        state = docker("exec", container, "systemctl", "is-system-running").stdout.strip()
        assert state in ("running", "degraded")
        python = docker("exec", container, "/usr/bin/python3", "-c", "import sys; print(sys.version_info[:2])")
        assert python.stdout.strip() == "(3, 11)"
        assert inventory_groups()["nodes"] == [container]
        status = run_lab("status")
        assert re.search(r"^  node +bulwark-lab-node +running +172\.30\.117\.11$", status.stdout, re.M), status.stdout

        first_id = docker("container", "inspect", "--format", "{{.Id}}", container).stdout
        again = run_lab("up", "node")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "node: already running (bulwark-lab-node)" in again.stdout.splitlines()
        assert docker("container", "inspect", "--format", "{{.Id}}", container).stdout == first_id
    finally:
        down = run_lab("down", "node")
    assert down.returncode == 0, down.stdout + down.stderr
    assert "node: removed bulwark-lab-node" in down.stdout.splitlines()
    assert docker("container", "inspect", "bulwark-lab-node").returncode != 0
    assert inventory_groups()["nodes"] == []


@pytest.mark.lab
def test_docker_host_runs_dockerd_on_a_volume_that_down_removes(lab_images: None) -> None:
    container = "bulwark-lab-docker-host"
    volume = "bulwark-lab-docker-host-var-lib-docker"
    run_lab("down", "docker-host")
    try:
        up = run_lab("up", "docker-host", timeout=300)
        assert up.returncode == 0, up.stdout + up.stderr
        # overlay2 works only because /var/lib/docker is a volume, not the container's overlayfs.
        driver = docker("exec", container, "docker", "info", "--format", "{{.Driver}}")
        assert driver.stdout.strip() == "overlay2", driver.stderr
        label = docker("volume", "inspect", "--format", f'{{{{index .Labels "{lab.TARGET_LABEL}"}}}}', volume)
        assert label.stdout.strip() == "docker-host"
        assert inventory_groups()["docker_hosts"] == [container]
    finally:
        down = run_lab("down", "docker-host")
    assert down.returncode == 0, down.stdout + down.stderr
    assert docker("container", "inspect", container).returncode != 0
    assert docker("volume", "inspect", volume).returncode != 0
    assert inventory_groups()["docker_hosts"] == []


@pytest.mark.lab
def test_binaries_on_a_warm_cache_build_nothing(lab_host: None) -> None:
    run_lab("binaries", timeout=3600)  # cold: several minutes, once per cache
    started = time.monotonic()
    result = run_lab("binaries")
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^kubernetes: up to date \(v1\.37\.2, recipe [0-9a-f]{12}\)$", result.stdout, re.M)
    assert re.search(r"^etcd: up to date \(v3\.7\.0, recipe [0-9a-f]{12}\)$", result.stdout, re.M)
    assert elapsed < 10, f"a warm `binaries` took {elapsed:.1f} s"
    paths = {name: Path(re.search(rf"^{name}: (\S+)$", result.stdout, re.M).group(1)) for name in lab.BINARY_BUILDS}
    for path in paths.values():
        # Static: the static-pod runner gives a pod nothing but the binary and its mounts.
        assert b"/lib64/ld-linux" not in path.read_bytes()[:4096]
    version = subprocess.run(
        [str(paths["kubeadm"]), "version", "-o", "short"], capture_output=True, text=True, check=False
    )
    assert version.stdout.strip() == "v1.37.2"


@pytest.mark.lab
def test_up_control_plane_runs_a_kubeadm_node_with_a_ready_api_server(lab_images: None, tmp_path: Path) -> None:
    container = "bulwark-lab-control-plane"
    run_lab("down", "control-plane")
    try:
        up = run_lab("up", "control-plane", timeout=3600)
        assert up.returncode == 0, up.stdout + up.stderr
        assert re.search(r"^control-plane: ready in [0-9.]+ s", up.stdout, re.M), up.stdout
        assert inventory_groups()["control_plane"] == [container]
        manifests = docker("exec", container, "ls", "/etc/kubernetes/manifests").stdout.split()
        assert manifests == ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"]
        ps = docker("exec", container, "ps", "-eo", "args").stdout
        assert re.search(r"^kube-apiserver .*--advertise-address=172\.30\.117\.13", ps, re.M), ps
        assert re.search(r"^etcd .*--data-dir=/var/lib/etcd", ps, re.M), ps
        assert re.search(r"^kube-controller-manager .*--kubeconfig=/etc/kubernetes/controller-manager\.conf", ps, re.M), ps
        assert re.search(r"^kube-scheduler .*--kubeconfig=/etc/kubernetes/scheduler\.conf", ps, re.M), ps
        # Both serve on loopback only, as kubeadm binds them, and are healthy there.
        for port in (10257, 10259):
            health = docker("exec", container, "curl", "-sk", f"https://127.0.0.1:{port}/healthz")
            assert health.stdout == "ok", (port, health.stderr)

        # kubeadm's admin credentials reach the API server from the host, and the kubeadm-config
        # ConfigMap is there as `kubeadm init` leaves it.
        kubeconfig = tmp_path / "admin.conf"
        assert docker("cp", f"{container}:/etc/kubernetes/admin.conf", str(kubeconfig)).returncode == 0
        from kubernetes import client, config  # the test venv's client, as the roles use it

        api = client.CoreV1Api(config.new_client_from_config(str(kubeconfig)))
        data = api.read_namespaced_config_map("kubeadm-config", "kube-system").data
        assert "kubernetesVersion: v1.37.2" in data["ClusterConfiguration"]
        assert "controlPlaneEndpoint: 172.30.117.13:6443" in data["ClusterConfiguration"]

        again = run_lab("up", "control-plane")
        assert again.returncode == 0, again.stdout + again.stderr
        assert "control-plane: already running (bulwark-lab-control-plane)" in again.stdout.splitlines()
    finally:
        down = run_lab("down", "control-plane")
    assert down.returncode == 0, down.stdout + down.stderr
    assert inventory_groups()["control_plane"] == []
