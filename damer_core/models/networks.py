"""The DAMER networks kind (paper section IV; docs/SPEC.md sections 4-6): one network per
dimension (binary) or one with the joint 4-way quadrant head, each with or without the musical
descriptors in its fusion layer. Windows are predicted in batches; a track's static prediction is
its model segment's windows, its trajectory the sliding windows of the whole track."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from damer_core.contract.dimensions import DIMENSIONS
from damer_core.contract.model_card import Figure, ModelDescription
from damer_core.features.spectra import MEL, MUSICNN_LAYERS, FeatureConfig, FrameSequence, trajectory_starts
from damer_core.models.base import NETWORK_SETTINGS, Features, OnPart
from damer_core.models.figures import quadrant_figure
from damer_core.models.header import DAMER as KIND
from damer_core.models.header import BundleHeader
from damer_core.models.predictions import Trajectory, WindowPrediction, dimension_prediction
from damer_core.scoring import means_by_id, softmax, windows_of
from damer_core.targets import QUADRANT, by_dimension, quadrant_probabilities

if TYPE_CHECKING:
    import torch

    from damer_core.datasets.base import FeatureSet
    from damer_core.models.network import DAMER

PART_EVERY = 4  # batches between two parts of a trajectory (the first part after the first batch)
Combine = Callable[[WindowPrediction, "np.ndarray | None"], WindowPrediction]


class Interrupted(Exception):
    """A trajectory stopped between batches because its ``should_stop`` said so."""


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


def part_reports(entry: dict) -> dict[str, dict]:
    """A network's reports by part ("val", "test"); a bundle from before the validation part had
    one report, shown as "held-out"."""
    metrics = entry.get("metrics", {}) or {}
    return {"held-out": metrics} if "fuse" in metrics else metrics


class DamerNetworks:
    """Probabilities are calibrated by each network's temperature (fitted on the validation part,
    stored in the bundle; 1.0 for bundles from before calibration)."""

    kind: ClassVar[str] = KIND

    def __init__(self, header: BundleHeader, model_config: dict, networks: dict[str, DAMER], entries: dict[str, dict]):
        import torch

        self.header = header
        self.model_config = model_config
        self.networks = networks
        self.entries = entries  # each network's epoch, temperature and metrics (no weights)
        self.temperature = {d: float(e.get("temperature", 1.0)) for d, e in entries.items()}
        self.feature_config = FeatureConfig.from_dict(header.feature_config)
        self.device = torch.device("cpu")

    @classmethod
    def from_bundle(cls, bundle: dict, path: str | os.PathLike = "<bundle>") -> DamerNetworks:
        from damer_core.models.checkpoint import build_models

        entries = {d: {k: v for k, v in e.items() if k != "state_dict"} for d, e in bundle["dimensions"].items()}
        return cls(BundleHeader.read(bundle), dict(bundle["model_config"]), build_models(bundle, path), entries)

    # -- what it is ----------------------------------------------------------------------------
    @property
    def joint(self) -> bool:
        return QUADRANT in self.networks

    @property
    def dimensions(self) -> tuple[str, ...]:
        return DIMENSIONS if self.joint else tuple(d for d in DIMENSIONS if d in self.networks)

    @property
    def fusion_descriptors(self) -> bool:
        """A network's fusion layer takes each window's musical descriptors (ModelConfig.n_descriptors)."""
        return any(m.cfg.n_descriptors for m in self.networks.values())

    @property
    def settings(self) -> tuple[str, ...]:
        return NETWORK_SETTINGS

    def members(self) -> list:
        return []

    def to(self, device: str) -> DamerNetworks:
        import torch

        self.device = torch.device(device)
        for m in self.networks.values():
            m.to(self.device)
        return self

    def feature_kinds(self, trajectory: bool) -> tuple[str, ...]:
        kinds: tuple[str, ...] = ("frames", "train") if trajectory else ("train",)
        if self.fusion_descriptors:
            kinds += ("train_descriptors",) + (("trajectory_descriptors",) if trajectory else ())
        return kinds

    # -- prediction ----------------------------------------------------------------------------
    def predict_windows(self, mel: np.ndarray, coch: np.ndarray, batch: int = 256,
                        fast: bool = False, descriptors: np.ndarray | None = None) -> WindowPrediction:
        """``fast``: bf16 autocast where the CPU computes bf16 natively (fast_cpu_inference()):
        1.6x faster on the whole-track trajectory, probabilities within 0.002 of float32
        (benchmarks/bench_trajectory.py). Static predictions and evaluation stay float32.
        ``descriptors``: a row per window, for networks whose fusion layer takes them."""
        if self.fusion_descriptors and (descriptors is None or len(descriptors) != len(mel)):
            raise ValueError(f"this model's fusion layer takes the musical descriptors of each of the {len(mel)} windows")
        import torch

        from damer_core.models.network.maths import cuda_amp_dtype, js_divergence

        if fast and self.device.type == "cpu" and fast_cpu_inference():
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.predict_windows(mel, coch, batch, descriptors=descriptors)
        if fast and self.device.type == "cuda" and not torch.is_autocast_enabled("cuda"):
            with torch.autocast("cuda", dtype=cuda_amp_dtype()):
                return self.predict_windows(mel, coch, batch, descriptors=descriptors)

        n = mel.shape[0]
        prob = {d: np.full(n, np.nan, np.float32) for d in DIMENSIONS}
        conf = {d: np.full(n, np.nan, np.float32) for d in DIMENSIONS}
        quadrant = np.full((n, 4), np.nan)
        reliability = {d: np.full(n, np.nan) for d in self.networks}
        with torch.inference_mode():
            for i in range(0, n, batch):
                m, c = (self._to_device(x[i:i + batch]) for x in (mel, coch))
                d = self._to_device(descriptors[i:i + batch]) if descriptors is not None else None
                for dim, model in self.networks.items():
                    out = model(m, c, d if model.cfg.n_descriptors else None)
                    p_fuse = softmax(out.z_fuse.float().cpu().numpy(), self.temperature[dim])
                    r = torch.exp(-js_divergence(torch.softmax(out.z_mel.float(), -1), torch.softmax(out.z_coch.float(), -1)))
                    reliability[dim][i:i + batch] = r_np = r.cpu().numpy()
                    if dim == QUADRANT:
                        quadrant[i:i + batch] = p_fuse
                        continue
                    prob[dim][i:i + batch] = p_fuse[:, 1]
                    conf[dim][i:i + batch] = r_np * p_fuse.max(axis=-1)
        r_mean = np.mean(list(reliability.values()), axis=0)
        if self.joint:
            return dimension_prediction(quadrant, r_mean)
        both = set(DIMENSIONS) <= set(self.networks)
        q = quadrant_probabilities(prob["valence"], prob["arousal"]) if both else None
        return WindowPrediction(prob, conf, tuple(self.networks), q, r_mean)

    def _to_device(self, x: np.ndarray) -> torch.Tensor:
        """On a GPU through pinned memory: the copy runs while the previous batch computes."""
        import torch

        t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def static(self, feats: Features) -> WindowPrediction:
        train = feats["train"]
        d = feats["train_descriptors"]["windows"] if self.fusion_descriptors else None
        return self.predict_windows(train["mel"], train["coch"], descriptors=d)

    def trajectory(self, feats: Features, fast: bool = True, should_stop: Callable[[], bool] | None = None,
                   on_part: OnPart | None = None, combine: Combine | None = None) -> Trajectory:
        """From the "frames" kind (and "trajectory_descriptors" where they are needed); a track
        shorter than one window is repeated to fill it, as its model segment is."""
        f = feats["frames"]
        n = self.feature_config.n_frames
        mel, coch = f["mel"], f["coch"]
        if mel.shape[1] < n:
            reps = -(-n // mel.shape[1])
            mel, coch = np.tile(mel, reps), np.tile(coch, reps)
        described = feats.get("trajectory_descriptors")
        return self.trajectory_from_frames(FrameSequence(mel, coch), float(f["duration"]), fast=fast,
                                           should_stop=should_stop, on_part=on_part, combine=combine,
                                           descriptors=None if described is None else described["windows"])

    def trajectory_from_frames(self, seq: FrameSequence, duration: float, batch: int = 64, fast: bool = True,
                               should_stop: Callable[[], bool] | None = None, on_part: OnPart | None = None,
                               descriptors: np.ndarray | None = None, combine: Combine | None = None) -> Trajectory:
        """Windows are cut and predicted a batch at a time: stacking all of a 2 h track's windows
        at once took 2 GB. ``on_part`` gets the trajectory so far, and the number of points in all,
        every few batches. ``descriptors``: one row per trajectory point, for a fusion layer that
        takes them or a ``combine`` (a stack's) that needs them."""
        cfg = self.feature_config
        times, starts = trajectory_starts(seq.n_frames, duration, cfg)
        unique, first, inverse = np.unique(starts, return_index=True, return_inverse=True)
        needs = self.fusion_descriptors or combine is not None
        if needs and (descriptors is None or len(descriptors) != len(times)):
            raise ValueError(f"this model needs the descriptors of all {len(times)} trajectory points")
        # a window clamped at an edge serves several points: it takes the first one's descriptors
        window_descriptors = descriptors[first] if self.fusion_descriptors and descriptors is not None else None

        def so_far(parts: list[WindowPrediction]) -> Trajectory:
            """The trajectory from 0 s as far as the windows predicted so far reach (the times map to
            windows in order, so those form a prefix; all of it once every window is predicted)."""
            pred = WindowPrediction.concatenate(parts)
            m = int(np.searchsorted(inverse, len(pred.valence)))
            at = pred.take(inverse[:m])
            if combine is not None:
                at = combine(at, None if descriptors is None else descriptors[:m])
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

    # -- scoring -------------------------------------------------------------------------------
    def evaluation_sets(self) -> tuple[str, ...]:
        return ("model+descriptors",) if self.fusion_descriptors else ("model",)

    def track_probabilities(self, sets: dict[str, FeatureSet], track_ids: np.ndarray,
                            calibrated: bool = True) -> dict[str, np.ndarray]:
        """``calibrated`` False: the raw softmax (a stack was fitted on DAMER's uncalibrated means)."""
        from damer_core.models.network.heads import head_logits

        fs = sets[self.evaluation_sets()[0]]
        idx = windows_of(fs, track_ids)
        out: dict[str, np.ndarray] = {}
        for dim, net in self.networks.items():
            p = softmax(head_logits(net, fs, idx, self.device)["fuse"], self.temperature[dim] if calibrated else 1.0)
            rows = means_by_id(fs, idx, p, track_ids)
            if dim == QUADRANT:
                out.update(by_dimension(rows))
            else:
                out[dim] = rows[:, 1]
        if QUADRANT not in out and set(DIMENSIONS) <= set(out):
            out[QUADRANT] = quadrant_probabilities(out["valence"], out["arousal"])
        return out

    # -- description and storage ---------------------------------------------------------------
    def describe(self) -> ModelDescription:
        h, mc = self.header, self.model_config
        form = "joint quadrant head" if self.joint else "one network per dimension: " + ", ".join(self.networks)
        extras = [f"{mc['n_descriptors']} musical descriptors in the fusion layer"] if mc.get("n_descriptors") else []
        if self.feature_config.mel_path != MEL:
            layers = MUSICNN_LAYERS[self.feature_config.mel_path]
            extras.insert(0, f"Mel stream through {layers} (MSD, ISC licence, Pons & Serra 2019)")
        summary = ", ".join([form] + extras)
        return ModelDescription(
            kind=self.kind, kind_name=h.kind_name, summary=summary, data=h.data_name, n_tracks=h.data.get("n_tracks"),
            created=h.created, feature_preset=str(h.feature_config.get("name", "")), dimensions=self.dimensions,
            auc=self.auc_figures(), macro_f1=quadrant_figure(h) if len(self.dimensions) == 2 else None,
            settings=self.settings)

    def auc_figures(self) -> dict[str, Figure]:
        """Each dimension's AUC on the network's held-out part (test, else validation)."""
        out = {}
        for dim in self.dimensions:
            metrics = part_reports(self.entries[QUADRANT if self.joint else dim])
            part = next((p for p in ("test", "val", "held-out") if p in metrics), None)
            if part is None:
                continue
            fuse = metrics[part].get("fuse") or {}
            key = f"{dim}_auc" if self.joint else "auc"
            out[dim] = Figure.of(fuse.get(key), (fuse.get("interval") or {}).get(key), fuse.get("n"), part)
        return out

    def bundle_parts(self) -> dict:
        return {"model_config": self.model_config,
                "dimensions": {d: {**self.entries[d], "state_dict": {k: v.detach().cpu() for k, v in
                                                                     net.state_dict().items()}}
                               for d, net in self.networks.items()}}

