# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The log_receiver and log_shipping roles on two real rsyslogds (the lab's syslog image) with real
certificates: a journal message and an audit-log line cross over RELP with mutual TLS; a sender
whose certificate carries another name, and a plaintext sender, are refused; messages sent while
the receiver is down arrive once it is back; and a missing key is an error before any change.
The certificates are made here with openssl, signed by a throwaway CA."""

from __future__ import annotations

import subprocess
import time
import typing as t
from pathlib import Path

import pytest

from conftest import LabTarget, LabTargets

SYSLOG_IMAGE = "bulwark-lab/syslog:latest"
TLS = "/etc/bulwark/tls"
RECEIVER_NAME = "receiver.bulwark.test"
SENDER_NAME = "sender.bulwark.test"
AUDIT_LOG = "/var/log/kubernetes/audit/audit.log"
RECEIVER_PLAY = """\
- hosts: all
  gather_facts: false
  roles:
    - role: bulwark.hardening.log_receiver
"""
SENDER_PLAY = """\
- hosts: all
  gather_facts: false
  roles:
    - role: bulwark.hardening.log_shipping
"""


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CA, and a certificate for the receiver, the sender and an intruder, each with its DNS name."""
    where = tmp_path_factory.mktemp("tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bulwark test CA", cwd=where)
    for name in ("receiver", "sender", "intruder"):
        (where / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}.bulwark.test\nextendedKeyUsage=serverAuth,clientAuth\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}.bulwark.test", cwd=where)
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                "-extfile", f"{name}.ext", cwd=where)  # fmt: skip
    return where


def install(target: LabTarget, certificates: Path, *names: str) -> None:
    target.write((certificates / "ca.pem").read_bytes(), f"{TLS}/ca.pem")
    for name in names:
        target.write((certificates / f"{name}.pem").read_bytes(), f"{TLS}/{name}.pem")
        target.write((certificates / f"{name}.key").read_bytes(), f"{TLS}/{name}.key")
    target.exec("chmod", "-R", "go-rwx", TLS)


@pytest.fixture(scope="module")
def pair(lab_targets: LabTargets, certificates: Path) -> tuple[LabTarget, LabTarget]:
    receiver = lab_targets.start("bulwark-it-receiver", SYSLOG_IMAGE)
    sender = lab_targets.start("bulwark-it-sender", SYSLOG_IMAGE)
    install(receiver, certificates, "receiver")
    install(sender, certificates, "sender", "intruder")
    receiver.address = receiver.sh("hostname --ip-address").split()[0]
    return receiver, sender


def receiver_vars() -> dict[str, t.Any]:
    return {
        "log_receiver_permitted_peers": [SENDER_NAME],
        "log_receiver_tls_cert": f"{TLS}/receiver.pem",
        "log_receiver_tls_key": f"{TLS}/receiver.key",
    }


def sender_vars(receiver: LabTarget, name: str = "sender", **extra: t.Any) -> dict[str, t.Any]:
    return {
        "log_shipping_collectors": [{"host": receiver.address, "permitted_peers": [RECEIVER_NAME]}],
        "log_shipping_tls_cert": f"{TLS}/{name}.pem",
        "log_shipping_tls_key": f"{TLS}/{name}.key",
        "log_shipping_files": [{"path": AUDIT_LOG, "tag": "kube-audit"}],
        **extra,
    }


def play(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "play.yml"
    path.write_text(text)
    return path


def received(receiver: LabTarget) -> str:
    return receiver.sh("cat /var/log/remote/*/messages.log 2>/dev/null || true")


def wait_received(receiver: LabTarget, marker: str, count: int = 1, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while True:
        found = received(receiver).count(marker)
        if found >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_the_roles_converge_and_then_change_nothing(pair: tuple[LabTarget, LabTarget], tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    receiver, sender = pair
    for target, text, variables in ((receiver, RECEIVER_PLAY, receiver_vars()), (sender, SENDER_PLAY, sender_vars(receiver))):
        first = run_playbook(target, play(tmp_path, text), variables)
        assert first.rc == 0, first
        again = run_playbook(target, play(tmp_path, text), variables)
        assert again.rc == 0 and again.stats(target.name)["changed"] == 0, again
    assert sender.sh("systemctl show -p ActiveState --value rsyslog").strip() == "active"


def test_a_journal_message_and_an_audit_line_cross_over_tls(pair: tuple[LabTarget, LabTarget]) -> None:
    receiver, sender = pair
    sender.exec("logger", "-t", "bulwarktest", "journal-line-crosses")
    sender.sh(f"mkdir -p $(dirname {AUDIT_LOG}) && echo '{{\"kind\":\"Event\",\"auditID\":\"bulwark-audit-1\"}}' >> {AUDIT_LOG}")
    assert wait_received(receiver, "journal-line-crosses") == 1, received(receiver)[-2000:]
    assert wait_received(receiver, "bulwark-audit-1") == 1, received(receiver)[-2000:]
    listening = receiver.sh("ss -tnH state established '( sport = :2514 )'")
    assert listening.strip(), "the message came over the RELP port"


def test_messages_sent_while_the_receiver_is_down_arrive_once_it_is_back(pair: tuple[LabTarget, LabTarget]) -> None:
    receiver, sender = pair
    receiver.exec("systemctl", "stop", "rsyslog", "syslog.socket")
    sender.sh("for i in $(seq 1 1000); do echo outage-seq=$i; done | logger -t bulwarkoutage")
    time.sleep(3)
    receiver.exec("systemctl", "start", "rsyslog")
    assert wait_received(receiver, "outage-seq=", 1000, timeout=60) == 1000
    lines = [line for line in received(receiver).splitlines() if "outage-seq=" in line]
    assert len({line.rsplit("outage-seq=", 1)[1] for line in lines}) == 1000, "each once"


def test_a_sender_with_another_name_is_refused(pair: tuple[LabTarget, LabTarget], tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    receiver, sender = pair
    run = run_playbook(sender, play(tmp_path, SENDER_PLAY), sender_vars(receiver, "intruder"))
    assert run.rc == 0, run
    sender.exec("logger", "-t", "bulwarktest", "from-the-intruder")
    time.sleep(5)
    assert "from-the-intruder" not in received(receiver)
    journal = receiver.sh("journalctl -u rsyslog --no-pager -o cat")
    assert "authentication error 'no permited name found', peer is 'DNSname: intruder.bulwark.test; '" in journal
    run = run_playbook(sender, play(tmp_path, SENDER_PLAY), sender_vars(receiver))
    assert run.rc == 0, run


def test_a_plaintext_sender_is_refused(pair: tuple[LabTarget, LabTarget]) -> None:
    receiver, sender = pair
    frame = "1 open 85 relp_version=0\nrelp_software=librelp,1.11.0\ncommands=syslog\n2 syslog 30 <13>1 - - t - - - plaintext-line\n"
    sender.exec("sh", "-c", f"printf '%s' '{frame}' | nc -w 3 {receiver.address} 2514", check=False)
    time.sleep(2)
    assert "plaintext-line" not in received(receiver)


def test_a_missing_key_is_an_error_before_any_change(pair: tuple[LabTarget, LabTarget], tmp_path: Path, run_playbook: t.Callable[..., t.Any]) -> None:
    receiver, sender = pair
    before = sender.read("/etc/rsyslog.d/60-bulwark-forward.conf")
    run = run_playbook(sender, play(tmp_path, SENDER_PLAY), sender_vars(receiver, "nobody"))
    assert run.rc != 0
    [(name, message)] = run.failures(sender.name)
    assert f"requires: {TLS}/nobody.pem, {TLS}/nobody.key missing or not readable" in message, (name, message)
    assert sender.read("/etc/rsyslog.d/60-bulwark-forward.conf") == before
