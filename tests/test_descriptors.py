"""Musical descriptors (damer_core.features.descriptors) on generated audio whose key, mode and tempo are
known, and against librosa computed directly on the same frames."""

from __future__ import annotations

import librosa
import numpy as np
import pytest

from damer_core.features import descriptors as D

SR = D.SAMPLE_RATE


def _midi(n: float) -> float:
    return 440.0 * 2 ** ((n - 69) / 12)


def chords(progression: list[list[int]], seconds_each: float = 2.0, repeats: int = 2) -> np.ndarray:
    t = np.arange(int(seconds_each * SR)) / SR
    parts = []
    for chord in progression * repeats:
        notes = list(chord) + [chord[0] - 12]
        parts.append(sum(np.sin(2 * np.pi * _midi(n) * t) for n in notes) * np.exp(-0.3 * t))
    return (0.1 * np.concatenate(parts)).astype(np.float32)


C_MAJOR = [[60, 64, 67], [65, 69, 72], [67, 71, 74], [60, 64, 67]]  # I IV V I in C
A_MINOR = [[57, 60, 64], [62, 65, 69], [64, 68, 71], [57, 60, 64]]  # i iv V i in A minor
C_MINOR = [[60, 63, 67], [65, 68, 72], [67, 71, 74], [60, 63, 67]]  # i iv V i in C minor


def clicks(bpm: float, seconds: float = 20.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros(int(seconds * SR), np.float32)
    for k in np.arange(0, seconds, 60.0 / bpm):
        i = int(k * SR)
        y[i : i + 300] += rng.normal(0, 0.5, min(300, y.size - i)).astype(np.float32) * np.exp(
            -np.arange(min(300, y.size - i)) / 60
        )
    return y


def column(x: np.ndarray, name: str) -> np.ndarray:
    return x[:, D.NAMES.index(name)]


def test_names_groups_and_shape():
    assert len(D.NAMES) == len(set(D.NAMES)) == sum(len(g) for g in D.GROUPS.values())
    assert 100 <= len(D.NAMES) <= 300  # "at most a few hundred numbers" (docs/SPEC.md section 4)
    x = D.clip_descriptors(chords(C_MAJOR))
    assert x.shape[1] == len(D.NAMES) and np.isfinite(x).all()
    assert D.group_columns(["tonal"]).size == len(D.GROUPS["tonal"])
    with pytest.raises(ValueError, match="unknown descriptor group"):
        D.group_columns(["harmony"])


@pytest.mark.parametrize("progression, key", [(C_MAJOR, ("C", "major")), (A_MINOR, ("A", "minor")),
                                              (C_MINOR, ("C", "minor"))])
def test_key_and_mode_of_known_music(progression, key):
    streams = D.frame_streams(chords(progression))
    assert D.estimate_key(streams.chroma.mean(axis=1)) == key


def test_mode_descriptor_separates_major_from_minor():
    major = column(D.clip_descriptors(chords(C_MAJOR)), "mode").mean()
    minor = column(D.clip_descriptors(chords(C_MINOR)), "mode").mean()
    assert major > 0.1 and minor < 0.0
    m2 = column(D.clip_descriptors(chords(C_MAJOR)), "mode2s_mean").mean()
    assert m2 > column(D.clip_descriptors(chords(C_MINOR)), "mode2s_mean").mean()


@pytest.mark.parametrize("bpm", [90.0, 120.0, 150.0])
def test_tempo_and_pulse_of_a_click_track(bpm):
    x = D.clip_descriptors(clicks(bpm))
    tempo = 2 ** column(x, "tempo_log2")
    assert np.median(tempo) == pytest.approx(bpm, rel=0.06)
    assert column(x, "pulse_clarity").mean() > 0.4
    assert column(x, "onset_rate").mean() == pytest.approx(bpm / 60.0, rel=0.25)
    noise = D.clip_descriptors(np.random.default_rng(1).normal(0, 0.1, 20 * SR).astype(np.float32))
    assert column(noise, "pulse_clarity").mean() < column(x, "pulse_clarity").mean()


def test_window_statistics_are_librosa_features_of_the_window():
    """A window's MFCC and chroma means and level are librosa's features over the same frames."""
    y = chords(C_MAJOR) + 0.01 * np.random.default_rng(0).normal(size=8 * 2 * SR).astype(np.float32)
    streams = D.frame_streams(y)
    start, length = 40, D.window_frames(4.0)
    x = D.window_descriptors(streams, np.array([start]), length)[0]
    mag = np.abs(librosa.stft(y, n_fft=D.N_FFT, hop_length=D.HOP))
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=mag**2, sr=SR, n_mels=64))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=14)[1:, start:start + length]
    np.testing.assert_allclose([x[D.NAMES.index(f"mfcc{i}_mean")] for i in range(1, 14)], mfcc.mean(axis=1), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose([x[D.NAMES.index(f"mfcc{i}_std")] for i in range(1, 14)], mfcc.std(axis=1), rtol=1e-3, atol=1e-3)
    chroma = librosa.feature.chroma_stft(S=mag**2, sr=SR, tuning=0.0)[:, start:start + length]
    np.testing.assert_allclose([x[D.NAMES.index(f"chroma_{p}_mean")] for p in D.PITCHES], chroma.mean(axis=1), atol=1e-5)
    centroid = librosa.feature.spectral_centroid(S=mag, sr=SR)[0, start:start + length] / 1000
    assert x[D.NAMES.index("centroid_mean")] == pytest.approx(centroid.mean(), rel=1e-4)
    rms_db = librosa.amplitude_to_db(librosa.feature.rms(S=mag, frame_length=D.N_FFT), ref=1.0, top_db=None)[0]
    assert x[D.NAMES.index("level_mean")] == pytest.approx(rms_db[start:start + length].mean(), abs=1e-3)


def test_centroid_and_bandwidth_equal_librosa():
    mag = np.abs(librosa.stft(np.random.default_rng(2).normal(size=3 * SR).astype(np.float32), n_fft=D.N_FFT, hop_length=D.HOP))
    c, b = D.centroid_bandwidth(mag)
    np.testing.assert_allclose(c[0] * 1000, librosa.feature.spectral_centroid(S=mag, sr=SR)[0], rtol=1e-6)
    np.testing.assert_allclose(b[0] * 1000, librosa.feature.spectral_bandwidth(S=mag, sr=SR)[0], rtol=1e-5)


def test_level_descriptors_follow_loudness_and_a_crescendo():
    y = chords(C_MAJOR)
    loud, soft = D.clip_descriptors(y), D.clip_descriptors(0.1 * y)
    assert column(loud, "level_mean").mean() - column(soft, "level_mean").mean() == pytest.approx(20.0, abs=0.5)
    ramp = (y * np.linspace(0.05, 1.0, y.size)).astype(np.float32)
    assert column(D.clip_descriptors(ramp), "level_slope").mean() > 1.0  # dB per second, rising


def test_windows_ending_at_times_are_clamped_like_the_model_trajectory():
    streams = D.frame_streams(chords(C_MAJOR))
    x = D.descriptors_at(streams, np.array([0.0, 0.5, 4.0, 100.0]))
    length = D.window_frames(4.0)
    np.testing.assert_allclose(x[0], x[1])  # both clamp to the first full window
    np.testing.assert_allclose(x[0], D.window_descriptors(streams, np.array([0]), length)[0])
    np.testing.assert_allclose(x[3], D.window_descriptors(streams, np.array([streams.n_frames - length]), length)[0])
    with pytest.raises(ValueError, match="do not fit"):
        D.window_descriptors(streams, np.array([streams.n_frames]), length)


def test_a_very_short_clip_gives_one_window():
    x = D.clip_descriptors(chords(C_MAJOR)[: int(1.5 * SR)])
    assert x.shape == (1, len(D.NAMES)) and np.isfinite(x).all()


def test_blocks_give_the_whole_track_values():
    """A long file is described block by block (damer_core.features.extract's streamed path): the same
    windows as from the whole track, to filter-edge precision."""
    rng = np.random.default_rng(3)
    y = np.concatenate([chords(C_MAJOR, repeats=3), clicks(130, 24.0), chords(C_MINOR, repeats=3)])
    y = (y + 0.003 * rng.normal(size=y.size)).astype(np.float32)
    times = np.arange(0.0, y.size / SR, 0.5)
    whole = D.descriptors_at(D.frame_streams(y), times)
    blocked = D.BlockDescriptors(times, chunk_s=15.0)
    for i in range(0, y.size, 44_100):
        blocked.feed(y[i:i + 44_100])
    got = blocked.finish()
    assert got.shape == whole.shape
    scale = np.abs(whole).max(axis=0) + 1e-3
    assert np.median(np.abs(got - whole) / scale) < 1e-4
    assert np.quantile(np.abs(got - whole) / scale, 0.99) < 0.02
