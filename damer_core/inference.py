"""Inference for the app and `damer-core predict`: load a bundle once, predict windows, a whole
track's trajectory (SPEC section 4: sliding windows, batched) and its static V-A."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from damer_core import trajectory
from damer_core.audio import SILENCE_LUFS, Loudness
from damer_core.cache import FeatureCache
from damer_core.checkpoint import build_models, load_checkpoint
from damer_core.datasets.base import DIMENSIONS
from damer_core.extract import track_features
from damer_core.features import FeatureConfig, FrameSequence, trajectory_starts


@dataclass
class WindowPrediction:
    """Per window and dimension: calibrated P(high) from the fused head and the confidence
    c = r * max p. A dimension the bundle does not predict is NaN: never a made-up value."""

    probability: dict[str, np.ndarray]
    confidence: dict[str, np.ndarray]
    dims: tuple[str, ...] = DIMENSIONS  # the dimensions the bundle really predicts

    def point(self, dim: str) -> np.ndarray:
        return 2.0 * self.probability[dim] - 1.0

    @property
    def valence(self) -> np.ndarray:
        return self.point("valence")

    @property
    def arousal(self) -> np.ndarray:
        return self.point("arousal")

    @property
    def overall_confidence(self) -> np.ndarray:
        return np.mean([self.confidence[d] for d in self.dims], axis=0)


def _json_values(x: np.ndarray, digits: int = 4) -> list:
    """Rounded floats for JSON, NaN (not predicted) as null."""
    return [None if not np.isfinite(v) else round(float(v), digits) for v in x]


@dataclass
class Trajectory:
    """One point per 0.5 s (``times``; the window for ``times[i]`` ends there, clamped at the
    edges). ``valence``/``arousal`` in [-1, 1] are the raw window predictions; ``smoothed()`` is
    what the display shows (damer_core.trajectory)."""

    times: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    confidence: np.ndarray  # [0, 1]

    def at(self, t: float) -> int:
        """Index of the trajectory point for the moment ``t``."""
        return trajectory.index_at(self.times, t)

    def smoothed(self) -> "Trajectory":
        return Trajectory(self.times, trajectory.smooth(self.valence), trajectory.smooth(self.arousal),
                          trajectory.smooth(self.confidence))

    def to_dict(self) -> dict:
        return {"t": self.times.round(3).tolist(), "valence": _json_values(self.valence),
                "arousal": _json_values(self.arousal), "confidence": _json_values(self.confidence)}


@dataclass
class TrackPrediction:
    path: str
    valence: float  # NaN where the bundle does not predict valence
    arousal: float
    confidence: float
    duration: float
    trajectory: Trajectory  # raw
    dims: tuple[str, ...] = DIMENSIONS
    warning: str = ""  # e.g. near-silent audio: no emotion is claimed (centre, confidence 0)

    def to_dict(self) -> dict:
        """``trajectory`` is the smoothed one the app shows; ``trajectory_raw`` the window values."""
        v, a = _json_values(np.array([self.valence, self.arousal]), 6)
        return {"path": self.path, "valence": v, "arousal": a, "confidence": self.confidence,
                "duration": self.duration, "dimensions": list(self.dims), "warning": self.warning,
                "smoothing_sigma_s": trajectory.SMOOTHING_SIGMA_S,
                "trajectory": self.trajectory.smoothed().to_dict(), "trajectory_raw": self.trajectory.to_dict()}


def fast_cpu_inference() -> bool:
    """bf16 autocast for trajectories on a CPU that computes bf16 natively (AVX512-BF16 / AMX);
    elsewhere it would be slower than float32. DAMER_CPU_BF16=0 turns it off."""
    if os.environ.get("DAMER_CPU_BF16", "1") in ("0", "off", "no"):
        return False
    return _native_bf16()


@functools.lru_cache(maxsize=1)
def _native_bf16() -> bool:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:  # not Linux: no cheap way to know, so float32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class Predictor:
    """A loaded bundle. Probabilities are calibrated by each dimension's temperature (fitted on the
    validation part, stored in the bundle; 1.0 for bundles from before calibration)."""

    def __init__(self, bundle_path: str | os.PathLike, device: str = "cpu", cache: FeatureCache | None = None):
        import torch

        self.path = Path(bundle_path)
        self.bundle = load_checkpoint(self.path)
        self.models = build_models(self.bundle, self.path)
        self.temperature = {d: float(e.get("temperature", 1.0)) for d, e in self.bundle["dimensions"].items()}
        self.device = torch.device(device)
        for m in self.models.values():
            m.to(self.device)
        self.feature_config = FeatureConfig.from_dict(self.bundle["feature_config"])
        self.cache = cache

    @property
    def dimensions(self) -> list[str]:
        return list(self.models)

    def predict_windows(self, mel: np.ndarray, coch: np.ndarray, batch: int = 256,
                        fast: bool = False) -> WindowPrediction:
        """``fast``: bf16 autocast where the CPU computes bf16 natively (fast_cpu_inference()):
        1.6x faster on the whole-track trajectory, probabilities within 0.002 of float32
        (benchmarks/bench_trajectory.py). Static predictions and evaluation stay float32."""
        import torch

        if fast and self.device.type == "cpu" and fast_cpu_inference():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.predict_windows(mel, coch, batch)

        from damer_core.training.pcl import js_divergence

        n = mel.shape[0]
        prob = {d: np.full(n, np.nan, np.float32) for d in DIMENSIONS}
        conf = {d: np.full(n, np.nan, np.float32) for d in DIMENSIONS}
        with torch.inference_mode():
            for i in range(0, n, batch):
                m = torch.from_numpy(np.ascontiguousarray(mel[i:i + batch], dtype=np.float32)).to(self.device)
                c = torch.from_numpy(np.ascontiguousarray(coch[i:i + batch], dtype=np.float32)).to(self.device)
                for dim, model in self.models.items():
                    out = model(m, c)
                    p_fuse = torch.softmax(out.z_fuse.float() / self.temperature[dim], dim=-1)
                    r = torch.exp(-js_divergence(torch.softmax(out.z_mel.float(), -1), torch.softmax(out.z_coch.float(), -1)))
                    prob[dim][i:i + batch] = p_fuse[:, 1].cpu().numpy()
                    conf[dim][i:i + batch] = (r * p_fuse.max(dim=-1).values).cpu().numpy()
        return WindowPrediction(prob, conf, tuple(self.models))

    def trajectory_from_frames(self, seq: FrameSequence, duration: float, batch: int = 64,
                               fast: bool = True) -> Trajectory:
        """Windows are cut and predicted a batch at a time: stacking all of a 2 h track's windows
        at once took 2 GB."""
        cfg = self.feature_config
        times, starts = trajectory_starts(seq.n_frames, duration, cfg)
        unique, inverse = np.unique(starts, return_inverse=True)
        parts = []
        for i in range(0, len(unique), batch):
            chunk = unique[i:i + batch]
            mel = np.stack([seq.mel[:, s:s + cfg.n_frames] for s in chunk])
            coch = np.stack([seq.coch[:, s:s + cfg.n_frames] for s in chunk])
            pred = self.predict_windows(mel, coch, batch, fast=fast)
            parts.append((pred.valence, pred.arousal, pred.overall_confidence))
        v, a, c = (np.concatenate([p[k] for p in parts]) for k in range(3))
        return Trajectory(times, v[inverse], a[inverse], c[inverse])

    def predict_file(self, path: str | os.PathLike) -> TrackPrediction:
        """Static V-A (mean over the model segment's windows), confidence and the trajectory."""
        cfg = self.feature_config
        feats = track_features(path, cfg, ("frames", "train"), self.cache)
        f, tr = feats["frames"], feats["train"]
        duration = float(f["duration"])
        static = self.predict_windows(tr["mel"], tr["coch"])
        if f["mel"].shape[1] < cfg.n_frames:  # a track shorter than one window: repeat like the segment
            reps = -(-cfg.n_frames // f["mel"].shape[1])
            seq = FrameSequence(np.tile(f["mel"], reps), np.tile(f["coch"], reps))
        else:
            seq = FrameSequence(f["mel"], f["coch"])
        traj = self.trajectory_from_frames(seq, duration)
        pred = TrackPrediction(str(path), float(static.valence.mean()), float(static.arousal.mean()),
                               float(static.overall_confidence.mean()), duration, traj, tuple(self.models))
        return _flag_near_silence(pred, f)


def _flag_near_silence(pred: TrackPrediction, frames: dict[str, np.ndarray]) -> TrackPrediction:
    """Silence, a 1e-38 signal, a DC offset or a lone click gave V -1, A -1 with confidence 1:
    the model extrapolates from noise-floor features. Such a track sits at the centre with
    confidence 0 and says why, instead of claiming an emotion."""
    loudness = Loudness(float(frames.get("lufs", 0.0)), float(frames.get("audible", 1.0)))
    if not loudness.near_silent:
        return pred
    traj = pred.trajectory
    quiet = Trajectory(traj.times, _centre(traj.valence), _centre(traj.arousal), np.zeros_like(traj.confidence))
    level = "no sound" if not np.isfinite(loudness.lufs) else f"{loudness.lufs:.0f} LUFS"
    warning = (f"near-silent audio ({level}, {100 * loudness.audible:.0f} % of it above {SILENCE_LUFS:g} LUFS): "
               "no emotion predicted")
    return TrackPrediction(pred.path, float(_centre(np.array(pred.valence))), float(_centre(np.array(pred.arousal))),
                           0.0, pred.duration, quiet, pred.dims, warning)


def _centre(x: np.ndarray) -> np.ndarray:
    """0 (undecided) where the dimension is predicted; NaN (not predicted) stays NaN."""
    return np.where(np.isfinite(x), 0.0, np.nan)
