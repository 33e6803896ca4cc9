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
