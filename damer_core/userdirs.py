"""Where damer-core and the app keep a user's files (platformdirs), overridable by environment
variables for tests and portable use. GUI-safe: the standard library only, platformdirs on call."""

from __future__ import annotations

import os
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
    :func:`damer_core.safe_text.shown` gives it (UTF-8, no control characters, 80 characters at most),
    so the folder's path can travel anywhere text goes (Qt, a child's arguments, JSON)."""
    from damer_core.safe_text import shown

    return runs_dir() / f"{shown(name, limit=80).replace('/', '-')}-{datetime.now():%Y%m%d-%H%M%S}"
