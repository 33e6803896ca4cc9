"""Where numba keeps librosa's JIT cache. Numba reads these variables once, when it is imported,
so :func:`configure_numba_cache` runs just before librosa (and with it numba) is first imported,
never when damer_core is: importing a library must leave ``os.environ`` alone."""

from __future__ import annotations

import os
import sys
import threading

LOCATORS = "damer_core.features.numba_locator.BundleCacheLocator,UserWideCacheLocator"
_lock = threading.Lock()
_configured = False


def configure_numba_cache() -> None:
    """Point numba's cache at the user cache folder (unless NUMBA_CACHE_DIR is set) and, in the
    desktop build, at :mod:`damer_core.features.numba_locator`. Idempotent; call before importing librosa."""
    # librosa's numba JIT costs ~17 s in the first process after install; a writable,
    # persistent cache lets later processes (tests, the app, training children) reuse it.
    global _configured
    with _lock:  # features are computed in several threads at once: one of them sets numba up
        if not _configured:
            _configure()
            _configured = True


def _configure() -> None:
    if "NUMBA_CACHE_DIR" not in os.environ:
        from platformdirs import user_cache_dir

        os.environ["NUMBA_CACHE_DIR"] = os.path.join(user_cache_dir("damer-explorer"), "numba")
    if getattr(sys, "frozen", False):  # the desktop build: see damer_core/features/numba_locator.py
        os.environ.setdefault("NUMBA_CACHE_LOCATOR_CLASSES", LOCATORS)
    config = sys.modules.get("numba.core.config")
    # numba imported before any feature was computed: make it read the variables again (a module
    # still being imported by another thread started after this ran, so it read them already)
    if config is not None and hasattr(config, "reload_config"):
        config.reload_config()
