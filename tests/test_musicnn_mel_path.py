"""DAMER with a pretrained Mel path (docs/SPEC.md section 5b, the `context-musicnn` preset):
musicnn's front and mid-end as the Mel stream's frames, the same in blocks as at once, on the
track's own frame grid; the preset leaves the older configs' cache keys alone; a bundle says
and checks what its Mel stream reads; and such a network trains, predicts files and learns."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from test_fusion_descriptors import labelled_songs

from damer_core.audio.synthetic import chord_music
from damer_core.features import musicnn
from damer_core.features.spectra import CONTEXT, CONTEXT_MUSICNN, FeatureConfig, frame_sequence, training_windows

RATE = 22_050
HOP_S = CONTEXT.hop_length / CONTEXT.sample_rate


def by_hand(y16: np.ndarray, start: int, frame: int, counts_from: int = 0) -> np.ndarray:
    """Frame ``frame`` of the track's grid from the patch of ``y16`` (16 kHz) that starts at sample
    ``start``: the mean of its mid-end frames whose centres round to it (from ``counts_from`` on)."""
    mel = musicnn.log_mel(y16[None, start:start + musicnn.PATCH_SAMPLES])[:, :musicnn.PATCH_FRAMES]
    with torch.inference_mode():
        out = musicnn.load_musicnn().features(torch.from_numpy(mel))[0, musicnn.FRONT_CHANNELS:].numpy()
    centres = start + np.arange(musicnn.PATCH_FRAMES) * musicnn.HOP
    mine = (np.rint(centres / musicnn.SAMPLE_RATE / HOP_S) == frame) & (centres >= counts_from)
    assert mine.any()
    return out[:, mine].mean(axis=1)


def test_the_frames_are_the_mid_ends_averaged_onto_the_tracks_frames():
    import soxr

    y = chord_music(7.0, True, False, RATE, seed=2)  # two whole patches and a tail
    n = 1 + y.size // CONTEXT.hop_length
    frames = musicnn.midend_frames(y, RATE, n, HOP_S)
    assert frames.shape == (musicnn.MIDEND_CHANNELS, n) and np.isfinite(frames).all()
    y16 = soxr.resample(y, RATE, musicnn.SAMPLE_RATE).astype(np.float32)
    for j in (0, 1, 20):  # the first patch's
        np.testing.assert_allclose(frames[:, j], by_hand(y16, 0, j), atol=2e-3)
    whole = 2 * musicnn.PATCH_SAMPLES  # the last frames come from the patch that ends where the track ends
    np.testing.assert_allclose(frames[:, -1], by_hand(y16, y16.size - musicnn.PATCH_SAMPLES, n - 1, whole), atol=2e-3)
    j = int(np.rint(whole / musicnn.SAMPLE_RATE / HOP_S)) - 2  # before the tail's frames begin: the second patch's
    np.testing.assert_allclose(frames[:, j], by_hand(y16, musicnn.PATCH_SAMPLES, j), atol=2e-3)


def test_in_blocks_as_at_once_and_a_short_track_repeated():
    y = chord_music(8.3, False, True, RATE, seed=4)
    n = 1 + y.size // CONTEXT.hop_length
    acc = musicnn.MidEndFrames(RATE, n, HOP_S)
    for i in range(0, y.size, 7_919):
        acc.feed(y[i:i + 7_919])
    np.testing.assert_allclose(acc.finish(), musicnn.midend_frames(y, RATE, n, HOP_S), atol=1e-4)
    import soxr

    short = y[:int(1.2 * RATE)]
    n = 1 + short.size // CONTEXT.hop_length
    frames = musicnn.midend_frames(short, RATE, n, HOP_S)
    short16 = soxr.resample(short, RATE, musicnn.SAMPLE_RATE).astype(np.float32)
    repeated = np.resize(short16, musicnn.PATCH_SAMPLES)  # repeated to fill a patch, never padded with silence
    for j in (0, n - 1):
        np.testing.assert_allclose(frames[:, j], by_hand(repeated, 0, j), atol=2e-3)


def test_the_preset_reads_musicnn_and_the_other_configs_keep_their_keys():
    assert "mel_path" not in CONTEXT.to_dict() and FeatureConfig.from_dict(CONTEXT.to_dict()) == CONTEXT
    assert CONTEXT_MUSICNN.to_dict()["mel_path"] == "musicnn" and CONTEXT_MUSICNN.hash != CONTEXT.hash
    assert FeatureConfig.from_dict(CONTEXT_MUSICNN.to_dict()) == CONTEXT_MUSICNN
    y = chord_music(9.0, True, True, RATE, seed=1)
    seq, plain = frame_sequence(y, CONTEXT_MUSICNN), frame_sequence(y, CONTEXT)
    assert seq.mel.shape == (192, plain.n_frames) and np.array_equal(seq.coch, plain.coch)
    mel, coch = training_windows(y, CONTEXT_MUSICNN)
    assert mel.shape[1:] == (192, CONTEXT.n_frames) and mel.shape[0] == coch.shape[0] > 1


def test_a_bundle_checks_what_its_mel_stream_reads():
    from damer_core.models.bundle_checks import _check_feature_config
    from damer_core.models.bundle_fields import FieldError

    assert _check_feature_config(CONTEXT_MUSICNN.to_dict()) == CONTEXT_MUSICNN
    with pytest.raises(FieldError, match="mel_path"):
        _check_feature_config({**CONTEXT.to_dict(), "mel_path": "vggish"})
    with pytest.raises(FieldError, match="must be 192"):
        _check_feature_config(replace(CONTEXT_MUSICNN, n_mels=128).to_dict())


@pytest.fixture(scope="module")
def musicnn_run(tmp_path_factory):
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    labels = labelled_songs(tmp_path_factory.mktemp("songs"), n=16, seconds=8.0)
    tcfg = TrainConfig(epochs=5, batch_size=8, dims=("quadrant",), seed=0)
    return labels, train(DataArgs(str(labels), preset="context-musicnn"), tcfg,
                         tmp_path_factory.mktemp("musicnn") / "run", "cpu")


@pytest.mark.slow
def test_a_network_that_listens_through_musicnn_trains_and_predicts_files(musicnn_run):
    from damer_core.inference.predictor import Predictor
    from damer_core.models.bundle_info import describe_bundle
    from damer_core.models.checkpoint import load_checkpoint

    labels, best = musicnn_run
    bundle = load_checkpoint(best)
    assert bundle["feature_config"]["mel_path"] == "musicnn" and bundle["model_config"]["n_mel"] == 192
    assert bundle["dimensions"]["quadrant"]["state_dict"]["mel_mean"].shape == (192, 1)
    lines = describe_bundle(bundle, str(best))
    assert "musicnn's front and mid-end (192 channels" in "\n".join(lines)
    p = Predictor(best)
    assert "Mel stream through musicnn" in p.model.describe().summary
    song = labels.parent / "s03.wav"
    pred = p.predict_file(song)
    assert np.isfinite(pred.valence) and len(pred.trajectory.times) == 17 and np.isfinite(pred.trajectory.arousal).all()
    assert pred.valence == pytest.approx(p.predict_static(song).valence)
    fit = [r for r in (best.parent / "metrics.csv").read_text().splitlines()[1:]]
    assert len(fit) == 5


def test_the_opening_keeps_only_the_points_the_whole_tracks_patches_give():
    from damer_core.inference.opening import trusted_until

    assert trusted_until(CONTEXT, 8.0) == 7.0
    until = trusted_until(CONTEXT_MUSICNN, 8.0)  # two whole patches end at 5.984 s
    assert until == pytest.approx(2 * musicnn.PATCH_SECONDS - HOP_S) and 5.9 < until < 5.95


@pytest.mark.slow
def test_evaluate_compares_it_with_a_model_of_another_preset_on_the_same_tracks(musicnn_run, tmp_path):
    """Each model reads the tracks featurised its own way; the pairs are the same tracks."""
    import json

    from damer_core.cli.main import main
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    labels, best = musicnn_run
    plain = train(DataArgs(str(labels), preset="context"), TrainConfig(epochs=2, batch_size=8, dims=("quadrant",)),
                  tmp_path / "plain", "cpu")
    out = tmp_path / "paired.json"
    assert main(["evaluate", "--dataset", str(labels), "--checkpoint", str(best), "--against", str(plain),
                 "--json", str(out), "--progress", "none"]) == 0
    paired = json.loads(out.read_text())["against"]
    assert paired["n_tracks"] > 0 and paired["model"]["macro_f1"] == pytest.approx(
        json.loads(out.read_text())["quadrant"]["macro_f1"]["value"])
    d = paired["difference"]["quadrant_acc"]
    assert d["value"] == pytest.approx(paired["model"]["quadrant_acc"] - paired["against"]["quadrant_acc"])
    assert d["low"] <= d["value"] <= d["high"]
