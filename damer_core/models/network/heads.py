"""A DAMER network's three heads (mel, cochleogram, fused) run over a data set's windows and
scored per track: the logits, margins and probabilities, the report each epoch's selection reads,
and the calibration figures of the chosen epoch."""

from __future__ import annotations

import numpy as np
import torch

from damer_core.calibration import calibration_report, multiclass_calibration_report
from damer_core.datasets.base import FeatureSet
from damer_core.metrics import binary_report, bootstrap_intervals, quadrant_probability_report
from damer_core.models.network import DAMER
from damer_core.models.network.loader import device_batch
from damer_core.scoring import part_means, softmax


def selection_score(report: dict[str, dict[str, float]]) -> float:
    """What picks the epoch: the fused head's validation AUC; where AUC is undefined (one class),
    minus the log-loss instead, so an undefined AUC never wins."""
    fuse = report["fuse"]
    auc = fuse.get("auc", float("nan"))
    return float(auc) if np.isfinite(auc) else -float(fuse.get("nll", np.inf)) - 10.0


def no_report(n_classes: int) -> dict[str, dict[str, float]]:
    """Every head's figures as NaN: what an epoch reports without a validation part."""
    nan = float("nan")
    return {h: {"acc": nan, "f1": nan, "auc": nan, "nll": nan, "n": 0} for h in ("fuse", "mel", "coch")}


def calibration_figures(logits: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, float]:
    if logits.shape[1] == 2:
        return calibration_report(logits[:, 1] - logits[:, 0], y, temperature)
    return multiclass_calibration_report(logits, y, temperature)


def windows_at_once(model: DAMER, batch: int) -> int:
    """How many windows ``model`` takes at once where ``batch`` suits windows of bands: a few where
    its front end runs on each window's patches (16 windows' first timbral layer alone hold 0.3 GB)."""
    return min(batch, 16) if model.front_end is not None else batch


@torch.no_grad()
def head_logits(model: DAMER, fs: FeatureSet, idx: np.ndarray, device, batch: int = 256) -> dict[str, np.ndarray]:
    """Logits ``[n, C]`` per head for windows ``np.sort(idx)``."""
    model.eval()
    out: dict[str, list[np.ndarray]] = {"mel": [], "coch": [], "fuse": []}
    idx = np.sort(idx)
    batch = windows_at_once(model, batch)
    for i in range(0, idx.size, batch):
        mel, coch, desc, _ = device_batch(fs, idx[i:i + batch], device, model.cfg.n_descriptors > 0)
        o = model(mel, coch, desc)
        for name, z in (("mel", o.z_mel), ("coch", o.z_coch), ("fuse", o.z_fuse)):
            out[name].append(z.float().cpu().numpy().astype(np.float64))
    c = model.cfg.n_classes
    return {k: (np.concatenate(v) if v else np.zeros((0, c))) for k, v in out.items()}


def head_margins(model: DAMER, fs: FeatureSet, idx: np.ndarray, device, batch: int = 256) -> dict[str, np.ndarray]:
    """Logit margin z_high - z_low per head of a two-class network, for windows ``np.sort(idx)``."""
    return {k: z[:, 1] - z[:, 0] for k, z in head_logits(model, fs, idx, device, batch).items()}


def head_probabilities(model: DAMER, fs: FeatureSet, idx: np.ndarray, device, temperature: float = 1.0) -> dict[str, np.ndarray]:
    """Class probabilities ``[n, C]`` per head for windows ``np.sort(idx)``; the fused head's are
    calibrated by ``temperature``."""
    logits = head_logits(model, fs, idx, device)
    return {k: softmax(z, temperature if k == "fuse" else 1.0) for k, z in logits.items()}


def evaluate_heads(model: DAMER, fs: FeatureSet, idx: np.ndarray, labels: np.ndarray, device,
                   temperature: float = 1.0, intervals: bool = False) -> dict[str, dict]:
    """Per head ACC / F1 / AUC / log-loss on windows ``idx`` (for the joint head, F1 is the quadrant
    macro-F1 and AUC the mean of the two dimensions', see quadrant_probability_report); a track's
    window probabilities are averaged first, so clip-level data sets are scored per track like the
    published one-row-per-track arrays. ``intervals``: the fused head's report also holds 95 %
    bootstrap intervals over tracks (``interval``: {metric: [lo, hi]}), as the test part's does."""
    idx = np.sort(idx)
    probs = head_probabilities(model, fs, idx, device, temperature)
    _, y = part_means(fs, idx, labels[idx].astype(np.float64))
    y = y.round().astype(int)
    keys: tuple[str, ...]
    if model.cfg.n_classes == 2:
        report, keys = (lambda yy, pp: binary_report(yy, pp[:, 1])), ("acc", "auc")
    else:
        report, keys = quadrant_probability_report, ("acc", "f1", "valence_auc", "arousal_auc")
    out: dict[str, dict] = {head: report(y, part_means(fs, idx, p)[1]) for head, p in probs.items()}
    if intervals:
        p_fuse = part_means(fs, idx, probs["fuse"])[1]
        bounds = bootstrap_intervals(report, (y, p_fuse), keys, n_resamples=1000)
        out["fuse"]["interval"] = {k: list(v) for k, v in bounds.items()}
    return out
