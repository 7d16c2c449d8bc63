# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
from __future__ import annotations

DOCUMENTATION = r"""
name: subject_alt_names
short_description: Turn host names and addresses into X.509 subjectAltName entries
version_added: 0.1.0
author: Bulwark developers (!UNKNOWN)
description:
  - Classifies each entry as an IP address (C(IP:)) or a DNS name (C(DNS:)), normalises it, and drops duplicates,
    keeping the order. Entries that already carry a C(IP:) or C(DNS:) prefix are checked and normalised.
  - An entry that is neither fails with a message naming its index.
options:
  _input:
    description: Host names, IPv4/IPv6 addresses, or prefixed entries.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
- name: Names for a server certificate
  ansible.builtin.debug:
    msg: "{{ [inventory_hostname, 'localhost', '127.0.0.1', '::1'] | bulwark.hardening.subject_alt_names }}"
    # => ["DNS:docker1", "DNS:localhost", "IP:127.0.0.1", "IP:::1"]
"""

RETURN = r"""
_value:
  description: The subjectAltName entries, for community.crypto.openssl_csr's O(community.crypto.openssl_csr#module:subject_alt_name).
  type: list
  elements: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.bulwark.hardening.plugins.module_utils.san import (
    SubjectAltNameError,
    subject_alt_names,
)


def _subject_alt_names(names):
    try:
        return subject_alt_names(names)
    except SubjectAltNameError as exc:
        raise AnsibleFilterError(f"subject_alt_names: {exc}") from exc


class FilterModule:
    """bulwark.hardening PKI filters."""

    def filters(self):
        return {"subject_alt_names": _subject_alt_names}
