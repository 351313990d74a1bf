"""Replace a private file atomically: a reader sees the old file or the new one, never a
half-written one, and a failure leaves the old file as it was.

The data goes to a temporary file in the same folder (mode 0600), is flushed and
fsync'ed, then ``os.replace``'d over the target (atomic on POSIX), and the folder is
fsync'ed so the rename survives a power cut. On any error the temporary file is removed.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

__all__ = ["Writer", "write_atomically"]

#: Writes the data to the open temporary file (a parameter so tests can make a write fail
#: half-way and check that the old file survives).
Writer = Callable[[BinaryIO, bytes], None]


def _write_all(handle: BinaryIO, data: bytes) -> None:
    handle.write(data)


def write_atomically(path: Path, data: bytes, writer: Writer = _write_all) -> None:
    """Replace ``path`` with ``data`` (module docstring); OSError when it cannot."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp_name = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            os.chmod(temp_name, 0o600)
            writer(handle, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp_name)
        raise
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
