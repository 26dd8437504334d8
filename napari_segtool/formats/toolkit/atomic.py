"""Atomic file writes: a reader sees the old file or the new one, never half of one.

**Permissions.** Every file the plugin writes gets the user's normal
permissions: ``0o666`` filtered by the umask (and by a folder's default ACL),
as ``open(path, "w")`` would give it. The kernel applies the umask when
:func:`new_temporary` creates the file with ``os.open(..., 0o666)``, so the
umask is never read or changed (``os.umask`` is process-wide: setting it to
read it races with other threads creating files). ``tempfile.mkstemp`` is not
used: its files are owner-only (``0o600``).

Replacing an existing file gives the new file the normal permissions as well,
not the old file's: the new content is a new file renamed over the old one.
(A writer that finds a file already holding the bytes it would write, such as
an unchanged Labelbox mask or ontology, leaves that file alone, permissions
included.)
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

#: what a new file asks for; the umask takes away what the user does not grant
NEW_FILE_MODE = 0o666
_ATTEMPTS = 100


def new_temporary(target: Path, suffix: str = ".tmp") -> tuple[Path, int]:
    """A new, empty hidden file beside ``target`` and its open descriptor (write-only).

    Named ``.<target name>.<random hex><suffix>``, created exclusively with the
    normal permissions (see the module doc).
    """
    target = Path(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(_ATTEMPTS):
        path = target.with_name(f".{target.name}.{secrets.token_hex(4)}{suffix}")
        try:
            return path, os.open(path, flags, NEW_FILE_MODE)
        except FileExistsError:
            continue
    raise FileExistsError(f"{target.parent}: no free temporary file name")


def write_temporary(target: Path, data: bytes, suffix: str = ".tmp") -> Path:
    """``data`` in a new hidden file beside ``target``, flushed to disk; returns its path."""
    path, fd = new_temporary(target, suffix)
    try:
        with open(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it over ``target`` on success.

    The caller writes the temporary by name (it exists, empty, with the normal
    permissions; opening it for writing keeps them).
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp, fd = new_temporary(target)
    os.close(fd)
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(target: Path, data: bytes, suffix: str = ".tmp") -> None:
    """Replace ``target`` with ``data`` in one step (staged in a temporary ending in ``suffix``)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = write_temporary(target, data, suffix)
    try:
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def fsync_dir(folder: Path) -> None:
    """Make renames in ``folder`` durable (POSIX; Windows cannot open a folder)."""
    if os.name == "nt":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())
