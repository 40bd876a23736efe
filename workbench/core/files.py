"""Durable, private file replacement: the one way workbench rewrites a file it owns.

``write_atomic(path, data)`` writes ``data`` to a new temporary file beside
``path`` (created ``O_EXCL`` with ``mode``, so it is never readable by others,
not even for a moment), fsyncs it, renames it over ``path`` with ``os.replace``
and fsyncs the directory so the rename itself survives a power cut. A crash at
any point leaves the old file or the new one, never a mix; at worst a
``.<name>.<random>.tmp`` file is left beside it, which readers ignore.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["TEMP_SUFFIX", "fsync_directory", "temporary_name", "write_atomic"]

#: How every temporary file ``write_atomic`` creates ends: ``.<name>.<random>.tmp``.
TEMP_SUFFIX = ".tmp"


def temporary_name(path: Path) -> Path:
    """A fresh temporary file name beside ``path``: ``.<name>.<random>.tmp``."""
    return path.with_name(f".{path.name}.{secrets.token_hex(6)}{TEMP_SUFFIX}")


def write_atomic(path: str | os.PathLike[str], data: bytes, mode: int = 0o600) -> Path:
    """Replace ``path`` with ``data`` atomically and durably; the file ends up with ``mode``.

    The directory must exist. Returns the path written.
    """
    target = Path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    while True:
        temp = temporary_name(target)
        try:
            fd = os.open(temp, flags, mode)
            break
        except FileExistsError:  # 48 random bits taken: draw again
            continue
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), mode)  # exactly ``mode``, whatever the umask took away
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise
    fsync_directory(target.parent)
    return target


def fsync_directory(directory: str | os.PathLike[str]) -> None:
    """Make a rename or unlink in ``directory`` durable (POSIX; Windows has no directory fsync)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
