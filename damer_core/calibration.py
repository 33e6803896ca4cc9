"""Temperature scaling (Guo et al. 2017) of the fused head, one temperature per dimension, fitted
on the validation part (docs/SPEC.md section 5): P(high) = sigmoid((z_high - z_low) / T). Accuracy and
AUC of a window do not change; the probability, and so the marker's distance from the centre,
comes to mean how often the model is right."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from damer_core.metrics import expected_calibration_error, log_loss, top_class_ece
from damer_core.scoring import calibrated, softmax

T_MIN, T_MAX = 0.05, 20.0


def fit_temperature(margin: np.ndarray, y: np.ndarray) -> float:
    """The T in [0.05, 20] that minimises the validation log-loss; 1.0 when there is nothing to fit
    (no samples, or one class only, where any T would just push every probability to that class)."""
    y = np.asarray(y).astype(bool)
    if y.size == 0 or y.all() or not y.any():
        return 1.0
    res = minimize_scalar(lambda log_t: log_loss(y, calibrated(margin, np.exp(log_t))),
                          bounds=(np.log(T_MIN), np.log(T_MAX)), method="bounded")
    return float(np.exp(res.x))


def calibration_report(margin: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, float]:
    """ECE and log-loss before (T = 1) and after temperature scaling."""
    before, after = calibrated(margin, 1.0), calibrated(margin, temperature)
    return {"ece_before": expected_calibration_error(y, before), "ece_after": expected_calibration_error(y, after),
            "nll_before": log_loss(y, before), "nll_after": log_loss(y, after), "n": int(np.asarray(y).size)}


def multiclass_log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean -log p[y] (probabilities clipped at 1e-12)."""
    y = np.asarray(y, dtype=np.int64)
    if y.size == 0:
        return float("nan")
    return float(-np.mean(np.log(np.clip(p[np.arange(y.size), y], 1e-12, 1.0))))


def fit_temperature_logits(logits: np.ndarray, y: np.ndarray) -> float:
    """:func:`fit_temperature` for C classes: the T in [0.05, 20] minimising the log-loss of
    softmax(logits / T); 1.0 when fewer than two classes are present."""
    y = np.asarray(y, dtype=np.int64)
    if y.size == 0 or np.unique(y).size < 2:
        return 1.0
    res = minimize_scalar(lambda log_t: multiclass_log_loss(y, softmax(logits, np.exp(log_t))),
                          bounds=(np.log(T_MIN), np.log(T_MAX)), method="bounded")
    return float(np.exp(res.x))


def multiclass_calibration_report(logits: np.ndarray, y: np.ndarray, temperature: float) -> dict[str, float]:
    """:func:`calibration_report` for C classes (top-class ECE)."""
    before, after = softmax(logits, 1.0), softmax(logits, temperature)
    return {"ece_before": top_class_ece(y, before), "ece_after": top_class_ece(y, after),
            "nll_before": multiclass_log_loss(y, before), "nll_after": multiclass_log_loss(y, after),
            "n": int(np.asarray(y).size)}
