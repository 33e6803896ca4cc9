"""The trajectory grid, smoothing and the marker's interpolation (damer_core.contract.trajectory)."""

import numpy as np
import pytest

from damer_core.contract.trajectory import SMOOTHING_SIGMA_S, grid, smooth, value_at
from damer_core.features.spectra import CLIP, CONTEXT, frame_count, trajectory_starts, window_end_frame


def test_points_lie_on_an_exact_half_second_grid():
    duration = 300.0
    times = grid(duration)
    assert times[0] == 0.0 and times[-1] == 300.0 and len(times) == 601
    assert np.array_equal(times, np.arange(601) * 0.5)  # no drift: 0.49923 s steps would be 0.46 s off by 5 min
    for cfg in (CLIP, CONTEXT):
        n = frame_count(int(duration * cfg.sample_rate), cfg)
        t, starts = trajectory_starts(n, duration, cfg)
        assert np.array_equal(t, times)
        # the window for t ends at the last frame that ends by t (clamped at the start)
        k = 400
        assert starts[k] == window_end_frame(times[k], cfg) - cfg.n_frames


def test_smoothing_removes_jitter_but_follows_a_real_change():
    rng = np.random.default_rng(0)
    step = np.r_[np.full(60, -0.6), np.full(60, 0.6)]  # a change of mood at 30 s
    noisy = np.clip(step + rng.normal(0, 0.5, step.size), -1, 1)
    s = smooth(noisy)
    assert np.abs(np.diff(s)).max() < np.abs(np.diff(noisy)).max() / 3
    assert abs(s[:50].mean() + 0.6) < 0.1 and abs(s[70:].mean() - 0.6) < 0.1
    # an impulse spreads as a Gaussian of the documented width
    impulse = np.zeros(41)
    impulse[20] = 1.0
    width = smooth(impulse)
    sigma_points = np.sqrt(np.sum(width * (np.arange(41) - 20) ** 2) / width.sum())
    assert sigma_points * 0.5 == pytest.approx(SMOOTHING_SIGMA_S, rel=0.05)


def test_smoothing_keeps_nan_for_a_dimension_not_predicted():
    assert np.isnan(smooth(np.full(10, np.nan))).all()
    x = np.r_[np.ones(5), np.nan, np.ones(5)]
    s = smooth(x)
    assert np.isnan(s[5]) and np.allclose(s[~np.isnan(s)], 1.0)


def test_the_marker_glides_between_points():
    times = np.array([0.0, 0.5, 1.0])
    values = np.array([0.0, 1.0, 0.0])
    assert value_at(times, values, 0.25) == pytest.approx(0.5)
    assert value_at(times, values, 7.0) == 0.0 and value_at(times, values, -1) == 0.0
