# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""bulwark.hardening.nftables_policy against real nftables (1.0.6 in bulwark-lab/base), no mocks.

The target is a ``bulwark-lab/base`` container with its own network namespace
(``--cap-add NET_ADMIN NET_RAW SYS_ADMIN``, ``sleep infinity``: systemd is not needed), on a
private user network with two clients, "allowed" and "other". Python's http.server listens on
the target's ports 8080 and 9090. Two foreign tables stand in for Docker's and the user's, and
must come through every run untouched. The module reaches the target through docker exec, which
the firewall does not see. Containers and the network are removed when the module ends.
"""

from __future__ import annotations

import json
import typing as t
import uuid

import pytest

from conftest import BASE_IMAGE, image_exists, run_cmd  # type: ignore[import-not-found]

MODULE = "bulwark.hardening.nftables_policy"
PERSIST = "/etc/bulwark/nftables.nft"
Run = t.Callable[..., t.Dict[str, t.Any]]

FOREIGN = """\
table ip docker_like {
    chain forward {
        type filter hook forward priority filter; policy accept;
        iifname "docker0" counter accept
    }
}
table inet user_table {
    set admins {
        type ipv4_addr
        elements = { 192.0.2.1 }
    }

    chain output {
        type filter hook output priority filter; policy accept;
        ip daddr @admins counter accept
    }
}
"""


class Box:
    """A running container (only what these tests need)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def sh(self, script: str, check: bool = True) -> str:
        return run_cmd("docker", "exec", "-i", self.name, "sh", "-euc", script, check=check).stdout.decode().strip()

    def rc(self, script: str) -> int:
        return run_cmd("docker", "exec", "-i", self.name, "sh", "-c", script, check=False).returncode

    def write(self, content: str, path: str) -> None:
        run_cmd("docker", "exec", "-i", self.name, "sh", "-c", f"cat > {path}", stdin=content.encode())

    def ip(self, network: str) -> str:
        fmt = "{{(index .NetworkSettings.Networks \"" + network + "\").IPAddress}}"
        return run_cmd("docker", "inspect", "-f", fmt, self.name).stdout.decode().strip()


class Lab(t.NamedTuple):
    target: Box
    allowed: Box
    other: Box
    network: str


@pytest.fixture(scope="module")
def lab(lab_targets: t.Any) -> t.Iterator[Lab]:
    if not image_exists(BASE_IMAGE):
        pytest.fail(f"needs the docker CLI and the lab image {BASE_IMAGE}: run `make lab` first")
    suffix = uuid.uuid4().hex[:8]
    network = f"bwk-it-nft-{suffix}"
    run_cmd("docker", "network", "create", network)
    boxes = []
    try:
        for role, caps in (("target", ("NET_ADMIN", "NET_RAW", "SYS_ADMIN")), ("allowed", ()), ("other", ())):
            name = f"bwk-it-nft-{role}-{suffix}"
            lab_targets.names.append(name)  # removed by the conftest fixture as well
            options = [arg for cap in caps for arg in ("--cap-add", cap)]
            run_cmd(
                "docker", "run", "--detach", "--pull", "never", "--name", name, "--network", network,
                "--label", f"org.bulwark.test={__name__}", *options, BASE_IMAGE, "sleep", "infinity",
            )  # fmt: skip
            boxes.append(Box(name))
        target = boxes[0]
        for port in (8080, 9090):
            target.sh(f"cd /tmp && nohup python3 -m http.server {port} >/dev/null 2>&1 &")
        target.write(FOREIGN, "/tmp/foreign.nft")
        target.sh("nft -f /tmp/foreign.nft")
        yield Lab(target, boxes[1], boxes[2], network)
    finally:
        for box in boxes:
            run_cmd("docker", "rm", "--force", box.name, check=False)
        run_cmd("docker", "network", "rm", network, check=False)


def foreign_tables(box: Box) -> str:
    """Both foreign tables as nft lists them (no traffic matches their counters here)."""
    return box.sh("nft list table ip docker_like; nft list table inet user_table")


def our_table(box: Box) -> str | None:
    out = run_cmd("docker", "exec", box.name, "nft", "list", "table", "inet", "bulwark", check=False)
    return out.stdout.decode() if out.returncode == 0 else None


def ok(result: dict[str, t.Any]) -> dict[str, t.Any]:
    assert result.get("failed") is not True, result
    return result


def reaches(client: Box, ip: str, port: int) -> bool:
    return client.rc(f"timeout 2 bash -c 'echo > /dev/tcp/{ip}/{port}'") == 0


@pytest.fixture
def clean(lab: Lab) -> Lab:
    """No table of ours and no persisted file; the foreign tables in place."""
    lab.target.sh(f"nft delete table inet bulwark 2>/dev/null || true; rm -f {PERSIST}")
    return lab


def policy_for(lab: Lab) -> dict[str, t.Any]:
    allowed = lab.allowed.ip(lab.network)
    return {
        "input": {
            "allow": [
                {"service": "ssh", "sources": ["10.0.0.0/8", "fd00::/8"]},
                {"ports": [8080], "sources": [allowed]},
            ],
            "icmp_echo": True,
        },
        "forward": {"published": [{"ports": [8080, "9000-9010"], "sources": ["172.30.0.0/16"]}]},
    }


def test_quartet_leaves_other_tables_alone(clean: Lab, run_module: Run) -> None:
    target, args = clean.target, {"policy": policy_for(clean)}
    foreign = foreign_tables(target)

    # 1. check: predicts, changes nothing
    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is True
    assert result["item_status"] == {"input": "changed", "forward": "changed", "persist": "changed"}
    assert result["diff"]["before"] == ""
    assert "\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n" in result["diff"]["after"]
    assert "type filter hook forward priority filter - 10; policy accept;" in result["diff"]["after"]
    assert "counter packets" not in result["diff"]["after"]
    assert our_table(target) is None
    assert target.rc(f"test -e {PERSIST}") == 1

    # 2. apply
    result = ok(run_module(target, MODULE, args, "--diff"))
    assert result["changed"] is True
    assert result["table"] == "inet bulwark"
    live = our_table(target)
    assert live is not None and "ct status dnat meta l4proto tcp ct original proto-dst @fwd_0_ports" in live
    assert target.sh(f"stat -c '%a %U %G' {PERSIST}") == "600 root root"
    assert target.sh(f"cat {PERSIST}") + "\n" == result["rendered"]
    target.sh(f"nft -c -f {PERSIST}")

    # 3. check: converged
    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is False
    assert result["item_status"] == {"input": "ok", "forward": "ok", "persist": "ok"}
    assert result["diff"]["before"] == result["diff"]["after"]

    # 4. apply: nothing to do
    result = ok(run_module(target, MODULE, args))
    assert result["changed"] is False
    assert our_table(target) == live
    assert foreign_tables(target) == foreign


def test_traffic_follows_the_allowlist_and_counters_are_not_drift(clean: Lab, run_module: Run) -> None:
    target, args = clean.target, {"policy": policy_for(clean)}
    ip = target.ip(clean.network)
    assert reaches(clean.other, ip, 8080) and reaches(clean.other, ip, 9090)  # open before
    ok(run_module(target, MODULE, args))
    assert reaches(clean.allowed, ip, 8080)
    assert not reaches(clean.allowed, ip, 9090)
    assert not reaches(clean.other, ip, 8080)
    assert "counter packets 0 " not in target.sh("nft list chain inet bulwark input | grep 'counter packets'")
    result = ok(run_module(target, MODULE, args, "--check"))
    assert result["changed"] is False  # the counters went up; that is not drift


@pytest.mark.parametrize(
    ("drift", "chain", "shows"),
    [
        ("nft add rule inet bulwark input tcp dport 9999 accept", "input", "-\t\ttcp dport 9999 accept"),
        ("nft delete element inet bulwark in_0_v4 '{ 10.0.0.0/8 }'", "input", "+\t\telements = { 10.0.0.0/8 }"),
        ("nft chain inet bulwark forward '{ policy drop; }'", "forward", "-\t\ttype filter hook forward priority filter - 10; policy drop;"),
    ],
)
def test_drift_is_detected_and_repaired(clean: Lab, run_module: Run, drift: str, chain: str, shows: str) -> None:
    target, args = clean.target, {"policy": policy_for(clean)}
    ok(run_module(target, MODULE, args))
    converged = our_table(target)
    target.sh(drift)

    result = ok(run_module(target, MODULE, args, "--check", "--diff"))
    assert result["changed"] is True
    assert result["item_status"][chain] == "changed"
    assert result["item_status"]["persist"] == "ok"
    assert shows in result["diff"]["before"] + "\n" + _diff_lines(result)
    assert our_table(target) != converged  # check mode repaired nothing

    result = ok(run_module(target, MODULE, args))
    assert result["changed"] is True
    assert ok(run_module(target, MODULE, args, "--check"))["changed"] is False


def _diff_lines(result: dict[str, t.Any]) -> str:
    """Lines only in before ("-") or only in after ("+"), like a unified diff."""
    before, after = result["diff"]["before"].splitlines(), result["diff"]["after"].splitlines()
    return "\n".join([f"-{line}" for line in before if line not in after] + [f"+{line}" for line in after if line not in before])


def test_hand_made_chain_is_other_drift(clean: Lab, run_module: Run) -> None:
    target, args = clean.target, {"policy": policy_for(clean)}
    ok(run_module(target, MODULE, args))
    target.sh("nft add chain inet bulwark extra")
    result = ok(run_module(target, MODULE, args, "--check"))
    assert (result["changed"], result["item_status"]["other"]) == (True, "changed")
    ok(run_module(target, MODULE, args))
    assert "chain extra" not in (our_table(target) or "")


def test_nft_check_rejection_applies_nothing(clean: Lab, run_module: Run) -> None:
    # "counter" passes our name check (a letter, then letters) but is an nft keyword: only nft
    # itself knows its grammar, which is what `nft -c` is for.
    target = clean.target
    before = target.sh("nft list tables")
    result = run_module(target, MODULE, {"policy": policy_for(clean), "table": "counter"})
    assert result.get("failed") is True
    assert result["msg"].startswith("nft -c rejected the rendered table inet counter; nothing was applied:\n<rendered>:")
    assert "unexpected counter" in result["msg"]
    assert target.sh("nft list tables") == before
    assert target.rc(f"test -e {PERSIST}") == 1


def test_bad_policy_fails_naming_the_entry(clean: Lab, run_module: Run) -> None:
    policy = {"input": {"allow": [{"service": "ssh"}, {"ports": [1]}, {"ports": [2], "sources": ["10.0.0.0/8", "10.0.0.300/8"]}]}}
    result = run_module(clean.target, MODULE, {"policy": policy})
    assert result.get("failed") is True
    assert result["msg"] == (
        "policy.input.allow[2].sources[1]: '10.0.0.300/8' is not an IPv4 or IPv6 network"
        " (for example '10.0.0.0/8', '192.0.2.7' or 'fd00::/8')."
    )
    assert our_table(clean.target) is None


def test_persisted_file_restores_the_table(clean: Lab, run_module: Run) -> None:
    target, args = clean.target, {"policy": policy_for(clean)}
    ok(run_module(target, MODULE, args))
    live = our_table(target)
    target.sh("nft delete table inet bulwark")  # as after a reboot
    target.sh(f"nft -f {PERSIST}")  # what the boot unit runs
    assert our_table(target) == live
    target.sh(f"nft -f {PERSIST}")  # loading it twice is fine too
    assert ok(run_module(target, MODULE, args, "--check"))["changed"] is False


def test_persist_false_and_file_drift(clean: Lab, run_module: Run) -> None:
    target, args = clean.target, {"policy": policy_for(clean)}
    result = ok(run_module(target, MODULE, dict(args, persist=False)))
    assert result["changed"] is True and "persist" not in result["item_status"]
    assert target.rc(f"test -e {PERSIST}") == 1
    result = ok(run_module(target, MODULE, args))
    assert result["item_status"] == {"input": "ok", "forward": "ok", "persist": "changed"}
    target.sh(f"chmod 0644 {PERSIST}")
    result = ok(run_module(target, MODULE, args))
    assert (result["changed"], result["item_status"]["persist"]) == (True, "changed")
    assert target.sh(f"stat -c '%a' {PERSIST}") == "600"


def test_absent_removes_only_our_table(clean: Lab, run_module: Run) -> None:
    target = clean.target
    foreign = foreign_tables(target)
    ok(run_module(target, MODULE, {"policy": policy_for(clean)}))

    result = ok(run_module(target, MODULE, {"state": "absent"}, "--check", "--diff"))
    assert result["changed"] is True
    assert result["diff"]["after"] == "" and "chain input" in result["diff"]["before"]
    assert our_table(target) is not None and target.rc(f"test -e {PERSIST}") == 0

    result = ok(run_module(target, MODULE, {"state": "absent"}))
    assert result["changed"] is True
    assert our_table(target) is None
    assert target.rc(f"test -e {PERSIST}") == 1
    assert foreign_tables(target) == foreign

    assert ok(run_module(target, MODULE, {"state": "absent"}))["changed"] is False


def test_without_sys_admin_the_error_says_so(lab: Lab, lab_targets: t.Any, run_module: Run) -> None:
    name = f"bwk-it-nft-nocap-{uuid.uuid4().hex[:8]}"
    lab_targets.names.append(name)
    run_cmd("docker", "run", "--detach", "--pull", "never", "--name", name, "--cap-add", "NET_ADMIN", BASE_IMAGE, "sleep", "infinity")
    box = Box(name)
    result = run_module(box, MODULE, {"policy": {"input": {"allow": [{"service": "ssh"}]}}}, "--check")
    assert result.get("failed") is True
    assert "scratch network namespace" in result["msg"] and "CAP_SYS_ADMIN" in result["msg"], result["msg"]
    assert json.loads(box.sh("nft -j list tables"))["nftables"][1:] == []


@pytest.mark.parametrize("state", ["present", "absent"])
def test_a_table_of_someone_else_is_never_replaced_or_deleted(clean: Lab, run_module: Run, state: str) -> None:
    """inet user_table is the user's own (the fixture made it): naming it is refused, and it stays."""
    target = clean.target
    foreign = foreign_tables(target)
    args: dict[str, t.Any] = {"table": "user_table", "state": state, "persist": False}
    if state == "present":
        args["policy"] = policy_for(clean)
    result = run_module(target, MODULE, args)
    assert result.get("failed") is True
    assert result["msg"].startswith("table inet user_table exists and was not made by this module")
    assert foreign_tables(target) == foreign


def test_a_table_of_ours_under_another_name_is_ours_again(clean: Lab, run_module: Run) -> None:
    target, args = clean.target, {"policy": policy_for(clean), "table": "mine", "persist": False}
    try:
        ok(run_module(target, MODULE, args))
        assert 'comment "managed by bulwark.hardening"' in target.sh("nft list table inet mine")
        assert ok(run_module(target, MODULE, args))["changed"] is False
        assert ok(run_module(target, MODULE, {"table": "mine", "state": "absent", "persist": False}))["changed"] is True
    finally:
        target.sh("nft delete table inet mine 2>/dev/null || true")


def test_a_null_policy_is_refused(clean: Lab, run_module: Run) -> None:
    result = run_module(clean.target, MODULE, {"policy": None})
    assert result.get("failed") is True
    assert result["msg"].startswith("policy: required with state present")
    assert our_table(clean.target) is None
