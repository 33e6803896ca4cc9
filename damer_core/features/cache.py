"""On-disk feature cache, keyed by file identity and feature-config hash.

A file's identity is its resolved path, size, mtime and a hash of its first and last MiB, so an
edited or replaced file is never served stale features. Entries are ``.npz`` files written to a
temporary name and renamed into place (a crash never leaves half an entry); an entry that fails
to load (truncated, bit-flipped: zip members carry CRCs) is deleted and recomputed.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from damer_core.contract.fileutil import atomic_write
from damer_core.features.spectra import FeatureConfig

_MIB = 1 << 20
DEFAULT_MAX_MB = 1024  # the cache's size limit; DAMER_CACHE_MAX_MB (the app's setting) overrides it


def default_cache_dir() -> Path:
    env = os.environ.get("DAMER_CACHE_DIR")
    if env:
        return Path(env)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("damer-explorer")) / "features"


def file_identity(path: str | os.PathLike) -> str:
    """Hash of resolved path, size, mtime and the first and last MiB of content."""
    p = Path(path).resolve()
    st = p.stat()
    h = hashlib.sha256(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    with open(p, "rb") as f:
        h.update(f.read(_MIB))
        if st.st_size > 2 * _MIB:
            f.seek(-_MIB, os.SEEK_END)
            h.update(f.read(_MIB))
    return h.hexdigest()


def default_max_bytes() -> int:
    try:
        return max(0, int(float(os.environ.get("DAMER_CACHE_MAX_MB", DEFAULT_MAX_MB)) * _MIB))
    except ValueError:
        return DEFAULT_MAX_MB * _MIB


class FeatureCache:
    """Entries ``<root>/<config hash>/<xx>/<key>.npz``. Reading an entry marks it used (its mtime);
    after each write the least recently used entries are deleted until the cache is under
    ``max_bytes`` (DAMER_CACHE_MAX_MB, 1 GB by default)."""

    def __init__(self, root: str | os.PathLike | None = None, max_bytes: int | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()
        self.max_bytes = default_max_bytes() if max_bytes is None else max_bytes

    def _entry(self, identity: str, cfg: FeatureConfig, kind: str) -> tuple[Path, str]:
        key = hashlib.sha256(f"{identity}\0{cfg.hash}\0{kind}".encode("utf-8", "surrogateescape")).hexdigest()
        return self.root / cfg.hash / key[:2] / f"{key}.npz", key

    def get(self, path: str | os.PathLike, cfg: FeatureConfig, kind: str) -> dict[str, np.ndarray] | None:
        entry, key = self._entry(file_identity(path), cfg, kind)
        if not entry.exists():
            return None
        try:
            with np.load(entry, allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
            if str(arrays.pop("__key__")) != key:
                raise ValueError("key mismatch")
            try:
                os.utime(entry)  # recently used: evicted last
            except OSError:
                pass
            return arrays
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            entry.unlink(missing_ok=True)  # corrupt: drop it, the caller recomputes
            return None

    def put(self, path: str | os.PathLike, cfg: FeatureConfig, kind: str, arrays: dict[str, np.ndarray]) -> Path:
        entry, key = self._entry(file_identity(path), cfg, kind)
        with atomic_write(entry) as f:
            np.savez(f, __key__=np.array(key), **arrays)  # type: ignore[arg-type]  # numpy's stub: **kwds as allow_pickle
        self.evict(keep=entry)
        return entry

    def entries(self) -> list[tuple[float, int, Path]]:
        """(last used, bytes, path) of every entry."""
        out = []
        for p in self.root.glob("*/*/*.npz") if self.root.is_dir() else []:
            try:
                st = p.stat()
            except OSError:
                continue  # removed meanwhile by another process
            out.append((st.st_mtime, st.st_size, p))
        return out

    def size(self) -> int:
        return sum(n for _, n, _ in self.entries())

    def evict(self, keep: Path | None = None) -> int:
        """Delete the least recently used entries until the cache fits ``max_bytes``; returns the
        bytes freed. ``keep`` (the entry just written) goes last."""
        entries = sorted(self.entries(), key=lambda e: (e[2] == keep, e[0]))
        total, freed = sum(n for _, n, _ in entries), 0
        for _, n, p in entries:
            if total - freed <= self.max_bytes:
                break
            freed += _remove(p, n)
        return freed

    def clear(self) -> int:
        """Delete every entry; returns the bytes freed."""
        return sum(_remove(p, n) for _, n, p in self.entries())


def _remove(entry: Path, size: int) -> int:
    """Delete one entry; the bytes freed (0 when another process got there first, or it is locked)."""
    try:
        entry.unlink()
        return size
    except OSError:
        return 0


class NoCache(FeatureCache):
    """Features computed and not kept: a library's analysis leaves only its predictions."""

    def __init__(self):
        super().__init__(root=Path(os.devnull), max_bytes=0)

    def get(self, path, cfg, kind):
        return None

    def put(self, path, cfg, kind, arrays):
        return None
