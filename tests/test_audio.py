import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf
from wavcraft import wav_bytes, write

from damer_core.audio import decoding as audio
from damer_core.audio.decoding import (
    AudioError,
    UnsupportedFormat,
    decode,
    load_for_model,
    loudness_lufs,
    normalise_loudness,
    select_segment,
)
from damer_core.audio.synthetic import tone

SR = 22_050


def stereo_sine(freq=440.0, seconds=4.0, rate=44_100):
    t = np.arange(int(seconds * rate)) / rate
    left = 0.5 * np.sin(2 * np.pi * freq * t)
    right = 0.25 * np.sin(2 * np.pi * freq * t)
    return np.stack([left, right], axis=1).astype(np.float32)


def dominant_freq(y, rate):
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    return np.argmax(spec) * rate / len(y)


@pytest.mark.parametrize("ext,fmt", [("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG"), ("mp3", "MP3")])
def test_round_trip_resamples_to_mono_22050(tmp_path, ext, fmt):
    src = stereo_sine()
    path = tmp_path / f"tone.{ext}"
    sf.write(path, src, 44_100, format=fmt)
    out = decode(path, sample_rate=SR)
    assert out.sample_rate == SR and out.source_rate == 44_100
    assert out.samples.shape[1] == 1 and out.samples.dtype == np.float32
    # MP3 adds encoder delay/padding; the others keep the length exactly (to resampler rounding).
    assert abs(out.samples.shape[0] - 4 * SR) <= (3000 if ext == "mp3" else 2)
    y = out.samples[SR // 2: 3 * SR, 0]
    assert dominant_freq(y, SR) == pytest.approx(440.0, abs=1.0)
    # mono mix is the channel mean: amplitude (0.5 + 0.25) / 2
    assert np.max(np.abs(y)) == pytest.approx(0.375, abs=0.03)


def test_keeps_channels_and_rate_when_asked(tmp_path):
    path = tmp_path / "tone.flac"
    sf.write(path, stereo_sine(), 44_100)
    out = decode(path, sample_rate=None, mono=False)
    assert out.samples.shape == (4 * 44_100, 2) and out.sample_rate == 44_100
    np.testing.assert_allclose(out.samples, stereo_sine(), atol=1e-4)


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_m4a_decodes_through_ffmpeg(tmp_path):
    wav = tmp_path / "src.wav"
    sf.write(wav, stereo_sine(), 44_100)
    m4a = tmp_path / "tone.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True)
    out = decode(m4a, sample_rate=SR)
    assert abs(out.samples.shape[0] / SR - 4.0) < 0.1
    assert dominant_freq(out.samples[SR // 2: 3 * SR, 0], SR) == pytest.approx(440.0, abs=1.0)


def test_m4a_without_ffmpeg_names_file_and_what_to_install(tmp_path, monkeypatch):
    m4a = tmp_path / "song.m4a"
    m4a.write_bytes(b"\x00\x00\x00\x20ftypM4A " + b"\x00" * 100)
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    with pytest.raises(UnsupportedFormat) as err:
        decode(m4a)
    assert "song.m4a" in str(err.value) and "ffmpeg" in str(err.value)
    assert isinstance(err.value, AudioError)


def test_loudness_meter_matches_bs1770_reference():
    # BS.1770: a full-scale 997 Hz sine in one channel measures -3.01 LKFS.
    y = tone(997.0, 10.0, SR, amplitude=1.0)
    assert loudness_lufs(y, SR) == pytest.approx(-3.01, abs=0.1)


@pytest.mark.parametrize("amplitude", [0.01, 0.3, 1.0])
def test_normalised_sine_measures_minus_23(amplitude):
    y = normalise_loudness(tone(997.0, 8.0, SR, amplitude=amplitude), SR)
    assert loudness_lufs(y, SR) == pytest.approx(-23.0, abs=0.5)


def test_silence_is_left_alone():
    y = np.zeros(5 * SR, np.float32)
    assert np.array_equal(normalise_loudness(y, SR), y)


def ramp(seconds):
    return np.arange(int(seconds * SR), dtype=np.float32)


def test_segment_long_track_takes_15_to_75_s():
    seg = select_segment(ramp(100), SR)
    assert seg.shape[0] == 60 * SR and seg[0] == 15 * SR and seg[-1] == 75 * SR - 1


def test_segment_between_60_and_75_takes_last_60_s():
    y = ramp(70)
    seg = select_segment(y, SR)
    assert seg.shape[0] == 60 * SR and seg[0] == 10 * SR and seg[-1] == y[-1]


def test_segment_short_track_repeats_never_silence():
    y = ramp(25) + 1
    seg = select_segment(y, SR)
    assert seg.shape[0] == 60 * SR
    assert np.count_nonzero(seg == 0) == 0
    np.testing.assert_array_equal(seg[: y.size], y)
    np.testing.assert_array_equal(seg[y.size: 2 * y.size], y)


def test_segment_under_3_s_is_rejected():
    with pytest.raises(AudioError, match="too short"):
        select_segment(ramp(2.9), SR, path="tiny.wav")


def test_real_recordings_decode_and_normalise(real_tracks):
    assert len(real_tracks) == 2
    for path in real_tracks:
        y = load_for_model(path)
        assert y.dtype == np.float32 and y.ndim == 1 and y.shape[0] > 40 * SR
        assert loudness_lufs(y, SR) == pytest.approx(-23.0, abs=0.5)


def test_short_file_rejected_with_name(tmp_path):
    p = write(tmp_path / "blip.wav", wav_bytes(np.zeros(2 * SR)))
    with pytest.raises(AudioError) as err:
        load_for_model(p)
    assert str(err.value).startswith("blip.wav: too short")


@pytest.mark.parametrize("case,reason", [
    ("missing", "file not found"),
    ("empty", "empty (0 bytes)"),
    ("folder", "is a folder"),
    ("zero_channels", "no audio channels"),
    ("absurd_rate", "sample rate"),
    ("text", "not a readable audio file"),
])
def test_each_failure_has_one_line_reason(tmp_path, case, reason):
    p = tmp_path / f"{case}.wav"
    if case == "empty":
        p.write_bytes(b"")
    elif case == "folder":
        p.mkdir()
    elif case == "zero_channels":
        p.write_bytes(wav_bytes(np.zeros(SR), channels=0))
    elif case == "absurd_rate":
        p.write_bytes(wav_bytes(np.zeros(SR), rate=4_000_000))
    elif case == "text":
        p.write_text("this is not audio\n" * 50)
    with pytest.raises(AudioError) as err:
        decode(p)
    msg = str(err.value)
    assert msg.startswith(f"{case}.wav: ") and reason in msg and "\n" not in msg


# -- a chained Ogg (hardening round four) -----------------------------------------------------------
def chained_ogg(path, seconds=(3.0, 2.0), rate=22_050):
    """Ogg Vorbis streams one after another in one file (what cat and some recorders write)."""
    import soundfile as sf

    parts = []
    for i, s in enumerate(seconds):
        part = path.with_name(f"part{i}.ogg")
        t = np.arange(int(s * rate)) / rate
        sf.write(part, (0.3 * np.sin(2 * np.pi * (220 + 110 * i) * t)).astype(np.float32), rate, format="OGG")
        parts.append(part.read_bytes())
    path.write_bytes(b"".join(parts))
    return path


@pytest.mark.parametrize("seconds", [(3.0, 2.0), (1.0, 1.0, 2.5)])
def test_a_chained_ogg_is_decoded_whole(tmp_path, seconds):
    import shutil

    from damer_core.audio.decoders import ogg_chains
    from damer_core.audio.decoding import DecodeStream

    path = chained_ogg(tmp_path / "chained.ogg", seconds)
    assert ogg_chains(path) == len(seconds)
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg is not installed")
    frames = sum(b.shape[0] for b in DecodeStream(path, 22_050))
    assert frames / 22_050 == pytest.approx(sum(seconds), abs=0.05)  # not only the first stream's


def test_a_chained_ogg_without_ffmpeg_says_why_it_cannot_be_read_whole(tmp_path, monkeypatch):
    import shutil

    from damer_core.audio.decoding import DecodeStream
    from damer_core.contract.errors import UnsupportedFormat

    path = chained_ogg(tmp_path / "chained.ogg")
    real = shutil.which
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None if name == "ffmpeg" else real(name, *a, **k))
    with pytest.raises(UnsupportedFormat, match=r"chained.ogg: is a chained Ogg file \(2 streams one after another\)"):
        DecodeStream(path, 22_050)
    single = tmp_path / "single.ogg"
    single.write_bytes(path.with_name("part0.ogg").read_bytes())
    assert sum(b.shape[0] for b in DecodeStream(single, 22_050)) / 22_050 == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("channels", [1, 2, 6, 8, 12])
def test_mono_is_the_mean_of_the_channels(channels):
    from damer_core.audio.decoding import _mono

    block = np.random.default_rng(channels).normal(0, 0.3, (10_001, channels)).astype(np.float32)
    mono, mean = _mono(block), block.mean(axis=1, keepdims=True, dtype=np.float32)
    assert mono.shape == (10_001, 1) and mono.dtype == np.float32
    if channels <= 7:  # to the bit: numpy sums them in order too
        assert np.array_equal(mono, mean)
    np.testing.assert_allclose(mono, mean, rtol=0, atol=1e-6)


def test_overflowing_samples_are_counted_after_the_quick_check():
    from damer_core.audio.decoding import OVERFLOW, SampleFaults

    faults = SampleFaults()
    faults.count(np.array([[0.5, -0.5], [2 * OVERFLOW, 0.0], [-3 * OVERFLOW, np.nan]], np.float32))
    faults.count(np.zeros((0, 2), np.float32))
    assert (faults.total, faults.overflowing, faults.non_finite) == (6, 2, 1)
