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

from damer_core.features import FeatureConfig
from damer_core.fileutil import atomic_write

_MIB = 1 << 20


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
    h = hashlib.sha256(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    with open(p, "rb") as f:
        h.update(f.read(_MIB))
        if st.st_size > 2 * _MIB:
            f.seek(-_MIB, os.SEEK_END)
            h.update(f.read(_MIB))
    return h.hexdigest()


class FeatureCache:
    def __init__(self, root: str | os.PathLike | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def _entry(self, identity: str, cfg: FeatureConfig, kind: str) -> tuple[Path, str]:
        key = hashlib.sha256(f"{identity}\0{cfg.hash}\0{kind}".encode()).hexdigest()
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
            return arrays
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            entry.unlink(missing_ok=True)  # corrupt: drop it, the caller recomputes
            return None

    def put(self, path: str | os.PathLike, cfg: FeatureConfig, kind: str, arrays: dict[str, np.ndarray]) -> Path:
        entry, key = self._entry(file_identity(path), cfg, kind)
        with atomic_write(entry) as f:
            np.savez(f, __key__=np.array(key), **arrays)
        return entry
