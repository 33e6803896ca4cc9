"""Every score written once: a track's prediction as the mean of its windows', the calibrated
probabilities (temperature scaling: sigmoid(margin / T) for one dimension, softmax(logits / T) for
C classes) and the quadrant figures every model is compared by (trainer, run, evaluation,
selection, build and inference use these)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from damer_core.metrics import accuracy, bootstrap_intervals, macro_f1, roc_auc, top_class_ece
from damer_core.targets import dimension_probabilities

if TYPE_CHECKING:
    from damer_core.datasets.base import FeatureSet

QUADRANT_METRICS = ("valence_acc", "arousal_acc", "quadrant_acc", "macro_f1", "valence_auc", "arousal_auc")


def track_means(tracks: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct tracks, sorted; the mean of ``values`` (``[n]`` or ``[n, C]``) over each
    track's windows): a track's prediction from its windows'. ``tracks[i]`` owns ``values[i]``."""
    keys, inverse = np.unique(tracks, return_inverse=True)
    values = np.asarray(values, dtype=np.float64)
    sums = np.zeros((keys.size,) + values.shape[1:])
    np.add.at(sums, inverse, values)
    return keys, sums / np.bincount(inverse, minlength=keys.size).reshape((-1,) + (1,) * (values.ndim - 1))


def part_means(fs: FeatureSet, idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`track_means` of windows ``np.sort(idx)`` of a data set (``values`` aligned with them)."""
    return track_means(fs.track[np.sort(idx)], values)


def windows_of(fs: FeatureSet, track_ids: np.ndarray) -> np.ndarray:
    """The indices, sorted, of the windows of the tracks whose data-set ids are ``track_ids``."""
    return np.flatnonzero(np.isin(fs.ids[fs.track], track_ids))


def means_by_id(fs: FeatureSet, idx: np.ndarray, values: np.ndarray, track_ids: np.ndarray) -> np.ndarray:
    """:func:`part_means` of windows ``np.sort(idx)`` (``values`` aligned with them), one row per
    id of ``track_ids``, in that order: two data sets' predictions of the same tracks side by side."""
    tracks, means = part_means(fs, idx, values)
    row = {t: i for i, t in enumerate(fs.ids[tracks])}
    return means[[row[t] for t in track_ids]]


def calibrated(margin: np.ndarray, temperature: float) -> np.ndarray:
    """P(high) from the fused logit margin z_high - z_low."""
    return 1.0 / (1.0 + np.exp(-np.asarray(margin, dtype=np.float64) / temperature))


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Class probabilities from logits ``[n, C]`` divided by ``temperature``; for two classes
    column 1 equals :func:`calibrated` of the margin z1 - z0."""
    z = np.asarray(logits, dtype=np.float64) / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def quadrant_scores(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """The figures every model is compared by, from quadrant labels 0..3 (Q1..Q4) and quadrant
    probabilities ``[n, 4]``."""
    y = np.asarray(y, np.int64)
    pred = p.argmax(axis=1)
    p_v, p_a = dimension_probabilities(p)
    v_true, a_true = np.isin(y, (0, 3)), np.isin(y, (0, 1))
    return {"valence_acc": accuracy(v_true, p_v >= 0.5), "arousal_acc": accuracy(a_true, p_a >= 0.5),
            "quadrant_acc": accuracy(y, pred), "macro_f1": macro_f1(y, pred),
            "valence_auc": roc_auc(v_true, p_v), "arousal_auc": roc_auc(a_true, p_a), "n": int(y.size)}


def quadrant_report(y: np.ndarray, p: np.ndarray, seed: int = 0) -> dict:
    """:func:`quadrant_scores` with 95 % bootstrap intervals over tracks, the confusion matrix and
    the top-class calibration error: what a model's test part reports."""
    point = quadrant_scores(y, p)
    intervals = bootstrap_intervals(quadrant_scores, (y, p), QUADRANT_METRICS, seed=seed)
    return {**point, "interval": intervals, "confusion": confusion(y, p), "ece": top_class_ece(y, p)}


def confusion(y: np.ndarray, p: np.ndarray) -> list[list[int]]:
    """4x4 counts, rows the true quadrant Q1..Q4 (labels 0..3), columns the most probable one."""
    counts = np.zeros((4, 4), dtype=int)
    np.add.at(counts, (np.asarray(y, np.int64), p.argmax(axis=1)), 1)
    return counts.tolist()


CHANGE_METRICS = ("macro_f1", "quadrant_acc", "valence_acc", "arousal_acc")


def paired_change(y: np.ndarray, p_before: np.ndarray, p_after: np.ndarray, seed: int = 0) -> dict:
    """after - before of each of :data:`CHANGE_METRICS` on the same tracks, with 95 % intervals
    from one paired bootstrap (a resample scores both models on the same tracks): whether a
    change is more than the luck of which tracks were held out."""
    def change(y_: np.ndarray, b: np.ndarray, a: np.ndarray) -> dict[str, float]:
        before, after = quadrant_scores(y_, b), quadrant_scores(y_, a)
        return {k: after[k] - before[k] for k in CHANGE_METRICS}

    return {**change(y, p_before, p_after),
            "interval": bootstrap_intervals(change, (np.asarray(y), p_before, p_after), CHANGE_METRICS, seed=seed)}
