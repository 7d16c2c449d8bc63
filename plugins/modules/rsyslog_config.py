#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: rsyslog_config
short_description: Install an rsyslog drop-in only once rsyslogd accepts it, and restart rsyslog safely
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - In one call, checks the new drop-in O(path) with C(rsyslogd -N1) together with everything the main
    configuration O(main_config) includes, in a copy of the drop-in directory, so that rsyslogd checks exactly what
    would run. The live files are not touched unless it accepts the configuration; its words are the error otherwise.
  - Files the configuration needs (certificates, keys) are listed in O(requires) and must exist before any change,
    because C(rsyslogd -N1) does not open them.
  - Then replaces the drop-in atomically (keeping a backup with O(backup)), restarts the service only when the drop-in
    changed or rsyslogd is older than it, and waits for a new rsyslogd that stays up. When it does not come back, the
    previous drop-in is put back, rsyslog is restarted again, and the module fails with the service's last log lines.
  - Reports V(stale) in RV(item_status) when the drop-in is as asked but the running rsyslogd started before it was
    written, so it does not run it.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details:
      - Checks the new configuration with C(rsyslogd -N1) in a copy, and changes nothing.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  path:
    description: The drop-in, which O(main_config) must include (for example through C(/etc/rsyslog.d/*.conf)).
    type: path
    required: true
  content:
    description: The drop-in's content. Required with O(state=present).
    type: str
  state:
    description: V(absent) removes the drop-in (after checking the configuration without it).
    type: str
    choices: [present, absent]
    default: present
  main_config:
    description: rsyslog's main configuration file.
    type: path
    default: /etc/rsyslog.conf
  requires:
    description: Files the configuration reads, which must exist and be readable before anything changes.
    type: list
    elements: path
    default: []
  mode:
    description: The drop-in's mode.
    type: str
    default: "0644"
  backup:
    description: Keep a copy of the drop-in it replaces, beside it.
    type: bool
    default: true
  restart:
    description: Restart O(service) when the drop-in changed or the running rsyslogd is older than it.
    type: bool
    default: true
  service:
    description: The systemd unit of rsyslog.
    type: str
    default: rsyslog
  timeout:
    description: Seconds to wait for a restarted rsyslogd to be up.
    type: int
    default: 30
requirements:
  - rsyslog (C(rsyslogd)) and systemd on the host
notes:
  - C(rsyslogd -N1) checks syntax, parameters and that modules load. It does not connect to collectors or open
    certificate files; list those in O(requires).
"""

EXAMPLES = r"""
- name: Forward everything to the collector, checked before it is installed
  bulwark.hardening.rsyslog_config:
    path: /etc/rsyslog.d/60-bulwark-forward.conf
    content: "{{ lookup('ansible.builtin.template', 'forward.conf.j2') }}"
    requires:
      - /etc/rsyslog.d/tls/ca.pem
      - /etc/rsyslog.d/tls/client.pem
      - /etc/rsyslog.d/tls/client.key
"""

RETURN = r"""
validation:
  description: What C(rsyslogd -N1) said about the configuration, line by line.
  returned: always
  type: list
  elements: str
  sample: ["rsyslogd: version 8.2302.0, config validation run (level 1), master config /tmp/.../main.conf"]
backup_file:
  description: The copy of the drop-in it replaced.
  returned: when O(backup=true), the drop-in existed and it was changed
  type: str
restarted:
  description: Whether rsyslog was (or, in check mode, would be) restarted.
  returned: always
  type: bool
item_status:
  description:
    - V(config) is V(ok) (as asked, and the running rsyslogd started after it was written), V(changed), or V(stale) (as
      asked in the file, but rsyslogd was not restarted since).
  returned: always
  type: dict
  sample: {"config": "ok"}
"""

import os
import re
import shutil
import tempfile
import time
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils._io import read_state, remove_file, write_atomically
from ansible_collections.bulwark.hardening.plugins.module_utils.file_args import path_problem
from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import START_TIME_SLACK, newest_matching, tail_lines
from ansible_collections.bulwark.hardening.plugins.module_utils.rsyslog_conf import (
    RsyslogConfError,
    sandboxed_main,
    validation_problems,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_io import read_processes

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "path": {"type": "path", "required": True},
    "content": {"type": "str"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "main_config": {"type": "path", "default": "/etc/rsyslog.conf"},
    "requires": {"type": "list", "elements": "path", "default": []},
    "mode": {"type": "str", "default": "0644"},
    "backup": {"type": "bool", "default": True},
    "restart": {"type": "bool", "default": True},
    "service": {"type": "str", "default": "rsyslog"},
    "timeout": {"type": "int", "default": 30},
}
STAYS_UP_S = 2.0
LOG_LINES = 20


def check(module: t.Any, rsyslogd: str, main_text: str, path: str, content: bytes | None) -> list[str]:
    """rsyslogd -N1 over the configuration with CONTENT as PATH (None: without it); returns its words.

    Raises RsyslogConfError with them when it does not accept the configuration.
    """
    sandbox = tempfile.mkdtemp(prefix=".bulwark-rsyslog-")
    try:
        # Every include of the drop-in's directory now reads the sandbox: copy that directory once.
        main_in_sandbox = sandboxed_main(main_text, path, sandbox)
        directory = os.path.dirname(path)
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            source = os.path.join(directory, name)
            if source != path and os.path.isfile(source):
                shutil.copy2(source, os.path.join(sandbox, name))
        if content is not None:
            with open(os.path.join(sandbox, os.path.basename(path)), "wb") as handle:
                handle.write(content)
        main = os.path.join(sandbox, ".main.conf")
        with open(main, "w", encoding="utf-8") as handle:
            handle.write(main_in_sandbox)
        returncode, out, err = module.run_command([rsyslogd, "-N1", "-f", main])
    finally:
        shutil.rmtree(sandbox, ignore_errors=True)
    words = [line for line in (out + err).splitlines() if line.strip()]
    problems = validation_problems("\n".join(words), returncode)
    if problems:
        raise RsyslogConfError(f"rsyslogd -N1 refused the configuration: {' '.join(problems)}")
    return words


def rsyslogd_started() -> tuple[int, float] | None:
    process = newest_matching(read_processes("rsyslogd"), "rsyslogd")
    return (process.pid, process.started) if process else None


def restart_and_wait(module: t.Any, service: str, before: tuple[int, float] | None, timeout: int) -> str | None:
    """Restarts SERVICE; None once a new rsyslogd has stayed up, else why not."""
    systemctl = module.get_bin_path("systemctl", required=True)
    returncode, out, err = module.run_command([systemctl, "restart", service])
    if returncode != 0:
        return f"systemctl restart {service} failed: {(err or out).strip()}"
    deadline = time.monotonic() + timeout
    up_since = None
    while time.monotonic() < deadline:
        now = rsyslogd_started()
        active = module.run_command([systemctl, "is-active", "--quiet", service])[0] == 0
        if active and now is not None and now != before:
            up_since = up_since or time.monotonic()
            if time.monotonic() - up_since >= STAYS_UP_S:
                return None
        else:
            up_since = None
        time.sleep(0.25)
    return f"{service} did not come back within {timeout} s"


def journal_tail(module: t.Any, service: str) -> list[str]:
    journalctl = module.get_bin_path("journalctl")
    if not journalctl:
        return []
    out = module.run_command([journalctl, "-u", service, "-n", str(LOG_LINES), "--no-pager", "-o", "cat"])[1]
    return tail_lines(out, LOG_LINES)


def main() -> None:
    module = strict_module(ARGUMENT_SPEC, supports_check_mode=True, required_if=[("state", "present", ["content"])])
    params = module.params
    path, present = params["path"], params["state"] == "present"
    problems = [problem for key in ("path", "main_config") if (problem := path_problem(key, params[key]))]
    problems += [problem for index, f in enumerate(params["requires"]) if (problem := path_problem(f"requires[{index}]", f))]
    if not re.fullmatch(r"0?[0-7]{3}", params["mode"]):
        problems.append(f"mode: {params['mode']!r} is not an octal mode such as 0644.")
    if problems:
        module.fail_json(msg=" ".join(problems) + " Nothing was changed.")
    mode = int(params["mode"], 8)
    if params["timeout"] < 1 or params["timeout"] > 3600:
        module.fail_json(msg=f"timeout: {params['timeout']} is not between 1 and 3600 seconds. Nothing was changed.")
    missing = [f for f in params["requires"] if not os.access(f, os.R_OK) or not os.path.isfile(f)]
    if missing:
        module.fail_json(msg=f"requires: {', '.join(missing)} missing or not readable; the configuration needs it. Nothing was changed.")
    rsyslogd = module.get_bin_path("rsyslogd", required=True)

    content = None
    if present:
        text = params["content"]
        content = (text if text.endswith("\n") else text + "\n").encode()
    try:
        current = read_state(path)
        with open(params["main_config"], encoding="utf-8", errors="replace") as handle:
            main_text = handle.read()
    except OSError as exc:
        module.fail_json(msg=f"cannot read {exc.filename}: {exc.strerror}. Nothing was changed.")
    changed = (current.content != content) if present else current.exists
    changed = changed or bool(present and current.exists and current.mode != mode)

    try:
        validation = check(module, rsyslogd, main_text, path, content)
    except RsyslogConfError as exc:
        module.fail_json(msg=f"{exc} Nothing was changed.", validation=str(exc))

    running = rsyslogd_started()
    written_at = os.stat(path).st_mtime if current.exists and not changed else None
    stale = running is None or (written_at is not None and running[1] + START_TIME_SLACK < written_at)
    restart = params["restart"] and (changed or stale)
    result: dict[str, t.Any] = {"changed": changed or restart, "validation": validation, "restarted": restart}
    if module._diff:
        result["diff"] = {
            "before": (current.content or b"").decode(errors="replace"),
            "after": (content or b"").decode(errors="replace"),
            "before_header": path,
            "after_header": path,
        }
    if not module.check_mode and (changed or restart):
        if changed and present and current.exists and params["backup"]:
            result["backup_file"] = module.backup_local(path)
        if changed:
            if present:
                write_atomically(path, content or b"", mode=mode, uid=0, gid=0)
            else:
                remove_file(path)
        if restart:
            problem = restart_and_wait(module, params["service"], running, params["timeout"])
            if problem:
                logs = journal_tail(module, params["service"])
                if changed:
                    if current.exists:
                        write_atomically(path, current.content or b"", mode=current.mode, uid=current.uid, gid=current.gid)
                    else:
                        remove_file(path)
                    again = restart_and_wait(module, params["service"], None, params["timeout"])
                    undone = " The previous drop-in was put back" + (" and rsyslog runs it." if again is None else f", but: {again}.")
                else:
                    undone = ""
                module.fail_json(msg=f"{problem}.{undone}", log_lines=logs, rolled_back=bool(changed))
    if changed:
        status = "changed"
    elif stale and not params["restart"]:
        status = "stale"
    else:
        status = "changed" if restart else "ok"
    result["item_status"] = {"config": status}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
