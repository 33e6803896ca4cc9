"""What the app may use of the core besides damer_core.contract (an import-linter contract in
pyproject.toml keeps it so): a short, named list. Each name loads its module on first use, so the
GUI process imports only what it touches (no torch, no librosa at start)."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass

WHERE = {
    "AUDIO_EXTENSIONS": "damer_core.audio.decoding",  # what the library scanner lists
    "decode": "damer_core.audio.decoding",  # the player's decoder
    "DatasetError": "damer_core.datasets.base",  # a labels file's problem, in words
    "load_labels_csv": "damer_core.datasets.labels_csv",  # File > Import labels
    "label_rows": "damer_core.datasets.labels_csv",  # ... read a row at a time
    "FeatureCache": "damer_core.features.cache",  # the cache dialog
    "default_cache_dir": "damer_core.features.cache",
    "CLIP": "damer_core.features.spectra",  # the default model window, for the table's hints
    "FINE_TUNE_DEFAULTS": "damer_core.training.config",  # the training panel's settings
    "TrainConfig": "damer_core.training.config",
}
__all__ = list(WHERE)


def __getattr__(name: str) -> Any:
    if name not in WHERE:
        raise AttributeError(f"damer_core.facade has no {name!r}: the app uses only {', '.join(WHERE)}")
    return getattr(importlib.import_module(WHERE[name]), name)
