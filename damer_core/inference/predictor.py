"""Inference for the app and `damer-core predict`: load a bundle once as its kind's model
(damer_core.models), extract the features that model needs (through the feature cache) and give
a track's static V-A and its whole trajectory (docs/SPEC.md section 4), flagging audio no emotion
can be claimed for."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from damer_core.audio.decoding import OVERFLOW, SILENCE_LUFS, Loudness
from damer_core.features.cache import FeatureCache
from damer_core.features.extract import track_features
from damer_core.features.spectra import FeatureConfig
from damer_core.models import load_model
from damer_core.models.base import Model
from damer_core.models.networks import Interrupted, fast_cpu_inference  # noqa: F401 - re-exported for callers
from damer_core.models.predictions import StaticPrediction, TrackPrediction, Trajectory


class Predictor:
    """A loaded model of any kind, with the feature cache its features go through."""

    def __init__(self, bundle_path: str | os.PathLike, device: str = "cpu", cache: FeatureCache | None = None):
        self.path = Path(bundle_path)
        self.model: Model = load_model(self.path, device)
        self.feature_config = FeatureConfig.from_dict(self.model.header.feature_config)
        self.cache = cache

    @property
    def dimensions(self) -> list[str]:
        """The dimensions predicted (the joint quadrant head predicts both)."""
        return list(self.model.dimensions)

    def kinds(self, trajectory: bool) -> tuple[str, ...]:
        """The damer_core.features.extract kinds a static prediction (or a whole one) needs."""
        return self.model.feature_kinds(trajectory)

    def predict_static(self, path: str | os.PathLike) -> StaticPrediction:
        """The static V-A only: the model segment's windows, not the whole-track trajectory (the
        library's first pass; about a sixth of the work of :meth:`predict_file`)."""
        return self.static_from_features(path, track_features(path, self.feature_config, self.kinds(False), self.cache))

    def static_from_features(self, path: str | os.PathLike, feats: dict[str, dict[str, np.ndarray]]) -> StaticPrediction:
        """The track's V-A: the mean of the rows the model gives (its windows, or the one row of a
        model that averages its windows' probabilities itself)."""
        static = self.model.static(feats)
        # each carries the level and the length
        measured = next(feats[k] for k in ("train", "descriptors", "embeddings") if k in feats)
        pred = StaticPrediction(str(path), float(static.valence.mean()), float(static.arousal.mean()),
                                float(static.overall_confidence.mean()), float(measured["duration"]), tuple(self.dimensions))
        return _flag_unusable_audio(pred, measured)

    def predict_file(self, path: str | os.PathLike) -> TrackPrediction:
        """Static V-A (mean over the model segment's windows), confidence and the trajectory."""
        return self.predict_from_features(path, track_features(path, self.feature_config, self.kinds(True), self.cache))

    def predict_from_features(self, path: str | os.PathLike, feats: dict[str, dict[str, np.ndarray]],
                              should_stop: Callable[[], bool] | None = None,
                              on_part: Callable[[Trajectory, int], None] | None = None) -> TrackPrediction:
        """:meth:`predict_file` from the kinds of :meth:`kinds`; ``should_stop`` is asked between
        batches (True: :class:`Interrupted`), ``on_part`` gets the trajectory so far (never for a
        near-silent track)."""
        static = self.static_from_features(path, feats)
        traj = self.model.trajectory(feats, should_stop=should_stop, on_part=None if static.warning else on_part)
        return self._track_prediction(static, traj)

    @staticmethod
    def _track_prediction(static: StaticPrediction, traj: Trajectory) -> TrackPrediction:
        if static.warning:
            traj = Trajectory(traj.times, _centre(traj.valence), _centre(traj.arousal), np.zeros_like(traj.confidence))
        return TrackPrediction(static.path, static.valence, static.arousal, static.confidence, static.duration,
                               traj, static.dims, static.warning)


def _flag_unusable_audio(pred: StaticPrediction, features: dict[str, np.ndarray]) -> StaticPrediction:
    """Silence, a 1e-38 signal, a DC offset or a lone click gave V -1, A -1 with confidence 1:
    the model extrapolates from noise-floor features. Such a track sits at the centre with
    confidence 0 and says why, instead of claiming an emotion; so does a file whose samples are
    not finite numbers or overflow (audio.SampleFaults), called what it is."""
    warning = unusable_audio_warning(features)
    if not warning:
        return pred
    return StaticPrediction(pred.path, float(_centre(np.array(pred.valence))), float(_centre(np.array(pred.arousal))),
                            0.0, pred.duration, pred.dims, warning)


def unusable_audio_warning(features: dict[str, np.ndarray]) -> str:
    """Why no emotion can be claimed for these features' audio ("" when one can)."""
    non_finite, overflowing = float(features.get("non_finite", 0.0)), float(features.get("overflowing", 0.0))
    if non_finite > 0:
        return (f"non-finite samples (NaN or infinity) in {_share(non_finite)} of the audio, read as silence: "
                "no emotion predicted")
    if overflowing > 0:
        return (f"overflowing samples (more than {OVERFLOW:g} times full scale) in {_share(overflowing)} of the audio: "
                "no emotion predicted")
    loudness = Loudness(float(features.get("lufs", 0.0)), float(features.get("audible", 1.0)))
    if not loudness.near_silent:
        return ""
    level = "no sound" if not np.isfinite(loudness.lufs) else f"{loudness.lufs:.0f} LUFS"
    return (f"near-silent audio ({level}, {100 * loudness.audible:.0f} % of it above {SILENCE_LUFS:g} LUFS): "
            "no emotion predicted")


def _share(x: float) -> str:
    return f"{100 * x:.0f} %" if x >= 0.01 else f"{100 * x:.2g} %"


def _centre(x: np.ndarray) -> np.ndarray:
    """0 (undecided) where the dimension is predicted; NaN (not predicted) stays NaN."""
    return np.where(np.isfinite(x), 0.0, np.nan)
