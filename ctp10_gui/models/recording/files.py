"""Safe file operations of the recording: exclusive no-follow creation, atomic JSON, liveness locks.

A name planted in the recording folder (a symbolic link, a file) is never written through or
over: parts are created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, JSON goes through a randomly
named temp file created the same way and an atomic ``os.replace`` (which swaps the directory
entry, never the target of a link). A live session holds an advisory lock on its first part
so another process's recovery can tell a live session from a crashed one (POSIX only).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; recovery then treats every session as closed
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

# Where the OS lacks O_NOFOLLOW (Windows), O_EXCL alone still refuses an existing link.
NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_BINARY = getattr(os, "O_BINARY", 0)
TEMP_SUFFIX = ".tmp"  # JSON temp files: ".<name>.<random>.tmp" next to <name>


def describe_oserror(action: str, path: Path, exc: OSError) -> str:
    """Return 'action path: reason' for an OSError (one line, no traceback)."""
    reason = exc.strerror or str(exc)
    return f"{action} {path}: {reason}"


def create_exclusive(path: Path) -> int:
    """Create path for appending, return its descriptor; FileExistsError if any entry is there."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | NOFOLLOW | _CLOEXEC | _BINARY
    return os.open(path, flags, 0o644)


def open_regular(path: Path, flags: int) -> int:
    """Open an existing regular file without following a link; OSError for anything else."""
    if not NOFOLLOW and path.is_symlink():
        raise OSError(f"{path} is a symbolic link")
    fd = os.open(path, flags | NOFOLLOW | _CLOEXEC | _BINARY)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def is_regular(path: Path) -> bool:
    """Return True if path is a regular file itself (not a link, folder or device)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def fsync_dir(folder: Path) -> None:
    """Make new directory entries in folder durable (POSIX only; Windows cannot open a folder)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Mapping[str, Any]) -> None:
    """Replace path with data as JSON: exclusive temp file in the same folder, fsync, rename."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2, sort_keys=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    try:
        fsync_dir(path.parent)
    except OSError as e:  # durability of the rename only; the data is written
        log.warning("cannot fsync folder %s: %s", path.parent, e)


def lock_session(path: Path) -> int | None:
    """Hold an exclusive advisory lock on path (a session's first part); return its descriptor."""
    if fcntl is None:
        return None
    fd = open_regular(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise
    return fd


def is_locked(path: Path) -> bool:
    """Return True if a live session (in any process) holds the lock on path."""
    if fcntl is None:
        return False
    try:
        fd = open_regular(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # closing also drops the lock this probe may have taken
    return False
