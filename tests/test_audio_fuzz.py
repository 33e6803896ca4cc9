"""Fuzz set of bad audio files: each gives a one-line AudioError naming the file, never a crash."""

import io

import numpy as np
import soundfile as sf
from wavcraft import wav_bytes

from damer_core.audio.decoding import AudioError, load_for_model
from damer_core.audio.synthetic import chord_music

SR = 22_050
MUST_FAIL = "must_fail"
MAY_DECODE = "may_decode"


def encoded(fmt, seconds=6.0):
    buf = io.BytesIO()
    sf.write(buf, chord_music(seconds, major=True, fast=True, seed=1), SR, format=fmt)
    return buf.getvalue()


def build_fuzz_set(root):
    rng = np.random.default_rng(1234)
    files = []

    def add(name, data, expect):
        p = root / name
        p.write_bytes(data)
        files.append((p, expect))

    good = {ext: encoded(fmt) for ext, fmt in [("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG"), ("mp3", "MP3")]}
    for ext, data in good.items():  # truncated at random points: some decode (shorter), some fail
        for i, cut in enumerate(rng.integers(1, len(data) - 1, size=5)):
            add(f"truncated_{ext}_{i}.{ext}", data[:cut], MAY_DECODE)
        add(f"header_only.{ext}", data[:44], MUST_FAIL)
    for i in range(16):  # random bytes with audio extensions
        ext = ["wav", "flac", "ogg", "mp3"][i % 4]
        add(f"random_{i}.{ext}", rng.integers(0, 256, size=int(rng.integers(1, 40_000)), dtype=np.uint8).tobytes(), MUST_FAIL)
    for ext in ["wav", "flac", "ogg", "mp3", "aiff"]:
        add(f"empty.{ext}", b"", MUST_FAIL)
    add("text_named.flac", b"hello, this is a text file\n" * 100, MUST_FAIL)
    add("png_named.ogg", b"\x89PNG\r\n\x1a\n" + bytes(2000), MUST_FAIL)
    add("flac_named.wav", good["flac"], MAY_DECODE)  # wrong extension, right content
    add("ogg_named.mp3", good["ogg"], MAY_DECODE)
    add("one_sample.wav", wav_bytes(np.array([0.5])), MUST_FAIL)
    add("zero_channels.wav", wav_bytes(np.zeros(SR * 5), channels=0), MUST_FAIL)
    for rate in [0, 1, 500, 2_000_000_000]:
        add(f"rate_{rate}.wav", wav_bytes(np.zeros(SR * 5), rate=rate), MUST_FAIL)
    for i, declared in enumerate([0xFFFFFFF0, 0x7FFFFFFF, 10**9]):  # huge declared lengths, tiny bodies
        add(f"huge_header_{i}.wav", wav_bytes(np.zeros(200), declared_data=declared), MUST_FAIL)
    for i in range(4):  # a valid RIFF header followed by noise bytes that pretend to be PCM
        body = rng.integers(0, 256, size=SR * 2 * (i + 1), dtype=np.uint8).tobytes()
        add(f"riff_noise_{i}.wav", wav_bytes(None, declared_data=len(body)) + body, MAY_DECODE)
    return files


def test_fuzz_set_each_file_reported_never_crashes(tmp_path):
    files = build_fuzz_set(tmp_path)
    assert len(files) >= 50
    failures = 0
    for path, expect in files:
        try:
            y = load_for_model(path)
        except AudioError as e:
            failures += 1
            msg = str(e)
            assert msg.startswith(path.name + ": "), msg
            assert "\n" not in msg and len(msg) < 300
            continue
        assert expect == MAY_DECODE, f"{path.name} decoded but is not audio"
        assert y.ndim == 1 and y.dtype == np.float32 and np.isfinite(y).all() and y.size >= 3 * SR
    assert failures >= sum(e == MUST_FAIL for _, e in files)
