# Copyright (c) Bulwark developers
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""File plumbing shared by the modules: read a file whole, replace one atomically, keep a backup copy.

The new content is staged as a dot-file beside the target and renamed over it, so that a reader
never sees half a file, and a directory watcher that ignores dot-files (kubelet, for static pod
manifests) never sees the staging file at all.
"""

from __future__ import annotations

import datetime
import grp
import os
import pwd
import stat
import tempfile
from dataclasses import dataclass

__all__ = [
    "FileState",
    "backup_copy",
    "backup_name",
    "group_exists",
    "impossible_account",
    "read_state",
    "remove_file",
    "resolve_owner",
    "user_exists",
    "write_atomically",
]


MAX_ID = 2**32 - 2  # 2**32 - 1 is (uid_t) -1, "no change"


@dataclass(frozen=True)
class FileState:
    """A regular file as it is on the host (``exists`` False: there is none)."""

    exists: bool
    content: bytes | None = None
    mode: int | None = None
    uid: int | None = None
    gid: int | None = None


def read_state(path: str) -> FileState:
    """The content, mode and owner of PATH; raises OSError for anything but a missing file, and
    IsADirectoryError (an OSError) for a path that is not a regular file."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, for ever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        return FileState(False)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IsADirectoryError(21, "not a regular file", path)
        return FileState(True, handle.read(), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid)


def impossible_account(name: str) -> bool:
    """A name no user or group can have: a NUL byte in it, or a number beyond the largest id.
    (The C library raises ValueError for the one and chown OverflowError for the other.)"""
    return "\x00" in name or (name.isdigit() and int(name) > MAX_ID)


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except (KeyError, ValueError):  # ValueError: a NUL byte in the name
        return False
    return True


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
    except (KeyError, ValueError):
        return False
    return True


def resolve_owner(owner: str | None, group: str | None) -> tuple[int | None, int | None]:
    """User and group names (or numbers) to ids; KeyError names the one that does not exist."""
    uid = gid = None
    for name in (owner, group):
        if name is not None and impossible_account(name):
            raise KeyError(name)  # as for a name that does not exist
    if owner is not None:
        uid = int(owner) if owner.isdigit() else pwd.getpwnam(owner).pw_uid
    if group is not None:
        gid = int(group) if group.isdigit() else grp.getgrnam(group).gr_gid
    return uid, gid


def write_atomically(
    path: str,
    data: bytes,
    mode: int | None = None,
    uid: int | None = None,
    gid: int | None = None,
    directory_mode: int = 0o700,
) -> None:
    """Replace PATH with DATA in one rename.

    MODE, UID and GID default to those of the file replaced (0600 and the caller's ids for a new
    file). The staging file is created 0600 and gets its final mode and owner before the rename,
    so a secret is never readable by others, not even briefly. A missing directory is created
    with DIRECTORY_MODE.
    """
    directory = os.path.dirname(path) or "."
    if not os.path.isdir(directory):
        os.makedirs(directory, directory_mode)
    try:
        current: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        current = None
    mode = mode if mode is not None else (stat.S_IMODE(current.st_mode) if current else 0o600)
    uid = uid if uid is not None else (current.st_uid if current else -1)
    gid = gid if gid is not None else (current.st_gid if current else -1)
    fd, staged = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".bulwark-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchown(handle.fileno(), uid, gid)
            os.fchmod(handle.fileno(), mode)
        os.replace(staged, path)
    finally:
        if os.path.lexists(staged):
            os.unlink(staged)


def remove_file(path: str) -> None:
    """Delete PATH; a file that is already gone is fine."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def backup_name(path: str, when: datetime.datetime) -> str:
    """The file name of a backup of PATH taken at WHEN (UTC)."""
    return f"{os.path.basename(path)}.{when.strftime('%Y%m%dT%H%M%S.%fZ')}"


def backup_copy(backup_dir: str, path: str, data: bytes, when: datetime.datetime | None = None) -> str:
    """Write DATA, the content of PATH, to a new file of mode 0600 in BACKUP_DIR (made 0700 when
    missing); returns its path. Never overwrites an earlier backup."""
    os.makedirs(backup_dir, mode=0o700, exist_ok=True)
    base = os.path.join(backup_dir, backup_name(path, when or datetime.datetime.now(datetime.timezone.utc)))
    for number in range(100):
        target = base if number == 0 else f"{base}.{number}"
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
        return target
    raise FileExistsError(17, "no free backup name", base)
