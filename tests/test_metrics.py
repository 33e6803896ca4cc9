"""Quadrant scores, calibration error, bootstrap intervals and temperature scaling."""

import numpy as np
import pytest

from damer_core.calibration import calibration_report, fit_temperature
from damer_core.metrics import (
    binary_report,
    bootstrap_interval,
    expected_calibration_error,
    macro_f1,
    roc_auc,
)
from damer_core.scoring import calibrated, quadrant_scores
from damer_core.targets import quadrant_index


def test_quadrants_have_one_code_0_to_3():
    assert quadrant_index([1, 0, 0, 1], [1, 1, 0, 0]).tolist() == [0, 1, 2, 3]  # Q1..Q4
    p = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.7, 0.1, 0.1], [0.1, 0.1, 0.7, 0.1], [0.1, 0.1, 0.7, 0.1]])
    r = quadrant_scores(np.array([0, 1, 2, 3]), p)
    assert r["quadrant_acc"] == 0.75  # the last track: Q3 instead of Q4
    assert r["macro_f1"] == pytest.approx(np.mean([1, 1, 2 / 3, 0]))
    assert macro_f1([1, 1, 2, 2], [1, 1, 2, 2]) == 1.0


def test_the_written_out_metrics_agree_with_scikit_learn():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(3)
    for _ in range(20):
        y, pred = rng.integers(0, 4, 60), rng.integers(0, 4, 60)
        pred[pred == 3] = 2  # a class never predicted
        labels = np.union1d(y, pred)
        assert macro_f1(y, pred) == pytest.approx(f1_score(y, pred, labels=labels, average="macro"))
        yb, score = rng.integers(0, 2, 60), rng.normal(size=60).round(1)  # ties
        assert roc_auc(yb, score) == pytest.approx(roc_auc_score(yb, score))


def test_undefined_auc_is_nan_not_zero():
    r = binary_report(np.array([1, 1, 1]), np.array([0.2, 0.9, 0.6]))
    assert np.isnan(r["auc"]) and r["acc"] == pytest.approx(2 / 3) and r["n"] == 3


def test_ece_is_zero_for_calibrated_and_large_for_overconfident_predictions():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    y = rng.uniform(0, 1, p.size) < p  # outcomes drawn with the stated probability
    assert expected_calibration_error(y, p) < 0.01
    overconfident = np.where(p >= 0.5, 0.99, 0.01)
    assert expected_calibration_error(y, overconfident) > 0.2


def test_temperature_recovers_an_overconfident_model():
    rng = np.random.default_rng(1)
    true_margin = rng.normal(0, 2, 50_000)
    y = rng.uniform(0, 1, true_margin.size) < calibrated(true_margin, 1.0)
    over = 3.0 * true_margin  # a model three times too sure
    t = fit_temperature(over, y)
    assert t == pytest.approx(3.0, rel=0.05)
    rep = calibration_report(over, y, t)
    assert rep["ece_before"] > 0.1 > 0.02 > rep["ece_after"] and rep["nll_after"] < rep["nll_before"]
    assert fit_temperature(over[:10], np.ones(10, bool)) == 1.0  # one class: nothing to fit


def test_bootstrap_interval_covers_the_value_and_narrows_with_more_tracks():
    rng = np.random.default_rng(2)
    stat = lambda y: float(np.mean(y))  # noqa: E731
    small, large = rng.uniform(0, 1, 50) < 0.7, rng.uniform(0, 1, 2000) < 0.7
    lo_s, hi_s = bootstrap_interval(stat, (small,))
    lo_l, hi_l = bootstrap_interval(stat, (large,))
    assert lo_s <= small.mean() <= hi_s and lo_l <= large.mean() <= hi_l
    assert hi_l - lo_l < (hi_s - lo_s) / 3
