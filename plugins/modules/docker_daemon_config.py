#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: docker_daemon_config
short_description: Manage keys of the Docker daemon configuration file (daemon.json)
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Sets and removes keys of the Docker daemon configuration file C(/etc/docker/daemon.json), treated as data.
    Every key that is not set or removed is kept as it is.
  - Checks key names and value types against a table of the keys dockerd knows (Docker Engine 20.10 to 28)
    before anything is changed. An unknown key is an error that names the closest known key, unless
    O(allow_unknown_keys) allows it.
  - Finds keys that dockerd is also given as command-line flags (in the systemd unit, its drop-ins, or
    C(DOCKER_OPTS)), with which dockerd refuses to start, and fails with the fix (see O(check_conflicts)).
  - Validates the new content with C(dockerd --validate) where the installed dockerd has it (Docker Engine 23
    and later), then replaces the file atomically, keeping a backup.
  - The file is written as JSON with an indent of 2, one key per line, keys sorted, and a trailing newline.
    Formatting alone is never a change; when the file is rewritten, keys that are not managed keep their values
    but are formatted the same way.
  - A missing file is treated as an empty one. A file that is not valid JSON, or whose top level is not an
    object, is never rewritten; the module fails and says where the error is.
  - New files get mode V(0644) unless O(mode) is given (CIS-Docker 3.17 and 3.18 ask for
    C(root:root) and V(0644) or stricter); the owner of a new file is the user the module runs as. O(mode),
    O(owner) and O(group) are applied to existing files only when given.
extends_documentation_fragment:
  - bulwark.hardening._attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details:
      - Reads the file and the dockerd start-up configuration and runs the same checks, including
        C(dockerd --validate) on a temporary copy, but never writes to O(path).
  diff_mode:
    support: full
    details:
      - The diff shows the keys set or removed only, not the whole file.
  idempotent:
    support: full
options:
  path:
    description:
      - The daemon.json file.
    type: path
    default: /etc/docker/daemon.json
  settings:
    description:
      - Keys to set, with their values, as in daemon.json (for example V(live-restore), V(log-opts)).
      - The value of a key is compared and written as a whole. A dictionary value such as C(log-opts) or
        C(default-ulimits) replaces the one in the file; it is not merged with it. Lists are compared in order.
      - Values must have the JSON type dockerd expects, for example C(log-opts) values are strings (V("3"), not
        V(3)).
      - Proxy passwords given in C(proxies) URLs are masked in the module output; they are still visible to anyone
        who can read the file, so prefer a proxy that does not need them.
      - At least one of O(settings) and O(remove) is required.
    type: dict
  remove:
    description:
      - Keys to delete from the file. Keys that are not in the file are fine.
      - A key cannot be both in O(settings) and in O(remove).
    type: list
    elements: str
  allow_unknown_keys:
    description:
      - Keys of O(settings) that are not in the module's table of dockerd keys, but should be written anyway (for
        a newer dockerd, for example).
      - A list of key names, or V(true) to allow any key, or V(false) to allow none.
      - Types of known keys are checked in any case.
    type: raw
    default: false
  backup:
    description:
      - Keep a copy of the file, with a timestamp in its name, before it is changed.
    type: bool
    default: true
  validate:
    description:
      - Run C(dockerd --validate --config-file) on the new content before it replaces the file, when the installed
        dockerd supports it (Docker Engine 23 and later, found by C(dockerd --help)). The module's own checks
        always run; RV(validated_with) tells which was used.
      - Runs only when the content changes.
    type: bool
    default: true
  check_conflicts:
    description:
      - Fail when a key of O(settings) is also given to dockerd as a flag, for example C(hosts) while the packaged
        systemd unit runs C(dockerd -H fd://) (moby/moby#25471). dockerd refuses to start in that case.
      - The effective command line is read from O(dockerd_flags_sources) as systemd reads it. An empty
        C(ExecStart=) in a drop-in clears the earlier ones, so a drop-in that starts dockerd without the flag
        resolves the conflict.
      - Conflicts of keys that the task does not set are returned in RV(conflicts) and shown as warnings.
    type: bool
    default: true
  verify_running:
    description:
      - Check each key that is as asked in the file against the dockerd that runs on the host, so that a compliance
        report never calls a setting in effect that is only written. A key C(docker info) reports (V(live-restore),
        V(log-driver), V(debug), V(experimental), V(default-runtime), V(userns-remap), V(insecure-registries); V(icc)
        from the default bridge network) is compared with what the daemon says.
        Any other key is in effect only when dockerd started after the file was last written, as dockerd reads it
        when it starts.
      - A key the daemon does not run is V(stale) in RV(item_status); when no dockerd answers, every key that is
        not changed is V(not-in-effect) and the task's message says why. Keys this task changes stay V(changed).
      - Set it when O(path) is the file the host's dockerd reads; it needs the C(docker) CLI.
    type: bool
    default: false
  dockerd_flags_sources:
    description:
      - Files that give dockerd its command line. Shell-style wildcards are expanded. Files that do not exist are
        skipped.
      - Files named C(*.service) are systemd units, files C(*.conf) in a C(*.service.d) directory are drop-ins;
        files named by C(EnvironmentFile=) of the unit are read too, to expand variables such as C($DOCKER_OPTS).
      - When no unit file is found, C(DOCKER_OPTS) in the other files is taken as the flags (sysvinit style).
    type: list
    elements: path
    default:
      - /lib/systemd/system/docker.service
      - /usr/lib/systemd/system/docker.service
      - /etc/systemd/system/docker.service
      - /run/systemd/system/docker.service.d/*.conf
      - /etc/systemd/system/docker.service.d/*.conf
      - /etc/default/docker
notes:
  - Docker reads daemon.json when it starts, and some keys on C(SIGHUP). Restart or reload the docker service in a
    handler when the task reports a change.
seealso:
  - name: Daemon configuration file
    description: The dockerd reference, with every daemon.json key.
    link: https://docs.docker.com/reference/cli/dockerd/#daemon-configuration-file
  - name: CIS Docker Benchmark
    description: The controls most daemon.json keys implement (section 2).
    link: https://www.cisecurity.org/benchmark/docker
"""

EXAMPLES = r"""
- name: Harden the Docker daemon settings | CIS-Docker 2.2, 2.13, 2.15
  bulwark.hardening.docker_daemon_config:
    settings:
      icc: false
      live-restore: true
      no-new-privileges: true
      userland-proxy: false
      log-driver: json-file
      log-opts:
        max-size: 10m
        max-file: "3"
    mode: "0644"
    owner: root
    group: root
  register: __docker_daemon_config
  notify: Restart docker

- name: Listen on TLS as well as on the socket-activated socket
  bulwark.hardening.docker_daemon_config:
    settings:
      hosts: ["fd://", "tcp://0.0.0.0:2376"]
      tlsverify: true
      tlscacert: /etc/docker/certs/ca.pem
      tlscert: /etc/docker/certs/server-cert.pem
      tlskey: /etc/docker/certs/server-key.pem

- name: Drop keys that Docker 23 removed
  bulwark.hardening.docker_daemon_config:
    remove:
      - cluster-store
      - cluster-advertise

- name: Audit only (check mode), showing what would change
  bulwark.hardening.docker_daemon_config:
    settings:
      icc: false
  check_mode: true
  diff: true
  register: __docker_daemon_audit

- name: Set a key that this module does not know yet
  bulwark.hardening.docker_daemon_config:
    settings:
      some-new-key: true
    allow_unknown_keys:
      - some-new-key
"""

RETURN = r"""
config:
  description:
    - The whole content of the file after the task (in check mode, what it would be), with secrets masked.
  returned: success
  type: dict
  sample:
    icc: false
    live-restore: true
    log-driver: json-file
    log-opts: {"max-file": "3", "max-size": "10m"}
changed_keys:
  description:
    - The keys of O(settings) and O(remove) whose value was (or would be) set or deleted, sorted.
  returned: success
  type: list
  elements: str
  sample: ["icc", "live-restore"]
item_status:
  description:
    - Every key of O(settings) and O(remove), with V(ok) when it already had the wanted state and V(changed) when it was
      (or would be) changed. Compliance reports read this.
    - With O(verify_running=true), a key that is as asked in the file is V(stale) when the running dockerd does not
      run it, and V(not-in-effect) when no dockerd answers.
  returned: success
  type: dict
  sample: {"icc": "changed", "live-restore": "ok", "cluster-store": "ok"}
running:
  description: What the running dockerd was compared with, when O(verify_running=true) and a dockerd answered.
  returned: when O(verify_running=true) and dockerd answers
  type: dict
  contains:
    started:
      description: When dockerd started, in seconds since the epoch.
      type: float
    stale:
      description: The keys that are as asked in the file but not in the running daemon.
      type: list
      elements: str
  sample: {"started": 1764640000.5, "stale": ["live-restore"]}
backup_file:
  description:
    - The copy of the file made before it was changed.
  returned: when O(backup=true), the file existed and it was changed
  type: str
  sample: /etc/docker/daemon.json.12345.2025-01-31@12:00:00~
conflicts:
  description:
    - Keys of the resulting file that dockerd is also given as flags. Empty when there are none, or when
      O(check_conflicts=false).
  returned: success
  type: list
  elements: dict
  sample:
    - key: hosts
      flag: "-H fd://"
      source: /lib/systemd/system/docker.service
      line: 13
      via: ExecStart
      fix: "override ExecStart in a systemd drop-in, ..."
  contains:
    key:
      description: The daemon.json key, or V(proxies.http-proxy) for a member of an object.
      type: str
      sample: hosts
    flag:
      description: The flag as dockerd gets it.
      type: str
      sample: "-H fd://"
    source:
      description: The file that gives the flag.
      type: str
      sample: /lib/systemd/system/docker.service
    line:
      description: The line of RV(conflicts[].source) that gives the flag.
      type: int
      sample: 13
    via:
      description: V(ExecStart), or the environment variable that holds the flag (such as V(DOCKER_OPTS)).
      type: str
      sample: ExecStart
    fix:
      description: How to resolve the conflict.
      type: str
      sample: >-
        remove '--icc=false' from DOCKER_OPTS in /etc/default/docker (line 4), or do not set 'icc' in daemon.json.
validated_with:
  description:
    - V(dockerd --validate) when dockerd checked the new content, V(schema) when only the module's own checks ran (the
      content did not change, O(validate=false), or the installed dockerd has no C(--validate)).
  returned: success
  type: str
  choices: ["dockerd --validate", "schema"]
  sample: schema
diff:
  description:
    - The keys of O(settings) and O(remove) before and after, with secrets masked. A key missing from
      RV(diff.before) was not in the file; a key missing from RV(diff.after) is deleted.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The managed keys as they were.
      type: dict
      sample: {"icc": true}
    after:
      description: The managed keys as they are (or would be) after the task.
      type: dict
      sample: {"icc": false, "live-restore": true}
  sample: {"before": {"icc": true}, "after": {"icc": false, "live-restore": true}}
"""

import glob
import json
import os
import tempfile
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.bulwark.hardening.plugins.module_utils._io import group_exists, read_state, user_exists
from ansible_collections.bulwark.hardening.plugins.module_utils.docker_running import RunningDaemon, running_item_status
from ansible_collections.bulwark.hardening.plugins.module_utils.file_args import file_arg_problems
from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import parse_boot_time, parse_stat_start_ticks
from ansible_collections.bulwark.hardening.plugins.module_utils.daemon_json import (
    Conflict,
    DaemonJsonError,
    Plan,
    conflicts_message,
    dockerd_flag_uses,
    dockerd_supports_validate,
    environment_files,
    find_conflicts,
    normalize_allow_unknown,
    parse_daemon_json,
    plan,
    redact,
    render_daemon_json,
    secret_values,
)

DEFAULT_SOURCES = [
    "/lib/systemd/system/docker.service",
    "/usr/lib/systemd/system/docker.service",
    "/etc/systemd/system/docker.service",
    "/run/systemd/system/docker.service.d/*.conf",
    "/etc/systemd/system/docker.service.d/*.conf",
    "/etc/default/docker",
]

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "path", "default": "/etc/docker/daemon.json"},
    "settings": {"type": "dict"},
    "remove": {"type": "list", "elements": "str"},
    "allow_unknown_keys": {"type": "raw", "default": False, "no_log": False},
    "backup": {"type": "bool", "default": True},
    "validate": {"type": "bool", "default": True},
    "check_conflicts": {"type": "bool", "default": True},
    "verify_running": {"type": "bool", "default": False},
    "dockerd_flags_sources": {"type": "list", "elements": "path", "default": DEFAULT_SOURCES},
}


def read_current(path: str) -> tuple[dict[str, t.Any], bool]:
    """The parsed file and whether it exists."""
    try:
        state = read_state(path)  # a FIFO or a directory fails at once
    except OSError as exc:
        raise DaemonJsonError(f"cannot read {path}: {to_native(exc.strerror)}; nothing was changed.") from exc
    if not state.exists:
        return {}, False
    return parse_daemon_json(state.content or b"", path), True


def _read_text(path: str) -> str | None:
    try:
        with open(path, "rb") as handle:
            return str(to_text(handle.read(), errors="surrogate_or_replace"))
    except OSError:
        return None


def read_sources(patterns: t.Iterable[str]) -> dict[str, str]:
    """{path: text} of the dockerd start-up files that exist, plus the EnvironmentFile= files
    the unit names."""
    sources: dict[str, str] = {}
    for pattern in patterns:
        paths = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        for path in paths:
            if os.path.isfile(path):
                text = _read_text(path)
                if text is not None:
                    sources[path] = text
    for path in environment_files(sources):
        if path not in sources and os.path.isfile(path):
            text = _read_text(path)
            if text is not None:
                sources[path] = text
    return sources


def stage(directory: str, content: str) -> str:
    """Write ``content`` to a new temporary file in ``directory``."""
    fd, tmp = tempfile.mkstemp(prefix=".daemon.json.", suffix=".tmp", dir=directory)
    with os.fdopen(fd, "wb") as handle:
        handle.write(to_bytes(content))
    return tmp


def validate_with_dockerd(module: AnsibleModule, tmp: str, path: str) -> bool:
    """Run ``dockerd --validate`` on ``tmp``; False when dockerd cannot do that."""
    dockerd = module.get_bin_path("dockerd")  # PATH, then the sbin directories
    if not dockerd:
        return False
    rc, out, err = module.run_command([dockerd, "--help"])
    if not dockerd_supports_validate(out + "\n" + err):
        return False
    rc, out, err = module.run_command([dockerd, "--validate", "--config-file", tmp])
    if rc != 0:
        reason = " ".join((err or out).replace(tmp, path).split()) or f"exit code {rc}"
        raise DaemonJsonError(f"dockerd --validate rejected the new content of {path}: {reason}; nothing was changed.")
    return True


def write(module: AnsibleModule, result: Plan, path: str, existed: bool) -> tuple[str, str | None]:
    """Validate and (outside check mode) write the new content. Returns (validated_with, backup_file)."""
    content = render_daemon_json(result.after)
    directory = os.path.dirname(path) or "."
    if module.check_mode:
        directory = module.tmpdir
    elif not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    tmp = stage(directory, content)
    try:
        validated_with = "schema"
        if module.params["validate"] and validate_with_dockerd(module, tmp, path):
            validated_with = "dockerd --validate"
        if module.check_mode:
            return validated_with, None
        backup_file = None
        if existed and module.params["backup"]:
            backup_file = module.backup_local(path)
        module.atomic_move(tmp, path, unsafe_writes=module.params["unsafe_writes"])
        return validated_with, backup_file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def check_dockerd_flags(module: AnsibleModule, result: Plan, path: str) -> list[Conflict]:
    """Conflicts of the resulting file with dockerd's flags: fail for keys this task sets,
    warn for the others."""
    uses = dockerd_flag_uses(read_sources(module.params["dockerd_flags_sources"]))
    for use in uses:
        if use.name == "config-file" and use.value and os.path.abspath(use.value) != os.path.abspath(path):
            module.warn(f"dockerd is started with '{use.text}' ({use.origin.source}), so it does not read {path}.")
    conflicts = find_conflicts(result.after, uses)
    ours = [c for c in conflicts if c.key.split(".", 1)[0] in (module.params["settings"] or {})]
    if ours:
        module.fail_json(msg=conflicts_message(ours, path), conflicts=[c.as_dict() for c in conflicts])
    for c in conflicts:
        module.warn(f"'{c.key}' in {path} is also given to dockerd as '{c.flag}' ({c.source}); fix: {c.fix}")
    return conflicts


DEFAULT_PIDFILE = "/var/run/docker.pid"


def _process_started(pid: int) -> float:
    """When process PID started, in seconds since the epoch (from /proc, as ps computes it)."""
    with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
        ticks = parse_stat_start_ticks(handle.read())
    with open("/proc/stat", encoding="ascii") as handle:
        boot = parse_boot_time(handle.read())
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def read_running_daemon(module: AnsibleModule, pidfile: str) -> tuple[RunningDaemon | None, str]:
    """The running dockerd's info, bridge options and start time, or None and why there is none."""
    docker = module.get_bin_path("docker")
    if not docker:
        return None, "the docker CLI is not installed, so the running daemon cannot be read"
    rc, out, err = module.run_command([docker, "info", "--format", "{{json .}}"])
    try:
        info = json.loads(out) if rc == 0 else {}
    except ValueError:
        info = {}
    errors = info.get("ServerErrors") if isinstance(info, dict) else None
    if rc != 0 or not isinstance(info, dict) or not info or errors:
        why = "; ".join(map(str, errors)) if errors else (err or out).strip()[:300]
        return None, f"no dockerd answers (docker info: {why})"
    rc, out, _err = module.run_command([docker, "network", "inspect", "--format", "{{json .Options}}", "bridge"])
    try:
        bridge = json.loads(out) if rc == 0 else {}
    except ValueError:
        bridge = {}
    try:
        with open(pidfile, encoding="utf-8") as handle:
            started = _process_started(int(handle.read().strip()))
    except (OSError, ValueError, IndexError) as exc:
        return None, f"dockerd answers, but its start time cannot be read from {pidfile} ({exc})"
    return RunningDaemon(info=info, bridge=bridge if isinstance(bridge, dict) else {}, started=started), ""


def apply_file_attributes(module: AnsibleModule, path: str, existed: bool, changed: bool) -> bool:
    """mode/owner/group/...; a new file gets 0644 unless told. Returns the new changed."""
    if not os.path.exists(path):  # check mode, file still to be created: nothing to compare
        return changed
    file_args = module.load_file_common_arguments(module.params, path=path)
    if not existed and file_args["mode"] is None:
        file_args["mode"] = "0644"
    return bool(module.set_fs_attributes_if_different(file_args, changed))


def main() -> None:
    module = strict_module(
        ARGUMENT_SPEC,
        required_one_of=[("settings", "remove")],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    path: str = module.params["path"]
    settings: dict[str, t.Any] = module.params["settings"] or {}
    module.no_log_values.update(secret_values(settings))
    # Owner, group and mode are applied after the write: checked now, so a bad one changes nothing.
    problems = file_arg_problems(module.params, user_exists, group_exists)
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.")

    try:
        allow_unknown = normalize_allow_unknown(module.params["allow_unknown_keys"])
        current, existed = read_current(path)  # I/O
        # What dockerd may have read: the file as it was before this task rewrote it.
        written = os.stat(path).st_mtime if existed else None
        result = plan(current, settings, module.params["remove"] or (), allow_unknown=allow_unknown)  # pure
        for warning in result.warnings:
            module.warn(warning)
        conflicts = check_dockerd_flags(module, result, path) if module.params["check_conflicts"] else []
        validated_with, backup_file = "schema", None
        if result.changed:
            validated_with, backup_file = write(module, result, path, existed)  # I/O (none in check mode)
    except DaemonJsonError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(
            msg=f"cannot write {path}: {to_native(exc)}; it was not changed.", exception=traceback.format_exc()
        )

    output: dict[str, t.Any] = {
        "changed": apply_file_attributes(module, path, existed, result.changed),
        "config": redact(result.after),
        "changed_keys": list(result.changed_keys),
        "item_status": result.item_status,
        "conflicts": [c.as_dict() for c in conflicts],
        "validated_with": validated_with,
    }
    if module.params["verify_running"]:
        daemon, why = read_running_daemon(module, str(result.after.get("pidfile") or DEFAULT_PIDFILE))
        output["item_status"] = running_item_status(result.item_status, settings, daemon, written)
        if daemon is None:
            output["msg"] = why
        else:
            stale = [key for key, state in output["item_status"].items() if state == "stale"]
            output["running"] = {"started": daemon.started, "stale": stale}
    if backup_file:
        output["backup_file"] = backup_file
    if module._diff:
        output["diff"] = dict(result.diff(), before_header=path, after_header=path)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
