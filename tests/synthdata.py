"""Synthetic data sets whose labels follow from the audio (damer_core.audio.synthetic), laid out like
the real releases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from damer_core.audio.decoding import normalise_loudness
from damer_core.audio.synthetic import chord_music
from damer_core.features.spectra import CLIP, segment_features

SR = 22_050


def memo_arrays(root: Path, n: int, seed: int = 0) -> Path:
    """A Memo2496-style release: memo/mel_spec.npy, memo/cochlegram.npy, memo/labels/label_{a,v}.npy.
    Arousal is high for fast playing, valence for major harmony; labels zero-centred."""
    rng = np.random.default_rng(seed)
    mels, cochs, la, lv = [], [], [], []
    for i in range(n):
        major, fast = bool(rng.integers(2)), bool(rng.integers(2))
        # like the real release: the track is loudness-normalised (-23 LUFS) before features
        track = normalise_loudness(chord_music(3.0, major, fast, SR, seed=seed * 100_000 + i), SR)
        mel, coch = segment_features(track[SR:2 * SR], CLIP)
        mels.append(mel)
        cochs.append(coch)
        la.append(rng.uniform(0.2, 1.0) * (1 if fast else -1))
        lv.append(rng.uniform(0.2, 1.0) * (1 if major else -1))
    memo = root / "memo"
    (memo / "labels").mkdir(parents=True, exist_ok=True)
    np.save(memo / "mel_spec.npy", np.stack(mels))
    np.save(memo / "cochlegram.npy", np.stack(cochs))
    np.save(memo / "labels" / "label_a.npy", np.array(la))
    np.save(memo / "labels" / "label_v.npy", np.array(lv))
    return root


def write_song(path: Path, major: bool, fast: bool, seconds: float = 4.0, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".mp3": "MP3", ".wav": "WAV", ".ogg": "OGG", ".flac": "FLAC"}[path.suffix]
    sf.write(path, chord_music(seconds, major, fast, SR, seed=seed), SR, format=fmt)
    return path
