"""Inference for the app and `damer-core predict`: load a bundle once, predict windows, a whole
track's trajectory (docs/SPEC.md section 4: sliding windows, batched) and its static V-A."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from damer_core.audio import OVERFLOW, SILENCE_LUFS, Loudness
from damer_core.cache import FeatureCache
from damer_core.checkpoint import build_models, load_checkpoint
from damer_core.contract import trajectory
from damer_core.datasets.base import DIMENSIONS
from damer_core.extract import track_features
from damer_core.features import FeatureConfig, FrameSequence, trajectory_starts
from damer_core.predictions import StaticPrediction, TrackPrediction, Trajectory, WindowPrediction, dimension_prediction
from damer_core.scoring import softmax
from damer_core.targets import QUADRANT, quadrant_probabilities

if TYPE_CHECKING:
    from damer_core.combination import Combination
    from damer_core.descriptor_head import DescriptorHead


PART_EVERY = 4  # batches between two parts of a trajectory (the first part after the first batch)


def load_combination(bundle: dict) -> tuple[DescriptorHead | None, Combination | None]:
    """The bundle's descriptor head and its combination with DAMER, if it has them."""
    if "descriptor_head" not in bundle:
        return None, None
    from damer_core.combination import Combination
    from damer_core.descriptor_head import DescriptorHead

    combination = Combination.from_state(bundle["combination"]) if "combination" in bundle else None
    return DescriptorHead.from_state(bundle["descriptor_head"]), combination


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


class Interrupted(Exception):
    """A trajectory stopped between batches because its ``should_stop`` said so."""


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
        self.descriptor_head, self.combination = load_combination(self.bundle)

    @property
    def uses_descriptors(self) -> bool:
        """The bundle has a descriptor head (alone or combined with DAMER)."""
        return self.descriptor_head is not None

    @property
    def fusion_descriptors(self) -> bool:
        """A network's fusion layer takes each window's musical descriptors (ModelConfig.n_descriptors)."""
        return any(m.cfg.n_descriptors for m in self.models.values())

    @property
    def dimensions(self) -> list[str]:
        """The dimensions predicted (the joint quadrant head predicts both)."""
        return list(DIMENSIONS) if QUADRANT in self.models or not self.models else list(self.models)

    def kinds(self, trajectory: bool) -> tuple[str, ...]:
        """The damer_core.extract kinds a static prediction (or a whole one) needs."""
        kinds = (("frames", "train") if trajectory else ("train",)) if self.models else ()
        if self.fusion_descriptors:
            kinds += ("train_descriptors",)
        if trajectory and (self.uses_descriptors or self.fusion_descriptors):
            kinds += ("trajectory_descriptors",)
        if self.uses_descriptors:
            kinds += ("descriptors",)
        return kinds

    def predict_windows(self, mel: np.ndarray, coch: np.ndarray, batch: int = 256,
                        fast: bool = False, descriptors: np.ndarray | None = None) -> WindowPrediction:
        """``fast``: bf16 autocast where the CPU computes bf16 natively (fast_cpu_inference()):
        1.6x faster on the whole-track trajectory, probabilities within 0.002 of float32
        (benchmarks/bench_trajectory.py). Static predictions and evaluation stay float32.
        ``descriptors``: a row per window, for a bundle whose fusion layer takes them."""
        if self.fusion_descriptors and (descriptors is None or len(descriptors) != len(mel)):
            raise ValueError(f"this bundle's fusion layer takes the musical descriptors of each of the {len(mel)} windows")
        import torch

        from damer_core.model.maths import cuda_amp_dtype, js_divergence

        if fast and self.device.type == "cpu" and fast_cpu_inference():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.predict_windows(mel, coch, batch, descriptors=descriptors)
        if fast and self.device.type == "cuda" and not torch.is_autocast_enabled("cuda"):
            with torch.autocast("cuda", dtype=cuda_amp_dtype()):
                return self.predict_windows(mel, coch, batch, descriptors=descriptors)

        n = mel.shape[0]
        prob = {d: np.full(n, np.nan, np.float32) for d in DIMENSIONS}
        conf = {d: np.full(n, np.nan, np.float32) for d in DIMENSIONS}
        quadrant = np.full((n, 4), np.nan) if QUADRANT in self.models else None
        reliability = {d: np.full(n, np.nan) for d in self.models}
        with torch.inference_mode():
            for i in range(0, n, batch):
                m, c = (self._to_device(x[i:i + batch]) for x in (mel, coch))
                d = self._to_device(descriptors[i:i + batch]) if descriptors is not None else None
                for dim, model in self.models.items():
                    out = model(m, c, d if model.cfg.n_descriptors else None)
                    p_fuse = softmax(out.z_fuse.float().cpu().numpy(), self.temperature[dim])
                    r = torch.exp(-js_divergence(torch.softmax(out.z_mel.float(), -1), torch.softmax(out.z_coch.float(), -1)))
                    reliability[dim][i:i + batch] = r = r.cpu().numpy()
                    if dim == QUADRANT:
                        quadrant[i:i + batch] = p_fuse
                        continue
                    prob[dim][i:i + batch] = p_fuse[:, 1]
                    conf[dim][i:i + batch] = r * p_fuse.max(axis=-1)
        r = np.mean(list(reliability.values()), axis=0)
        if quadrant is None and set(DIMENSIONS) <= set(self.models):
            quadrant = quadrant_probabilities(prob["valence"], prob["arousal"])
        elif quadrant is not None:
            return dimension_prediction(quadrant, r)
        return WindowPrediction(prob, conf, tuple(self.models), quadrant, r)

    def combined(self, damer: WindowPrediction, descriptors: np.ndarray | None) -> WindowPrediction:
        """DAMER's windows combined with the descriptor head's on the matching descriptor windows
        (the bundle's stack); DAMER's alone where the bundle has no descriptor head."""
        if self.combination is None:
            return damer
        if descriptors is None or damer.quadrant is None:
            raise ValueError("this bundle combines DAMER with musical descriptors: both are needed")
        p = self.combination.probabilities(damer.quadrant, self.descriptor_head.probabilities(descriptors))
        return dimension_prediction(p, damer.reliability)

    def _to_device(self, x: np.ndarray):
        """On a GPU through pinned memory: the copy runs while the previous batch computes."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def trajectory_from_frames(self, seq: FrameSequence, duration: float, batch: int = 64, fast: bool = True,
                               should_stop: Callable[[], bool] | None = None,
                               on_part: Callable[[Trajectory, int], None] | None = None,
                               descriptors: np.ndarray | None = None) -> Trajectory:
        """Windows are cut and predicted a batch at a time: stacking all of a 2 h track's windows
        at once took 2 GB. ``should_stop`` is asked before each batch (True: :class:`Interrupted`);
        ``on_part`` gets the trajectory so far, and the number of points in all, every few batches.
        ``descriptors``: one row per trajectory point (the "trajectory_descriptors" kind), for a
        bundle that combines DAMER with the descriptor head."""
        cfg = self.feature_config
        times, starts = trajectory_starts(seq.n_frames, duration, cfg)
        unique, first, inverse = np.unique(starts, return_index=True, return_inverse=True)
        if ((self.combination is not None or self.fusion_descriptors)
                and (descriptors is None or len(descriptors) != len(times))):
            raise ValueError(f"this bundle needs the descriptors of all {len(times)} trajectory points")
        # a window clamped at an edge serves several points: it takes the first one's descriptors
        window_descriptors = descriptors[first] if self.fusion_descriptors else None

        def so_far(parts: list[WindowPrediction]) -> Trajectory:
            """The trajectory from 0 s as far as the windows predicted so far reach (the times map to
            windows in order, so those form a prefix; all of it once every window is predicted)."""
            pred = WindowPrediction.concatenate(parts)
            m = int(np.searchsorted(inverse, len(pred.valence)))
            at = self.combined(pred.take(inverse[:m]), None if descriptors is None else descriptors[:m])
            return Trajectory(times[:m], at.valence, at.arousal, at.overall_confidence)

        parts: list[WindowPrediction] = []
        for i in range(0, len(unique), batch):
            if should_stop is not None and should_stop():
                raise Interrupted
            chunk = unique[i:i + batch]
            mel = np.stack([seq.mel[:, s:s + cfg.n_frames] for s in chunk])
            coch = np.stack([seq.coch[:, s:s + cfg.n_frames] for s in chunk])
            d = None if window_descriptors is None else window_descriptors[i:i + batch]
            parts.append(self.predict_windows(mel, coch, batch, fast=fast, descriptors=d))
            if on_part is not None and len(parts) % PART_EVERY == 1 and i + batch < len(unique):
                on_part(so_far(parts), len(times))
        return so_far(parts)

    def predict_static(self, path: str | os.PathLike) -> StaticPrediction:
        """The static V-A only: the model segment's windows, not the whole-track trajectory (the
        library's first pass; about a sixth of the work of :meth:`predict_file`)."""
        return self.static_from_features(path, track_features(path, self.feature_config, self.kinds(False), self.cache))

    def static_from_features(self, path: str | os.PathLike, feats: dict[str, dict[str, np.ndarray]]) -> StaticPrediction:
        """The track's V-A from the "train" kind (and "descriptors" where the bundle has a
        descriptor head): DAMER's windows averaged; where there is a combination, the two models'
        averaged probabilities combined, as the stack was fitted; a descriptor head alone, its
        windows' probabilities averaged."""
        train = feats["train" if self.models else "descriptors"]
        if not self.models:
            p = self.descriptor_head.probabilities(feats["descriptors"]["windows"]).mean(axis=0, keepdims=True)
            static = dimension_prediction(p, np.ones(1))
        else:
            static = self.predict_windows(train["mel"], train["coch"], descriptors=feats.get(
                "train_descriptors", {}).get("windows") if self.fusion_descriptors else None)
        if self.combination is not None:  # the stack was fitted on tracks' mean probabilities
            p_descriptors = self.descriptor_head.probabilities(feats["descriptors"]["windows"]).mean(axis=0, keepdims=True)
            p = self.combination.probabilities(static.quadrant.mean(axis=0, keepdims=True), p_descriptors)
            static = dimension_prediction(p, np.array([static.reliability.mean()]))
        pred = StaticPrediction(str(path), float(static.valence.mean()), float(static.arousal.mean()),
                                float(static.overall_confidence.mean()), float(train["duration"]), tuple(self.dimensions))
        return _flag_unusable_audio(pred, train)

    def predict_file(self, path: str | os.PathLike) -> TrackPrediction:
        """Static V-A (mean over the model segment's windows), confidence and the trajectory."""
        return self.predict_from_features(path, track_features(path, self.feature_config, self.kinds(True), self.cache))

    def predict_from_features(self, path: str | os.PathLike, feats: dict[str, dict[str, np.ndarray]],
                              should_stop: Callable[[], bool] | None = None,
                              on_part: Callable[[Trajectory, int], None] | None = None) -> TrackPrediction:
        """:meth:`predict_file` from the "frames" and "train" kinds of damer_core.extract; the
        callbacks as in :meth:`trajectory_from_frames` (no parts of a near-silent track's)."""
        cfg = self.feature_config
        static = self.static_from_features(path, feats)
        if not self.models:
            traj = self.descriptor_trajectory(feats["trajectory_descriptors"])
            return self._track_prediction(static, traj)
        f = feats["frames"]
        if f["mel"].shape[1] < cfg.n_frames:  # a track shorter than one window: repeat like the segment
            reps = -(-cfg.n_frames // f["mel"].shape[1])
            seq = FrameSequence(np.tile(f["mel"], reps), np.tile(f["coch"], reps))
        else:
            seq = FrameSequence(f["mel"], f["coch"])
        traj = self.trajectory_from_frames(seq, float(f["duration"]), should_stop=should_stop,
                                           on_part=None if static.warning else on_part,
                                           descriptors=feats.get("trajectory_descriptors", {}).get("windows"))
        return self._track_prediction(static, traj)

    def descriptor_trajectory(self, described: dict[str, np.ndarray]) -> Trajectory:
        """A descriptor head alone: one point per trajectory time from its window's descriptors
        (there is no second view to agree or disagree: r = 1)."""
        times = trajectory.grid(float(described["duration"]))
        at = dimension_prediction(self.descriptor_head.probabilities(described["windows"]), np.ones(len(times)))
        return Trajectory(times, at.valence, at.arousal, at.overall_confidence)

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
