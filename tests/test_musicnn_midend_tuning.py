"""DAMER that fine-tunes musicnn's mid-end (docs/SPEC.md section 5b, the `context-musicnn-tuned`
preset): packed training windows through the MSD mid-end are the frozen path's windows; the
mid-end learns at its own low rate with the MSD batch-norm statistics kept; a bundle names its
mid-end by its weights, and a track's Mel stream through that mid-end is what the network made
of the packed windows in training."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from test_fusion_descriptors import labelled_songs

from damer_core.audio.synthetic import chord_music
from damer_core.features import midend_windows, musicnn, tuned_midend
from damer_core.features.midend_windows import training_windows_of
from damer_core.features.spectra import CONTEXT, CONTEXT_MUSICNN, CONTEXT_MUSICNN_TUNED, training_windows
from damer_core.models.network import DAMER, ModelConfig
from damer_core.models.network.midend import MusicnnMidEnd

RATE = 22_050


def msd_midend() -> MusicnnMidEnd:
    m = MusicnnMidEnd(CONTEXT.n_frames)
    tuned_midend.load_msd_layers(m.layers)
    return m.eval()


@pytest.mark.parametrize("seconds", [3.5, 7.0, 20.0])  # repeated to fill a window; a tail; several windows
def test_packed_windows_through_the_msd_mid_end_are_the_frozen_paths_windows(monkeypatch, seconds):
    monkeypatch.setattr(midend_windows, "STORED", np.float32)  # the packing itself, not the storage's rounding
    y = chord_music(seconds, True, seconds > 5, RATE, seed=3)
    frozen, coch = training_windows(y, CONTEXT_MUSICNN)
    packed, packed_coch = training_windows_of(y, CONTEXT_MUSICNN_TUNED)
    assert packed.shape == (frozen.shape[0], midend_windows.ROWS, midend_windows.COLUMNS)
    assert np.array_equal(coch, packed_coch)
    with torch.no_grad():
        made = msd_midend()(torch.from_numpy(packed)).numpy()
    np.testing.assert_allclose(made, frozen, atol=2e-4 * np.abs(frozen).max())


def test_the_cache_keeps_the_front_end_in_half_precision_within_a_thousandth():
    y = chord_music(9.0, False, True, RATE, seed=5)
    frozen, _ = training_windows(y, CONTEXT_MUSICNN)
    packed, _ = training_windows_of(y, CONTEXT_MUSICNN_TUNED)
    assert packed.dtype == np.float16
    with torch.no_grad():
        made = msd_midend()(torch.from_numpy(packed.astype(np.float32))).numpy()
    assert np.abs(made - frozen).mean() < 1e-3 * np.abs(frozen).mean()


def test_a_window_whose_pieces_would_not_fit_is_refused():
    fronts = np.zeros((4, musicnn.FRONT_CHANNELS, musicnn.PATCH_FRAMES), np.float32)
    places = np.tile(np.arange(musicnn.PATCH_FRAMES) // 2, (4, 1))  # every patch on the same frames
    source = np.arange(200)
    with pytest.raises(ValueError, match="more than 320 musicnn frames"):
        midend_windows.pack_window(fronts, places, source, 0, 87)


def tuned_model() -> DAMER:
    model = DAMER(ModelConfig(n_frames=87, n_mel=192, n_coch=84, n_classes=4, musicnn_midend=True))
    tuned_midend.load_msd_layers(model.midend.layers)
    return model


def test_the_mid_end_learns_at_its_own_rate_and_keeps_the_msd_statistics():
    from damer_core.training.config import TrainConfig
    from damer_core.training.midend_tuning import parameter_groups

    model = tuned_model()
    groups = parameter_groups(model, TrainConfig(lr=1e-3, midend_lr=3e-5))
    assert [len(g["params"]) for g in groups] == [len(list(model.parameters())) - 12, 12] and groups[1]["lr"] == 3e-5
    assert "lr" not in groups[0]  # Adam's own (TrainConfig.lr)
    assert not any(k.endswith("num_batches_tracked") for k in model.state_dict())  # a bundle holds floats only
    before = {k: v.clone() for k, v in model.midend.state_dict().items()}
    model.train()
    assert not any(m.training for m in model.midend.modules() if isinstance(m, torch.nn.BatchNorm1d))
    y = chord_music(6.0, True, True, RATE, seed=7)
    packed, coch = training_windows_of(y, CONTEXT_MUSICNN_TUNED)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model(torch.from_numpy(packed.astype(np.float32)), torch.from_numpy(coch))
    torch.nn.functional.cross_entropy(out.z_fuse, torch.zeros(len(coch), dtype=torch.long)).backward()
    optim.step()
    after = model.midend.state_dict()
    assert not torch.equal(after["layers.0.conv.weight"], before["layers.0.conv.weight"])
    for k in ("layers.0.bn.running_mean", "layers.2.bn.running_var"):
        assert torch.equal(after[k], before[k])


def test_the_mid_ends_large_gradients_do_not_shrink_the_rest_of_damers_step():
    from damer_core.training.config import TrainConfig
    from damer_core.training.midend_tuning import clip_gradients, mel_stream, parameter_groups
    from damer_core.training.trainer import band_stats

    model = tuned_model()
    packed, coch = training_windows_of(chord_music(9.0, True, False, RATE, seed=9), CONTEXT_MUSICNN_TUNED)
    everything = np.arange(len(coch))  # standardised as the trainer does: what makes the mid-end's gradients large
    model.set_normalisation(*band_stats(mel_stream(model, packed, everything), everything), *band_stats(coch, everything))
    out = model(torch.from_numpy(packed.astype(np.float32)), torch.from_numpy(coch))
    torch.nn.functional.cross_entropy(out.z_fuse, torch.full((len(coch),), 2)).backward()
    optim = torch.optim.Adam(parameter_groups(model, TrainConfig()))
    rest, tuned = ({id(p): p.grad.clone() for p in g["params"] if p.grad is not None} for g in optim.param_groups)
    norm = lambda grads: float(torch.sqrt(sum((g**2).sum() for g in grads)))  # noqa: E731
    assert norm(tuned.values()) > 50 * norm(rest.values())  # what one norm over both would have let rule
    clip = 2 * norm(rest.values())
    clip_gradients(optim, clip)
    for p in optim.param_groups[0]["params"]:
        if p.grad is not None:
            torch.testing.assert_close(p.grad, rest[id(p)])  # under the clip: untouched
    assert norm([p.grad for p in optim.param_groups[1]["params"]]) == pytest.approx(clip, rel=1e-4)


def test_a_network_given_mel_stream_windows_takes_them_as_they_are():
    model = tuned_model().eval()
    y = chord_music(6.0, False, False, RATE, seed=8)
    packed, coch = training_windows_of(y, CONTEXT_MUSICNN_TUNED)
    with torch.no_grad():
        mel = model.midend(torch.from_numpy(packed.astype(np.float32)))
        a = model(torch.from_numpy(packed.astype(np.float32)), torch.from_numpy(coch)).z_fuse
        b = model(mel, torch.from_numpy(coch)).z_fuse
    assert mel.shape == (len(coch), 192, 87)
    torch.testing.assert_close(a, b)


def test_a_bundle_names_its_mid_end_and_only_a_tuned_path_has_one():
    from damer_core.models.bundle_checks import _check_feature_config, _check_model_config
    from damer_core.models.bundle_fields import FieldError

    named = replace(CONTEXT_MUSICNN_TUNED, midend="0123456789abcdef")
    assert _check_feature_config(named.to_dict()) == named
    assert "midend" not in CONTEXT_MUSICNN_TUNED.to_dict() and named.hash != CONTEXT_MUSICNN_TUNED.hash
    with pytest.raises(FieldError, match="feature.midend"):
        _check_feature_config(CONTEXT_MUSICNN_TUNED.to_dict())  # trained, yet no mid-end named
    with pytest.raises(FieldError, match="feature.midend"):
        _check_feature_config({**CONTEXT_MUSICNN.to_dict(), "midend": "0123456789abcdef"})
    mc = ModelConfig(n_frames=87, n_mel=192, n_coch=84, n_classes=4).to_dict()
    with pytest.raises(FieldError, match="model.musicnn_midend"):
        _check_model_config(mc, named)


@pytest.fixture(scope="module")
def tuned_run(tmp_path_factory):
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    labels = labelled_songs(tmp_path_factory.mktemp("songs"), n=16, seconds=8.0)
    tcfg = TrainConfig(epochs=3, batch_size=8, dims=("quadrant",), seed=0, midend_lr=1e-3)
    out = tmp_path_factory.mktemp("tuned") / "run"
    return labels, train(DataArgs(str(labels), preset="context-musicnn-tuned"), tcfg, out, "cpu"), tcfg, out


@pytest.mark.slow
def test_a_tuned_network_trains_and_its_track_features_go_through_its_own_mid_end(tuned_run):
    from damer_core.features.extract import track_features
    from damer_core.features.spectra import FeatureConfig
    from damer_core.inference.predictor import Predictor
    from damer_core.models.checkpoint import load_checkpoint, midend_state

    labels, best, _, _ = tuned_run
    bundle = load_checkpoint(best)
    fc = FeatureConfig.from_dict(bundle["feature_config"])
    state = bundle["dimensions"]["quadrant"]["state_dict"]
    tuned = midend_state(state)
    assert fc.mel_path == "musicnn-tuned" and fc.midend == tuned_midend.midend_digest(tuned)
    msd = tuned_midend.midend_weights(musicnn.load_musicnn().midend)
    assert not torch.equal(tuned["0.conv.weight"], msd["0.conv.weight"])  # it learned
    assert torch.equal(tuned["0.bn.running_mean"], msd["0.bn.running_mean"])
    from damer_core.models.bundle_info import describe_bundle

    said = "\n".join(describe_bundle(bundle, str(best)))
    assert "front and fine-tuned mid-end (192 channels" in said and "lr 0.001 (musicnn's mid-end 0.001)" in said
    p = Predictor(best)
    assert "front and fine-tuned mid-end" in p.model.describe().summary
    song = labels.parent / "s05.wav"
    pred = p.predict_file(song)
    assert len(pred.trajectory.times) == 17 and np.isfinite(pred.trajectory.valence).all()
    assert pred.valence == pytest.approx(p.predict_static(song).valence)
    # what the app computes for a track (the Mel stream through the bundle's mid-end) is what
    # the network made of the same windows, packed, in training
    mel = track_features(song, fc, ("train",))["train"]["mel"]
    from damer_core.audio.decoding import DecodeStream, samples_for_model

    y, _ = samples_for_model(DecodeStream(song, RATE, mono=True))
    packed, _ = training_windows_of(y, replace(fc, midend=""))
    with torch.no_grad():
        made = p.model.networks["quadrant"].midend(torch.from_numpy(packed.astype(np.float32))).numpy()
    assert mel.shape == made.shape and np.abs(mel - made).mean() < 1e-3 * np.abs(mel).mean()


@pytest.mark.slow
def test_a_bundle_whose_mid_end_is_not_the_one_it_names_is_refused(tuned_run, tmp_path):
    from damer_core.contract.errors import BundleError
    from damer_core.models.checkpoint import build_models, load_checkpoint

    _, best, _, _ = tuned_run
    bundle = load_checkpoint(best)
    state = dict(bundle["dimensions"]["quadrant"]["state_dict"])
    state["midend.layers.1.conv.bias"] = state["midend.layers.1.conv.bias"] + 0.01
    bundle["dimensions"]["quadrant"]["state_dict"] = state
    with pytest.raises(BundleError, match="feature.midend"):
        build_models(bundle, best)


@pytest.mark.slow
def test_a_curators_fine_tune_of_a_tuned_network_goes_on_tuning_its_mid_end_and_resumes(tuned_run, tmp_path):
    """A fine-tune (--init) trains on packed windows as the bundle was trained: its mid-end goes
    on learning (every weight in use: nothing idle for a distributed run), the bundle names the
    new mid-end, and the run resumes on the same windows (the data's fingerprint holds)."""
    from damer_core.features import tuned_midend
    from damer_core.models.checkpoint import load_checkpoint, midend_state
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    labels, best, _, _ = tuned_run
    tuned_midend._tuned.clear()  # as in a fresh process: nothing registered yet
    base = load_checkpoint(best)
    out = tmp_path / "ft"
    tuned = train(DataArgs(str(labels)), TrainConfig(epochs=1, batch_size=8, lr=1e-4, midend_lr=1e-3), out, "cpu",
                  init=str(best))
    after = load_checkpoint(tuned)
    assert after["feature_config"]["midend"] != base["feature_config"]["midend"]
    weights = midend_state(after["dimensions"]["quadrant"]["state_dict"])
    assert after["feature_config"]["midend"] == tuned_midend.midend_digest(weights)
    train(None, TrainConfig(epochs=2, batch_size=8, lr=1e-4, midend_lr=1e-3), out, "cpu", resume=True, given={"epochs": 2})
    assert int(load_checkpoint(out / "last.pt")["dimensions"]["quadrant"]["epoch"]) == 2


def test_a_model_without_a_mid_end_is_not_written_with_the_tuned_preset():
    from damer_core.contract.errors import InputError
    from damer_core.training.midend_tuning import bundle_feature_config

    with pytest.raises(InputError, match="context-musicnn"):
        bundle_feature_config(CONTEXT_MUSICNN_TUNED, {})


@pytest.mark.slow
def test_a_resumed_run_trains_the_mid_end_on_packed_windows_again(tuned_run):
    from damer_core.models.checkpoint import load_checkpoint, midend_state
    from damer_core.training.run import train

    _, best, tcfg, out = tuned_run
    before = midend_state(load_checkpoint(out / "last.pt")["dimensions"]["quadrant"]["state_dict"])
    train(None, replace(tcfg, epochs=4), out, "cpu", resume=True, given={"epochs": 4})
    after = midend_state(load_checkpoint(out / "last.pt")["dimensions"]["quadrant"]["state_dict"])
    assert not torch.equal(after["2.conv.weight"], before["2.conv.weight"])


def test_per_dimension_networks_are_refused_with_the_preset(tmp_path):
    from damer_core.contract.errors import InputError
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    labels = labelled_songs(tmp_path / "songs", n=8, seconds=5.0)
    with pytest.raises(InputError, match="joint quadrant head"):
        train(DataArgs(str(labels), preset="context-musicnn-tuned"), TrainConfig(epochs=1, batch_size=8), tmp_path / "r", "cpu")
