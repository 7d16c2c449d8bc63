# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""The rendered text, and refusals by option. That rsyslogd accepts the text and that messages
cross is tested on real rsyslogds (tests/integration/test_log_shipping.py)."""

from __future__ import annotations

import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.bulwark.hardening.plugins.module_utils.rsyslog_render import (
    RsyslogRenderError,
    forwarding_config,
    receiver_config,
    required_files,
)

TLS = {"ca": "/etc/bulwark/tls/ca.pem", "cert": "/etc/bulwark/tls/host.pem", "key": "/etc/bulwark/tls/host.key"}
FORWARD = {"collectors": [{"host": "logs.example.com"}], "tls": TLS}


def test_forwarding_queues_on_disk_retries_for_ever_and_never_discards() -> None:
    text = forwarding_config(FORWARD)
    for setting in (
        'queue.filename="bulwark_forward"',
        'queue.saveOnShutdown="on"',
        'action.resumeRetryCount="-1"',
        'queue.timeoutEnqueue="2147483647"',
        'queue.discardSeverity="8"',
        'queue.maxDiskSpace="1g"',
        'tls.authmode="name" tls.permittedpeer=["logs.example.com"]',
        'target="logs.example.com" port="2514" template="RSYSLOG_SyslogProtocol23Format"',
    ):
        assert setting in text, setting
    assert 'module(load="imjournal" StateFile="bulwark-imjournal.state" Ratelimit.Interval="0"' in text
    assert "imfile" not in text


def test_json_files_and_peers() -> None:
    options = {
        **FORWARD,
        "collectors": [{"host": "10.0.0.5", "port": 6514, "permitted_peers": ["logs.example.com", "*.logs.example.com"]}],
        "format": "json",
        "sources": {"journald": False, "files": [{"path": "/var/log/kubernetes/audit/audit.log", "tag": "kube-audit"}]},
        "queue": {"max_disk_space": "2G", "size": 5000},
    }
    text = forwarding_config(options)
    assert "imjournal" not in text
    assert 'input(type="imfile" File="/var/log/kubernetes/audit/audit.log" Tag="kube-audit:"' in text
    assert 'template="bulwark_json"' in text and 'option.jsonf="on"' in text
    assert 'tls.permittedpeer=["logs.example.com", "*.logs.example.com"]' in text
    assert 'queue.size="5000" queue.maxDiskSpace="2g"' in text


def test_the_receiver_accepts_listed_peers_and_names_files_by_address() -> None:
    text = receiver_config({"tls": TLS, "permitted_peers": ["*.example.com"], "directory": "/srv/logs/"})
    assert 'input(type="imrelp" port="2514" ruleset="bulwark_remote"' in text
    assert 'tls.authmode="name" tls.permittedpeer=["*.example.com"]' in text
    assert 'string="/srv/logs/%FROMHOST:::secpath-replace%/messages.log"' in text
    assert required_files({"tls": TLS}) == [TLS["ca"], TLS["cert"], TLS["key"]]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tls": TLS}, "collectors: list at least one collector"),
        ({**FORWARD, "collectors": [{"host": "a"}, {"host": "b"}]}, "failover to a second is not built yet"),
        ({**FORWARD, "collectors": [{"host": 'x" y'}]}, r"collectors\[0\]\.host: 'x\" y' is not a host name"),
        ({**FORWARD, "collectors": [{"host": "a", "port": 0}]}, r"collectors\[0\]\.port: 0 is not a port"),
        ({**FORWARD, "collectors": [{"host": "a", "port": True}]}, r"collectors\[0\]\.port: True is not a port"),
        ({**FORWARD, "tls": {**TLS, "key": "host.key"}}, r"tls\.key: 'host.key' is not an absolute path"),
        ({**FORWARD, "tls": {**TLS, "ca": '/a"b'}}, r"tls\.ca: '/a\"b' is not an absolute path"),
        ({**FORWARD, "tls": None}, "tls: give ca, cert and key"),
        ({**FORWARD, "format": "xml"}, "format: 'xml' is not one of rfc5424, json"),
        ({**FORWARD, "queue": {"max_disk_space": "1t"}}, r"queue\.max_disk_space: '1t' is not a size"),
        ({**FORWARD, "queue": {"size": 10}}, r"queue\.size: 10 is not a number of messages"),
        ({**FORWARD, "sources": {"files": [{"path": "/var/log/a", "tag": "a b"}]}}, r"sources\.files\[0\]\.tag: 'a b'"),
        ({**FORWARD, "sources": {"files": "/var/log/a"}}, r"sources\.files: give a list"),
    ],
)
def test_bad_forwarding_options_are_refused_by_name(options: dict[str, t.Any], message: str) -> None:
    with pytest.raises(RsyslogRenderError, match=message):
        forwarding_config(options)


def test_a_receiver_without_peers_accepts_no_one_so_it_is_refused() -> None:
    with pytest.raises(RsyslogRenderError, match="permitted_peers: list the certificate names"):
        receiver_config({"tls": TLS, "permitted_peers": []})


@given(st.text(max_size=40))
def test_no_value_breaks_out_of_its_quotes(value: str) -> None:
    for options in ({**FORWARD, "collectors": [{"host": value}]}, {**FORWARD, "tls": {**TLS, "cert": value}}):
        try:
            text = forwarding_config(options)
        except RsyslogRenderError:
            continue
        assert value in text and not any(ch in value for ch in '"\\\n')
