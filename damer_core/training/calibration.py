"""Temperature scaling (Guo et al. 2017) of the fused head, one temperature per dimension, fitted
on the validation part (SPEC section 5): P(high) = sigmoid((z_high - z_low) / T). Accuracy and
AUC of a window do not change; the probability, and so the marker's distance from the centre,
comes to mean how often the model is right."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar

from damer_core.training.metrics import expected_calibration_error, log_loss

T_MIN, T_MAX = 0.05, 20.0


def calibrated(margin: np.ndarray, temperature: float) -> np.ndarray:
    """P(high) from the fused logit margin z_high - z_low."""
    return 1.0 / (1.0 + np.exp(-np.asarray(margin, dtype=np.float64) / temperature))


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
