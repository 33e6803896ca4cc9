"""A model is tried before it is used: its bundle's checks (damer_core.models.bundle_checks), then
predictions on a few very different generated sounds. A bundle can pass every field check and
still be useless: weights that make it say the same thing whatever it hears, or that fail only
when it computes. `damer-core info --check` runs this, and the app runs that before a model
becomes the one in use."""

from __future__ import annotations

import json
import os

import numpy as np

from damer_core.contract.errors import BundleError

SECONDS = 8.0
# Below this spread of a dimension's mean over the sounds, the model is taken as constant in it. A
# working model moves by tenths between silence-like noise, loud bursts, a low chord and clicks
# (the built-in one by 0.4 and more); one pinned to a corner by its intercept moves by thousandths.
CONSTANT_SPREAD = 0.02


def generated_sounds(sample_rate: int, seconds: float = SECONDS) -> dict[str, np.ndarray]:
    """Four sounds as far apart as generated audio gets: soft noise, loud bursts, a slow low
    chord, fast bright clicks. Seeded, so a check gives the same answer every time."""
    rng = np.random.default_rng(0)
    n = int(seconds * sample_rate)
    t = np.arange(n) / sample_rate
    white = rng.standard_normal(n)
    soft = np.convolve(white, np.ones(64) / 64, mode="same")  # low-passed: dull and quiet
    bursts = white * (np.sin(2 * np.pi * 4.0 * t) > 0.3)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (110.0, 138.6, 164.8)) * (0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t))
    clicks = np.zeros(n)
    clicks[:: sample_rate // 8] = 1.0
    clicks = np.convolve(clicks, np.sin(2 * np.pi * 2000.0 * np.arange(200) / sample_rate), mode="same")
    sounds = {"soft noise": 0.02 * soft, "loud bursts": 0.5 * bursts, "low chord": 0.1 * chord, "bright clicks": 0.5 * clicks}
    return {name: y.astype(np.float32) for name, y in sounds.items()}


def sound_features(cfg, kinds: tuple[str, ...]) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Each generated sound's features of ``kinds``, brought to the loudness every track is
    analysed at; computed once per feature settings (a process that checks many models pays once)."""
    key = (json.dumps(cfg.to_dict(), sort_keys=True), kinds)
    if key not in _FEATURES:
        from damer_core.audio.decoding import gain_to_target, metered
        from damer_core.features.extract import KINDS

        out = {}
        for name, y in generated_sounds(cfg.sample_rate, max(SECONDS, cfg.window_seconds + 4.0)).items():
            y = y * np.float32(gain_to_target(metered(y, cfg.sample_rate).loudness().lufs))
            out[name] = {k: KINDS[k](y, cfg, f"<{name}>") for k in kinds}
        _FEATURES[key] = out
    return _FEATURES[key]


_FEATURES: dict[tuple[str, tuple[str, ...]], dict] = {}


def check_predictions(path: str | os.PathLike, device: str = "cpu") -> dict[str, tuple[float, float]]:
    """Load the bundle at ``path`` (all its checks) and predict each test sound; returns each
    sound's mean (valence, arousal). Raises :class:`BundleError` when it cannot predict, predicts
    something that is not a number, or predicts the same for all of them."""
    from damer_core.inference.predictor import Predictor

    predictor = Predictor(path, device)
    model = predictor.model
    dims = model.dimensions  # a model of one dimension leaves the other NaN: only what it predicts is checked
    means: dict[str, tuple[float, float]] = {}
    for name, feats in sound_features(predictor.feature_config, model.feature_kinds(True)).items():
        try:
            traj = model.trajectory(feats, fast=True)
            v, a = float(np.mean(traj.valence)), float(np.mean(traj.arousal))
        except Exception as e:  # noqa: BLE001 - whatever its weights make the code do, it is the model's fault
            detail = " ".join(str(e).split())[:200] or type(e).__name__
            raise BundleError(path, f"cannot predict ({type(e).__name__}: {detail}); the bundle is damaged or "
                                    "was made by an incompatible program") from None
        if not all(np.isfinite(x) for x, dim in ((v, "valence"), (a, "arousal")) if dim in dims):
            raise BundleError(path, f"predicts no number (NaN or inf) for generated {name}: its weights are damaged")
        means[name] = (v, a)
    for i, dim in enumerate(("valence", "arousal")):  # each dimension it predicts must move
        values = [m[i] for m in means.values()]
        if dim in dims and np.ptp(values) < CONSTANT_SPREAD:
            raise BundleError(path, f"predicts the same {dim} ({values[0]:+.2f}) for very different sounds: its "
                                    "weights make it constant, so its predictions would mean nothing")
    if {"valence", "arousal"} <= set(dims) and max(abs(v - a) for v, a in means.values()) < CONSTANT_SPREAD:
        raise BundleError(path, "predicts valence equal to arousal for every sound: its weights tell one thing, "
                                "not two, so its words on the circle would mean nothing")
    return means
