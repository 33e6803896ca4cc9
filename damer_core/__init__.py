"""DAMER core: audio, features, model, training, data sets and inference. Never imports Qt."""

import os as _os
import sys as _sys

__version__ = "0.1.0"


def _default_numba_cache() -> None:
    # librosa's numba JIT costs ~17 s in the first process after install; a writable,
    # persistent cache lets later processes (tests, the app, training children) reuse it.
    if "NUMBA_CACHE_DIR" not in _os.environ:
        from platformdirs import user_cache_dir

        _os.environ["NUMBA_CACHE_DIR"] = _os.path.join(user_cache_dir("damer-explorer"), "numba")
    if getattr(_sys, "frozen", False):  # the desktop build: see damer_core/numba_locator.py
        _os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES",
                               "damer_core.numba_locator.BundleCacheLocator,UserWideCacheLocator")


_default_numba_cache()
