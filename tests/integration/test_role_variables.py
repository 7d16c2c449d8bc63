# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Every variable of every role's argument_specs, given the wrong values users give, fails before
the first task that touches a host, and the failure names the variable.

The wrong values are generated from each variable's spec (a string for a list or a dict, a number
or a list for a string, a list or a word for a bool, a quoted "false" where no bool is wanted,
an empty string, an embedded newline, a relative or climbing path, zero and negative numbers, a
value outside the choices), at every depth of ``options`` and ``elements``; a table adds the
values that only the role's own checks know (a bad CIDR or port, a flag that fights the role's
own) and values weaker than the benchmark, which only a waiver lets through.

One inventory host per case, all of them the same throwaway lab container, so one
``ansible-playbook`` run tries every case of every role (one play per role); it runs in check mode
and in normal mode. A case passes when its host failed, the message names the variable, and
every task that ran for it is one that runs on the controller only (argument validation, the
guard, an assert), none of them changed. One host per role gets the defaults and must get past
those checks: the harness can tell a refused case from an accepted one.
"""

from __future__ import annotations

import base64
import json
import typing as t
from pathlib import Path

import pytest
import yaml

ROLES = Path(__file__).resolve().parents[2] / "roles"
CONTROLLER_ACTIONS = {
    "ansible.builtin.validate_argument_spec",
    "bulwark.hardening.check_role_vars",
    "ansible.builtin.assert",
}
SECRET = "s3cr3t-campaign-value"  # the value of a no_log variable's cases: never in the output
# What every kube_apiserver host needs to pass the one-key-for-all-nodes check of a multi-host play.
ROLE_VARS: dict[str, dict[str, t.Any]] = {
    "kube_apiserver": {"kube_apiserver_encryption_key": base64.b64encode(b"k" * 32).decode()},
    "kube_policies": {"kube_policies_trusted_registries": ["registry.example.com"]},
    "log_receiver": {"log_receiver_permitted_peers": ["sender.example.com"]},
    "log_shipping": {"log_shipping_collectors": [{"host": "logs.example.com"}]},
}
# Values of the right type that only the role's own checks, or the benchmark's floors, refuse.
SPECIFIC: dict[str, list[t.Any]] = {
    "docker_daemon_socket_mode": ["0666", "rwx", "0760"],
    "docker_daemon_tls_listen": ["0.0.0.0:99999", "0.0.0.0", "host:port"],
    "docker_daemon_tls_valid_days": [0],
    "docker_daemon_socket_group": ["docker root", "Docker"],
    "docker_daemon_tls_clients": [["bad name"]],
    "docker_daemon_log_level": ["error"],
    "docker_daemon_icc": [True, "yes"],  # turns CIS-Docker 2.2 off, which only a waiver may do
    "docker_daemon_live_restore": ["false"],
    "docker_daemon_insecure_registries": [["registry.local:5000"]],
    "docker_daemon_systemd_execstart": ["/usr/sbin/dockerd\nExecStartPre=/bin/true"],
    "host_firewall_admin_networks": [["10.0.0.0/33"], ["not-a-network"], ["10.0.0.1/8"]],
    "host_firewall_allow": [[{"ports": [70000]}], [{"ports": [22], "sources": ["10.0.0.1/8"]}], [{"ports": ["ssh"]}]],
    "host_firewall_log_rate": ["fast", "5/minute\n"],
    "host_firewall_services": [{"web": {"ports": [70000]}}, {"Web Server": 8080}, {"web": {"ports": [80], "proto": "tcp"}}],
    "host_firewall_rollback_timeout": [0],
    "kube_apiserver_authorization_modes": [["AlwaysAllow", "Node", "RBAC"]],
    "kube_apiserver_audit_log_maxage": [7],
    "kube_apiserver_profiling": ["true"],
    "kube_apiserver_audit_log_maxbackup": [1],
    "kube_apiserver_audit_log_maxsize": [10],
    "kube_apiserver_tls_cipher_suites": [["TLS_RSA_WITH_RC4_128_SHA"]],
    "kube_apiserver_extra_args": [{"profiling": "true"}],
    "kube_controller_manager_bind_address": ["0.0.0.0", "not-an-address"],
    "kube_controller_manager_extra_args": [{"profiling": "true"}],
    "kube_scheduler_bind_address": ["0.0.0.0", "not-an-address"],
    "kube_scheduler_extra_args": [{"profiling": "true"}],
    "kube_etcd_data_dir_owner": ["etcd"],
    "kube_etcd_peer_auto_tls": [True],
    "kube_etcd_extra_args": [{"client-cert-auth": "false"}],
    "kube_rbac_default_service_account_tokens": [True, "true"],
    "kube_policies_trusted_registries": [[]],
    "log_receiver_permitted_peers": [[]],
    "log_receiver_port": [65536],
    "log_shipping_collectors": [[]],
    "log_shipping_queue_size": [999],
    "log_shipping_queue_max_disk_space": ["lots", "1t"],
}


def role_options() -> dict[str, dict[str, dict[str, t.Any]]]:
    return {
        path.parts[-3]: yaml.safe_load(path.read_text())["argument_specs"]["main"]["options"]
        for path in sorted(ROLES.glob("*/meta/argument_specs.yml"))
    }


def wrong_scalars(kind: str, spec: t.Mapping[str, t.Any]) -> list[t.Any]:
    """Wrong values for one value of type KIND (a variable, a list element or a sub-option)."""
    if spec.get("choices"):
        return ["bogus", ["a"], ""]
    if kind == "bool":
        return ["maybe", [True], {"on": True}, 2]
    if kind == "int":
        return ["ten", [1], True, "false", 0, -1, ""]
    if kind == "str":
        return [5, True, ["a"], {"a": "b"}, "", "a\nb", "a\x00b"]
    if kind == "path":
        return ["relative/file", "", "/etc/../shadow", "/a\n/b", 5]
    return []


def wrong_values(spec: t.Mapping[str, t.Any]) -> list[t.Any]:
    """Wrong values for a variable of SPEC, at every depth of its options and elements."""
    kind = spec.get("type", "str")
    if kind == "list":
        values: list[t.Any] = ["a,b", {"k": "v"}, 5, "false", ""]
        elements = spec.get("elements")
        if elements == "dict":
            values.append(["not a dict"])
            for name, sub in (spec.get("options") or {}).items():
                values += [[{name: value}] for value in wrong_values(sub)]
        elif elements in ("str", "path", "int"):
            values += [[value] for value in wrong_scalars(elements, {}) if not isinstance(value, (list, dict))]
        return values
    if kind == "dict":
        values = ["k=v", ["a"], 5, "false", ""]
        for name, sub in (spec.get("options") or {}).items():
            values += [{name: value} for value in wrong_values(sub)]
        return values
    return wrong_scalars(kind, spec)


class Case(t.NamedTuple):
    host: str
    role: str
    variable: str
    value: t.Any


def cases() -> list[Case]:
    found = []
    for role, options in role_options().items():
        for variable, spec in options.items():
            values = wrong_values(spec) + SPECIFIC.get(variable, [])
            if spec.get("no_log"):
                values = [SECRET + "\n", [SECRET], {"k": SECRET}, ""]
            found += [Case(f"case-{len(found) + index:04d}", role, variable, value) for index, value in enumerate(values)]
    return found


def inventory(container: str, all_cases: list[Case], baseline: bool) -> dict[str, t.Any]:
    """One group per role, one host per case (and a baseline host per role with the defaults)."""
    groups: dict[str, t.Any] = {}
    for case in all_cases:
        groups.setdefault(case.role, {"hosts": {}, "vars": ROLE_VARS.get(case.role, {})})
        groups[case.role]["hosts"][case.host] = {case.variable: case.value}
    for role, group in groups.items():
        group["hosts"][f"survivor-{role}"] = {}
        if baseline:
            group["hosts"][f"baseline-{role}"] = {}
    connection = {
        "ansible_host": container,
        "ansible_connection": "community.docker.docker",
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    return {"all": {"vars": connection, "children": groups}}


# ansible-playbook stops at a play in which every host failed; the survivor, which skips the role,
# lets the next play run.
PLAY = """\
- name: Try {role} with wrong values
  hosts: {role}
  gather_facts: false
  roles:
    - role: bulwark.hardening.{role}
      when: inventory_hostname != 'survivor-{role}'
"""


@pytest.fixture(scope="module")
def container(lab_targets: t.Any) -> str:
    return t.cast(str, lab_targets.start("bulwark-it-vars").name)


def run_campaign(container: str, workdir: Path, run_playbook: t.Callable[..., t.Any], *flags: str) -> t.Any:
    all_cases = cases()
    check = "--check" in flags
    inventory_file = workdir / f"inventory-{'check' if check else 'run'}.json"
    # JSON is YAML: the values reach Ansible with their types, as inventory variables do.
    inventory_file.write_text(json.dumps(inventory(container, all_cases, baseline=check)))
    playbook = workdir / "campaign.yml"
    playbook.write_text("\n".join(PLAY.format(role=role) for role in role_options()))
    return run_playbook(inventory_file, playbook, None, "--forks", "25", *flags, timeout=1800)


def judge(run: t.Any, all_cases: list[Case]) -> list[str]:
    """What each case did wrong; empty when every case was refused by name on the controller."""
    wrong = []
    for case in all_cases:
        results = run.results(case.host)
        failed = [(name, result) for name, result in results if result.get("failed")]
        shown = f"{case.role}: {case.variable}={case.value!r}"
        if not failed:
            wrong.append(f"{shown} was accepted")
            continue
        name, result = failed[0]
        # A loop's items carry their own messages; argument validation lists its errors apart.
        items = [item for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
        message = " ".join(
            [str(result.get("msg", "")), *map(str, result.get("argument_errors") or []), *(str(i.get("msg")) for i in items)]
        )
        if case.variable not in message:
            wrong.append(f"{shown} failed at {name!r} without naming the variable: {message[:300]}")
        outside = [n for n, r in results if r.get("action") not in CONTROLLER_ACTIONS or r.get("changed")]
        if outside:
            wrong.append(f"{shown} ran {outside} before failing at {name!r}")
    return wrong


@pytest.mark.parametrize("mode", ["check", "run"])
def test_every_wrong_value_of_every_role_variable_fails_by_name_before_the_host_is_touched(
    mode: str, container: str, tmp_path: Path, run_playbook: t.Callable[..., t.Any]
) -> None:
    all_cases = cases()
    run = run_campaign(container, tmp_path, run_playbook, *(["--check"] if mode == "check" else []))
    wrong = judge(run, all_cases)
    assert not wrong, f"{len(wrong)} of {len(all_cases)} cases:\n" + "\n".join(wrong)
    assert SECRET not in json.dumps(run.doc) + run.stderr
    if mode == "check":
        for role in role_options():  # the defaults get past every controller-side check
            results = run.results(f"baseline-{role}")
            past = [n for n, r in results if r.get("action") not in CONTROLLER_ACTIONS and not r.get("skipped")]
            assert past, (role, results[:8])
    counts: dict[str, int] = {}
    for case in all_cases:
        counts[case.role] = counts.get(case.role, 0) + 1
    print(f"\n{mode}: {len(all_cases)} cases refused by name before any host task in {run.seconds:.0f} s: {counts}")
