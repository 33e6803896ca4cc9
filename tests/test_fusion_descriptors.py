"""DAMER with the musical descriptors as an extra input to its fusion layer (docs/SPEC.md section 5):
the descriptors of the 4 s window ending where each model window ends travel with the windows
through training, the bundle, the static prediction and the trajectory."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from synthdata import write_song

from damer_core.features.descriptors import NAMES, descriptors_at, frame_streams
from damer_core.features.extract import KINDS, track_features
from damer_core.features.spectra import CLIP, training_segment, training_window_ends
from damer_core.inference.predictor import Predictor
from damer_core.models.checkpoint import load_checkpoint
from damer_core.models.network import DAMER, ModelConfig
from damer_core.training.config import TrainConfig
from damer_core.training.run import DataArgs, train

pytestmark = pytest.mark.slow  # trains DAMER with descriptors on generated music

N_DESCRIPTORS = len(NAMES)


def labelled_songs(root, n: int = 24, seconds: float = 6.0):
    """Major = valence high, fast = arousal high: quadrant music the descriptors can tell apart."""
    rows = []
    for i in range(n):
        major, fast = bool(i % 2), bool((i // 2) % 2)
        path = write_song(root / f"s{i:02d}.wav", major, fast, seconds=seconds, seed=900 + i)
        rows.append((path.name, 0.6 if major else -0.6, 0.6 if fast else -0.6))
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "valence", "arousal"])
        w.writerows(rows)
    return root / "labels.csv"


def test_each_training_window_gets_the_descriptors_of_the_4_s_ending_where_it_ends():
    rng = np.random.default_rng(3)
    y = (0.1 * rng.standard_normal(CLIP.sample_rate * 100)).astype(np.float32)  # past the 15-75 s segment
    train = KINDS["train"](y, CLIP, "x.wav")
    described = KINDS["train_descriptors"](y, CLIP, "x.wav")["windows"]
    assert described.shape == (train["mel"].shape[0], N_DESCRIPTORS)
    seg = training_segment(y, CLIP, "x.wav")
    ends = training_window_ends(train["mel"].shape[0], CLIP)
    assert ends[0] == pytest.approx(CLIP.window_seconds) and np.diff(ends) == pytest.approx(
        CLIP.train_hop_frames * CLIP.hop_length / CLIP.sample_rate)
    np.testing.assert_allclose(described, descriptors_at(frame_streams(seg), ends), rtol=1e-6)
    # and not some other window's: the segment starts 15 s in, not at 0 s
    assert not np.allclose(described, descriptors_at(frame_streams(y[:seg.shape[0]]), ends), rtol=1e-3)


def test_the_fusion_layer_takes_the_descriptors_and_refuses_to_run_without_them():
    cfg = ModelConfig(n_frames=16, n_mel=8, n_coch=6, d_model=16, fusion_dim=32, n_descriptors=5, n_classes=4)
    model = DAMER(cfg).eval()
    mel, coch = torch.randn(3, 8, 16), torch.randn(3, 6, 16)
    d = torch.randn(3, 5)
    model.set_descriptor_normalisation(np.zeros(5), np.ones(5))
    out = model(mel, coch, d)
    assert out.z_fuse.shape == (3, 4)
    # the fused head (only) depends on the descriptors; the two stream heads do not
    other = model(mel, coch, d + 1.0)
    assert not torch.allclose(out.z_fuse, other.z_fuse)
    torch.testing.assert_close(out.z_mel, other.z_mel)
    with pytest.raises(ValueError, match="descriptors"):
        model(mel, coch)
    with pytest.raises(ValueError, match="descriptors"):
        model(mel, coch, torch.randn(3, 4))
    with pytest.raises(ValueError, match="descriptors"):
        DAMER(ModelConfig(n_frames=16, n_mel=8, n_coch=6, d_model=16, fusion_dim=32))(mel, coch, d)
    # a window far outside the training range cannot swamp the fusion input
    huge = model(mel, coch, torch.full((3, 5), 1e9))
    assert torch.isfinite(huge.z_fuse).all()


@pytest.fixture(scope="module")
def fusion_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("songs")
    labels = labelled_songs(root)
    tcfg = TrainConfig(epochs=6, batch_size=8, dims=("quadrant",), descriptors=True, seed=1)
    return labels, train(DataArgs(str(labels)), tcfg, tmp_path_factory.mktemp("fusion") / "run", "cpu")


@pytest.mark.slow
def test_a_fusion_model_trains_bundles_and_predicts_files(fusion_run):
    labels, best = fusion_run
    bundle = load_checkpoint(best)
    assert bundle["model_config"]["n_descriptors"] == N_DESCRIPTORS
    assert bundle["train_config"]["descriptors"] is True
    state = bundle["dimensions"]["quadrant"]["state_dict"]
    assert state["desc_mean"].shape == (N_DESCRIPTORS,) and float(state["desc_std"].min()) > 0
    from damer_core.models.bundle_info import describe_bundle

    lines = describe_bundle(bundle, str(best))
    assert "(kind damer," in lines[0] and f"{N_DESCRIPTORS} musical descriptors in the fusion layer" in lines[1]
    p = Predictor(best)
    assert p.model.fusion_descriptors and "train_descriptors" in p.kinds(False) and "trajectory_descriptors" in p.kinds(True)
    song = labels.parent / "s03.wav"  # major and fast
    pred = p.predict_file(song)
    static = p.predict_static(song)
    assert pred.valence == pytest.approx(static.valence) and np.isfinite(pred.valence)
    assert len(pred.trajectory.times) == 13 and np.isfinite(pred.trajectory.valence).all()
    # the descriptors really reach the network: other descriptors, other windows' probabilities
    feats = track_features(song, p.feature_config, p.kinds(False))
    mel, coch = feats["train"]["mel"], feats["train"]["coch"]
    d = feats["train_descriptors"]["windows"]
    a = p.model.predict_windows(mel, coch, descriptors=d)
    b = p.model.predict_windows(mel, coch, descriptors=d[::-1].copy() * 0.0)
    assert not np.allclose(a.valence, b.valence)
    with pytest.raises(ValueError, match="descriptors"):
        p.model.predict_windows(mel, coch)


@pytest.mark.slow
def test_a_fusion_model_learns_the_quadrants_from_music(fusion_run):
    labels, best = fusion_run
    p = Predictor(best)
    with open(labels, newline="") as f:
        rows = list(csv.DictReader(f))
    right = {"valence": 0, "arousal": 0}
    for row in rows:
        pred = p.predict_static(labels.parent / row["path"])
        for dim in right:
            right[dim] += (getattr(pred, dim) > 0) == (float(row[dim]) > 0)
    assert min(right.values()) >= 18, f"right on {right} of 24 songs (most of them seen in training)"


@pytest.mark.slow
def test_evaluate_scores_a_fusion_model_with_its_descriptors(fusion_run, tmp_path, capsys):
    """The paper's two networks with the descriptors (evaluate --checkpoint scores one-dimension networks)."""
    from damer_core.cli import main as cli

    labels, _ = fusion_run
    two = train(DataArgs(str(labels)), TrainConfig(epochs=2, batch_size=8, descriptors=True), tmp_path / "run", "cpu")
    assert cli.main(["evaluate", "--checkpoint", str(two), "--dataset", str(labels), "--all",
                     "--progress", "none"]) == 0
    out = capsys.readouterr().out
    assert "valence" in out and "arousal" in out
