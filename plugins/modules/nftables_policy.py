#!/usr/bin/python
# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nftables_policy
short_description: Manage one nftables table of our own with a default-deny host firewall policy
version_added: 0.1.0
author:
  - Bulwark developers (!UNKNOWN)
description:
  - Renders one table, C(table inet <table>), from a declarative O(policy) and replaces it atomically. Every other table
    (Docker's, Kubernetes', the user's) is left alone.
  - The C(input) chain drops by default. It accepts established and related connections, loopback, the ICMP and ICMPv6
    types that networks need, echo requests (rate-limited, see O(policy.input.icmp_echo)), and the services of
    O(policy.input.allow) per source network. Drops are logged at a limited rate and counted.
  - The optional C(forward) chain (O(policy.forward)) runs at priority C(filter - 10), before Docker's filter chains
    (iptables-nft's C(DOCKER-USER) as well as Docker's native nftables tables). It restricts which sources may reach
    container-published ports, that is connections that were destination-NATed; other forwarded traffic, such as
    container egress and traffic between containers, is not affected.
  - Before anything changes the new table is checked with C(nft -c). It is then loaded in one C(nft -f) transaction
    (C(table inet <table> {}), C(delete table inet <table>), the new table) and written to O(persist_path) for a
    boot-time unit to load.
  - The live table (C(nft -j list table)) is compared with the wanted one rule by rule, so a converged run reports
    no change and any drift (a rule added by hand, a set element removed, another chain policy) is repaired. Counter
    values are not compared.
  - Policy errors name the entry, for example C(policy.input.allow[2].sources[1]), and nothing is changed.
    A network with host bits set (V(10.0.0.1/8)) is an error, because it is ambiguous in an allowlist.
requirements:
  - nft (package C(nftables)) on the host.
  - C(unshare) (util-linux) and the capability C(CAP_SYS_ADMIN), which root on a host has; in a container,
    C(--cap-add SYS_ADMIN) besides C(NET_ADMIN).
extends_documentation_fragment:
  - bulwark.hardening._attributes
attributes:
  check_mode:
    support: full
    details:
      - Renders, validates with C(nft -c), and compares with the live table and O(persist_path), but never changes the
        ruleset or the file.
  diff_mode:
    support: full
    details:
      - The diff is the text of our table only, live against wanted, as C(nft list table) prints it, without counter
        values.
  idempotent:
    support: full
options:
  policy:
    description:
      - The firewall policy. Required when O(state=present).
    type: dict
    suboptions:
      input:
        description:
          - Traffic to the host itself.
        type: dict
        suboptions:
          allow:
            description:
              - Services to accept, each from the networks in its C(sources).
            type: list
            elements: dict
            default: []
            suboptions:
              service:
                description:
                  - A name of the service catalog, built in or added with O(services). The built-in ones are V(ssh)
                    (22), V(docker-tls) (2376), V(kube-apiserver) (6443), V(etcd) (2379-2380), V(kubelet) (10250),
                    V(nodeports) (30000-32767) and V(node-exporter) (9100), all TCP.
                  - Exactly one of O(policy.input.allow[].service) and O(policy.input.allow[].ports) is required.
                type: str
              ports:
                description:
                  - Ports (V(22)) and ranges of ports (V(8000-8100)).
                type: list
                elements: raw
              protocol:
                description:
                  - V(tcp) or V(udp). The default is the service's protocol, or V(tcp) with O(policy.input.allow[].ports).
                type: str
              sources:
                description:
                  - IPv4 and IPv6 networks (V(10.0.0.0/8), V(fd00::/8)) and addresses (V(192.0.2.7)) that may connect.
                  - Empty or not given means any source. With only IPv4 networks, IPv6 clients cannot connect, and the
                    other way round.
                type: list
                elements: str
          icmp_echo:
            description:
              - Accept ICMP and ICMPv6 echo requests (ping), at most 10 per second.
              - The ICMP types that IPv4 and IPv6 need to work (destination unreachable, packet too big, time
                exceeded, parameter problem, neighbour discovery, and multicast listener discovery from link-local
                addresses) are accepted in any case.
            type: bool
            default: true
          log_drops:
            description:
              - Log dropped packets (kernel log) at the rate of O(policy.input.log_rate).
            type: bool
            default: true
          log_rate:
            description:
              - At most this many log lines, as C(<count>/<second|minute|hour|day>).
            type: str
            default: 5/minute
          log_prefix:
            description:
              - The prefix of the log lines, at most 127 bytes, without C(") or C(\).
            type: str
            default: "bulwark drop: "
      forward:
        description:
          - Restrict which sources may reach ports that containers publish (Docker C(-p)). Without it, the table has
            no C(forward) chain.
          - Connections to a published port are accepted when an entry of O(policy.forward.published) allows them
            and dropped otherwise. The published (host) port is matched, not the container's.
          - A container that reaches a published port through the host's address is a source as well; add the
            container networks to C(sources) when that is needed.
        type: dict
        suboptions:
          enabled:
            description:
              - V(false) removes the C(forward) chain, keeping the settings.
            type: bool
            default: true
          published:
            description:
              - Published ports to accept, each from the networks in its C(sources). Same keys as
                O(policy.input.allow).
              - An empty list drops every connection to a published port.
            type: list
            elements: dict
            default: []
            suboptions:
              service:
                description:
                  - A name of the service catalog.
                type: str
              ports:
                description:
                  - Published ports and ranges of ports.
                type: list
                elements: raw
              protocol:
                description:
                  - V(tcp) or V(udp). The default is the service's protocol, or V(tcp).
                type: str
              sources:
                description:
                  - Networks and addresses that may connect; empty or not given means any.
                type: list
                elements: str
  services:
    description:
      - Additions to and overrides of the service catalog, by name. A value is C({ports, protocol}) or just the ports
        (V(2222)). An override replaces the built-in entry.
    type: dict
    default: {}
  table:
    description:
      - The name of our table, in family C(inet). Nft keywords (such as V(filter)'s neighbours V(counter) or V(log))
        are rejected by C(nft -c).
      - The table carries the comment C(managed by bulwark.hardening). A table of this name that exists without it is
        someone else's (C(inet filter) of the distribution, for example) and the module refuses to replace or delete
        it. The default V(bulwark) is taken as ours either way, as earlier releases made it without the comment.
    type: str
    default: bulwark
  state:
    description:
      - V(present) loads the policy. V(absent) deletes our table and O(persist_path).
    type: str
    choices: [present, absent]
    default: present
  persist:
    description:
      - Write the table to O(persist_path) when it differs. V(false) changes the live ruleset only, for example to
        test the new policy before it is made permanent.
    type: bool
    default: true
  persist_path:
    description:
      - The file that a boot-time unit loads with C(nft -f). It holds one transaction that replaces our table only.
        Written atomically, mode V(0600), owner root.
    type: path
    default: /etc/bulwark/nftables.nft
notes:
  - The C(input) chain drops everything it does not allow. Make sure O(policy.input.allow) has the connection Ansible
    uses (V(ssh) from the control node), or the run that applies the policy locks it out.
  - Loading the table checks it against the live ruleset with C(nft -c). The wanted table is loaded into a scratch
    network namespace and listed there, so both sides of the comparison are nft's own canonical form.
seealso:
  - name: nftables wiki
    description: Configuring chains, priorities, and sets.
    link: https://wiki.nftables.org/wiki-nftables/index.php/Configuring_chains
"""

EXAMPLES = r"""
- name: Default-deny host firewall with allowlists | BWK-FW-1
  bulwark.hardening.nftables_policy:
    policy:
      input:
        allow:
          - service: ssh
            sources: ["192.0.2.0/24", "2001:db8:1::/48"]
          - service: node-exporter
            sources: ["10.0.0.10"]
          - ports: ["8000-8100"]
            protocol: tcp
      forward:
        published:
          - ports: [8080]
            sources: ["10.0.0.0/8"]
  register: __host_firewall_policy

- name: SSH on another port
  bulwark.hardening.nftables_policy:
    services:
      ssh: {ports: [2222]}
    policy:
      input:
        allow:
          - service: ssh

- name: Merge the allowlists of several inventory layers
  bulwark.hardening.nftables_policy:
    policy:
      input:
        allow: "{{ [allow_all_hosts, allow_group, allow_host] | bulwark.hardening.nft_merge_allow }}"

- name: Audit only (check mode), with the diff of the table
  bulwark.hardening.nftables_policy:
    policy: "{{ host_firewall_policy }}"
  check_mode: true
  diff: true

- name: Remove our table and its boot file
  bulwark.hardening.nftables_policy:
    state: absent
"""

RETURN = r"""
table:
  description: The table that is managed, with its family.
  returned: always
  type: str
  sample: inet bulwark
rendered:
  description:
    - The nft transaction that replaces the table, as it is (or would be) loaded and written to O(persist_path).
      Empty when O(state=absent).
  returned: success
  type: str
  sample: "table inet bulwark {}\ndelete table inet bulwark\ntable inet bulwark {\n\tchain input {\n..."
item_status:
  description:
    - V(ok) or V(changed) for each chain (V(input), V(forward)), for the file (V(persist), when O(persist=true)), and
      V(other) when the live table has chains, sets or attributes that neither chain accounts for (they are removed).
      Compliance reports read this.
  returned: success
  type: dict
  sample: {"input": "ok", "forward": "changed", "persist": "changed"}
diff:
  description:
    - Our table as C(nft list table) prints it, without counter values, live and wanted.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: The live table; empty when there is none.
      type: str
      sample: "table inet bulwark {\n\tchain input {\n..."
    after:
      description: The wanted table; empty when O(state=absent).
      type: str
      sample: "table inet bulwark {\n\tchain input {\n..."
  sample: {"before": "", "after": "table inet bulwark {\n..."}
"""

import os
import tempfile
import traceback
import typing as t

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.bulwark.hardening.plugins.module_utils.module_args import strict_module
from ansible_collections.bulwark.hardening.plugins.module_utils.nft_policy import (
    DEFAULT_TABLE,
    OWNER_COMMENT,
    Comparison,
    NftPolicyError,
    TableModel,
    compare,
    foreign_table,
    normalize_policy,
    parse_listing,
    render_removal,
    render_transaction,
    strip_counter_text,
)

ENTRY_OPTIONS: dict[str, dict[str, t.Any]] = {
    "service": {"type": "str"},
    "ports": {"type": "list", "elements": "raw"},
    "protocol": {"type": "str"},
    "sources": {"type": "list", "elements": "str"},
}

ARGUMENT_SPEC: dict[str, dict[str, t.Any]] = {
    "policy": {
        "type": "dict",
        "options": {
            "input": {
                "type": "dict",
                "options": {
                    "allow": {"type": "list", "elements": "dict", "default": [], "options": ENTRY_OPTIONS},
                    "icmp_echo": {"type": "bool", "default": True},
                    "log_drops": {"type": "bool", "default": True},
                    "log_rate": {"type": "str", "default": "5/minute"},
                    "log_prefix": {"type": "str", "default": "bulwark drop: "},
                },
            },
            "forward": {
                "type": "dict",
                "options": {
                    "enabled": {"type": "bool", "default": True},
                    "published": {"type": "list", "elements": "dict", "default": [], "options": ENTRY_OPTIONS},
                },
            },
        },
    },
    "services": {"type": "dict", "default": {}},
    "table": {"type": "str", "default": "bulwark"},
    "state": {"type": "str", "choices": ["present", "absent"], "default": "present"},
    "persist": {"type": "bool", "default": True},
    "persist_path": {"type": "path", "default": "/etc/bulwark/nftables.nft"},
}

NOT_INSTALLED = (
    "nft (package nftables) is not installed on the host; install it (for example with ansible.builtin.package"
    " name=nftables) or do not apply the firewall policy to this host. Nothing was changed."
)
MARKER = "#bulwark-nft-listing#"
C_LOCALE = {"LC_ALL": "C", "LANG": "C"}
# Runs in a scratch network namespace (unshare --net): load the wanted table, then list it as
# JSON and as text. The namespace, and the table in it, is gone when the shell exits.
SCRATCH_SCRIPT = '"$1" -f "$2" && "$1" -j list table inet "$3" && printf "\\n%s\\n" "$4" && "$1" list table inet "$3"'


class Nft:
    """The host's nft, run through the module."""

    def __init__(self, module: AnsibleModule, path: str) -> None:
        self.module, self.path = module, path

    def run(self, *args: str) -> tuple[int, str, str]:
        # C locale: "No such file or directory" (a missing table) comes from strerror().
        rc, out, err = self.module.run_command([self.path, *args], environ_update=C_LOCALE)
        return rc, out, err

    def stage(self, content: str) -> str:
        fd, tmp = tempfile.mkstemp(prefix="bulwark-nft-", suffix=".nft", dir=self.module.tmpdir)
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(content))
        return tmp

    def check(self, tmp: str, table: str) -> None:
        """``nft -c -f``: the whole transaction against the live ruleset, nothing applied."""
        rc, out, err = self.run("-c", "-f", tmp)
        if rc != 0:
            reason = (err or out).replace(tmp, "<rendered>").strip() or f"exit code {rc}"
            raise NftPolicyError(f"nft -c rejected the rendered table inet {table}; nothing was applied:\n{reason}")

    def live(self, table: str, text: bool) -> tuple[TableModel | None, str]:
        """The live table's model and (when ``text``) its listing; (None, "") when it does not exist."""
        rc, out, err = self.run("-j", "list", "table", "inet", table)
        if rc != 0:
            if "No such file or directory" in err:
                return None, ""
            raise NftPolicyError(f"nft -j list table inet {table} failed: {(err or out).strip()}")
        model = parse_listing(out, table)
        if model is None or not text:
            return model, ""
        rc, out, err = self.run("list", "table", "inet", table)
        if rc != 0:
            raise NftPolicyError(f"nft list table inet {table} failed: {(err or out).strip()}")
        return model, strip_counter_text(out)

    def wanted(self, tmp: str, table: str) -> tuple[TableModel, str]:
        """Load the transaction into a scratch network namespace and list it there.

        Why: nft changes what it is given (it merges set elements, adds implicit protocol matches,
        names priorities, numbers handles), and the kernel may as well. Rather than predict that
        canonical form for each nft version by hand, the same nft and kernel produce both sides of
        the comparison. The live ruleset is not touched, so this is safe in check mode. The scratch
        namespace needs CAP_SYS_ADMIN (root on a host; --cap-add SYS_ADMIN in a container).
        """
        unshare = self.module.get_bin_path("unshare", opt_dirs=["/usr/bin", "/bin"])
        if not unshare:
            raise NftPolicyError(
                "unshare (package util-linux) is not on the host; it is needed to list the wanted table in a"
                " scratch network namespace for the comparison. Nothing was changed."
            )
        cmd = [unshare, "--net", "--", "/bin/sh", "-c", SCRATCH_SCRIPT, "sh", self.path, tmp, table, MARKER]
        rc, out, err = self.module.run_command(cmd, environ_update=C_LOCALE)
        if rc != 0 or MARKER not in out:
            reason = (err or out).replace(tmp, "<rendered>").strip() or f"exit code {rc}"
            hint = ""
            if "unshare" in reason and ("not permitted" in reason or "Permission denied" in reason):
                hint = " The module needs CAP_SYS_ADMIN for a scratch network namespace (in a container: --cap-add SYS_ADMIN)."
            raise NftPolicyError(
                f"cannot list the wanted table inet {table} in a scratch network namespace:{hint} {reason}."
                " Nothing was changed."
            )
        listing, text = out.split(MARKER, 1)
        model = parse_listing(listing.strip(), table)
        if model is None:
            raise NftPolicyError(f"nft loaded table inet {table} in a scratch network namespace but did not list it.")
        return model, strip_counter_text(text.lstrip("\n"))


def read_file(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def persist_changed(path: str, content: bytes | None) -> bool:
    """Whether ``path`` differs from ``content`` (None: should not exist), mode 0600, owner root."""
    current = read_file(path)
    if content is None:
        return current is not None
    if current != content:
        return True
    info = os.stat(path)
    return (info.st_mode & 0o7777) != 0o600 or info.st_uid != 0 or info.st_gid != 0


def write_persist(module: AnsibleModule, path: str, content: bytes) -> None:
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    fd, tmp = tempfile.mkstemp(prefix=".nftables.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o600)
        os.chown(tmp, 0, 0)
        module.atomic_move(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    os.chmod(path, 0o600)  # atomic_move keeps the old file's mode when it replaces one
    os.chown(path, 0, 0)


def main() -> None:
    module = strict_module(
        ARGUMENT_SPEC,
        required_if=[("state", "present", ("policy",))],
        supports_check_mode=True,
    )
    params = module.params
    table, present = params["table"], params["state"] == "present"
    path: str = params["persist_path"]

    try:
        policy = normalize_policy(params["policy"], params["services"], table) if present else None  # pure
        nft_path = module.get_bin_path("nft", opt_dirs=["/usr/sbin", "/sbin"])
        if not nft_path:
            module.fail_json(msg=NOT_INSTALLED, table=f"inet {table}")
        nft = Nft(module, nft_path)
        rendered = render_transaction(policy) if policy else ""
        tmp = nft.stage(rendered or render_removal(table))
        nft.check(tmp, table)  # I/O, nothing applied
        live, before = nft.live(table, text=module._diff or table != DEFAULT_TABLE)  # I/O
        if live is not None and foreign_table(table, before):
            raise NftPolicyError(
                f"table inet {table} exists and was not made by this module (it has no comment"
                f' "{OWNER_COMMENT}"): it is left as it is. Choose another table name, or remove that table'
                " yourself first. Nothing was changed."
            )
        wanted, after = nft.wanted(tmp, table) if policy else (None, "")  # I/O, scratch namespace
        result: Comparison = compare(wanted, live)  # pure
        content = to_bytes(rendered) if present else None
        file_changed = params["persist"] and persist_changed(path, content)
        if not module.check_mode:
            if result.changed:
                rc, out, err = nft.run("-f", tmp)
                if rc != 0:
                    raise NftPolicyError(f"nft -f failed to load table inet {table}: {(err or out).strip()}")
            if file_changed and content is not None:
                write_persist(module, path, content)
            elif file_changed:
                os.unlink(path)
    except NftPolicyError as exc:
        module.fail_json(msg=str(exc), table=f"inet {table}")
    except OSError as exc:
        module.fail_json(
            msg=f"cannot write {path}: {to_native(exc)}; the ruleset may have been changed already.",
            exception=traceback.format_exc(),
            table=f"inet {table}",
        )

    item_status = dict(result.item_status)
    if params["persist"]:
        item_status["persist"] = "changed" if file_changed else "ok"
    output: dict[str, t.Any] = {
        "changed": result.changed or bool(file_changed),
        "table": f"inet {table}",
        "rendered": rendered,
        "item_status": item_status,
    }
    if module._diff:
        output["diff"] = {
            "before": before,
            "after": after,
            "before_header": f"table inet {table} (live)",
            "after_header": f"table inet {table} (wanted)",
        }
    module.exit_json(**output)


if __name__ == "__main__":
    main()
