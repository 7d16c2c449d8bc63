# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The path, owner, group and mode of the file a module writes, checked before it writes.

AnsibleModule applies owner, group and mode after the file is written, and fails only then: with
``mode: rwx`` or an owner that does not exist, the new file (and its backup, or a new key) was
already on disk. These checks run first, so such a task fails with nothing changed.
"""

from __future__ import annotations

import re
import typing as t

from ansible_collections.bulwark.hardening.plugins.module_utils._io import MAX_ID

__all__ = ["file_arg_problems", "path_problem"]

_OCTAL = re.compile(r"0?[0-7]{3,4}\Z")
# What chmod(1) and Ansible's file module take: u+rw,g-w,o= ...
_SYMBOLIC = re.compile(r"[ugoa]*[-+=][rwxXstugo]*(?:,[ugoa]*[-+=][rwxXstugo]*)*\Z")


def _mode_problem(mode: t.Any) -> str | None:
    if mode is None:
        return None
    if isinstance(mode, bool):
        return f"mode must be an octal string such as '0600', not the bool {mode!r}."
    if isinstance(mode, int):
        return None if 0 <= mode <= 0o7777 else f"mode {mode!r} is outside 0 to 07777."
    if isinstance(mode, str) and (_OCTAL.match(mode) or _SYMBOLIC.match(mode)):
        return None
    return f"mode must be in octal (such as '0600') or symbolic form (such as 'u=rw,go='), not {mode!r}."


def path_problem(key: str, path: t.Any) -> str | None:
    """Why option KEY's PATH cannot be the file a module reads or writes, or None."""
    if isinstance(path, str) and (not path.startswith("/") or "\x00" in path or "\n" in path):
        return f"{key} must be an absolute path, not {path!r}."
    return None


def file_arg_problems(
    params: t.Mapping[str, t.Any],
    user_exists: t.Callable[[str], bool],
    group_exists: t.Callable[[str], bool],
    path_key: str = "path",
) -> list[str]:
    """What is wrong with PARAMS' path, owner, group and mode, one message per option, naming it."""
    problems = []
    path = path_problem(path_key, params.get(path_key))
    if path:
        problems.append(path)
    for key, exists in (("owner", user_exists), ("group", group_exists)):
        value = params.get(key)
        if isinstance(value, str) and value.isdigit():
            if int(value) > MAX_ID:  # chown would raise OverflowError
                problems.append(f"{key}: {value} is not a {'uid' if key == 'owner' else 'gid'}; ids go up to {MAX_ID}.")
            continue
        if value is None:
            continue
        if not isinstance(value, str) or not value or "\x00" in value or not exists(value):
            kind = "user" if key == "owner" else "group"
            problems.append(f"{key}: the {kind} {value!r} does not exist on the host.")
    mode_problem = _mode_problem(params.get("mode"))
    if mode_problem:
        problems.append(mode_problem)
    return problems
