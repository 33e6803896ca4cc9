"""Loudness (ITU-R BS.1770-4 with gating, pyloudnorm's measure) in chunks, so a 2 h track needs no
float64 copy of itself; the near-silence test; normalisation to -23 LUFS (docs/SPEC.md section 3)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TARGET_LUFS = -23.0
LUFS_CHUNK_SECONDS = 10.0  # the K-weighting runs over chunks this long: memory stays small for 2 h
SILENCE_LUFS = -70.0  # BS.1770's absolute gate: a 400 ms block below it counts as silence
MIN_AUDIBLE = 0.05  # below this share of audible blocks a track is near-silent (a lone click, DC)


def loudness_lufs(y: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4 with gating) of a mono signal, in LUFS: pyloudnorm's
    measure, computed in chunks (LoudnessMeter) so a 2 h track needs no float64 copy of itself."""
    return metered(y, sample_rate).lufs()


def metered(y: np.ndarray, sample_rate: int) -> LoudnessMeter:
    """A LoudnessMeter fed the whole of ``y``, a chunk at a time."""
    meter = LoudnessMeter(sample_rate)
    step = int(LUFS_CHUNK_SECONDS * sample_rate)
    for start in range(0, y.shape[0], step):
        meter.feed(y[start:start + step])
    return meter


class LoudnessMeter:
    """BS.1770-4 integrated loudness fed block by block: K-weighting with its filter state carried
    over, 100 ms sub-block energies (a 400 ms gating block is four of them, 75 % overlap)."""

    def __init__(self, sample_rate: int):
        import pyloudnorm
        import scipy.signal

        self.rate = sample_rate
        self.stages = list(pyloudnorm.Meter(sample_rate)._filters.values())  # high shelf, high pass
        self.states = [scipy.signal.lfilter_zi(f.b, f.a) * 0.0 for f in self.stages]
        self.sub = sample_rate / 10.0
        self.energy: list[float] = []
        self.n = 0

    def feed(self, x: np.ndarray) -> None:
        import scipy.signal

        x = np.asarray(x, dtype=np.float64).reshape(-1)
        if not x.size:
            return
        for i, f in enumerate(self.stages):
            x, self.states[i] = scipy.signal.lfilter(f.b, f.a, x, zi=self.states[i])
            x *= f.passband_gain
        squares = np.concatenate([[0.0], np.cumsum(x * x)])
        start, stop = self.n, self.n + x.shape[0]
        k = int(np.floor(start / self.sub)) if start else 0
        while True:  # the part of each 100 ms sub-block that lies in this block
            lo, hi = max(int(np.floor(k * self.sub)), start), min(int(np.floor((k + 1) * self.sub)), stop)
            if lo >= stop:
                break
            while len(self.energy) <= k:
                self.energy.append(0.0)
            self.energy[k] += squares[hi - start] - squares[lo - start]
            k += 1
        self.n = stop

    def _blocks(self) -> np.ndarray:
        n_blocks = int(np.round((self.n / self.rate - 0.4) / 0.1)) + 1
        e = np.concatenate([np.asarray(self.energy), np.zeros(4)])
        return (e[:n_blocks] + e[1:n_blocks + 1] + e[2:n_blocks + 2] + e[3:n_blocks + 3]) / (0.4 * self.rate)

    def lufs(self) -> float:
        if self.n < int(0.4 * self.rate) + 1:  # shorter than one gating block
            return float("-inf")
        return _gated_loudness(self._blocks())

    def loudness(self) -> Loudness:
        if self.n < int(0.4 * self.rate) + 1:
            return Loudness(float("-inf"), 0.0)
        z = self._blocks()
        with np.errstate(divide="ignore"):
            audible = float(np.mean(-0.691 + 10.0 * np.log10(z) >= SILENCE_LUFS))
        return Loudness(_gated_loudness(z), audible)


@dataclass(frozen=True)
class Loudness:
    """A track's integrated loudness (LUFS, before normalisation) and the share of its 400 ms
    blocks above the -70 LUFS gate: silence, a 1e-38 signal, a DC offset (K-weighting removes
    it) or a single click give a near-silent track, whose prediction says so."""

    lufs: float
    audible: float

    @property
    def near_silent(self) -> bool:
        return not np.isfinite(self.lufs) or self.lufs < SILENCE_LUFS or self.audible < MIN_AUDIBLE


def _gated_loudness(z: np.ndarray) -> float:
    """BS.1770-4 gating of the 400 ms blocks' mean squares: -70 LUFS absolute, -10 LU relative."""
    with np.errstate(divide="ignore"):
        block_lufs = -0.691 + 10.0 * np.log10(z)
    kept = z[block_lufs >= -70.0]
    if not kept.size:
        return float("-inf")
    relative = -0.691 + 10.0 * np.log10(kept.mean()) - 10.0
    kept = z[(block_lufs > relative) & (block_lufs > -70.0)]
    if not kept.size:
        return float("-inf")
    return float(-0.691 + 10.0 * np.log10(kept.mean()))


def normalise_loudness(y: np.ndarray, sample_rate: int, target_lufs: float = TARGET_LUFS) -> np.ndarray:
    """A copy of a mono signal scaled to ``target_lufs`` (``audio.samples_for_model`` scales its own
    buffer in place instead). Silence (no gated blocks) is returned unchanged."""
    y = np.array(y, dtype=np.float32)  # a copy: the caller's array is left as it was
    y *= gain_to_target(loudness_lufs(y, sample_rate), target_lufs)
    return y


def gain_to_target(lufs: float, target_lufs: float = TARGET_LUFS) -> np.float32:
    """The factor that brings a signal measured at ``lufs`` to ``target_lufs``; 1 for silence."""
    return np.float32(10.0 ** ((target_lufs - lufs) / 20.0)) if np.isfinite(lufs) else np.float32(1.0)
