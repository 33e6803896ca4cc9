"""At least 200 generated bad audio files of every kind the hardening suite names, plus the good
files that must still be processed around them."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
from wavcraft import wav_bytes

from damer_core.audio.synthetic import chord_music

SR = 22_050


def _encoded(fmt: str, seconds: float, seed: int) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, chord_music(seconds, True, True, SR, seed=seed), SR, format=fmt)
    return buf.getvalue()


def bad_folder(root: Path, n_good: int = 3) -> tuple[list[Path], list[Path]]:
    """Returns (bad files, good files) written under ``root``."""
    rng = np.random.default_rng(2026)
    root.mkdir(parents=True, exist_ok=True)
    bad: list[Path] = []

    def add(name: str, data: bytes) -> None:
        p = root / name
        p.write_bytes(data)
        bad.append(p)

    good_bytes = {ext: _encoded(fmt, 5.0, 7) for ext, fmt in [("wav", "WAV"), ("flac", "FLAC"), ("ogg", "OGG"), ("mp3", "MP3")]}
    for ext, data in good_bytes.items():  # 120 truncated at random points (below the 3 s minimum)
        for i, cut in enumerate(rng.integers(1, len(data) // 2, size=30)):
            add(f"trunc_{ext}_{i:02d}.{ext}", data[:cut])
    for i in range(40):  # random bytes with audio extensions
        ext = ["wav", "flac", "ogg", "mp3", "m4a"][i % 5]
        add(f"random_{i:02d}.{ext}", rng.integers(0, 256, size=int(rng.integers(1, 60_000)), dtype=np.uint8).tobytes())
    for ext in ["wav", "flac", "ogg", "mp3", "aiff", "opus"]:
        add(f"zero_length.{ext}", b"")
    for i, text in enumerate(
        [b"hello\n" * 300, b"<html></html>", b"%PDF-1.4\n" + bytes(3000), b"\x89PNG\r\n\x1a\n" + bytes(900)]
    ):
        add(f"wrong_ext_{i}.{['flac', 'mp3', 'wav', 'ogg'][i]}", text)
    for i in range(5):
        add(f"one_sample_{i}.wav", wav_bytes(np.array([0.1 * i])))
        add(f"zero_channels_{i}.wav", wav_bytes(np.zeros(SR * 5), channels=0))
    for i, rate in enumerate([0, 1, 7, 900, 3_000_000, 2_000_000_000]):
        add(f"absurd_rate_{i}.wav", wav_bytes(np.zeros(SR * 4), rate=rate))
    for i, declared in enumerate([0xFFFFFFF0, 0x7FFFFFFF, 10**9, 123_456_789, 0xFFFFFFFF]):
        add(f"huge_declared_{i}.wav", wav_bytes(np.zeros(300), declared_data=declared))
    for i in range(10):  # headers only
        ext = ["wav", "flac", "ogg", "mp3", "wav"][i % 5]
        add(f"header_only_{i}.{ext}", good_bytes[ext][: 20 + 10 * i])
    good = []
    for i in range(n_good):
        p = root / f"good_{i}.ogg"
        sf.write(p, chord_music(8.0, i % 2 == 0, True, SR, seed=100 + i), SR)
        good.append(p)
    return bad, good
