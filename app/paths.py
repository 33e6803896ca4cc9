"""Where the app keeps its files (platformdirs), overridable for tests and portable use."""

from __future__ import annotations

import os
from pathlib import Path

APP = "damer-explorer"


def config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(os.environ.get("DAMER_CONFIG_DIR") or user_config_dir(APP))


def data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("DAMER_DATA_DIR") or user_data_dir(APP))


def models_dir() -> Path:
    return data_dir() / "models"
