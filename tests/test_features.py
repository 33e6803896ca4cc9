import dataclasses

import numpy as np
import pytest

from damer_core.audio.synthetic import tone
from damer_core.features import spectra as F

SR = 22_050


def test_preemphasis_on_known_signal():
    out = F.preemphasise(np.array([1.0, 2.0, 3.0, 4.0]), 0.97)
    np.testing.assert_allclose(out, [1.0, 1.03, 1.06, 1.09], rtol=1e-6)


def test_presets_give_exactly_87_frames():
    assert F.frame_count(SR, F.CLIP) == 87
    assert F.frame_count(60 * SR, F.PAPER) == 87
    rng = np.random.default_rng(0)
    mel, coch = F.segment_features(rng.normal(size=SR).astype(np.float32), F.CLIP)
    assert mel.shape == (128, 87) and coch.shape == (84, 87)
    mel, coch = F.segment_features(rng.normal(size=60 * SR).astype(np.float32), F.PAPER)
    assert mel.shape == (128, 87) and coch.shape == (84, 87)
    assert mel.dtype == np.float32 and np.isfinite(mel).all() and np.isfinite(coch).all()


def test_paper_preset_frames_are_1_36_s():
    assert F.PAPER.frame_length / SR == pytest.approx(1.36, abs=0.01)
    assert F.PAPER.n_fft == 2 * F.PAPER.frame_length and F.PAPER.hop_length * 2 == F.PAPER.frame_length
    assert F.CLIP.n_fft == 2 * F.CLIP.frame_length and F.CLIP.hop_length * 2 == F.CLIP.frame_length


def test_segment_too_short_for_preset_is_an_error():
    with pytest.raises(ValueError, match="needs 87"):
        F.segment_features(np.zeros(30 * SR, np.float32), F.PAPER)


def test_gammatone_centres_are_12_per_octave_c1_to_b7():
    cf = F.CLIP.gammatone_centre_freqs
    assert cf.shape == (84,)
    assert cf[0] == pytest.approx(32.70, abs=0.01) and cf[-1] == pytest.approx(3951.07, abs=0.05)
    np.testing.assert_allclose(cf[12:] / cf[:-12], 2.0)


def mel_band_edges(cfg):
    import librosa

    return librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmax=cfg.sample_rate / 2)


@pytest.mark.parametrize("cfg", [F.CLIP, F.PAPER], ids=["clip", "paper"])
@pytest.mark.parametrize("freq", [220.0, 1000.0, 3000.0])
def test_pure_tone_lands_in_its_mel_band_and_gammatone_channel(cfg, freq):
    seconds = 2.0 if cfg is F.CLIP else 61.0
    y = tone(freq, seconds, SR)
    mel_p, coch_p = F.band_energies(y, cfg)
    band = int(np.argmax(mel_p.mean(axis=1)))
    edges = mel_band_edges(cfg)
    assert edges[band] <= freq <= edges[band + 2]
    ch = int(np.argmax(coch_p.mean(axis=1)))
    cf = cfg.gammatone_centre_freqs[ch]
    erb = 24.7 + cf / 9.26449
    assert abs(cf - freq) <= erb / 2


def test_tone_at_a_channel_centre_peaks_in_that_channel():
    cf = F.PAPER.gammatone_centre_freqs
    for k in (21, 45, 69):  # A2, A4, A6
        _, coch_p = F.band_energies(tone(cf[k], 61.0, SR), F.PAPER)
        assert int(np.argmax(coch_p.mean(axis=1))) == k


def test_mel_matches_librosa_reference():
    import librosa

    y = np.random.default_rng(3).normal(size=3 * SR).astype(np.float32)
    ours, _ = F.band_energies(y, F.CLIP)
    ref = librosa.feature.melspectrogram(
        y=F.preemphasise(y), sr=SR, n_fft=1024, hop_length=256, win_length=512, window="hamming",
        center=True, pad_mode="constant", power=2.0, n_mels=128)
    np.testing.assert_allclose(ours, ref, rtol=2e-3, atol=1e-6 * ref.max())


def test_compression_is_log_and_power_law_log10():
    mel_p = np.array([[np.e**2, 0.0]], np.float32)
    coch_p = np.array([[1000.0, 0.0]], np.float32)
    mel, coch = F.compress(mel_p, coch_p, F.CLIP)
    np.testing.assert_allclose(mel, [[2.0, np.log(1e-10)]], rtol=1e-5)
    np.testing.assert_allclose(coch, [[0.9, -10.0]], rtol=1e-5)


def test_config_json_round_trip_and_hash():
    for cfg in (F.CLIP, F.PAPER, F.DISPLAY):
        back = F.FeatureConfig.from_json(cfg.to_json())
        assert back == cfg and back.hash == cfg.hash
    assert len({F.CLIP.hash, F.PAPER.hash, F.DISPLAY.hash}) == 3
    assert dataclasses.replace(F.CLIP, n_mels=64).hash != F.CLIP.hash
    with pytest.raises(dataclasses.FrozenInstanceError):
        F.CLIP.n_mels = 64
    with pytest.raises(ValueError, match="bogus"):
        F.FeatureConfig.from_dict({**F.CLIP.to_dict(), "bogus": 1})
    assert F.preset("paper") is F.PAPER
    with pytest.raises(ValueError, match="unknown feature preset"):
        F.preset("nope")


def test_training_windows_cut_sixty_one_second_clips():
    y = np.random.default_rng(1).normal(size=100 * SR).astype(np.float32)
    mel, coch = F.training_windows(y, F.CLIP)
    assert mel.shape == (60, 128, 87) and coch.shape == (60, 84, 87)
    mel_p, coch_p = F.training_windows(y, F.PAPER)
    assert mel_p.shape == (1, 128, 87) and coch_p.shape == (1, 84, 87)
    # window k is exactly frames [86k, 86k + 87) of the segment's frame sequence
    seq = F.frame_sequence(y[15 * SR: 75 * SR], F.CLIP)
    np.testing.assert_array_equal(mel[7], seq.mel[:, 7 * 86: 7 * 86 + 87])


def test_a_short_clip_gives_each_distinct_window_once():
    y = np.random.default_rng(2).normal(size=30 * SR).astype(np.float32)
    mel, _ = F.training_windows(y, F.CLIP)
    assert mel.shape[0] == 30  # not 60 with 30 repeats
    flat = mel.reshape(mel.shape[0], -1)
    assert len({row.tobytes() for row in flat}) == 30
    ctx, _ = F.training_windows(y, F.CONTEXT)  # 4 s windows every 2 s
    assert ctx.shape[0] == 14 and len({w.tobytes() for w in ctx.reshape(14, -1)}) == 14
    # a track shorter than one window is repeated to fill that window only
    short = np.random.default_rng(3).normal(size=int(3.5 * SR)).astype(np.float32)
    assert F.training_windows(short, F.CONTEXT)[0].shape[0] == 1
    # the paper preset keeps its fixed 60 s input: one matrix from the repeated clip
    assert F.training_windows(y, F.PAPER)[0].shape[0] == 1


def test_sliding_windows_are_views_with_hop():
    x = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    w = F.sliding_windows(x, 4, 3)
    assert w.shape == (3, 2, 4)
    np.testing.assert_array_equal(w[1], x[:, 3:7])
    with pytest.raises(ValueError):
        F.sliding_windows(x, 11, 1)


def test_trajectory_windows_clamp_to_first_and_last_full_window():
    duration = 10.0
    n_total = F.frame_count(int(duration * SR), F.CLIP)
    times, starts = F.trajectory_starts(n_total, duration, F.CLIP)
    assert times[1] - times[0] == pytest.approx(0.5, abs=0.01)
    assert times[-1] <= duration and duration - times[-1] < 0.5
    assert starts[0] == 0 and starts[1] == 0  # before 1 s: the first full window
    assert starts.max() <= n_total - 87 and np.all(np.diff(starts) >= 0)
    # the window for t = 5 s ends at the frame of 5 s
    k = int(np.argmin(np.abs(times - 5.0)))
    end_frame = starts[k] + 87
    assert abs(end_frame * 256 / SR - times[k]) < 0.02
    assert F.window_start_at(0.2, n_total, F.CLIP) == 0
    assert F.window_start_at(1e6, n_total, F.CLIP) == n_total - 87


def test_display_views_shapes_and_db_range():
    y = tone(440.0, 5.0, SR)
    v = F.display_views(y, SR)
    assert v.mel_db.shape == (128, 1 + 5 * SR // 512) and v.coch_db.shape[0] == 84
    assert v.mel_db.max() == 0.0 and v.mel_db.min() >= -80.0
    assert v.hop_seconds == pytest.approx(512 / SR)
    assert np.all(np.diff(v.mel_freqs) > 0) and v.coch_freqs[0] == pytest.approx(32.70, abs=0.01)
    assert abs(v.coch_freqs[int(np.argmax(v.coch_db.mean(axis=1)))] - 440.0) < 40
