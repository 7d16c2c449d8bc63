# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Passwords inside URLs (``http://user:password@proxy:3128``), found without a regular expression.

The userinfo of a URL ends at the *last* ``@`` of its authority, so a password may hold ``@`` and
``:`` itself; and a proxy is often written without a scheme (``user:password@proxy:3128``). A
pattern that handles both backtracks badly on long values, so this scans each word once: the
time is linear in the length of the text, whatever it holds.
"""

from __future__ import annotations

import re
import typing as t

__all__ = ["MASK", "mask_url_passwords", "url_passwords"]

MASK = "********"
_WORD = re.compile(r"\S+")  # one pass, no backtracking


def _password_spans(text: str) -> t.Iterator[tuple[int, int]]:
    """(start, end) of each URL password in TEXT; a word may be a comma list of URLs (no_proxy)."""
    for word in _WORD.finditer(text):
        offset = word.start()
        for piece in word.group().split(","):
            if "@" in piece and ":" in piece:
                scheme = piece.find("://")
                begin = scheme + 3 if scheme != -1 else 0
                stops = [index for index in (piece.find(c, begin) for c in "/?#") if index != -1]
                authority = piece[begin : min(stops, default=len(piece))]
                at = authority.rfind("@")
                colon = authority.find(":", 0, at) if at > 0 else -1
                if colon != -1 and colon + 1 < at:
                    yield offset + begin + colon + 1, offset + begin + at
            offset += len(piece) + 1


def url_passwords(text: str) -> set[str]:
    """The passwords of the URLs in TEXT (for AnsibleModule.no_log_values)."""
    return {text[start:end] for start, end in _password_spans(text)}


def mask_url_passwords(text: str) -> str:
    """TEXT with the password of every URL in it replaced by MASK."""
    spans = list(_password_spans(text))
    if not spans:
        return text
    parts, last = [], 0
    for start, end in spans:
        parts += [text[last:start], MASK]
        last = end
    parts.append(text[last:])
    return "".join(parts)
