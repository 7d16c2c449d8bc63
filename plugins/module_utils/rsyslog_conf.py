# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""rsyslog's configuration as text: pure, no I/O.

``rsyslogd -N1`` checks a whole configuration, the main file with everything it includes, so a
new drop-in can only be checked together with the rest. ``sandboxed_main`` rewrites the main
file's includes of the drop-in directory to point at a copy of it, in which the new drop-in
replaces the live one; rsyslogd then checks exactly what would run, and the live files are not
touched until it agrees.
"""

from __future__ import annotations

import fnmatch
import os
import re

__all__ = ["RsyslogConfError", "included_globs", "sandboxed_main", "validation_problems"]

# The legacy directive ($IncludeConfig /etc/rsyslog.d/*.conf) and RainerScript's include(file="...").
_LEGACY_INCLUDE = re.compile(r"^(?P<lead>\s*\$IncludeConfig\s+)(?P<path>\S+)(?P<rest>.*)$", re.IGNORECASE)
_INCLUDE = re.compile(r"""(?P<lead>\binclude\s*\(\s*file\s*=\s*)(?P<quote>["'])(?P<path>[^"']+)(?P=quote)""", re.IGNORECASE)


class RsyslogConfError(ValueError):
    """The configuration cannot be checked or used; the message says why."""


def included_globs(main_text: str) -> list[str]:
    """The paths or globs the main configuration includes, in order."""
    found = []
    for line in main_text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        legacy = _LEGACY_INCLUDE.match(line)
        if legacy:
            found.append(legacy.group("path"))
        found.extend(match.group("path") for match in _INCLUDE.finditer(line))
    return found


def _covers(pattern: str, path: str) -> bool:
    """Whether the include PATTERN (a file or a glob) picks PATH."""
    return os.path.dirname(pattern) == os.path.dirname(path) and fnmatch.fnmatch(os.path.basename(path), os.path.basename(pattern))


def sandboxed_main(main_text: str, drop_in: str, sandbox: str) -> str:
    """MAIN_TEXT with each include that picks DROP_IN redirected to the same name in SANDBOX.

    Raises RsyslogConfError when no include picks DROP_IN: a file rsyslog never reads would be
    written and reported as applied, which is never the case here.
    """
    redirected = False

    def into_sandbox(path: str) -> str:
        nonlocal redirected
        if not _covers(path, drop_in):
            return path
        redirected = True
        return os.path.join(sandbox, os.path.basename(path))

    lines = []
    for line in main_text.splitlines(keepends=True):
        if line.lstrip().startswith("#"):
            lines.append(line)
            continue
        legacy = _LEGACY_INCLUDE.match(line.rstrip("\n"))
        if legacy:
            line = f"{legacy.group('lead')}{into_sandbox(legacy.group('path'))}{legacy.group('rest')}\n"
        line = _INCLUDE.sub(lambda m: f"{m.group('lead')}{m.group('quote')}{into_sandbox(m.group('path'))}{m.group('quote')}", line)
        lines.append(line)
    if not redirected:
        raise RsyslogConfError(
            f"the main configuration includes none of {drop_in}'s directory with a pattern that picks it"
            f" (it includes: {', '.join(included_globs(main_text)) or 'nothing'}); rsyslog would never read it."
        )
    return "".join(lines)


_NOISE = re.compile(r"^rsyslogd: version \S+, config validation run|^rsyslogd: End of config validation run")


def validation_problems(output: str, returncode: int) -> list[str]:
    """What rsyslogd -N1 said is wrong with the configuration; empty when it accepts it.

    It exits 1 on a syntax error, an unknown parameter or a module it cannot load. A line with
    "error" counts even when it exits 0, so that nothing it could not use is installed.
    """
    lines = [line.strip() for line in output.splitlines() if line.strip() and not _NOISE.search(line.strip())]
    if returncode != 0:
        return lines or [f"rsyslogd -N1 exited {returncode}"]
    return [line for line in lines if "error" in line.lower()]
