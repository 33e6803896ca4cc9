"""Metrics: the paper's binary accuracy, F1 of the positive class and ROC AUC; log-loss and
calibration error; 4-quadrant accuracy and macro-F1; bootstrap intervals over tracks."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else float("nan")


def f1_positive(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = np.sum(y_true & y_pred)
    denom = 2 * tp + np.sum(~y_true & y_pred) + np.sum(y_true & ~y_pred)
    return float(2 * tp / denom) if denom else float("nan")  # no positive label and none predicted: undefined


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney formulation, ties counted half; NaN when only one class is present."""
    y_true = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # on first use: the analysis worker imports scoring, never this

    ranks = rankdata(np.asarray(score, dtype=np.float64))
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_report(y_true: np.ndarray, p_positive: np.ndarray) -> dict[str, float]:
    """Accuracy, F1, AUC (NaN = undefined: one class only), log-loss and the number of tracks."""
    pred = (np.asarray(p_positive) >= 0.5).astype(int)
    return {"acc": accuracy(y_true, pred), "f1": f1_positive(y_true, pred), "auc": roc_auc(y_true, p_positive),
            "nll": log_loss(y_true, p_positive), "n": int(np.asarray(y_true).size)}


def log_loss(y_true: np.ndarray, p_positive: np.ndarray) -> float:
    """Mean negative log-likelihood of the labels (natural log); NaN for no samples."""
    y = np.asarray(y_true).astype(bool)
    p = np.clip(np.asarray(p_positive, dtype=np.float64), 1e-7, 1 - 1e-7)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p)))) if y.size else float("nan")


def expected_calibration_error(y_true: np.ndarray, p_positive: np.ndarray, n_bins: int = 10) -> float:
    """ECE of the predicted class's probability: the mean |accuracy - confidence| over 10 equal-width
    confidence bins (0.5..1), weighted by the bins' share of samples."""
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(p_positive, dtype=np.float64)
    pred = p >= 0.5
    return binned_calibration_error(pred == y, np.where(pred, p, 1 - p), 0.5, n_bins)


def binned_calibration_error(correct: np.ndarray, confidence: np.ndarray, lowest: float, n_bins: int = 10) -> float:
    """The mean |accuracy - confidence| over ``n_bins`` equal-width bins of the confidence from
    ``lowest`` to 1, weighted by the bins' share of samples; NaN for no samples."""
    if not np.asarray(correct).size:
        return float("nan")
    bins = np.minimum(((confidence - lowest) / (1.0 - lowest) * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            ece += sel.mean() * abs(correct[sel].mean() - confidence[sel].mean())
    return float(ece)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, classes=(0, 1, 2, 3)) -> float:
    """Mean over ``classes`` (the quadrant codes 0..3 of damer_core.targets) of each class's F1; a
    class never predicted nor present is left out. scikit-learn's ``f1_score(average="macro",
    labels=<those present>)`` gives the same (tests/test_metrics.py checks it); this one is written
    out because the bootstrap calls it thousands of times and sklearn's checks cost ~1 ms a call."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    scores = []
    for c in classes:
        tp = np.sum((y_true == c) & (y_pred == c))
        denom = 2 * tp + np.sum((y_true != c) & (y_pred == c)) + np.sum((y_true == c) & (y_pred != c))
        if denom:
            scores.append(2 * tp / denom)
    return float(np.mean(scores)) if scores else float("nan")


def bootstrap_interval(statistic, arrays: tuple[np.ndarray, ...], n_resamples: int = 2000, seed: int = 0,
                       level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*arrays)`` resampling rows (tracks) with
    replacement; resamples where the statistic is undefined (NaN) are dropped."""
    return bootstrap_intervals(lambda *a: {"": statistic(*a)}, arrays, ("",), n_resamples, seed, level)[""]


def bootstrap_intervals(statistics, arrays: tuple[np.ndarray, ...], keys: tuple[str, ...], n_resamples: int = 2000,
                        seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """:func:`bootstrap_interval` of each of ``keys`` in the dict ``statistics(*arrays)`` returns,
    from one set of resamples: the rows one call per figure would draw, each resample scored once."""
    n = len(arrays[0])
    kept: dict[str, list[float]] = {key: [] for key in keys}
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples if n else 0):
        rows = rng.integers(0, n, n)
        figures = statistics(*(a[rows] for a in arrays))
        for key in keys:
            if figures[key] == figures[key]:
                kept[key].append(figures[key])
    out = {}
    for key, v in kept.items():
        lo, hi = np.quantile(v, [(1 - level) / 2, 1 - (1 - level) / 2]) if v else (float("nan"), float("nan"))
        out[key] = (float(lo), float(hi))
    return out


def quadrant_probability_report(y_quadrant: np.ndarray, p_quadrant: np.ndarray) -> dict[str, float]:
    """A joint head's report from class indices 0..3 (Q1..Q4) and probabilities ``[n, 4]``: 4-class
    accuracy, macro-F1 (as ``f1``), log-loss, each dimension's binary report from P(Q1) + P(Q4) and
    P(Q1) + P(Q2), and ``auc`` = the mean of the two dimensions' AUCs (what chooses an epoch)."""
    from damer_core.targets import AROUSAL_HIGH, VALENCE_HIGH, dimension_probabilities

    y = np.asarray(y_quadrant, dtype=np.int64)
    p = np.asarray(p_quadrant, dtype=np.float64)
    if y.size == 0:
        nan = float("nan")
        return {"acc": nan, "f1": nan, "auc": nan, "nll": nan, "n": 0}
    pred = p.argmax(axis=1)
    p_v, p_a = dimension_probabilities(p)
    valence = binary_report(VALENCE_HIGH[y].astype(int), p_v)
    arousal = binary_report(AROUSAL_HIGH[y].astype(int), p_a)
    nll = float(-np.mean(np.log(np.clip(p[np.arange(y.size), y], 1e-12, 1.0))))
    aucs = [a for a in (valence["auc"], arousal["auc"]) if np.isfinite(a)]  # one class only: undefined
    return {"acc": accuracy(y, pred), "f1": macro_f1(y, pred), "auc": float(np.mean(aucs)) if aucs else float("nan"),
            "nll": nll, "n": int(y.size), **{f"valence_{k}": v for k, v in valence.items() if k != "n"},
            **{f"arousal_{k}": v for k, v in arousal.items() if k != "n"}}


def top_class_ece(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error of the most probable class (Guo et al. 2017), 10 bins over 0..1."""
    y = np.asarray(y, dtype=np.int64)
    if y.size == 0:
        return float("nan")
    return binned_calibration_error(p.argmax(axis=1) == y, p.max(axis=1), 0.0, n_bins)
