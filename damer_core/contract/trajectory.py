"""Trajectory maths shared by inference and the app (numpy only: the GUI imports it).

Points lie on an exact 0.5 s grid (docs/SPEC.md section 5): point i is the prediction for the window
ending at ``i * 0.5`` s. Neighbouring 1 s windows can disagree a lot, so the display uses a
smoothed copy: a centred Gaussian with sigma = 1.5 s (full width at half maximum 3.5 s), its
weights renormalised at the track's ends and around missing values. The raw values stay in the
bundle's output (`damer-core predict --format trajectory-csv`)."""

from __future__ import annotations

import numpy as np

STEP_S = 0.5
SMOOTHING_SIGMA_S = 1.5


def grid(duration_s: float) -> np.ndarray:
    """0, 0.5, 1.0, ... up to the end of the track."""
    return np.arange(int(np.floor(duration_s / STEP_S + 1e-9)) + 1) * STEP_S


def smooth(values: np.ndarray, sigma_s: float = SMOOTHING_SIGMA_S, step_s: float = STEP_S) -> np.ndarray:
    """Gaussian smoothing along the time grid; NaN (a dimension the bundle does not predict) stays
    NaN and does not leak into its neighbours."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or sigma_s <= 0:
        return values.copy()
    radius = int(np.ceil(3 * sigma_s / step_s))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) * step_s / sigma_s) ** 2)
    known = np.isfinite(values)
    window = slice(radius, radius + values.size)  # "same" size, also when the kernel is the longer one
    num = np.convolve(np.where(known, values, 0.0), kernel)[window]
    den = np.convolve(known.astype(np.float64), kernel)[window]
    out = np.full(values.shape, np.nan)
    np.divide(num, den, out=out, where=known & (den > 0))
    return out


def displayed(stored: dict, sigma_s: float | None = None) -> dict:
    """What the display shows of a stored trajectory: window values (marked ``"raw": true``, as the
    app's library stores them) smoothed now, with :data:`SMOOTHING_SIGMA_S` unless ``sigma_s`` is
    given, so a change of the smoothing shows on every analysed track without analysing it again;
    a trajectory stored already smoothed (libraries analysed before) as it is."""
    if not stored.get("raw"):
        return stored
    sigma = SMOOTHING_SIGMA_S if sigma_s is None else sigma_s
    out: dict = {"t": stored["t"]}
    for key in ("valence", "arousal", "confidence"):
        values = np.array([np.nan if v is None else v for v in stored.get(key, [])], dtype=np.float64)
        out[key] = [None if not np.isfinite(x) else round(float(x), 4) for x in smooth(values, sigma)]
    return out


def index_at(times: np.ndarray, t: float) -> int:
    """Index of the last point at or before ``t`` (clamped to the trajectory)."""
    return int(np.clip(np.searchsorted(times, t, side="right") - 1, 0, len(times) - 1))


def value_at(times: np.ndarray, values: np.ndarray, t: float) -> float:
    """``values`` linearly interpolated at ``t`` (held at the ends): the marker glides between
    the 0.5 s points instead of jumping."""
    return float(np.interp(t, times, values))
