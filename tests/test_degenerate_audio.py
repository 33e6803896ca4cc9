"""Near-silent or degenerate audio says so instead of claiming an emotion, and the loudness that
decides it is BS.1770's (pyloudnorm's measure, computed in blocks)."""

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf
from app_helpers import tagged

from damer_core.audio.decoding import LoudnessMeter, loudness_lufs
from damer_core.features.cache import FeatureCache
from damer_core.inference.predictor import Predictor

SR = 22_050
BUILTIN = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"


def degenerate(kind: str, seconds: float = 30.0) -> np.ndarray:
    n = int(seconds * SR)
    if kind == "digital silence":
        return np.zeros(n, np.float32)
    if kind == "1e-38 signal":
        return np.full(n, 1e-38, np.float32)
    if kind == "DC offset":
        return np.full(n, 0.3, np.float32)
    if kind == "single click":
        y = np.zeros(n, np.float32)
        y[n // 2] = 0.9
        return y
    if kind == "one second of noise in 30":
        y = np.zeros(n, np.float32)
        y[SR:2 * SR] = np.random.default_rng(0).standard_normal(SR).astype(np.float32) * 0.3
        return y
    raise ValueError(kind)


@pytest.fixture(scope="module")
def predictor():
    return Predictor(BUILTIN)


@pytest.mark.parametrize("kind", ["digital silence", "1e-38 signal", "DC offset", "single click",
                                  "one second of noise in 30"])
def test_near_silent_audio_claims_no_emotion(tmp_path, predictor, kind):
    path = tmp_path / "x.wav"
    sf.write(path, degenerate(kind), SR, subtype="FLOAT")
    predictor.cache = FeatureCache(tmp_path / "cache")
    p = predictor.predict_file(path)
    assert p.warning.startswith("near-silent audio") and "no emotion predicted" in p.warning
    assert (p.valence, p.arousal, p.confidence) == (0.0, 0.0, 0.0)
    assert np.all(p.trajectory.confidence == 0.0) and np.all(p.trajectory.valence == 0.0)
    again = predictor.predict_file(path)  # from the feature cache: the flag survives
    assert again.warning == p.warning


def test_music_is_not_flagged(tmp_path, predictor):
    path = tagged(tmp_path / "music.flac", 12.0, seed=3)
    predictor.cache = FeatureCache(tmp_path / "cache")
    p = predictor.predict_file(path)
    assert p.warning == "" and p.confidence > 0.2 and p.to_dict()["warning"] == ""


@pytest.mark.parametrize("rate", [16_000, 22_050, 44_100, 48_000])
@pytest.mark.parametrize("seconds", [0.41, 3.3, 25.7])
def test_the_block_meter_is_pyloudnorms_measure(rate, seconds):
    rng = np.random.default_rng(int(rate * seconds))
    n = int(seconds * rate)
    y = (rng.standard_normal(n) * np.linspace(0.001, 0.5, n)).astype(np.float32)
    expected = pyloudnorm.Meter(rate).integrated_loudness(y.astype(np.float64))
    meter = LoudnessMeter(rate)
    start = 0
    while start < n:  # blocks of odd sizes, as a decoder gives them
        size = int(rng.integers(1, 40_000))
        meter.feed(y[start:start + size])
        start += size
    assert meter.lufs() == pytest.approx(expected, abs=1e-6)
    assert loudness_lufs(y, rate) == pytest.approx(expected, abs=1e-6)
