#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: static_pod_wait
short_description: Wait until a static pod runs its manifest and its health endpoint is ready
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Waits until the process of a static pod (for example C(kube-apiserver)) was started after its manifest was
    written, runs exactly the manifest's arguments, and passes its own liveness and readiness probes the way kubelet
    runs them (HTTP GET without credentials and without verifying the certificate; 200-399 passes), plus O(url) when
    given.
  - Checking the probes as kubelet does is what catches a change that kubelet would later kill the pod for, such as
    C(--anonymous-auth=false) while the probes are anonymous.
  - kubelet restarts a static pod some time after its manifest changes, and until then the old process still answers;
    checking only the endpoint would accept the old process. This module is the health gate of a rollout; when it
    fails, the caller restores the previous manifest.
  - On timeout it fails with the reason (no process, old arguments, the endpoint's last answer) and the last lines of
    the pod's log, read from kubelet's C(/var/log/pods) files.
  - Reads only; it never changes the host.
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is waited for; the module returns at once with RV(ready=null).
  diff_mode:
    support: none
  idempotent:
    support: full
options:
  command:
    description:
      - The pod's command, as the base name of the process's first argument.
    type: str
    required: true
  args:
    description:
      - The arguments the process must run with, in order, after the command (the C(args) that
        M(bulwark.hardening.static_pod_args) returns). Omit to accept any arguments.
    type: list
    elements: str
  manifest:
    description:
      - The manifest's path. The process must have started after the file's last change.
      - Omit to accept a process of any age.
    type: path
  url:
    description:
      - An extra health endpoint to check, for example V(https://10.0.0.5:6443/readyz), with O(ca_path) and
        O(client_cert) when given.
    type: str
  probes:
    description:
      - Also check the C(httpGet) liveness and readiness probes of the container named O(command) in O(manifest), as
        kubelet runs them.
      - Needs O(manifest). Probes of other kinds (C(tcpSocket), C(exec)) are not checked.
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle that verifies the endpoint's certificate. Without it, the certificate is not verified, as kubelet
        does not verify it for probes.
    type: path
  client_cert:
    description:
      - Client certificate to present, so that the check works whether or not the server admits anonymous requests.
    type: path
  client_key:
    description:
      - Key of O(client_cert).
    type: path
  timeout:
    description:
      - Seconds to wait in all.
    type: int
    default: 180
  stable_for:
    description:
      - Seconds the endpoint must keep passing, with the same process, before the pod counts as healthy. A pod that
        comes up and is then killed by its liveness probe fails this.
    type: int
    default: 5
  log_glob:
    description:
      - Glob of the pod's log files; the newest one is quoted on failure.
      - Defaults to kubelet's layout, C(/var/log/pods/<namespace>_<command>-*/<command>/*.log), with namespace
        C(kube-system).
    type: str
  log_lines:
    description:
      - How many lines of the log to return on failure.
    type: int
    default: 20
seealso:
  - module: bulwark.hardening.static_pod_args
"""

EXAMPLES = r"""
- name: Wait for kube-apiserver to run the new manifest
  bulwark.hardening.static_pod_wait:
    command: kube-apiserver
    args: "{{ manifest.args }}"
    manifest: /etc/kubernetes/manifests/kube-apiserver.yaml
    timeout: 180

- name: Wait for the API server's /readyz, verified with the cluster CA
  bulwark.hardening.static_pod_wait:
    command: kube-apiserver
    probes: false
    url: https://10.0.0.5:6443/readyz
    ca_path: /etc/kubernetes/pki/ca.crt
"""

RETURN = r"""
ready:
  description: Whether the pod became healthy; V(null) in check mode.
  returned: always
  type: bool
pid:
  description: The process that runs the manifest.
  returned: success
  type: int
waited:
  description: Seconds from the start of the module to a healthy pod (the downtime of a rollout is at most this).
  returned: always
  type: float
log_tail:
  description: The last lines of the pod's newest log file, CRI prefixes removed.
  returned: failure
  type: list
  elements: str
"""

import glob
import os
import ssl
import time
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.urls import open_url
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import (
    PodProcess,
    http_probe_urls,
    is_command,
    is_ready_status,
    newest_matching,
    parse_boot_time,
    parse_cmdline,
    parse_stat_start_ticks,
    runs_manifest,
    tail_lines,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    parse_manifest,
)

POLL_INTERVAL = 0.5


def read_processes(command):
    with open("/proc/stat", encoding="ascii") as handle:
        boot = parse_boot_time(handle.read())
    ticks = os.sysconf("SC_CLK_TCK")
    processes = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                argv = parse_cmdline(handle.read())
            if not is_command(argv, command):
                continue
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as handle:
                started = boot + parse_stat_start_ticks(handle.read()) / ticks
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue  # it exited while we looked
        processes.append(PodProcess(int(entry), argv, started))
    return processes


# What the two kinds of check present and verify: kubelet's probes present no credentials and
# verify nothing; the url check uses the CA and client certificate it is given.
KUBELET_PROBE = {"validate_certs": False}


def manifest_probe_urls(module, path, command):
    try:
        with open(path, encoding="utf-8") as handle:
            return http_probe_urls(parse_manifest(handle.read(), path), command)
    except (OSError, ValueError) as exc:  # StaticPodError is a ValueError
        module.fail_json(msg=f"cannot read the probes of {command} from {path}: {exc}")


def url_check(params):
    return {
        "validate_certs": bool(params["ca_path"]),
        "ca_path": params["ca_path"],
        "client_cert": params["client_cert"],
        "client_key": params["client_key"],
    }


def probe(url, tls):
    """(passed, what the endpoint said)."""
    try:
        # No proxy: a probe goes straight to the pod, as kubelet's does.
        response = open_url(url, timeout=2, use_proxy=False, follow_redirects="none", **tls)
        return is_ready_status(response.status), f"HTTP {response.status}"
    except HTTPError as exc:
        return is_ready_status(exc.code), f"HTTP {exc.code}"
    except (URLError, OSError, ssl.SSLError) as exc:
        return False, str(getattr(exc, "reason", exc))


def log_tail(pattern, count):
    files = glob.glob(pattern)
    if not files:
        return [f"no log file matches {pattern}"]
    newest = max(files, key=os.path.getmtime)
    with open(newest, encoding="utf-8", errors="replace") as handle:
        return [f"({newest})"] + tail_lines(handle.read(), count)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            command=dict(type="str", required=True),
            args=dict(type="list", elements="str"),
            manifest=dict(type="path"),
            url=dict(type="str"),
            probes=dict(type="bool", default=True),
            ca_path=dict(type="path"),
            client_cert=dict(type="path"),
            client_key=dict(type="path"),
            timeout=dict(type="int", default=180),
            stable_for=dict(type="int", default=5),
            log_glob=dict(type="str"),
            log_lines=dict(type="int", default=20),
        ),
        required_together=[("client_cert", "client_key")],
        supports_check_mode=True,
    )
    params = module.params
    command = params["command"]
    if params["probes"] and not params["manifest"]:
        module.fail_json(msg="probes=true needs manifest, the file that holds the probes")
    if params["url"] and not params["url"].startswith(("https://", "http://")):
        module.fail_json(msg=f"url must be an http or https URL, got {params['url']!r}")
    if params["probes"] and not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    if module.check_mode:
        module.exit_json(changed=False, ready=None, waited=0.0)
    log_glob = params["log_glob"] or f"/var/log/pods/kube-system_{command}-*/{command}/*.log"
    checks = [(params["url"], url_check(params))] if params["url"] else []  # (url, TLS settings)
    for path in (params["ca_path"], params["client_cert"], params["client_key"]):
        if path and not os.path.isfile(path):
            module.fail_json(msg=f"{path} (for {params['url']}) does not exist")
    if not checks and not params["probes"]:
        module.fail_json(msg="nothing to check: give url, or probes=true with manifest")

    started = time.monotonic()
    deadline = started + params["timeout"]
    reason = "not checked yet"
    healthy_since = None
    healthy_pid = None
    # The manifest is not written while this waits (the caller wrote it before): read it once.
    try:
        not_before = os.stat(params["manifest"]).st_mtime if params["manifest"] else None
    except OSError as exc:
        module.fail_json(msg=f"cannot read {params['manifest']}: {exc}", ready=False)
    probes = manifest_probe_urls(module, params["manifest"], command) if params["probes"] else []
    while True:
        process = newest_matching(read_processes(command), command)
        if process is None:
            reason = f"no {command} process runs"
        else:
            reason = runs_manifest(process, params["args"], not_before)
        for url, tls in [*checks, *((url, KUBELET_PROBE) for url in probes)]:
            if reason is not None:
                break
            passed, answer = probe(url, tls)
            reason = None if passed else f"{url} answered {answer} (pid {process.pid})"
        now = time.monotonic()
        if reason is None:
            if healthy_pid != process.pid:
                healthy_since, healthy_pid = now, process.pid
            if now - healthy_since >= params["stable_for"]:
                module.exit_json(changed=False, ready=True, pid=process.pid, waited=round(now - started, 2))
        else:
            healthy_since = healthy_pid = None
        if now >= deadline:
            break
        time.sleep(POLL_INTERVAL)
    module.fail_json(
        msg=f"{command} was not healthy within {params['timeout']} s: {reason}",
        ready=False,
        waited=round(time.monotonic() - started, 2),
        log_tail=log_tail(log_glob, params["log_lines"]),
    )


if __name__ == "__main__":
    main()
