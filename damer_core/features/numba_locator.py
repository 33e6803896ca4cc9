"""Numba's on-disk cache in the desktop build (PyInstaller). Frozen modules report relative source
paths (``librosa/core/spectrum.py``), so numba's own locators either miss NUMBA_CACHE_DIR or key
the cache on the current directory, and they stamp entries with the executable, so the app and
`damer-core` would invalidate each other's entries. This locator resolves the path inside the
bundle (whose .py sources the build collects) and stamps by the source file, as numba does
outside a bundle. Selected through NUMBA_CACHE_LOCATOR_CLASSES by :mod:`damer_core.features.numba_env`."""

from __future__ import annotations

import os
import sys

from numba.core.caching import _hash_source_file

try:
    from numba.core.caching import UserProvidedCacheLocator
except ImportError:  # numba before 0.61 named it privately
    from numba.core.caching import _UserProvidedCacheLocator as UserProvidedCacheLocator  # type: ignore[attr-defined,no-redef]


class BundleCacheLocator(UserProvidedCacheLocator):
    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.isabs(py_file):
            py_file = os.path.join(getattr(sys, "_MEIPASS", ""), py_file)
        return super().from_function(py_func, py_file)

    def get_source_stamp(self):
        st = os.stat(self._py_file)
        return _hash_source_file(self._py_file, st.st_mtime, st.st_size)
