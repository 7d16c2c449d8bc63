# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

import pytest

from ansible_collections.bulwark.hardening.plugins.module_utils.san import (
    SubjectAltNameError,
    subject_alt_names,
)


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["docker1", "localhost", "127.0.0.1"], ["DNS:docker1", "DNS:localhost", "IP:127.0.0.1"]),
        (["Docker1.Example.COM."], ["DNS:docker1.example.com"]),
        (["::1", "[2001:db8::1]"], ["IP:::1", "IP:2001:db8::1"]),
        (["DNS:a.example", "IP:192.0.2.1"], ["DNS:a.example", "IP:192.0.2.1"]),
        (["*.example.com"], ["DNS:*.example.com"]),
        (["h", "H", "DNS:h"], ["DNS:h"]),
        ([], []),
    ],
)
def test_subject_alt_names(names, expected):
    assert subject_alt_names(names) == expected


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["ok", "bad name"], "names[1]: 'bad name' is neither an IP address nor a DNS name; use a host name, "
         "an IPv4/IPv6 address, or a prefixed entry such as 'DNS:docker.example.com' or 'IP:192.0.2.10'."),
        (["IP:docker1"], "names[0]: 'IP:docker1' is not a valid IP subject alternative name."),
        (["-leading.example"], "names[0]: '-leading.example' is neither an IP address nor a DNS name; use a host "
         "name, an IPv4/IPv6 address, or a prefixed entry such as 'DNS:docker.example.com' or 'IP:192.0.2.10'."),
        ("docker1", "expected a list of names, got str."),
    ],
)
def test_subject_alt_names_rejects(names, message):
    with pytest.raises(SubjectAltNameError) as exc:
        subject_alt_names(names)
    assert str(exc.value) == message
