"""Features for files on disk, through the feature cache: what training, inference and the app's
views call. Errors from decoding surface as :class:`damer_core.audio.AudioError`."""

from __future__ import annotations

import os

import numpy as np

from damer_core.audio import MODEL_SAMPLE_RATE, load_for_model
from damer_core.cache import FeatureCache
from damer_core.features import (
    DISPLAY, FeatureConfig, FrameSequence, DisplayViews, display_views, frame_sequence, training_windows,
)


def _cache(cache: FeatureCache | None) -> FeatureCache:
    return cache if cache is not None else FeatureCache()


def track_frames(path: str | os.PathLike, cfg: FeatureConfig,
                 cache: FeatureCache | None = None) -> tuple[FrameSequence, float]:
    """The whole track's model-feature frame sequence and its duration in seconds."""
    def compute() -> dict[str, np.ndarray]:
        y = load_for_model(path, cfg.sample_rate)
        seq = frame_sequence(y, cfg)
        return {"mel": seq.mel, "coch": seq.coch, "duration": np.array(y.shape[0] / cfg.sample_rate)}

    a = _cache(cache).get_or_compute(path, cfg, "frames", compute)
    return FrameSequence(a["mel"], a["coch"]), float(a["duration"])


def track_training_windows(path: str | os.PathLike, cfg: FeatureConfig,
                           cache: FeatureCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``[W, 128, T]`` and ``[W, 84, T]`` windows of the track's model segment (SPEC sections 3-4)."""
    def compute() -> dict[str, np.ndarray]:
        y = load_for_model(path, cfg.sample_rate)
        mel, coch = training_windows(y, cfg, path=str(path))
        return {"mel": mel, "coch": coch}

    a = _cache(cache).get_or_compute(path, cfg, "train", compute)
    return a["mel"], a["coch"]


def track_display_views(path: str | os.PathLike, cache: FeatureCache | None = None) -> DisplayViews:
    def compute() -> dict[str, np.ndarray]:
        y = load_for_model(path, MODEL_SAMPLE_RATE)
        v = display_views(y, MODEL_SAMPLE_RATE)
        return {"mel_db": v.mel_db, "coch_db": v.coch_db, "mel_freqs": v.mel_freqs,
                "coch_freqs": v.coch_freqs, "hop_seconds": np.array(v.hop_seconds)}

    a = _cache(cache).get_or_compute(path, DISPLAY, "display", compute)
    return DisplayViews(a["mel_db"], a["coch_db"], a["mel_freqs"], a["coch_freqs"], float(a["hop_seconds"]))
