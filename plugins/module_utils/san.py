# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
#
# NOTE: THIS IS NOT PUBLIC API. It is used by the plugins of bulwark.hardening only and may
# change at any time without notice.
"""Turn host names and addresses into X.509 subjectAltName entries."""
from __future__ import annotations

import ipaddress
import re

# RFC 1123 labels, plus a leading "*." for wildcards.
_DNS_NAME = re.compile(r"^(\*\.)?(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?\Z")


class SubjectAltNameError(ValueError):
    """A name that is neither an IP address nor a DNS name; the message is shown as is."""


def subject_alt_name(name: str) -> str:
    """Return "IP:<addr>" or "DNS:<name>" for one entry; entries already prefixed are checked."""
    text = str(name).strip()
    prefix, _sep, rest = text.partition(":")
    if prefix in ("IP", "DNS") and rest:
        canonical = subject_alt_name(rest)
        if not canonical.startswith(prefix + ":"):
            raise SubjectAltNameError(f"{text!r} is not a valid {prefix} subject alternative name.")
        return canonical
    try:
        return "IP:" + str(ipaddress.ip_address(text.strip("[]")))
    except ValueError:
        pass
    if _DNS_NAME.match(text) and len(text) <= 253:
        return "DNS:" + text.rstrip(".").lower()
    raise SubjectAltNameError(
        f"{text!r} is neither an IP address nor a DNS name; use a host name, an IPv4/IPv6 address, "
        "or a prefixed entry such as 'DNS:docker.example.com' or 'IP:192.0.2.10'."
    )


def subject_alt_names(names: list[str]) -> list[str]:
    """Return the subjectAltName entries of names, in order, without duplicates."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise SubjectAltNameError(f"expected a list of names, got {type(names).__name__}.")
    result: list[str] = []
    for index, name in enumerate(names):
        try:
            entry = subject_alt_name(name)
        except SubjectAltNameError as exc:
            raise SubjectAltNameError(f"names[{index}]: {exc}") from exc
        if entry not in result:
            result.append(entry)
    return result
