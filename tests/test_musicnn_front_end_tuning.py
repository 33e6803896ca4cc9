"""DAMER that fine-tunes all of musicnn's front and mid-end (docs/SPEC.md section 5b, the
`context-musicnn-full` preset): packed log-mel windows through the MSD front and mid-end are the
frozen path's windows; both learn at their own low rate with the MSD batch-norm statistics kept;
a bundle names both by their weights, and a track's Mel stream through them is what the network
made of the packed windows in training."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from test_fusion_descriptors import labelled_songs

from damer_core.audio.synthetic import chord_music
from damer_core.features import midend_windows, musicnn, tuned_midend
from damer_core.features.midend_windows import training_windows_of
from damer_core.features.spectra import CONTEXT_MUSICNN, CONTEXT_MUSICNN_FULL, CONTEXT_MUSICNN_TUNED, training_windows
from damer_core.models.network import DAMER, ModelConfig

RATE = 22_050


def full_model() -> DAMER:
    model = DAMER(ModelConfig(n_frames=87, n_mel=192, n_coch=84, n_classes=4, musicnn_midend=True,
                              musicnn_front_end=True))
    tuned_midend.load_msd_layers(model.midend.layers, model.front_end)
    return model


@pytest.mark.parametrize("seconds", [3.5, 7.0, 20.0])  # repeated to fill a window; a tail; several windows
def test_packed_log_mel_through_the_msd_front_and_mid_end_is_the_frozen_paths_windows(monkeypatch, seconds):
    monkeypatch.setattr(midend_windows, "STORED", np.float32)  # the packing itself, not the storage's rounding
    y = chord_music(seconds, True, seconds > 5, RATE, seed=3)
    frozen, coch = training_windows(y, CONTEXT_MUSICNN)
    packed, packed_coch = training_windows_of(y, CONTEXT_MUSICNN_FULL)
    assert packed.shape == (frozen.shape[0], midend_windows.MEL_ROWS, midend_windows.COLUMNS)
    assert np.array_equal(coch, packed_coch)
    with torch.no_grad():
        made = full_model().eval().unpack(torch.from_numpy(packed)).numpy()
    np.testing.assert_allclose(made, frozen, atol=2e-4 * np.abs(frozen).max())


def test_the_cache_keeps_the_mel_power_in_half_precision_exactly(monkeypatch):
    """The original casts its mel power to float16 before its log: a packed window holds that
    power, so half precision loses nothing (the front-end frames of the mid-end's windows do lose)."""
    y = chord_music(9.0, False, True, RATE, seed=5)
    stored, _ = training_windows_of(y, CONTEXT_MUSICNN_FULL)
    tuned, _ = training_windows_of(y, CONTEXT_MUSICNN_TUNED)
    monkeypatch.setattr(midend_windows, "STORED", np.float32)
    exact, _ = training_windows_of(y, CONTEXT_MUSICNN_FULL)
    assert stored.dtype == np.float16 and np.array_equal(stored.astype(np.float32), exact)
    assert stored.nbytes < tuned.nbytes / 1.9  # half the room of the front end's frames


def test_a_window_reaching_into_a_fourth_patch_is_refused():
    mels = np.zeros((4, musicnn.PATCH_FRAMES, musicnn.N_MELS), np.float32)
    places = np.full((4, musicnn.PATCH_FRAMES), -1)
    places[:, 90] = np.arange(4)  # one counted frame in each of four patches
    with pytest.raises(ValueError, match="more than 3 musicnn patches"):
        midend_windows.pack_mel_window(mels, places, np.arange(87), 0, 87)


def test_front_and_mid_end_learn_at_their_own_rate_and_keep_the_msd_statistics():
    from damer_core.training.config import TrainConfig
    from damer_core.training.midend_tuning import parameter_groups

    model = full_model()
    groups = parameter_groups(model, TrainConfig(lr=1e-3, midend_lr=3e-5))
    musicnn_params = len(list(model.front_end.parameters())) + len(list(model.midend.parameters()))
    assert [len(g["params"]) for g in groups] == [len(list(model.parameters())) - musicnn_params, musicnn_params]
    assert groups[1]["lr"] == 3e-5 and musicnn_params == 2 + 5 * 4 + 3 * 4  # input norm; 5 branches, 3 layers: conv + norm
    assert not any(k.endswith("num_batches_tracked") for k in model.state_dict())  # a bundle holds floats only
    before = {k: v.clone() for k, v in model.front_end.state_dict().items()}
    model.train()
    assert not any(m.training for m in model.front_end.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm))
    packed, coch = training_windows_of(chord_music(6.0, True, True, RATE, seed=7), CONTEXT_MUSICNN_FULL)
    optim = torch.optim.SGD(model.parameters(), lr=0.1)
    out = model(torch.from_numpy(packed.astype(np.float32)), torch.from_numpy(coch))
    torch.nn.functional.cross_entropy(out.z_fuse, torch.zeros(len(coch), dtype=torch.long)).backward()
    optim.step()
    after = model.front_end.state_dict()
    for k in ("timbral.0.conv.weight", "temporal.2.conv.weight", "input_bn.weight"):
        assert not torch.equal(after[k], before[k]), k
    for k in ("timbral.1.bn.running_mean", "input_bn.running_var"):
        assert torch.equal(after[k], before[k]), k


def test_under_autocast_the_front_end_trains_in_half_precision_and_answers_in_the_windows_own():
    """A GPU trains with autocast (TrainConfig.amp): the front end's half-precision frames go
    into the float32 packed window the mid-end reads (bf16 on the CPU stands in for CUDA)."""
    model = full_model().train()
    packed, coch = training_windows_of(chord_music(6.0, True, True, RATE, seed=2), CONTEXT_MUSICNN_FULL)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.from_numpy(packed.astype(np.float32)), torch.from_numpy(coch))
        inner = model.front_end(torch.from_numpy(packed.astype(np.float32)))
    assert inner.dtype == torch.float32 and inner.shape == (len(coch), midend_windows.ROWS, midend_windows.COLUMNS)
    out.z_fuse.float().sum().backward()
    assert model.front_end.timbral[0].conv.weight.grad.abs().sum() > 0


def test_a_bundle_says_its_front_end_trains_exactly_where_its_mel_path_does():
    from damer_core.models.bundle_checks import _check_feature_config, _check_model_config
    from damer_core.models.bundle_fields import FieldError

    named = replace(CONTEXT_MUSICNN_FULL, midend="0123456789abcdef")
    assert _check_feature_config(named.to_dict()) == named
    with pytest.raises(FieldError, match="feature.midend"):
        _check_feature_config(CONTEXT_MUSICNN_FULL.to_dict())  # trained, yet nothing named
    mc = ModelConfig(n_frames=87, n_mel=192, n_coch=84, n_classes=4, musicnn_midend=True)
    with pytest.raises(FieldError, match="model.musicnn_front_end"):
        _check_model_config(mc.to_dict(), named)
    with pytest.raises(FieldError, match="model.musicnn_front_end"):
        _check_model_config(replace(mc, musicnn_front_end=True).to_dict(), replace(named, mel_path="musicnn-tuned"))
    assert _check_model_config(replace(mc, musicnn_front_end=True).to_dict(), named).musicnn_front_end


def test_a_mid_ends_weights_do_not_load_as_front_and_mid_end():
    mid = tuned_midend.tuned_weights(musicnn.load_musicnn().midend)
    model = full_model()
    with pytest.raises(ValueError, match="not musicnn's front end"):
        tuned_midend.load_tuned(model.midend.layers, model.front_end, mid)
    with pytest.raises(ValueError, match="not musicnn's mid-end"):
        tuned_midend.load_tuned(model.midend.layers, None, tuned_weights_of(model))


def tuned_weights_of(model: DAMER) -> dict:
    return tuned_midend.tuned_weights(model.midend.layers, model.front_end)


@pytest.mark.slow
def test_a_fully_tuned_network_trains_predicts_and_fine_tunes_through_its_own_layers(tmp_path):
    from damer_core.audio.decoding import DecodeStream, samples_for_model
    from damer_core.contract.errors import BundleError
    from damer_core.features.extract import track_features
    from damer_core.features.spectra import FeatureConfig
    from damer_core.inference.predictor import Predictor
    from damer_core.models.bundle_info import describe_bundle
    from damer_core.models.checkpoint import build_models, load_checkpoint, midend_state
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    labels = labelled_songs(tmp_path / "songs", n=8, seconds=6.0)
    best = train(DataArgs(str(labels), preset="context-musicnn-full"),
                 TrainConfig(epochs=1, batch_size=8, dims=("quadrant",), seed=0, midend_lr=1e-3), tmp_path / "run", "cpu")
    bundle = load_checkpoint(best)
    fc = FeatureConfig.from_dict(bundle["feature_config"])
    tuned = midend_state(bundle["dimensions"]["quadrant"]["state_dict"])
    assert fc.mel_path == "musicnn-full" and fc.midend == tuned_midend.midend_digest(tuned)
    msd = tuned_midend.tuned_weights(musicnn.load_musicnn().midend, musicnn.load_musicnn())
    assert tuned.keys() == msd.keys()
    assert not torch.equal(tuned["front_end.timbral.0.conv.weight"], msd["front_end.timbral.0.conv.weight"])  # it learned
    assert torch.equal(tuned["front_end.input_bn.running_mean"], msd["front_end.input_bn.running_mean"])
    said = "\n".join(describe_bundle(bundle, str(best)))
    assert "musicnn's fine-tuned front and mid-end (192 channels" in said and "(musicnn's front and mid-end 0.001)" in said
    p = Predictor(best)
    song = labels.parent / "s05.wav"
    assert np.isfinite(p.predict_file(song).trajectory.valence).all()
    # what the app computes for a track (the Mel stream through the bundle's own layers) is what
    # the network made of the same windows, packed, in training
    mel = track_features(song, fc, ("train",))["train"]["mel"]
    y, _ = samples_for_model(DecodeStream(song, RATE, mono=True))
    packed, _ = training_windows_of(y, replace(fc, midend=""))
    with torch.no_grad():
        made = p.model.networks["quadrant"].unpack(torch.from_numpy(packed.astype(np.float32))).numpy()
    assert mel.shape == made.shape and np.abs(mel - made).mean() < 1e-3 * np.abs(mel).mean()
    tuned_midend._tuned.clear()  # a curator's fine-tune, as in a fresh process: it goes on tuning both
    again = load_checkpoint(train(DataArgs(str(labels)), TrainConfig(epochs=1, batch_size=8, lr=1e-4, midend_lr=1e-3),
                                  tmp_path / "ft", "cpu", init=str(best)))
    moved = midend_state(again["dimensions"]["quadrant"]["state_dict"])
    assert again["feature_config"]["midend"] == tuned_midend.midend_digest(moved) != fc.midend
    assert not torch.equal(moved["front_end.temporal.1.conv.weight"], tuned["front_end.temporal.1.conv.weight"])
    state = dict(bundle["dimensions"]["quadrant"]["state_dict"])
    state["front_end.temporal.0.conv.bias"] = state["front_end.temporal.0.conv.bias"] + 0.01
    bundle["dimensions"]["quadrant"]["state_dict"] = state
    with pytest.raises(BundleError, match="feature.midend"):
        build_models(bundle, best)  # the front end is not the one the bundle names
