# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The docker_daemon role's failure paths, and its converged run, against a real dockerd.

The real role runs through ``ansible-playbook`` (include_role, community.docker.docker
connection, pipelining) against one throwaway Docker host per test module (conftest.py: the lab's
DinD image, systemd as PID 1, Debian's dockerd 20.10). No mocks. Each test puts the host into the
state it starts from. The cases, from the issue:

- a malformed daemon.json on the target: a clear error, the file unchanged, dockerd untouched;
- a variable of the wrong type: an error before any task touches the host;
- a setting that passes our schema but makes dockerd refuse to start: rolled back to the
  previous file, dockerd running again, and the play failed with dockerd's own reason.
"""

from __future__ import annotations

import base64
import json
import re
import typing as t
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

DAEMON_JSON = "/etc/docker/daemon.json"
# Everything the role writes on the host, apart from the audit rules file.
WATCHED = ("/etc/docker", "/etc/systemd/system/docker.service.d", "/etc/systemd/system/docker.socket.d")
# What the packaged host has before the role: a setting of the user's own.
PACKAGED_CONFIG = b'{"icc": true, "max-concurrent-downloads": 4}\n'
MALFORMED = b'{"icc": true,,}\n'
BASE_VARS: dict[str, t.Any] = {
    # This VM's hard limit for open files is 20000: a container cannot be given the default 65536.
    "docker_daemon_default_ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 8192}},
    "docker_daemon_restart_timeout": 30,
}
PLAYBOOK = """\
- name: Harden the Docker daemon
  hosts: all
  gather_facts: false
  tasks:
    - name: Apply the docker_daemon role
      ansible.builtin.include_role:
        name: bulwark.hardening.docker_daemon
"""
# Names of the role's tasks, without the "role : " prefix and the " | CIS-Docker ..." suffix.
CONFIG_TASK = "Apply least-privilege daemon settings"
RESTART_TASK = "Restart dockerd"
ROLLBACK_FAIL_TASK = "Fail with the reason dockerd gave"
# Actions that run on the controller only.
CONTROLLER_ACTIONS = {
    "ansible.builtin.include_role",
    "ansible.builtin.validate_argument_spec",
    "bulwark.hardening.check_role_vars",
    "ansible.builtin.assert",
}


def short(name: str) -> str:
    """A task name as the role writes it: no "role : " prefix, no " | CIS-Docker ..." suffix."""
    return name.split(" : ", 1)[-1].split(" | ", 1)[0]


def task_named(results: list[tuple[str, dict[str, t.Any]]], name: str) -> list[dict[str, t.Any]]:
    """Results of the role's tasks called ``name``."""
    return [result for full, result in results if short(full) == name]


class DockerHost:
    """The test module's Docker host, and what the tests look at on it."""

    def __init__(self, target: t.Any) -> None:
        self.target = target
        self.name: str = target.name
        self.converged: str | None = None  # snapshot() right after the last successful converge

    def sh(self, script: str, check: bool = True) -> str:
        return t.cast(str, self.target.sh(script, check=check))

    def read(self, path: str = DAEMON_JSON) -> bytes | None:
        return t.cast("bytes | None", self.target.read(path))

    def write(self, content: bytes, path: str = DAEMON_JSON) -> None:
        self.target.write(content, path)

    def snapshot(self) -> str:
        """Every path below WATCHED with its type, mode and owner, and every file's checksum."""
        return self.sh(
            f"find {' '.join(WATCHED)} -printf '%p %y %m %u:%g\\n' 2>/dev/null | sort;"
            f" find {' '.join(WATCHED)} -type f -exec sha256sum {{}} + 2>/dev/null | sort -k 2",
            check=False,
        )

    def backups(self) -> list[str]:
        return [name for name in sorted(self.sh("ls -A /etc/docker").split()) if name.startswith("daemon.json.")]

    def dockerd_pid(self) -> int:
        return int(self.sh("systemctl show --property MainPID --value docker.service"))

    def healthy(self) -> bool:
        active = self.sh("systemctl is-active docker.service", check=False)
        return active == "active" and self.target.exec("docker", "version", check=False).returncode == 0

    def loaded_execstart(self) -> str:
        """The command line systemd has loaded for docker.service (what a restart would run)."""
        return self.sh("systemctl show --property ExecStart --value docker.service")

    def reset_packaged(self, config: bytes = PACKAGED_CONFIG) -> None:
        """Back to the packaged units, no certificates, ``config`` as daemon.json, dockerd running."""
        self.sh(
            "rm -rf /etc/systemd/system/docker.service.d /etc/systemd/system/docker.socket.d /etc/docker/certs;"
            " rm -f /etc/docker/daemon.json.*"
        )
        self.write(config)
        # Stop both units and start the socket first: a dockerd that listened on
        # unix:///var/run/docker.sock itself replaced the socket docker.socket had made.
        self.sh(
            "systemctl daemon-reload; systemctl reset-failed docker.service docker.socket || true;"
            " systemctl stop docker.service docker.socket; systemctl start docker.socket docker.service"
        )
        assert self.healthy(), self.sh("journalctl --unit docker.service --lines 20 --no-pager", check=False)
        self.converged = None

    def remove_backups(self) -> None:
        self.sh("rm -f /etc/docker/daemon.json.*")


class Role:
    """Runs the docker_daemon role on the host with a playbook of its own."""

    def __init__(self, host: DockerHost, workdir: Path, run_playbook: t.Callable[..., t.Any]) -> None:
        self.host = host
        self.playbook = workdir / "docker_daemon.yml"
        self.playbook.write_text(PLAYBOOK)
        self.pki_dir = workdir / "pki"
        self._run_playbook = run_playbook

    def run(self, extra: dict[str, t.Any] | None = None, *flags: str, env: dict[str, str] | None = None) -> t.Any:
        extra_vars = {**BASE_VARS, "docker_daemon_tls_pki_dir": str(self.pki_dir), **(extra or {})}
        return self._run_playbook(self.host.target, self.playbook, extra_vars, *flags, env=env)

    def converge(self) -> None:
        """Make the host converged with BASE_VARS; skipped when nothing changed since the last one."""
        if self.host.converged is not None and self.host.converged == self.host.snapshot() and self.host.healthy():
            return
        run = self.run()
        assert run.rc == 0 and run.stats(self.host.name)["failures"] == 0, run
        assert self.host.healthy()
        self.host.remove_backups()  # the tests look for the backups their own run makes
        self.host.converged = self.host.snapshot()


@pytest.fixture(scope="module")
def host(lab_targets: t.Any) -> DockerHost:
    return DockerHost(lab_targets.start("bulwark-it-ddr", docker_host=True))


@pytest.fixture(scope="module")
def role(host: DockerHost, tmp_path_factory: pytest.TempPathFactory, run_playbook: t.Callable[..., t.Any]) -> Role:
    return Role(host, tmp_path_factory.mktemp("docker_daemon_role"), run_playbook)


def json_error_column(content: bytes) -> tuple[int, int]:
    """(line, column) where Python's json, which the module uses, stops reading ``content``."""
    try:
        json.loads(content)
    except json.JSONDecodeError as exc:
        return exc.lineno, exc.colno
    raise AssertionError(f"{content!r} is valid JSON")


# --- 1. a malformed daemon.json on the target ------------------------------------------------------


def _assert_malformed_refused(run: t.Any, host: DockerHost) -> None:
    line, column = json_error_column(MALFORMED)
    expected = f"daemon.json at {DAEMON_JSON} is not valid JSON (line {line}, column {column}); nothing was changed."
    assert run.rc != 0, run
    assert [(short(name), msg) for name, msg in run.failures(host.name)] == [(CONFIG_TASK, expected)], run
    assert host.read() == MALFORMED  # the very bytes
    assert host.backups() == []  # and no backup: nothing was written
    assert not task_named(run.results(host.name), RESTART_TASK)  # the restart never ran


def test_malformed_daemon_json_on_first_run(host: DockerHost, role: Role) -> None:
    """First run on a packaged host whose daemon.json is broken: the play stops at daemon.json.

    What the role wrote before that point (certificates, drop-ins) is not live: systemd did not
    reload and dockerd was not restarted. Once the user repairs the file, dockerd restarts fine
    with what the role left, and the next run of the role converges.
    """
    host.reset_packaged()
    host.write(MALFORMED)
    pid, execstart = host.dockerd_pid(), host.loaded_execstart()
    assert "-H fd://" in execstart  # the packaged unit

    run = role.run()

    _assert_malformed_refused(run, host)
    assert host.dockerd_pid() == pid and host.healthy()
    assert host.loaded_execstart() == execstart  # no daemon-reload: systemd still runs the packaged line
    # The user repairs the file and restarts dockerd themselves: what the role left must not
    # stop it from starting.
    host.write(PACKAGED_CONFIG)
    host.sh("systemctl daemon-reload && systemctl restart docker.service", check=False)
    assert host.healthy(), host.sh("journalctl --unit docker.service --lines 20 --no-pager", check=False)
    # That dockerd runs without -H fd:// (the role's drop-in is live now) and listens on the
    # socket's path itself; the role's restart must give the path back to docker.socket.
    run = role.run()
    assert run.rc == 0 and run.stats(host.name)["failures"] == 0, run
    assert task_named(run.results(host.name), RESTART_TASK)[0].get("changed") is True
    assert host.healthy()
    host.remove_backups()
    host.converged = host.snapshot()


def test_malformed_daemon_json_on_converged_host(host: DockerHost, role: Role) -> None:
    """On a converged host nothing at all is written: certificates and drop-ins keep their bytes."""
    role.converge()
    good = host.read()
    assert good is not None
    host.write(MALFORMED)
    before, pid = host.snapshot(), host.dockerd_pid()
    try:
        run = role.run()

        _assert_malformed_refused(run, host)
        assert host.snapshot() == before
        assert host.dockerd_pid() == pid and host.healthy()
    finally:
        host.write(good)  # converged again, for the tests that follow


# --- 2. a variable of the wrong type -------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("docker_daemon_live_restore", "maybe"),
        ("docker_daemon_icc", [1]),
        ("docker_daemon_tls_valid_days", "soon"),
        # argument_specs accepts these strings ("a,b" is a list, "k=v" a dict) but leaves the role
        # the string itself; the shared guard (check_role_vars) refuses them.
        ("docker_daemon_tls_clients", "alice"),
        ("docker_daemon_extra_settings", "bip=10.9.0.1/24"),
        # Values of the right type that are still wrong, or that weaken a control below CIS.
        ("docker_daemon_socket_mode", "0666"),  # CIS-Docker 3.16, without a waiver
        ("docker_daemon_socket_mode", "0660\n"),  # a trailing newline passes a $-anchored check
        ("docker_daemon_tls_listen", "0.0.0.0:99999"),
        ("docker_daemon_tls_valid_days", 0),
        ("docker_daemon_audit_rules_path", "rules"),
        ("docker_daemon_systemd_execstart", "/usr/sbin/dockerd\nExecStartPre=/bin/true"),
        ("docker_daemon_socket_group", "docker\nroot"),
    ],
)
def test_wrong_type_fails_before_any_task_touches_the_host(
    host: DockerHost, role: Role, tmp_path: Path, variable: str, value: t.Any
) -> None:
    role.converge()
    before, pid = host.snapshot(), host.dockerd_pid()
    pki_dir = tmp_path / "pki-never-made"  # the controller-side PKI is not started either

    run = role.run({variable: value, "docker_daemon_tls_pki_dir": str(pki_dir)})

    assert run.rc != 0, run
    results = run.results(host.name)
    failed = [(name, result) for name, result in results if result.get("failed")]
    assert len(failed) == 1, run
    assert variable in str(failed[0][1].get("msg")), run
    # Every task that ran up to the failure runs on the controller only.
    assert {result.get("action") for _name, result in results} <= CONTROLLER_ACTIONS, results
    assert host.snapshot() == before
    assert host.dockerd_pid() == pid
    assert not pki_dir.exists()


# --- 3. a setting that passes the schema but that dockerd refuses --------------------------------

# Tried by hand in the container first (dockerd 20.10.24): both pass the module's schema and make
# dockerd exit at start. ``log-opts: {max-size: banana}`` with json-file does not: dockerd starts
# and complains only when a container is created.
REFUSED = [
    pytest.param(
        {"bip": "300.1.1.1/24"},
        "failed to start daemon: Error initializing network controller: invalid CIDR address: 300.1.1.1/24",
        id="bip",
    ),
    pytest.param(
        {"default-runtime": "nonexistent"},
        "specified default runtime 'nonexistent' does not exist",
        id="default-runtime",
    ),
]


@pytest.mark.parametrize(("settings", "reason"), REFUSED)
def test_setting_dockerd_refuses_is_rolled_back(
    host: DockerHost, role: Role, settings: dict[str, t.Any], reason: str
) -> None:
    role.converge()  # a previous good daemon.json, the TLS drop-in and certificates
    host.remove_backups()
    good, before, pid = host.read(), host.snapshot(), host.dockerd_pid()
    assert good is not None and b'"tls": true' in good

    run = role.run({"docker_daemon_extra_settings": settings})

    name = host.name
    assert run.rc != 0, run
    # The module's schema let the setting through and wrote it, with a backup of the good file;
    # dockerd then refused to start.
    (config,) = task_named(run.results(name), CONFIG_TASK)
    assert config.get("changed") is True and not config.get("failed"), config
    backup = config["backup_file"]
    (restart,) = task_named(run.results(name), RESTART_TASK)
    assert restart.get("failed") is True, restart
    assert run.stats(name)["rescued"] == 1, run
    # The play failed with dockerd's own words.
    failures = run.failures(name)
    assert short(failures[-1][0]) == ROLLBACK_FAIL_TASK, run
    message = failures[-1][1]
    print(f"\n{message}")
    assert reason in message, message
    assert "were restored and dockerd is running again" in message, message
    # Rolled back: the very bytes of the previous file, from the module's backup; drop-ins and
    # certificates as they were; dockerd running again (a new process) on the previous settings.
    assert host.read() == good
    assert host.read(backup) == good
    host.sh(f"rm -f '{backup}'")
    assert host.snapshot() == before
    assert host.healthy()
    assert host.dockerd_pid() != pid
    info = json.loads(host.target.exec("docker", "info", "--format", "{{json .}}").stdout)
    assert (info["DefaultRuntime"], info["LiveRestoreEnabled"]) == ("runc", True)
    bridge = json.loads(host.target.exec("docker", "network", "inspect", "bridge").stdout)[0]
    assert bridge["Options"]["com.docker.network.bridge.enable_icc"] == "false"  # the role's good config
    # And the next run without the bad setting finds everything converged.
    host.converged = before


# --- the converged run -----------------------------------------------------------------------------


def count_calls(run: t.Any, host: str) -> dict[str, int]:
    """What a run did, from its JSON result and from the connection's -vvv lines on stderr.

    - ``tasks``: task results and loop items that ran (not skipped), include_role aside;
    - ``controller_checks``: of those, assert and argument validation (no module anywhere);
    - ``host_module_runs`` / ``controller_module_runs``: Python module executions on the host
      (through ``docker exec``) and on the controller (delegate_to: localhost); an action such as
      copy or template runs two modules (stat, then copy or file);
    - ``host_round_trips``: every ``docker exec`` of the run (module runs and temp-dir handling).
    """
    counts = {"tasks": 0, "controller_checks": 0}
    for _name, result in run.results(host):
        if result.get("action") == "ansible.builtin.include_role":
            continue
        items = result["results"] if isinstance(result.get("results"), list) else [result]
        for item in items:
            if not item.get("skipped"):
                counts["tasks"] += 1
                counts["controller_checks"] += result.get("action") in CONTROLLER_ACTIONS
    host_exec = rf"^<{re.escape(host)}> EXEC "
    counts["host_module_runs"] = len(re.findall(host_exec + r".*python3 && sleep 0", run.stderr, re.M))
    counts["controller_module_runs"] = len(re.findall(r"^<localhost> EXEC .*python", run.stderr, re.M))
    counts["host_round_trips"] = len(re.findall(host_exec, run.stderr, re.M))
    return counts


def test_converged_run_changes_nothing_and_does_not_restart(host: DockerHost, role: Role) -> None:
    role.converge()
    before, pid = host.snapshot(), host.dockerd_pid()

    run = role.run(None, "-vvv", env={"ANSIBLE_VERBOSE_TO_STDERR": "true"})

    stats = run.stats(host.name)
    assert run.rc == 0 and stats["failures"] == 0, run
    assert stats["changed"] == 0, [name for name, result in run.results(host.name) if result.get("changed")]
    restart = task_named(run.results(host.name), RESTART_TASK)
    assert restart and all(result.get("skipped") for result in restart), restart
    assert host.dockerd_pid() == pid
    assert host.snapshot() == before
    counts = count_calls(run, host.name)
    print(f"\nconverged run: {run.seconds:.1f} s (with -vvv), {stats}, {counts}")
    # Every module ran somewhere: on the host or, delegated, on the controller.
    modules = counts["tasks"] - counts["controller_checks"]
    assert counts["host_module_runs"] + counts["controller_module_runs"] >= modules > 0, counts


def secret_pem_lines(path: Path) -> list[str]:
    """The PEM lines of an EC private key that carry bytes of its secret scalar.

    The later lines hold the public key only, which certificates and signing requests in the
    output rightly contain (and can match line for line)."""
    body = [line for line in path.read_text().splitlines() if line and not line.startswith("-----")]
    der = base64.b64decode("".join(body))
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    scalar = key.private_numbers().private_value.to_bytes((key.curve.key_size + 7) // 8, "big")  # type: ignore[union-attr]
    end = der.index(scalar) + len(scalar)
    return body[: -(-(-(-end // 3) * 4) // 64)]


def test_private_keys_never_reach_the_output(host: DockerHost, role: Role) -> None:
    host.reset_packaged()  # no certificates on the host: the key is copied in this run

    run = role.run(None, "--diff", "-v", env={"ANSIBLE_VERBOSE_TO_STDERR": "true"})

    assert run.rc == 0 and run.stats(host.name)["failures"] == 0, run
    assert host.read("/etc/docker/certs/server-key.pem")  # the key was really installed
    output = json.dumps(run.doc) + run.stderr
    for key in (role.pki_dir / "ca-key.pem", role.pki_dir / "hosts" / host.name / "key.pem"):
        leaked = [line for line in secret_pem_lines(key) if line in output]
        assert not leaked, f"{key.name}: {len(leaked)} line(s) of the private key are in the output"
    host.converged = None


def test_userns_remap_refused_while_the_daemon_has_images(host: DockerHost, role: Role) -> None:
    role.converge()
    host.sh("tar -C / -chf - usr/bin/true | docker import - bwk-userns-guard >/dev/null")
    try:
        before = host.snapshot()

        run = role.run({"docker_daemon_userns_remap": "default"})

        assert run.rc != 0
        messages = " ".join(msg for _name, msg in run.failures(host.name))
        assert "docker_daemon_userns_remap would hide what this daemon has now" in messages, run
        assert "docker_daemon_userns_remap_force" in messages
        assert host.snapshot() == before
        assert "userns-remap" not in json.loads(host.read() or b"{}")
    finally:
        host.sh("docker image rm -f bwk-userns-guard >/dev/null", check=False)


def test_a_waiver_lets_a_socket_mode_below_cis_through(host: DockerHost, role: Role) -> None:
    """0666 is refused without a waiver (above); with one for CIS-Docker 3.16 the role goes on (check mode here)."""
    role.converge()
    before = host.snapshot()
    waiver = {"id": "CIS-Docker 3.16", "reason": "a legacy tool needs the socket (OPS-9)", "expires": "2099-01-31"}
    run = role.run({"docker_daemon_socket_mode": "0666", "bulwark_waivers": [waiver]}, "--check")
    assert run.rc == 0, run
    guard = [r for _name, r in run.results(host.name) if r.get("action") == "bulwark.hardening.check_role_vars"]
    assert guard and not guard[0].get("failed"), run
    assert [w["id"] for w in guard[0]["bulwark_waivers"]] == ["CIS-Docker 3.16"]
    assert host.snapshot() == before
