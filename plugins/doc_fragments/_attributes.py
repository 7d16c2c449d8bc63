# SPDX-License-Identifier: GPL-3.0-or-later
# Copyright (c) Bulwark developers
"""Shared documentation fragment for module attributes."""
from __future__ import annotations


class ModuleDocFragment:
    # Standard attributes; every bulwark module extends this and states its own support.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Can run in C(check_mode) and return changed status prediction without modifying target.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in C(check_mode)), when in diff mode.
  idempotent:
    description:
      - When run twice in a row outside check mode, with the same arguments, the second invocation indicates no change.
      - This assumes that the system controlled/queried by the module has not changed in a relevant way.
"""
