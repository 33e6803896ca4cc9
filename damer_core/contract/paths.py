"""Where damer-core and the app find their files: a user's config, data and cache folders (platformdirs,
overridable by environment variables for tests and portable use) and the shipped resources/."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

APP = "damer-explorer"


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(os.environ.get("DAMER_CONFIG_DIR") or user_config_dir(APP))


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("DAMER_DATA_DIR") or user_data_dir(APP))


def runs_dir() -> Path:
    """Training runs, from the app and from `damer-core train` without --out."""
    return data_dir() / "runs"


def new_run_dir(name: str) -> Path:
    """A new run's folder under :func:`runs_dir`, named after its data and the time; the name as
    :func:`damer_core.contract.safe_text.shown` gives it (UTF-8, no control characters, 80 characters at most),
    so the folder's path can travel anywhere text goes (Qt, a child's arguments, JSON)."""
    from damer_core.contract.safe_text import shown

    return runs_dir() / f"{shown(name, limit=80).replace('/', '-')}-{datetime.now():%Y%m%d-%H%M%S}"


def resources_dir() -> Path:
    """``resources/``: $DAMER_RESOURCES, a frozen build's bundle, the source tree, or the
    installed data files under ``<prefix>/share/damer-explorer``."""
    candidates = []
    if os.environ.get("DAMER_RESOURCES"):
        candidates.append(Path(os.environ["DAMER_RESOURCES"]))
    if getattr(sys, "frozen", False):
        candidates.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "resources")
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    candidates.append(Path(sys.prefix) / "share" / "damer-explorer" / "resources")
    for c in candidates:
        if (c / "emotion_terms.json").is_file():
            return c
    raise FileNotFoundError("resources/emotion_terms.json not found (looked in: " + ", ".join(map(str, candidates)) + ")")
