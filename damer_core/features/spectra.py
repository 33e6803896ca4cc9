"""DAMER model features (paper section III-C, docs/SPEC.md section 4) and display spectrograms.

Mel spectrogram and cochleogram come from one shared framed power spectrum: pre-emphasis,
Hamming-windowed frames of N samples with hop N/2, a 2N-point FFT, then a 128-band Mel bank
(natural log) and an 84-band gammatone bank (power law 0.3, then log10). The recipe is a frozen
:class:`FeatureConfig` stored in every checkpoint, so inference recomputes exactly what a model
was trained on.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import numpy as np

from damer_core.audio.decoding import MODEL_SAMPLE_RATE, select_segment
from damer_core.configs import from_checked_dict
from damer_core.contract.display import DisplayViews
from damer_core.contract.errors import InputError
from damer_core.features.numba_env import configure_numba_cache

C1_HZ = 32.703195662574764  # 440 * 2 ** (-57 / 12)
# what DAMER's Mel stream reads (FeatureConfig.mel_path)
MEL, MUSICNN, MUSICNN_TUNED, MUSICNN_FULL = "mel", "musicnn", "musicnn-tuned", "musicnn-full"
MUSICNN_PATHS = (MUSICNN, MUSICNN_TUNED, MUSICNN_FULL)
TUNED_PATHS = (MUSICNN_TUNED, MUSICNN_FULL)  # DAMER trains musicnn's layers: packed training windows
MUSICNN_LAYERS = {MUSICNN: "musicnn's front and mid-end", MUSICNN_TUNED: "musicnn's front and fine-tuned mid-end",
                  MUSICNN_FULL: "musicnn's fine-tuned front and mid-end"}  # a Mel path's layers, in words


@dataclass(frozen=True)
class FeatureConfig:
    """One feature recipe. ``n_frames`` (T) is the model's time dimension."""

    name: str = "clip"
    sample_rate: int = MODEL_SAMPLE_RATE
    segment_start_s: float = 15.0
    segment_length_s: float = 60.0
    frame_length: int = 512
    hop_length: int = 256
    n_fft: int = 1024
    center: bool = True
    n_frames: int = 87
    train_hop_frames: int = 86  # windows cut from a track's segment for training (1 s clips)
    trajectory_hop_frames: int = 43  # unused since trajectories use an exact 0.5 s grid; kept so bundles load
    n_mels: int = 128
    n_gammatone: int = 84
    gammatone_fmin: float = C1_HZ
    gammatone_bands_per_octave: int = 12
    power_law: float = 0.3
    preemphasis: float = 0.97
    log_floor: float = 1e-10
    # "mel": the Mel stream reads the log-Mel bands; "musicnn": musicnn's front and mid-end, its 192
    # channels (n_mels) on the same frames (docs/SPEC.md section 5b); "musicnn-tuned": the same
    # with the mid-end fine-tuned inside DAMER: its training windows hold the front end's frames
    # (damer_core.features.midend_windows); "musicnn-full": the front end fine-tuned too, its
    # training windows hold the patches' mel power
    mel_path: str = MEL
    # TUNED_PATHS in a trained model: the weights of musicnn's layers it fine-tuned (the mid-end,
    # with "musicnn-full" the front end too; sha256, 16 hex digits), so a track's Mel stream through
    # them is cached apart from another model's; empty while training
    midend: str = ""

    @property
    def gammatone_centre_freqs(self) -> np.ndarray:
        k = np.arange(self.n_gammatone)
        return self.gammatone_fmin * 2.0 ** (k / self.gammatone_bands_per_octave)

    @property
    def window_seconds(self) -> float:
        """Audio covered by one T-frame model window."""
        return ((self.n_frames - 1) * self.hop_length + (0 if self.center else self.frame_length)) / self.sample_rate

    def to_dict(self) -> dict:
        """Every setting; ``mel_path`` only where it is not the Mel spectrogram and ``midend`` only where
        set, so the configs (and cache keys) from before they existed are unchanged."""
        unset = {"mel_path": MEL, "midend": ""}
        return {k: v for k, v in asdict(self).items() if k not in unset or v != unset[k]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict) -> FeatureConfig:
        return from_checked_dict(cls, data, "feature-config")

    @classmethod
    def from_json(cls, text: str) -> FeatureConfig:
        return cls.from_dict(json.loads(text))

    @property
    def hash(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


CLIP = FeatureConfig()
PAPER = FeatureConfig(
    name="paper", frame_length=30_000, hop_length=15_000, n_fft=60_000, center=False,
    train_hop_frames=87, trajectory_hop_frames=1,
)
# `context` [decision beyond docs/SPEC.md section 4, which lists clip and paper]: the `clip` framing rule
# with N = 2048 (hop 1024, FFT 4096), so one 87-frame window covers 4 s instead of 1 s, with 4x finer
# frequency resolution (neighbouring semitones resolved down to about middle C instead of about C6).
# Training windows start every 43 frames (2 s): 1 s holds little of the harmony and rhythm valence needs.
CONTEXT = FeatureConfig(name="context", frame_length=2048, hop_length=1024, n_fft=4096, train_hop_frames=43)
# `context-musicnn` [decision, docs/SPEC.md section 5b]: `context` with musicnn's front and mid-end as
# the Mel stream (its 192 channels, averaged onto the same 46 ms frames); the cochleogram as in `context`.
CONTEXT_MUSICNN = replace(CONTEXT, name="context-musicnn", mel_path=MUSICNN, n_mels=192)
# `context-musicnn-tuned` [decision, docs/SPEC.md section 5b]: the same with musicnn's mid-end
# fine-tuned inside DAMER at a low rate (TrainConfig.midend_lr); the front end stays frozen.
CONTEXT_MUSICNN_TUNED = replace(CONTEXT_MUSICNN, name="context-musicnn-tuned", mel_path=MUSICNN_TUNED)
# `context-musicnn-full` [decision, docs/SPEC.md section 5b]: all of musicnn's front and mid-end
# fine-tuned inside DAMER at that low rate: a GPU's work (the front end is 96 % of musicnn's compute).
CONTEXT_MUSICNN_FULL = replace(CONTEXT_MUSICNN, name="context-musicnn-full", mel_path=MUSICNN_FULL)
PRESETS = {"clip": CLIP, "context": CONTEXT, "paper": PAPER, "context-musicnn": CONTEXT_MUSICNN,
           "context-musicnn-tuned": CONTEXT_MUSICNN_TUNED, "context-musicnn-full": CONTEXT_MUSICNN_FULL}
# What the user looks at: finer frames, no pre-emphasis (it would tilt the picture), dB.
DISPLAY = FeatureConfig(
    name="display", frame_length=2048, hop_length=512, n_fft=2048, center=True,
    train_hop_frames=1, trajectory_hop_frames=1, preemphasis=0.0,
)


def preset(name: str) -> FeatureConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown feature preset {name!r}; choose one of {', '.join(PRESETS)}") from None


def preemphasise(y: np.ndarray, coef: float = 0.97) -> np.ndarray:
    """x'(n) = x(n) - coef * x(n-1), with x'(0) = x(0)."""
    y = np.asarray(y, dtype=np.float32)
    if coef == 0.0 or y.size == 0:
        return y
    out = np.empty_like(y)
    out[0] = y[0]
    np.subtract(y[1:], np.float32(coef) * y[:-1], out=out[1:])
    return out


def frame_count(n_samples: int, cfg: FeatureConfig) -> int:
    if cfg.center:
        return 1 + n_samples // cfg.hop_length
    return 0 if n_samples < cfg.frame_length else 1 + (n_samples - cfg.frame_length) // cfg.hop_length


@functools.lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """[n_mels, n_fft // 2 + 1], Slaney-style triangles from 0 Hz to Nyquist (librosa)."""
    configure_numba_cache()
    import librosa.filters

    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels).astype(np.float32)


@functools.lru_cache(maxsize=8)
def gammatone_filterbank(sample_rate: int, n_fft: int, centre_freqs: tuple[float, ...]) -> np.ndarray:
    """Squared magnitude responses [n_bands, n_fft // 2 + 1] of 4th-order ERB gammatone filters at
    ``centre_freqs``, unity gain at each centre (the gammatone package's FFT-weight maths, Slaney /
    Ellis, with our own centre frequencies instead of its ERB-spaced ones)."""
    from gammatone import filters

    cf = np.asarray(centre_freqs, dtype=np.float64)
    fs = float(sample_rate)
    ucirc = np.exp(2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft)[None, :]
    _, a11, a12, a13, a14, _, _, _, b2, gain = filters.make_erb_filters(fs, cf, 1.0).T
    pole = (np.sqrt(b2) * np.exp(2j * np.pi * cf / fs))[:, None]
    mag = (
        np.abs(ucirc + a11[:, None] * fs) * np.abs(ucirc + a12[:, None] * fs)
        * np.abs(ucirc + a13[:, None] * fs) * np.abs(ucirc + a14[:, None] * fs)
        * np.abs(fs * (pole - ucirc) * (pole.conj() - ucirc)) ** -4
        / gain[:, None]
    )
    return (mag**2).astype(np.float32)


def _filterbanks(cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    mel = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)
    gt = gammatone_filterbank(cfg.sample_rate, cfg.n_fft, tuple(cfg.gammatone_centre_freqs.tolist()))
    return mel, gt


def band_energies(y: np.ndarray, cfg: FeatureConfig, chunk_bytes: int = 1 << 23) -> tuple[np.ndarray, np.ndarray]:
    """Mel and gammatone band energies ``[n_mels, F]``, ``[n_gammatone, F]`` from one framed power
    spectrum (pre-emphasis, Hamming, ``n_fft``-point FFT), in chunks of frames (BandEnergies)."""
    y = np.asarray(y, dtype=np.float32)
    acc = BandEnergies(cfg, y.shape[0], chunk_bytes)
    acc.feed(y)
    return acc.finish()


class BandEnergies:
    """``band_energies`` of a signal of ``n_samples`` that arrives block by block: each frame is
    computed as soon as its samples are in, and only the samples still needed are kept, so a 2 h
    track is never in memory as a whole (pre-emphasis and centre padding included)."""

    def __init__(self, cfg: FeatureConfig, n_samples: int, chunk_bytes: int = 1 << 23):
        self.cfg, self.n = cfg, n_samples
        self.n_frames = frame_count(n_samples, cfg)
        if self.n_frames <= 0:
            raise ValueError(f"signal of {n_samples} samples is shorter than one {cfg.frame_length}-sample frame")
        mel_fb, gt_fb = _filterbanks(cfg)
        self.both = np.concatenate([mel_fb, gt_fb], axis=0).T.copy()  # [bins, n_mels + n_gt]
        self.step = max(1, chunk_bytes // (8 * (cfg.n_fft // 2 + 1)))
        self.pad = cfg.frame_length // 2 if cfg.center else 0
        self.out = np.empty((self.n_frames, self.both.shape[1]), dtype=np.float32)
        self.done = 0  # frames computed
        self.buf = np.zeros(0, dtype=np.float32)  # samples buf_start.. of the (unpadded) signal
        self.buf_start = 0

    def feed(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        self.buf = block if not self.buf.size else np.concatenate([self.buf, block])
        self._compute(self.buf_start + self.buf.shape[0])

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        self._compute(self.n)
        return self.out[:, :self.cfg.n_mels].T, self.out[:, self.cfg.n_mels:].T

    def _compute(self, have: int) -> None:
        """Every frame whose samples end by ``have`` (or by the end of the signal)."""
        cfg = self.cfg
        ready = self.n_frames
        if have < self.n:  # frame i ends at sample i * hop + frame_length - pad
            ready = min(ready, max(0, (have + self.pad - cfg.frame_length) // cfg.hop_length + 1))
        window = _hamming(cfg.frame_length)
        for i in range(self.done, ready, self.step):
            j = min(ready, i + self.step)
            span = _emphasised_span(self.buf, i * cfg.hop_length, (j - 1) * cfg.hop_length + cfg.frame_length,
                                    cfg, self.buf_start, self.n)
            frames = np.lib.stride_tricks.as_strided(span, shape=(j - i, cfg.frame_length),
                                                     strides=(cfg.hop_length * span.strides[0], span.strides[0]),
                                                     writeable=False)
            spec = np.fft.rfft(frames * window, n=cfg.n_fft, axis=1)
            power = spec.real * spec.real + spec.imag * spec.imag
            np.matmul(power.astype(np.float32, copy=False), self.both, out=self.out[i:j])
        self.done = max(self.done, ready)
        keep = max(0, self.done * cfg.hop_length - self.pad - 1)  # the next frame's first sample, and one before
        keep = min(keep, self.buf_start + self.buf.shape[0])  # a hop longer than a frame skips samples not yet here
        if keep > self.buf_start:
            self.buf = self.buf[keep - self.buf_start:]
            self.buf_start = keep


def _emphasised_span(y: np.ndarray, start: int, stop: int, cfg: FeatureConfig, offset: int = 0,
                     n_total: int | None = None) -> np.ndarray:
    """Samples ``start:stop`` of the pre-emphasised signal, zero-padded by half a frame on each
    side when ``cfg.center`` (what ``preemphasise`` then ``np.pad`` give, one chunk at a time).
    ``y`` holds the signal's samples from ``offset`` on; ``n_total`` is the signal's length."""
    n_total = y.shape[0] + offset if n_total is None else n_total
    pad = cfg.frame_length // 2 if cfg.center else 0
    out = np.zeros(stop - start, dtype=np.float32)
    lo, hi = max(start - pad, 0), min(stop - pad, n_total)
    if hi > lo:
        seg = y[lo - offset:hi - offset]
        dest = out[lo + pad - start:hi + pad - start]
        if cfg.preemphasis == 0.0:
            dest[:] = seg
        else:
            coef = np.float32(cfg.preemphasis)
            dest[0] = seg[0] - coef * y[lo - 1 - offset] if lo > 0 else seg[0]
            np.subtract(seg[1:], coef * seg[:-1], out=dest[1:])
    return out


@functools.lru_cache(maxsize=8)
def _hamming(n: int) -> np.ndarray:
    # Periodic Hamming (scipy/librosa "hamming" with fftbins=True).
    return (0.54 - 0.46 * np.cos(2 * np.pi * np.arange(n) / n)).astype(np.float32)


def compress(mel_power: np.ndarray, coch_power: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Model compression: natural log of Mel energies; power law then log10 for the cochleogram."""
    floor = np.float32(cfg.log_floor)
    mel = np.log(np.maximum(mel_power, floor))
    coch = np.log10(np.maximum(np.power(np.maximum(coch_power, 0), np.float32(cfg.power_law)), floor))
    return mel.astype(np.float32, copy=False), coch.astype(np.float32, copy=False)


class FrameSequence(NamedTuple):
    mel: np.ndarray  # [n_mels, F]
    coch: np.ndarray  # [n_gammatone, F]

    @property
    def n_frames(self) -> int:
        return self.mel.shape[1]


def frame_sequence(y: np.ndarray, cfg: FeatureConfig = CLIP) -> FrameSequence:
    """Model features for every frame of ``y`` (a whole track or a segment)."""
    seq = FrameSequence(*compress(*band_energies(y, cfg), cfg))
    return with_mel_path(seq, y, cfg)


def with_mel_path(seq: FrameSequence, y: np.ndarray, cfg: FeatureConfig) -> FrameSequence:
    """``seq`` with the Mel stream ``cfg.mel_path`` names: musicnn's mid-end frames of ``y`` in
    place of the log-Mel bands, on the same frames (through fine-tuned layers, ``cfg.midend``)."""
    if cfg.mel_path == MEL:
        return seq
    from damer_core.features.musicnn import midend_frames
    from damer_core.features.tuned_midend import musicnn_for

    return FrameSequence(midend_frames(y, cfg.sample_rate, seq.n_frames, cfg.hop_length / cfg.sample_rate,
                                       musicnn_for(cfg.midend)), seq.coch)


def segment_features(y: np.ndarray, cfg: FeatureConfig = CLIP) -> tuple[np.ndarray, np.ndarray]:
    """Features of exactly one model window: ``[128, T]`` and ``[84, T]``. ``y`` is one clip (1 s for
    ``clip``) or one 60 s segment (``paper``)."""
    seq = frame_sequence(y, cfg)
    if seq.n_frames < cfg.n_frames:
        raise ValueError(f"{y.shape[0]} samples give {seq.n_frames} frames; the {cfg.name} preset needs {cfg.n_frames}")
    return seq.mel[:, :cfg.n_frames], seq.coch[:, :cfg.n_frames]


def sliding_windows(x: np.ndarray, width: int, hop: int) -> np.ndarray:
    """Views ``[W, bands, width]`` of ``x [bands, F]`` starting every ``hop`` frames (no copy)."""
    if x.shape[1] < width:
        raise ValueError(f"{x.shape[1]} frames are fewer than one {width}-frame window")
    view = np.lib.stride_tricks.sliding_window_view(x, width, axis=1)  # [bands, F-width+1, width]
    return view[:, ::hop].transpose(1, 0, 2)


def training_windows(track: np.ndarray, cfg: FeatureConfig = CLIP, path: str = "<audio>") -> tuple[np.ndarray, np.ndarray]:
    """The samples a labelled track contributes: its model segment (15-75 s, docs/SPEC.md section 3) cut
    into T-frame windows every ``train_hop_frames`` (60 one-second clips for ``clip``, one 60 s
    matrix for ``paper``). A track shorter than the segment is used once as it is (a 30 s clip gives
    30 clips, none repeated) where a window is shorter than the segment; it is repeated only to
    fill one window (or the ``paper`` preset's fixed 60 s). Returns copies ``[W, 128, T]``, ``[W, 84, T]``
    (a mid-end in training packs its own: damer_core.features.midend_windows)."""
    seq = frame_sequence(training_segment(track, cfg, path), cfg)
    return (np.ascontiguousarray(sliding_windows(seq.mel, cfg.n_frames, cfg.train_hop_frames)),
            np.ascontiguousarray(sliding_windows(seq.coch, cfg.n_frames, cfg.train_hop_frames)))


def training_segment(track: np.ndarray, cfg: FeatureConfig = CLIP, path: str = "<audio>") -> np.ndarray:
    """The samples :func:`training_windows` cuts its windows from (the model segment)."""
    one_window = cfg.window_seconds + cfg.hop_length / cfg.sample_rate
    min_length = one_window if one_window < cfg.segment_length_s else None
    return select_segment(track, cfg.sample_rate, cfg.segment_start_s, cfg.segment_length_s, path=path,
                          min_length_s=min_length)


def training_window_ends(n_windows: int, cfg: FeatureConfig) -> np.ndarray:
    """Where each of :func:`training_windows`' windows ends in its segment, in seconds."""
    return np.arange(n_windows) * cfg.train_hop_frames * cfg.hop_length / cfg.sample_rate + cfg.window_seconds


def window_end_frame(t_seconds: float, cfg: FeatureConfig) -> int:
    """Index one past the last frame that ends at or before ``t_seconds``."""
    if cfg.center:
        return int(np.floor(t_seconds * cfg.sample_rate / cfg.hop_length)) + 1
    return int(np.floor((t_seconds * cfg.sample_rate - cfg.frame_length) / cfg.hop_length)) + 1


def trajectory_starts(n_frames_total: int, duration_s: float, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """Times (an exact 0.5 s grid from 0 s to the end, docs/SPEC.md section 5) and, for each, the start
    frame of the window ending there; windows that would start before 0 or end after the track are
    clamped to the first / last full window (docs/SPEC.md section 4)."""
    from damer_core.contract.trajectory import grid

    times = grid(duration_s)
    last_start = n_frames_total - cfg.n_frames
    if last_start < 0:
        raise ValueError(f"{n_frames_total} frames are fewer than one {cfg.n_frames}-frame window")
    ends = np.array([window_end_frame(t, cfg) for t in times])
    return times, np.clip(ends - cfg.n_frames, 0, last_start)


def window_start_at(t_seconds: float, n_frames_total: int, cfg: FeatureConfig) -> int:
    """Start frame of the model window for the moment ``t_seconds`` (the live prediction)."""
    return int(np.clip(window_end_frame(t_seconds, cfg) - cfg.n_frames, 0, max(0, n_frames_total - cfg.n_frames)))


def display_views(y: np.ndarray, sample_rate: int = MODEL_SAMPLE_RATE, cfg: FeatureConfig = DISPLAY,
                  top_db: float = 80.0) -> DisplayViews:
    """Whole-track Mel spectrogram and cochleogram for the views, in dB relative to their maximum."""
    if sample_rate != cfg.sample_rate:
        cfg = replace(cfg, sample_rate=sample_rate)
    return views_from_bands(*band_energies(y, cfg), cfg, top_db)


def views_from_bands(mel_p: np.ndarray, coch_p: np.ndarray, cfg: FeatureConfig = DISPLAY,
                     top_db: float = 80.0) -> DisplayViews:
    """The views of a whole track's band energies: dB relative to the maximum, floored at -top_db."""
    configure_numba_cache()
    import librosa

    views = []
    for p in (mel_p, coch_p):
        db = np.maximum(p, np.float32(1e-12)).astype(np.float32)
        np.log10(db, out=db)
        db *= np.float32(10.0)
        db -= db.max() if db.size else 0.0
        np.maximum(db, np.float32(-top_db), out=db)
        views.append(db)
    mel_freqs = librosa.mel_frequencies(n_mels=cfg.n_mels + 2, fmax=cfg.sample_rate / 2)[1:-1]
    return DisplayViews(views[0], views[1], mel_freqs, cfg.gammatone_centre_freqs, cfg.hop_length / cfg.sample_rate)
