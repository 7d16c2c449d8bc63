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
    checking only the endpoint would accept the old process. M(bulwark.hardening.static_pod) runs this same gate
    after every change and rolls back when it fails; this module is for a wait of its own, such as for an
    endpoint with a client certificate.
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
      - The pod's command, as the base name of the process's first argument (letters, digits, C(.), C(_) and C(-)).
    type: str
    required: true
  args:
    description:
      - The arguments the process must run with, in order, after the command (the C(args) that
        M(bulwark.hardening.static_pod) returns). Omit to accept any arguments.
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
      - Seconds to wait in all, from 1 to 3600.
    type: int
    default: 180
  stable_for:
    description:
      - Seconds the endpoint must keep passing, with the same process, before the pod counts as healthy. A pod that
        comes up and is then killed by its liveness probe fails this. From 0 to O(timeout).
    type: int
    default: 5
  log_glob:
    description:
      - Glob of the pod's log files; the two newest are quoted on failure.
      - Defaults to kubelet's layout, C(/var/log/pods/<namespace>_<command>-*/<command>/*.log), with namespace
        C(kube-system).
    type: str
  log_lines:
    description:
      - How many lines of the log to return on failure, from 0 to 1000.
    type: int
    default: 20
seealso:
  - module: bulwark.hardening.static_pod
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
  description:
    - The last lines of the pod's two newest log files, oldest first, each after a line that names the file, CRI
      prefixes removed. A pod in a crash loop may be restarting; the file before the newest ends with the words of
      the attempt that ended.
  returned: failure
  type: list
  elements: str
"""

import os
import re

from ansible.module_utils.basic import missing_required_lib
from ansible_collections.bulwark.hardening.plugins.module_utils._secrets import url_passwords
from ansible_collections.bulwark.hardening.plugins.module_utils.file_args import path_problem
from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.pod_process import http_probe_urls
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod import (
    HAS_YAML,
    YAML_IMPORT_ERROR,
    parse_manifest,
)
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_io import wait_for_pod
from ansible_collections.bulwark.hardening.plugins.module_utils.static_pod_rollout import GateRequest


def manifest_probe_urls(module, path, command):
    try:
        with open(path, encoding="utf-8") as handle:
            return http_probe_urls(parse_manifest(handle.read(), path), command)
    except (OSError, ValueError) as exc:  # StaticPodError is a ValueError
        module.fail_json(msg=f"cannot read the probes of {command} from {path}: {exc}")


def url_check(params):
    """The url check uses the CA and client certificate it is given (kubelet's probes use none)."""
    return {
        "validate_certs": bool(params["ca_path"]),
        "ca_path": params["ca_path"],
        "client_cert": params["client_cert"],
        "client_key": params["client_key"],
    }


_COMMAND = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}\Z")
_MAX_TIMEOUT_S = 3600
_MAX_LOG_LINES = 1000


def input_problems(params: dict) -> list:
    """What is wrong with the options, before anything is read or waited for; each names its option."""
    problems = []
    if not _COMMAND.match(params["command"]):
        problems.append(f"command must be a process name (letters, digits, '.', '_', '-'), not {params['command']!r}.")
    problems += filter(None, (path_problem(key, params[key]) for key in ("manifest", "ca_path", "client_cert", "client_key")))
    if params["url"] is not None and any(ord(ch) < 33 for ch in params["url"]):
        problems.append("url must not contain blanks or control characters.")
    if not 1 <= params["timeout"] <= _MAX_TIMEOUT_S:
        problems.append(f"timeout must be 1 to {_MAX_TIMEOUT_S} seconds, not {params['timeout']}.")
    elif not 0 <= params["stable_for"] <= params["timeout"]:
        problems.append(f"stable_for must be 0 to timeout ({params['timeout']}) seconds, not {params['stable_for']}.")
    if not 0 <= params["log_lines"] <= _MAX_LOG_LINES:
        problems.append(f"log_lines must be 0 to {_MAX_LOG_LINES}, not {params['log_lines']}.")
    if params["log_glob"] is not None and ("\x00" in params["log_glob"] or not params["log_glob"].startswith("/")):
        problems.append(f"log_glob must be an absolute glob, not {params['log_glob']!r}.")
    return problems


def main():
    module = strict_module(
        dict(
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
    if params["url"]:
        # user:password@ in the URL never reaches the output, whatever message quotes it.
        module.no_log_values.update(url_passwords(params["url"]))
    problems = input_problems(params)
    if problems:
        module.fail_json(msg=" ".join(problems))
    if params["probes"] and not params["manifest"]:
        module.fail_json(msg="probes=true needs manifest, the file that holds the probes")
    if params["url"] and not params["url"].startswith(("https://", "http://")):
        module.fail_json(msg=f"url must be an http or https URL, got {params['url']!r}")
    if params["probes"] and not HAS_YAML:
        module.fail_json(msg=missing_required_lib("PyYAML"), exception=YAML_IMPORT_ERROR)
    if module.check_mode:
        module.exit_json(changed=False, ready=None, waited=0.0)
    checks = [(params["url"], url_check(params))] if params["url"] else []
    for path in (params["ca_path"], params["client_cert"], params["client_key"]):
        if path and not os.path.isfile(path):
            module.fail_json(msg=f"{path} (for {params['url']}) does not exist")
    if not checks and not params["probes"]:
        module.fail_json(msg="nothing to check: give url, or probes=true with manifest")
    if params["manifest"] and not os.path.exists(params["manifest"]):
        module.fail_json(msg=f"cannot read {params['manifest']}: it does not exist", ready=False)

    gate = GateRequest(
        command=command,
        manifest=params["manifest"] or "",
        args=None if params["args"] is None else tuple(params["args"]),
        newer_than_manifest=bool(params["manifest"]),
        probe_urls=tuple(manifest_probe_urls(module, params["manifest"], command) if params["probes"] else ()),
        log_glob=params["log_glob"] or f"/var/log/pods/kube-system_{command}-*/{command}/*.log",
        timeout=params["timeout"],
        stable_for=params["stable_for"],
    )
    result = wait_for_pod(gate, checks, params["log_lines"])
    if result.ready:
        module.exit_json(changed=False, ready=True, pid=result.pid, waited=result.waited)
    module.fail_json(
        msg=f"{command} was not healthy within {params['timeout']} s: {result.reason}",
        ready=False,
        waited=result.waited,
        log_tail=list(result.log_tail),
    )


if __name__ == "__main__":
    main()
