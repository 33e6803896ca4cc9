"""Synthetic music whose emotion labels follow from the sound, for tests, demos and benchmarks.

Arousal follows note rate and loudness (fast and loud = high); valence follows harmony (the
I-IV-V triads of C major = positive, of C minor = negative). A model that learns these has learnt
from audio.
"""

from __future__ import annotations

import numpy as np

MAJOR = (0, 4, 7)
MINOR = (0, 3, 7)


def tone(freq: float, seconds: float, sample_rate: int = 22_050, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(round(seconds * sample_rate))) / sample_rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chord_music(seconds: float, major: bool, fast: bool, sample_rate: int = 22_050, seed: int = 0) -> np.ndarray:
    """A sequence of plucked triads: major or minor harmony, fast and loud or slow and soft."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * sample_rate))
    out = np.zeros(n, dtype=np.float32)
    note_s = rng.uniform(0.11, 0.16) if fast else rng.uniform(0.7, 1.0)
    level = rng.uniform(0.5, 0.8) if fast else rng.uniform(0.08, 0.15)
    decay = 12.0 if fast else 2.5
    intervals = MAJOR if major else MINOR
    step = int(note_s * sample_rate)
    t = np.arange(step) / sample_rate
    env = np.exp(-decay * t).astype(np.float32)
    for start in range(0, n, step):
        # I, IV and V of C major or C minor, in C5-G5, where a 23 ms frame still separates a major
        # third from a minor one.
        root = 72 + int(rng.choice([0, 5, 7]))
        chord = np.zeros(step, dtype=np.float32)
        for semis in intervals:
            f = 440.0 * 2 ** ((root + semis - 69) / 12)
            chord += np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)).astype(np.float32)
            chord += 0.3 * np.sin(4 * np.pi * f * t).astype(np.float32)
        seg = (level / 3) * env * chord
        out[start:start + step] = seg[: n - start]
    out += rng.normal(0, 0.002, n).astype(np.float32)
    return out
