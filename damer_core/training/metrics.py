"""Binary classification metrics of the paper's tables: accuracy, F1 of the positive class, ROC AUC."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    return float((y_true == y_pred).mean()) if y_true.size else float("nan")


def f1_positive(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    tp = np.sum(y_true & y_pred)
    denom = 2 * tp + np.sum(~y_true & y_pred) + np.sum(y_true & ~y_pred)
    return float(2 * tp / denom) if denom else 0.0


def roc_auc(y_true: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney formulation, ties counted half; NaN when only one class is present."""
    y_true = np.asarray(y_true).astype(bool)
    n_pos, n_neg = int(y_true.sum()), int((~y_true).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(score, dtype=np.float64))
    return float((ranks[y_true].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def binary_report(y_true: np.ndarray, p_positive: np.ndarray) -> dict[str, float]:
    pred = (np.asarray(p_positive) >= 0.5).astype(int)
    return {"acc": accuracy(y_true, pred), "f1": f1_positive(y_true, pred), "auc": roc_auc(y_true, p_positive)}
