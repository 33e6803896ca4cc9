"""Atomic file writes: a temporary file in the same folder, fsync, rename. A crash or a full disk
leaves the previous file intact; the new file gets the usual permissions (umask), not mkstemp's 0600."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from damer_core.contract.errors import InputError


def _umask_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """``with atomic_write(p) as f: f.write(...)``: ``p`` appears complete or not at all. A link is
    followed (its target is replaced, the link stays) and a file replaced keeps its permissions."""
    path = Path(os.path.realpath(path)) if os.path.islink(path) else Path(path)
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = _umask_mode()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        if e.filename is None:  # a full disk: say which file could not be written
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def check_output_file(path: str | os.PathLike, *, force: bool = False, own: Callable[[Path], bool] | None = None,
                      inputs: Iterable[str | os.PathLike] = (), what: str = "the output",
                      force_hint: str = "add --force to replace it") -> Path:
    """Before any work, refuse to write ``path`` where that would destroy something of the user's:
    a folder, a device or other non-file, one of the ``inputs`` (even with ``force``), or an existing
    file that ``own`` does not recognise as this command's earlier output (which the caller then
    appends to or resumes), unless ``force``. Every message names ``path`` as the user gave it."""
    p = Path(path)
    shown = os.fspath(path)
    if p.is_dir():
        raise InputError(f"{shown}: is a folder; give a file name for {what}")
    if p.exists() and not p.is_file():
        raise InputError(f"{shown}: is not a regular file; give a file name for {what}")
    if p.exists() and any(_same_file(p, Path(i)) for i in inputs):
        raise InputError(f"{shown}: is one of the input files; give another file name for {what}")
    if p.exists() and not force and not (own is not None and own(p)):
        raise InputError(f"{shown}: already exists and was not written by this command; "
                         f"choose another name, or {force_hint}")
    parent = p.parent if str(p.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise InputError(f"{shown}: {parent} is not a folder")
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def free_path(path: str | os.PathLike) -> Path:
    """``path``, or ``name-2.ext``, ``name-3.ext``... the first that does not exist: for a copy
    that must never replace another file (an imported model)."""
    p = Path(path)
    k = 2
    while p.exists() or p.is_symlink():
        p = p.with_name(f"{Path(path).stem}-{k}{p.suffix}")
        k += 1
    return p


def first_line(path: Path, limit: int = 4096) -> bytes:
    """The first line of a file (at most ``limit`` bytes), to recognise a program's own output."""
    with open(path, "rb") as f:
        return f.readline(limit).rstrip(b"\r\n")


class LockHeld(InputError):
    """Another live process holds the lock; its message names the file and that process."""


class HeldLock:
    """An exclusive lock held until :meth:`close`; with ``remove``, its file goes away then."""

    def __init__(self, file: BinaryIO, path: Path, remove: bool):
        self.file, self.path, self.remove = file, path, remove

    def close(self) -> None:
        if self.file.closed:
            return
        if self.remove:  # while still locked: a process waiting on this file sees it gone and starts over
            self.path.unlink(missing_ok=True)
        self.file.close()

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def hold_lock(lock_path: Path, busy: Callable[[str], str], remove: bool = False) -> HeldLock:
    """Take an exclusive lock on ``lock_path`` (created if missing) until the returned lock is
    closed, and write this process's id in it. The kernel drops the lock when its process ends,
    however it ends, so a lock file left by a dead process is simply taken over. Raises
    :class:`LockHeld` with ``busy(holder)`` when a live process holds it, OSError when the
    file cannot be made."""
    try:
        import fcntl
    except ImportError:  # not POSIX: nothing to lock with; the caller's other checks still apply
        return HeldLock(open(lock_path, "a+b", buffering=0), lock_path, remove)
    while True:  # unbuffered: nothing is left to write when it closes, even on a full disk
        lock = open(lock_path, "a+b", buffering=0)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read(200).decode("utf-8", "replace").strip() or "another process"
            lock.close()
            raise LockHeld(busy(holder)) from None
        if _same_inode(lock, lock_path):
            break
        lock.close()  # its holder removed it as we opened it: lock the file that is there now
    try:
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}".encode())
    except OSError:
        pass  # a full disk: the lock holds all the same; a refused process names no pid
    return HeldLock(lock, lock_path, remove)


def _same_inode(f: BinaryIO, path: Path) -> bool:
    try:
        a, b = os.fstat(f.fileno()), os.stat(path)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)
