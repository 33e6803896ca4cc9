"""damer_core.features.musicnn: the PyTorch port of MSD_musicnn gives the TensorFlow original's
values (tests/data/musicnn_reference.npz, made once by packaging/convert_musicnn.py from the
original graph on the test recordings), its weights load weights-only with their licence, a
track's patches are embedded the same in blocks as at once, and a descriptor head that reads the
embedding is a model of its own that predicts real files."""

from pathlib import Path

import numpy as np
import pytest
import torch

from damer_core.features import musicnn
from damer_core.features.descriptors import NAMES

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "musicnn_reference.npz"
ROOT_MODELS = Path(__file__).parents[1] / "resources" / "models"


@pytest.fixture(scope="module")
def net():
    return musicnn.load_musicnn()


def test_the_port_gives_the_tensorflow_originals_taggram_and_penultimate(net):
    taggram, penultimate = musicnn.differences_from_reference(net, REFERENCE)
    assert taggram <= musicnn.TAGGRAM_TOLERANCE
    assert penultimate <= musicnn.PENULTIMATE_TOLERANCE


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_a_branch_reduces_over_frequency_first_with_the_same_numbers(layout):
    """In eval mode a front-end branch takes the max or min over frequency before its ReLU and
    batch norm (by the sign of the norm's scale): the values of conv -> ReLU -> BN -> max."""
    torch.manual_seed(0)
    block = musicnn.FrequencyMaxBlock(12, (7, 5), (3, 3))
    with torch.no_grad():
        block.bn.weight.copy_(torch.randn(12))  # about half the channels fall: their min is taken
        block.bn.bias.copy_(torch.randn(12))
        block.bn.running_mean.copy_(torch.rand(12))
        block.bn.running_var.copy_(torch.rand(12) + 0.1)
    block = block.eval().to(memory_format=layout)
    x = torch.randn(3, 1, 40, 16).contiguous(memory_format=layout)
    with torch.no_grad():
        plain = block.bn(torch.relu(block.conv(torch.nn.functional.pad(x, (0, 0, 3, 3))))).amax(dim=3)
        assert torch.equal(block(x), plain)


def test_a_wrong_layer_order_is_caught_by_the_reference(net, tmp_path):
    """The check can fail: swapping the two timbral branches (same shapes) breaks it."""
    broken = musicnn.Musicnn()
    state = dict(net.state_dict())
    for key in [k for k in state if k.startswith("timbral.0.bn")]:
        state[key], state[key.replace("timbral.0", "timbral.1")] = state[key.replace("timbral.0", "timbral.1")], state[key]
    broken.load_state_dict(state)
    assert max(musicnn.differences_from_reference(broken, REFERENCE)) > 0.05


@pytest.mark.parametrize("index,name", [(0, "vibe_ace.ogg"), (3, "hungarian_dance_5.ogg")])
def test_the_input_is_the_originals_log_mel(index, name):
    import librosa

    with np.load(REFERENCE) as z:
        assert str(z["source"][index]) == name
        expected = z["input"][index].astype(np.float32)
    y, _ = librosa.load(DATA / name, sr=musicnn.SAMPLE_RATE)
    got = musicnn.log_mel(y)[:musicnn.PATCH_FRAMES]
    assert got.shape == expected.shape == (187, 96)
    assert np.abs(got - expected).max() < 5e-3  # the original keeps its log in float16


def test_the_weights_are_a_weights_only_file_with_the_licence():
    bundle = torch.load(musicnn.weights_path(), map_location="cpu", weights_only=True)
    assert "Universitat Pompeu Fabra" in bundle["licence"] and "Pons" in bundle["attribution"]
    assert sum(t.numel() for t in bundle["state_dict"].values()) == 792_079
    assert (musicnn.weights_path().parent / "LICENSE.md").read_text().startswith("Copyright (c) Music Technology Group")


def test_patches_embedded_in_blocks_match_the_whole_track(net):
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal(22_050 * 10)).astype(np.float32)
    whole = musicnn.embed(y, 22_050)
    acc = musicnn.BlockEmbeddings(22_050, net)
    for i in range(0, y.size, 7_001):
        acc.feed(y[i:i + 7_001])
    blocks = acc.finish()
    assert whole["patches"].shape == (3, musicnn.EMBEDDING_SIZE)  # 10 s: three whole 3 s patches, side by side
    np.testing.assert_allclose(blocks["patches"], whole["patches"], atol=1e-5)
    np.testing.assert_allclose(whole["centres"], (np.arange(3) + 0.5) * musicnn.PATCH_SAMPLES / musicnn.SAMPLE_RATE)


def test_a_track_shorter_than_a_patch_is_repeated_not_padded(net):
    t = np.arange(22_050) / 22_050
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    short = musicnn.embed(tone, 22_050)["patches"]
    longer = musicnn.embed(np.tile(tone, 3), 22_050)["patches"]
    assert short.shape == (1, musicnn.EMBEDDING_SIZE)
    assert np.abs(short[0] - longer[0]).max() < 0.05 * np.abs(longer[0]).max()


def test_each_time_takes_the_nearest_patch():
    centres = np.array([1.5, 4.5, 7.5])
    assert musicnn.nearest_patches(centres, np.array([0.0, 2.9, 3.1, 6.0, 20.0])).tolist() == [0, 0, 1, 1, 2]


def test_a_windows_row_carries_its_nearest_patchs_embedding():
    from damer_core.features.head_inputs import input_columns, static_rows, trajectory_rows

    descriptors = np.zeros((5, len(NAMES)), np.float32)
    patches = {"patches": np.arange(3)[:, None] * np.ones((1, 200), np.float32), "centres": np.array([1.5, 4.5, 7.5])}
    rows = static_rows(descriptors, patches)  # windows [0, 4), [1, 5), ... centred at 2, 3, 4, 5, 6
    assert rows.shape == (5, len(NAMES) + 200)
    assert rows[:, -1].tolist() == [0, 0, 1, 1, 1]  # a tie goes to the earlier patch
    assert trajectory_rows(descriptors[:3], patches, np.array([0.5, 6.0, 9.5]))[:, -1].tolist() == [0, 1, 2]
    assert input_columns(("dynamics", "musicnn")).size == 4 + 200
    with pytest.raises(ValueError, match="unknown input group"):
        input_columns(("mood",))


def embedded_head_bundle(tmp_path):
    """The built-in bundle with its head refitted on rows that carry the embedding."""
    from damer_core.models.checkpoint import load_checkpoint, save_atomic, with_checksums
    from damer_core.models.descriptor_head import fit_descriptor_head

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, len(NAMES) + 200))
    y = np.arange(80) % 4
    x[:, len(NAMES)] += 3 * y
    head = fit_descriptor_head(x, y, kind="linear", groups=("timbre", "dynamics", "musicnn"))
    bundle = load_checkpoint(ROOT_MODELS / "damer-4q.pt")
    bundle["descriptor_head"] = head.to_state()
    return save_atomic(with_checksums(bundle), tmp_path / "ears.pt")


def test_a_head_that_reads_the_embedding_predicts_a_real_file(tmp_path):
    from damer_core.features.cache import FeatureCache
    from damer_core.inference.predictor import Predictor

    p = Predictor(embedded_head_bundle(tmp_path), "cpu", FeatureCache(tmp_path / "cache"))
    assert "embeddings" in p.kinds(False) and "trajectory_embeddings" in p.kinds(True)
    assert "musicnn" in p.model.describe().summary
    pred = p.predict_file(DATA / "vibe_ace.ogg")
    assert -1 <= pred.valence <= 1 and -1 <= pred.arousal <= 1
    valence = np.asarray(pred.trajectory.valence)
    assert valence.size == len(pred.trajectory.times) > 100 and np.isfinite(valence).all()
    assert np.std(valence) > 0  # the patches differ along the track, so does the marker


def test_the_segments_patches_are_the_tracks_own_so_a_trajectory_shares_them(tmp_path):
    """The static kind takes the track's patches whose centres lie in the model segment: computed
    alone or beside the trajectory's (which then runs each patch once), the values are the same."""
    import soundfile as sf

    from damer_core.audio.synthetic import chord_music
    from damer_core.features import extract
    from damer_core.features.cache import NoCache
    from damer_core.features.spectra import preset

    track = tmp_path / "t.flac"
    sf.write(track, chord_music(100.0, True, False, 22_050, seed=7), 22_050)  # segment 15-75 s of 100 s
    cfg = preset("context")
    alone = extract.track_features(track, cfg, ("embeddings",), NoCache())["embeddings"]
    both = extract.track_features(track, cfg, ("embeddings", "trajectory_embeddings"), NoCache())
    np.testing.assert_allclose(both["embeddings"]["patches"], alone["patches"], atol=1e-5)
    np.testing.assert_allclose(both["embeddings"]["centres"], alone["centres"])
    first = int(np.ceil(15.0 / musicnn.PATCH_SECONDS - 0.5))  # the first patch centred after 15 s
    assert alone["centres"][0] == pytest.approx(musicnn.patch_centre(first) - 15.0)
    assert len(alone["patches"]) == 20 and np.all(np.diff(alone["centres"]) > 0)
    track_patches = both["trajectory_embeddings"]["patches"]
    np.testing.assert_allclose(track_patches[first:first + 20], alone["patches"], atol=1e-5)


def test_a_head_on_musicnn_alone_does_not_depend_on_the_number_of_descriptors(tmp_path):
    """It reads none of them (its columns follow whatever descriptors the rows carry); a head that
    reads descriptors is refused when their number changed."""
    from damer_core.contract.errors import BundleError
    from damer_core.models import load_model
    from damer_core.models.checkpoint import load_checkpoint, save_atomic

    bundle = load_checkpoint(ROOT_MODELS / "damer-4q.pt")
    assert bundle["descriptor_head"]["groups"] == ["musicnn"]
    bundle["descriptor_head"]["n_descriptors"] = len(NAMES) + 5  # as a later version's descriptors would
    assert load_model(save_atomic(bundle, tmp_path / "ears.pt")).head.groups == ("musicnn",)
    other = load_checkpoint(embedded_head_bundle(tmp_path))
    other["descriptor_head"]["n_descriptors"] = len(NAMES) + 5
    with pytest.raises(BundleError, match="n_descriptors"):
        load_checkpoint(save_atomic(other, tmp_path / "both.pt"))


@pytest.mark.parametrize("seconds", [100.0, 50.0, 3.5])  # the 15-75 s segment; a shorter last part; repeated
def test_the_static_embeddings_carry_the_windows_a_static_prediction_averages(tmp_path, seconds):
    """The count is that of the static descriptors' windows, so a head on musicnn alone averages
    the same windows without describing them: its static prediction is the one it gave from them."""
    import soundfile as sf

    from damer_core.audio.synthetic import chord_music
    from damer_core.features import extract
    from damer_core.features.cache import NoCache
    from damer_core.features.head_inputs import static_rows
    from damer_core.features.spectra import preset
    from damer_core.models import load_model

    track = tmp_path / "t.flac"
    sf.write(track, chord_music(seconds, False, True, 22_050, seed=3), 22_050)
    feats = extract.track_features(track, preset("context"), ("descriptors", "embeddings"), NoCache())
    assert int(feats["embeddings"]["windows"]) == len(feats["descriptors"]["windows"]) > 0
    model = load_model(ROOT_MODELS / "damer-4q.pt")
    assert model.feature_kinds(False) == ("embeddings",) and "descriptors" not in model.feature_kinds(True)
    described = model.head.probabilities(static_rows(feats["descriptors"]["windows"], feats["embeddings"]))
    alone = model.static({"embeddings": feats["embeddings"]})
    np.testing.assert_allclose(alone.valence, model.static(feats).valence)
    np.testing.assert_allclose(alone.valence[0], described[:, [0, 3]].sum(axis=1).mean() * 2 - 1, atol=1e-6)


def test_the_window_count_is_clip_descriptors_own():
    from damer_core.features.descriptors import HOP, SAMPLE_RATE, clip_descriptors, clip_window_count

    for n in (HOP, 3 * SAMPLE_RATE, 4 * SAMPLE_RATE - 1, 4 * SAMPLE_RATE, 4 * SAMPLE_RATE + HOP, int(9.7 * SAMPLE_RATE)):
        y = np.random.default_rng(n).normal(0, 0.1, n).astype(np.float32)
        assert clip_window_count(n) == len(clip_descriptors(y)), n
