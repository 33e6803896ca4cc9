"""Long files are read twice in blocks instead of held in memory: the streamed features equal the
in-memory ones (the path is switched on for a short generated track by lowering the threshold)."""

from pathlib import Path

import numpy as np
import pytest
from app_helpers import tagged

from damer_core.contract import display
from damer_core.features import extract
from damer_core.features.cache import FeatureCache
from damer_core.features.spectra import CLIP, preset


@pytest.mark.parametrize("cfg", [CLIP, preset("context"), preset("context-musicnn"), preset("context-musicnn-tuned")],
                         ids=["clip", "context", "context-musicnn", "context-musicnn-tuned"])
def test_streamed_features_equal_the_in_memory_ones(tmp_path, monkeypatch, cfg):
    track = tagged(tmp_path / "long.flac", 95.0, seed=4)  # longer than the 15-75 s model segment
    kinds = ("frames", "train", "display")
    whole = extract.track_features(track, cfg, kinds, FeatureCache(tmp_path / "a"))
    streamed_calls = []
    original = extract._streamed
    monkeypatch.setattr(extract, "_streamed", lambda *a: streamed_calls.append(1) or original(*a))
    monkeypatch.setattr(extract, "LONG_SECONDS", 30)
    streamed = extract.track_features(track, cfg, kinds, FeatureCache(tmp_path / "b"))
    assert streamed_calls == [1]
    for kind in kinds:
        assert whole[kind].keys() == streamed[kind].keys()
        for name, a in whole[kind].items():
            b = streamed[kind][name]
            assert a.shape == b.shape, (kind, name)
            # the views are stored in 8-bit dB steps: a value on a step's edge may round either way
            step = -display.DB_FLOOR / 255 if name.endswith("_db") else 0.0
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 + step, err_msg=f"{kind}.{name}")
            assert np.mean(np.abs(b - a) > 1e-4) < 1e-4, f"{kind}.{name}"


def test_a_file_that_changes_between_the_two_passes_says_so(tmp_path, monkeypatch):
    from damer_core.audio.decoding import AudioError, DecodeStream, blocks_for_model

    track = tagged(tmp_path / "t.wav", 20.0, seed=1)
    n, _, blocks = blocks_for_model(DecodeStream(track, 22_050))
    tagged(track, 12.0, seed=2)  # rewritten shorter before the second pass
    with pytest.raises(AudioError, match="changed while it was being read"):
        for _ in blocks():
            pass


def test_streaming_with_a_hop_longer_than_a_frame(tmp_path):
    """A bundle may set hop_length > frame_length: frames skip samples, and the streamed buffer
    must not lose its place (it did: 448x off)."""
    from dataclasses import replace

    from damer_core.features.spectra import BandEnergies, band_energies

    cfg = replace(CLIP, frame_length=512, n_fft=512, hop_length=2048)
    y = np.random.default_rng(0).standard_normal(22_050 * 7 + 123).astype(np.float32) * 0.1
    whole = band_energies(y, cfg)
    acc = BandEnergies(cfg, y.shape[0])
    for start in range(0, y.shape[0], 3001):
        acc.feed(y[start:start + 3001])
    streamed = acc.finish()
    for a, b in zip(whole, streamed):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_streamed_descriptors_give_the_built_in_models_prediction(tmp_path, monkeypatch):
    """The descriptor and embedding kinds on the streamed path: the segment's descriptors exactly, the
    trajectory's block by block (damer_core.features.descriptors.BlockDescriptors), musicnn's patches
    (damer_core.features.musicnn.BlockEmbeddings), and the same prediction."""
    from damer_core.features.cache import NoCache
    from damer_core.inference.predictor import Predictor

    track = tagged(tmp_path / "long.flac", 95.0, seed=4)
    p = Predictor(Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt", "cpu", NoCache())
    kinds = tuple(dict.fromkeys(p.kinds(trajectory=True) + ("descriptors", "trajectory_descriptors",)))  # the built-in reads none
    whole = extract.track_features(track, p.feature_config, kinds, NoCache())
    monkeypatch.setattr(extract, "LONG_SECONDS", 30)
    streamed = extract.track_features(track, p.feature_config, kinds, NoCache())
    np.testing.assert_allclose(streamed["descriptors"]["windows"], whole["descriptors"]["windows"], rtol=1e-3, atol=1e-3)
    a, b = whole["trajectory_descriptors"]["windows"], streamed["trajectory_descriptors"]["windows"]
    assert a.shape == b.shape
    assert np.median(np.abs(a - b) / (np.abs(a).max(axis=0) + 1e-3)) < 1e-4
    for kind in ("embeddings", "trajectory_embeddings"):  # musicnn's patches: the same in blocks as at once
        np.testing.assert_allclose(streamed[kind]["patches"], whole[kind]["patches"], atol=1e-4)
    assert int(streamed["embeddings"]["windows"]) == int(whole["embeddings"]["windows"]) == len(whole["descriptors"]["windows"])
    got, expected = p.predict_from_features(track, streamed), p.predict_from_features(track, whole)
    assert (got.valence, got.arousal) == (pytest.approx(expected.valence, abs=1e-3), pytest.approx(expected.arousal, abs=1e-3))
    np.testing.assert_allclose(got.trajectory.valence, expected.trajectory.valence, atol=0.05)
