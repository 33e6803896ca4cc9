"""Musical descriptors (docs/SPEC.md section 4, beyond the paper): the cues valence depends on that the
two spectrogram views carry only weakly at small data sizes.

One STFT of the whole track gives frame-level streams (hop 512 at 22,050 Hz, 43 frames a second);
any window's descriptors are statistics of those streams over the window, computed for all
windows at once from cumulative sums, so a 5-minute track's 600 trajectory windows cost about
what one pass over the track costs. Four named groups:

- ``timbre``: MFCC 1-13 and their deltas, spectral contrast (7 bands), centroid, bandwidth,
  roll-off, flatness, zero-crossing rate: mean and standard deviation of each.
- ``tonal``: chroma (mean, spread), its correlation with the 24 Krumhansl-Kessler key profiles
  (best major, best minor, their difference: the mode, and the key clarity), the same major/minor
  difference over 2 s segments (mean and spread inside the window), tonnetz (mean, spread), chroma
  flux and chroma entropy.
- ``rhythm``: onset strength (mean, spread), the onset envelope's autocorrelation over lags of
  40-240 BPM (tempo as log2 BPM, pulse clarity = the peak's height), onset rate, beat strength
  (the envelope's peaks against its mean), percussive share (spectral flux against energy).
- ``dynamics``: frame level in dB (mean, spread, range between the 5th and 95th percentiles),
  and the level's slope over the window.

Everything is computed with librosa's feature functions from the same decode as the model
features (float32 mono at 22,050 Hz, loudness-normalised), so the numbers are librosa's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 22_050
N_FFT = 2048
HOP = 512
FRAME_RATE = SAMPLE_RATE / HOP
WINDOW_S = 4.0  # a window's span, as the context preset's model window
CLIP_HOP_S = 1.0  # a static prediction's windows: one a second from the segment's start
SEGMENT_S = 2.0  # the mode is also measured over 2 s segments inside a window
TEMPO_BPM = (40.0, 240.0)

# Krumhansl-Kessler key profiles (C major, C minor); the other keys are rotations.
_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
PITCHES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


def _stat_names(prefix: str, names: list[str]) -> list[str]:
    return [f"{prefix}{n}_mean" for n in names] + [f"{prefix}{n}_std" for n in names]


_TIMBRE_STREAMS = ([f"mfcc{i}" for i in range(1, 14)] + [f"dmfcc{i}" for i in range(1, 14)]
                   + [f"contrast{i}" for i in range(7)] + ["centroid", "bandwidth", "rolloff", "flatness", "zcr"])
_CHROMA = [f"chroma_{p}" for p in PITCHES]
_TONNETZ = [f"tonnetz{i}" for i in range(6)]
GROUPS: dict[str, list[str]] = {
    "timbre": _stat_names("", _TIMBRE_STREAMS),
    "tonal": (_stat_names("", _CHROMA + _TONNETZ + ["chroma_flux", "chroma_entropy"])
              + ["key_major", "key_minor", "mode", "key_clarity", "mode2s_mean", "mode2s_std"]),
    "rhythm": _stat_names("", ["onset", "flux_share"]) + ["tempo_log2", "pulse_clarity", "onset_rate", "beat_strength"],
    "dynamics": ["level_mean", "level_std", "level_range", "level_slope"],
}
NAMES: list[str] = [n for g in GROUPS.values() for n in g]


def group_columns(groups: tuple[str, ...] | list[str]) -> np.ndarray:
    """Column indices of the named groups in :data:`NAMES` order."""
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise ValueError(f"unknown descriptor group(s) {', '.join(unknown)}; choose from {', '.join(GROUPS)}")
    wanted = {n for g in groups for n in GROUPS[g]}
    return np.array([i for i, n in enumerate(NAMES) if n in wanted], dtype=np.int64)


@dataclass
class Streams:
    """Frame-level streams of one track (``[n, frames]`` each) at :data:`FRAME_RATE`."""

    timbre: np.ndarray  # the _TIMBRE_STREAMS
    chroma: np.ndarray  # 12
    tonnetz: np.ndarray  # 6
    chroma_flux: np.ndarray  # 1
    chroma_entropy: np.ndarray  # 1
    onset: np.ndarray  # 1
    flux_share: np.ndarray  # 1
    level_db: np.ndarray  # 1

    @property
    def n_frames(self) -> int:
        return self.timbre.shape[1]


def frame_streams(y: np.ndarray, sample_rate: int = SAMPLE_RATE) -> Streams:
    """The frame-level streams of audio ``y`` (mono float32 at 22,050 Hz) from one STFT."""
    from damer_core.features.numba_env import configure_numba_cache

    configure_numba_cache()
    import librosa

    if sample_rate != SAMPLE_RATE:
        raise ValueError(f"descriptors are computed at {SAMPLE_RATE} Hz, got {sample_rate}")
    y = np.asarray(y, dtype=np.float32)
    if y.size < N_FFT:
        y = np.pad(y, (0, N_FFT - y.size))
    mag = np.abs(librosa.stft(y, n_fft=N_FFT, hop_length=HOP, center=True)).astype(np.float32)
    power = mag**2
    mel_db = librosa.power_to_db(librosa.feature.melspectrogram(S=power, sr=sample_rate, n_mels=64))
    mfcc = librosa.feature.mfcc(S=mel_db, n_mfcc=14)[1:]  # MFCC 0 is the level: dynamics has it
    d_mfcc = librosa.feature.delta(mfcc, mode="nearest")
    contrast = librosa.feature.spectral_contrast(S=mag, sr=sample_rate)
    centroid, bandwidth = centroid_bandwidth(mag, sample_rate)
    rolloff = librosa.feature.spectral_rolloff(S=mag, sr=sample_rate) / 1000.0
    flatness = np.log10(librosa.feature.spectral_flatness(S=mag) + 1e-6)
    zcr = librosa.feature.zero_crossing_rate(y, frame_length=N_FFT, hop_length=HOP)[:, :mag.shape[1]]
    timbre = np.vstack([mfcc, d_mfcc, contrast, centroid, bandwidth, rolloff, flatness, zcr])

    chroma = librosa.feature.chroma_stft(S=power, sr=sample_rate, tuning=0.0)
    tonnetz = librosa.feature.tonnetz(chroma=chroma, sr=sample_rate)
    norm = chroma / np.maximum(chroma.sum(axis=0, keepdims=True), 1e-9)
    entropy = -(norm * np.log2(norm + 1e-12)).sum(axis=0, keepdims=True)
    flux = np.r_[0.0, np.linalg.norm(np.diff(chroma, axis=1), axis=0)][None, :]

    onset = librosa.onset.onset_strength(S=mel_db, sr=sample_rate)[None, :]
    energy_change = np.maximum(np.diff(mel_db, axis=1, prepend=mel_db[:, :1]), 0.0).mean(axis=0)
    flux_share = (energy_change / (np.abs(mel_db - mel_db.min()).mean(axis=0) + 1e-6))[None, :]
    level = librosa.amplitude_to_db(librosa.feature.rms(S=mag, frame_length=N_FFT), ref=1.0, top_db=None)
    level = np.maximum(level, -100.0)
    return Streams(timbre.astype(np.float64), chroma.astype(np.float64), tonnetz.astype(np.float64),
                   flux.astype(np.float64), entropy.astype(np.float64), onset.astype(np.float64),
                   flux_share.astype(np.float64), level.astype(np.float64))


def centroid_bandwidth(mag: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """librosa's spectral centroid and (p = 2) bandwidth, in kHz, ``[1, frames]`` each, as two matrix
    products: librosa's own functions broadcast the frequency grid over every frame and took 1.2 s
    of a 5-minute track's 2 s (tests/test_descriptors.py checks the values are librosa's)."""
    import librosa

    freqs = librosa.fft_frequencies(sr=sample_rate, n_fft=2 * (mag.shape[0] - 1)).astype(np.float64) / 1000.0
    norm = mag.sum(axis=0)
    total = np.where(norm > 0, norm, 1.0)
    centroid = (freqs @ mag) / total
    spread = (freqs**2 @ mag) / total - centroid**2
    bandwidth = np.sqrt(np.maximum(spread, 0.0))
    return centroid[None, :], bandwidth[None, :]


def window_frames(seconds: float) -> int:
    return max(1, int(round(seconds * FRAME_RATE)))


def _window_sums(x: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Sums of ``x[:, s:s+length]`` for every start, ``[len(starts), n]``, from one cumulative sum."""
    c = np.concatenate([np.zeros((x.shape[0], 1)), np.cumsum(x, axis=1)], axis=1)
    return (c[:, starts + length] - c[:, starts]).T


def _mean_std(x: np.ndarray, starts: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    mean = _window_sums(x, starts, length) / length
    sq = _window_sums(x**2, starts, length) / length
    return mean, np.sqrt(np.maximum(sq - mean**2, 0.0))


def _key_correlations(chroma_mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pearson correlation of each row's chroma with the 12 major and 12 minor profiles."""
    def profiles(p):
        rolled = np.stack([np.roll(p, k) for k in range(12)])
        return (rolled - rolled.mean(axis=1, keepdims=True)) / rolled.std(axis=1, keepdims=True)

    c = chroma_mean - chroma_mean.mean(axis=1, keepdims=True)
    c = c / np.maximum(c.std(axis=1, keepdims=True), 1e-9)
    return c @ profiles(_MAJOR).T / 12.0, c @ profiles(_MINOR).T / 12.0


def estimate_key(chroma_mean: np.ndarray) -> tuple[str, str]:
    """("C", "major") etc. for one chroma vector: the best-correlated Krumhansl-Kessler profile."""
    major, minor = _key_correlations(np.asarray(chroma_mean, np.float64)[None, :])
    if major.max() >= minor.max():
        return PITCHES[int(major.argmax())], "major"
    return PITCHES[int(minor.argmax())], "minor"


def _mode_strength(chroma_mean: np.ndarray) -> np.ndarray:
    major, minor = _key_correlations(chroma_mean)
    return major.max(axis=1) - minor.max(axis=1)


def _autocorrelation(env: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Normalised autocorrelation of each window of the onset envelope, ``[windows, length]``."""
    idx = starts[:, None] + np.arange(length)[None, :]
    w = env[idx]
    w = w - w.mean(axis=1, keepdims=True)
    spec = np.fft.rfft(w, n=2 * length, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :length]
    return ac / np.maximum(ac[:, :1], 1e-12)


def _rhythm(onset: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    ac = _autocorrelation(onset, starts, length)
    lags = np.arange(length) / FRAME_RATE
    with np.errstate(divide="ignore"):
        bpm = np.where(lags > 0, 60.0 / np.maximum(lags, 1e-9), np.inf)
    in_range = (bpm >= TEMPO_BPM[0]) & (bpm <= TEMPO_BPM[1])
    if not in_range.any():  # a window too short for the slowest tempo
        in_range = lags > 0
    # a log-normal prior around 120 BPM (one octave wide), as librosa's tempo estimate uses: a
    # pulse at 120 BPM also peaks at 60 and 40 BPM, and the prior takes the beat, not the bar
    prior = np.exp(-0.5 * np.log2(np.where(in_range, bpm, 120.0) / 120.0) ** 2)
    masked = np.where(in_range[None, :], np.maximum(ac, 0.0) * prior[None, :], -np.inf)
    best = masked.argmax(axis=1)
    tempo = np.log2(60.0 / np.maximum(lags[best], 1.0 / FRAME_RATE))
    clarity = np.clip(ac[np.arange(len(starts)), best], 0.0, 1.0)
    idx = starts[:, None] + np.arange(length)[None, :]
    w = onset[idx]
    mean = w.mean(axis=1)
    peaks = (w[:, 1:-1] > w[:, :-2]) & (w[:, 1:-1] >= w[:, 2:]) & (w[:, 1:-1] > mean[:, None] + w.std(axis=1)[:, None])
    rate = peaks.sum(axis=1) / (length / FRAME_RATE)
    strength = np.where(peaks.any(axis=1), (w[:, 1:-1] * peaks).sum(axis=1) / np.maximum(peaks.sum(axis=1), 1), mean)
    strength = strength / np.maximum(mean, 1e-9)
    return np.stack([tempo, clarity, rate, np.log2(np.maximum(strength, 1e-3))], axis=1)


def window_descriptors(streams: Streams, starts: np.ndarray, length: int) -> np.ndarray:
    """``[len(starts), len(NAMES)]`` descriptors of the windows ``[s, s + length)`` (in frames)."""
    starts = np.asarray(starts, dtype=np.int64)
    if starts.size and (starts.min() < 0 or starts.max() + length > streams.n_frames):
        raise ValueError(f"windows of {length} frames from {starts.min()} to {starts.max()} do not fit "
                         f"{streams.n_frames} frames")
    t_mean, t_std = _mean_std(streams.timbre, starts, length)
    tonal_streams = np.vstack([streams.chroma, streams.tonnetz, streams.chroma_flux, streams.chroma_entropy])
    c_mean, c_std = _mean_std(tonal_streams, starts, length)
    major, minor = _key_correlations(c_mean[:, :12])
    key_major, key_minor = major.max(axis=1), minor.max(axis=1)
    seg = min(window_frames(SEGMENT_S), length)
    # the mode of every 2 s segment starting at each frame, then its mean and spread inside each window
    seg_starts = np.arange(streams.n_frames - seg + 1)
    seg_mode = _mode_strength(_window_sums(streams.chroma, seg_starts, seg) / seg)[None, :]
    inner = length - seg + 1
    m2_mean, m2_std = _mean_std(seg_mode, starts, inner)
    o_mean, o_std = _mean_std(np.vstack([streams.onset, streams.flux_share]), starts, length)
    rhythm = _rhythm(streams.onset[0], starts, length)
    l_mean, l_std = _mean_std(streams.level_db, starts, length)
    idx = starts[:, None] + np.arange(length)[None, :]
    level = streams.level_db[0][idx]
    lo, hi = np.percentile(level, [5, 95], axis=1)
    t = (np.arange(length) - (length - 1) / 2) / FRAME_RATE
    slope = (level - level.mean(axis=1, keepdims=True)) @ t / max(float(t @ t), 1e-9)
    out = np.hstack([
        t_mean, t_std,
        c_mean, c_std, key_major[:, None], key_minor[:, None], (key_major - key_minor)[:, None],
        np.maximum(key_major, key_minor)[:, None], m2_mean, m2_std,
        o_mean, o_std, rhythm,
        l_mean, l_std, (hi - lo)[:, None], slope[:, None],
    ])
    return out.astype(np.float32)


def descriptors_at(streams: Streams, end_times: np.ndarray, seconds: float = WINDOW_S) -> np.ndarray:
    """Descriptors of the windows of ``seconds`` ending at ``end_times`` (clamped to the track, as
    the model's trajectory windows are)."""
    length = min(window_frames(seconds), streams.n_frames)
    ends = np.round(np.asarray(end_times, np.float64) * FRAME_RATE).astype(np.int64)
    starts = np.clip(ends - length, 0, streams.n_frames - length)
    return window_descriptors(streams, starts, length)


def _clip_windows(n_frames: int, seconds: float, hop_s: float) -> tuple[np.ndarray, int]:
    """The start frames and the length of :func:`clip_descriptors`' windows over ``n_frames``."""
    length = min(window_frames(seconds), n_frames)
    return np.arange(0, n_frames - length + 1, window_frames(hop_s)), length


def clip_descriptors(y: np.ndarray, seconds: float = WINDOW_S, hop_s: float = CLIP_HOP_S) -> np.ndarray:
    """Descriptors of the windows of ``seconds`` every ``hop_s`` over all of ``y`` (one window if
    ``y`` is shorter): what a track's static prediction averages over."""
    streams = frame_streams(y)
    starts, length = _clip_windows(streams.n_frames, seconds, hop_s)
    return window_descriptors(streams, starts, length)


def clip_window_count(n_samples: int) -> int:
    """How many windows :func:`clip_descriptors` describes in ``n_samples`` of audio, without
    describing them (a head that reads only musicnn's embedding still averages over them)."""
    return len(_clip_windows(1 + n_samples // HOP, WINDOW_S, CLIP_HOP_S)[0])  # centred STFT frames


class BlockDescriptors:
    """:func:`descriptors_at` for audio that arrives in blocks (a long file decoded in a stream):
    at most ``chunk_s`` plus a 5 s tail is held, and the windows ending inside each chunk are
    described from it. Frames stay on the whole track's grid (every chunk starts on a hop), so
    the values are the whole-track ones up to the edges of the streams' filters."""

    def __init__(self, end_times: np.ndarray, chunk_s: float = 120.0):
        self.times = np.asarray(end_times, np.float64)
        self.chunk = int(chunk_s * SAMPLE_RATE)
        self.blocks: list[np.ndarray] = []
        self.held = 0
        self.start = 0  # sample index of the first held sample, a multiple of HOP
        self.done = 0  # trajectory points described so far
        self.rows: list[np.ndarray] = []

    def feed(self, block: np.ndarray) -> None:
        self.blocks.append(np.asarray(block, np.float32))
        self.held += block.shape[0]
        if self.held >= self.chunk:
            self._describe(final=False)

    def finish(self) -> np.ndarray:
        self._describe(final=True)
        return np.concatenate(self.rows) if self.rows else np.zeros((0, len(NAMES)), np.float32)

    def _describe(self, final: bool) -> None:
        y = np.concatenate(self.blocks)
        end = self.start + y.size
        ends = self.times[self.done:]
        if not final:  # a window's last frame needs half an FFT of audio after it
            ends = ends[ends * SAMPLE_RATE + N_FFT <= end]
        if ends.size:
            self.rows.append(descriptors_at(frame_streams(y), ends - self.start / SAMPLE_RATE))
            self.done += ends.size
        keep = max(0, y.size - int((WINDOW_S + 1.0) * SAMPLE_RATE))
        keep -= keep % HOP
        self.blocks, self.held, self.start = [y[keep:]], y.size - keep, self.start + keep
