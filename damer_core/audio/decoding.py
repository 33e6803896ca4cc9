"""Decoding, resampling, loudness normalisation and model-segment selection (docs/SPEC.md section 3).

Every failure to turn a file into usable audio raises :class:`AudioError` (one type, the file
name and a human reason in its message), so a caller that scans thousands of files can report
and skip instead of crashing. The decoders live in :mod:`damer_core.audio.decoders`, the loudness
measure in :mod:`damer_core.audio.loudness`; their public names are importable from here too.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from damer_core.audio.decoders import (  # noqa: F401 - re-exported: callers import them from here
    AUDIO_EXTENSIONS,
    FFMPEG_EXTENSIONS,
    FFMPEG_TIMEOUT_S,
    MAX_RATE,
    MIN_RATE,
    SOUNDFILE_EXTENSIONS,
    check_audio_file,
    ffmpeg_blocks,
    ogg_chains,
    soundfile_blocks,
)
from damer_core.audio.loudness import (  # noqa: F401 - re-exported
    LUFS_CHUNK_SECONDS,
    MIN_AUDIBLE,
    SILENCE_LUFS,
    TARGET_LUFS,
    Loudness,
    LoudnessMeter,
    gain_to_target,
    loudness_lufs,
    metered,
    normalise_loudness,
)
from damer_core.audio.native_stderr import NativeStderr  # noqa: F401 - re-exported
from damer_core.contract.errors import AudioError, UnsupportedFormat  # noqa: F401 - re-exported

MODEL_SAMPLE_RATE = 22_050
MIN_SECONDS = 3.0
MAX_SECONDS = 2 * 3600.0  # decoding stops with an error past this: guards huge or bogus headers


def audio_files(folder: str | os.PathLike, unreadable: Callable[[Path, str], None] | None = None) -> list[Path]:
    """Every audio file (by extension) under ``folder``, recursively (links followed, each folder
    once), sorted. A folder that cannot be listed (permission denied, a path too long) is passed
    to ``unreadable(folder, reason)`` and the walk goes on."""
    found, seen = [], set()

    def cannot_list(e: OSError) -> None:
        if unreadable is not None:
            unreadable(Path(e.filename or folder), e.strerror or str(e))

    for root, dirs, files in os.walk(os.fspath(folder), onerror=cannot_list, followlinks=True):
        try:
            st = os.stat(root)
        except OSError as e:
            cannot_list(e)
            dirs[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:  # a link back up the tree: listed once
            dirs[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        found += [Path(root, f) for f in files if Path(f).suffix.lower() in AUDIO_EXTENSIONS and Path(root, f).is_file()]
    return sorted(found)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 [frames, channels]
    sample_rate: int
    source_rate: int
    path: str

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def decode(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = True,
           max_seconds: float = MAX_SECONDS) -> DecodedAudio:
    """Decode a file to float32 ``[frames, channels]`` (one channel if ``mono``), resampled with
    soxr to ``sample_rate`` (None keeps the file's rate). Raises :class:`AudioError`. What the
    native decoder prints about damaged frames goes to the ``damer_core.audio.decoding`` log, not fd 2."""
    stream = DecodeStream(path, sample_rate, mono, max_seconds)
    buffer = _SampleBuffer(stream.channels, stream.expected_frames + 4096 if stream.expected_frames else 60 * stream.rate)
    for block in stream:
        buffer.append(block)
    return DecodedAudio(buffer.samples(), stream.rate, stream.source_rate, str(path))


class DecodeStream:
    """A file decoded block by block: float32 ``[n, channels]`` blocks at ``rate`` (mono when
    asked), non-finite samples zeroed. Iterating decodes the file once; iterate again for a second
    pass. ``expected_frames`` is what the header announces at ``rate`` (0: unknown, e.g. ffmpeg).
    Raises :class:`AudioError` (from the constructor or while iterating)."""

    def __init__(self, path: str | os.PathLike, sample_rate: int | None = None, mono: bool = True,
                 max_seconds: float = MAX_SECONDS):
        self.path, self.mono, self.max_seconds = Path(path), mono, max_seconds
        check_audio_file(self.path)
        rate, channels, blocks = self._open()
        self.source_rate, self.source_channels = rate, channels
        self.rate = sample_rate or rate
        self.channels = 1 if mono else channels
        self.expected_frames = min(getattr(blocks, "frames", 0), int(max_seconds * rate)) * self.rate // rate
        self._first = blocks
        self.faults = SampleFaults()

    def _open(self):
        ext = self.path.suffix.lower()
        self._native = NativeStderr(self.path)
        if ext in FFMPEG_EXTENSIONS:
            return ffmpeg_blocks(self.path)
        chains = ogg_chains(self.path) if ext in (".ogg", ".oga") else 1
        if chains > 1:  # libsndfile would stop after the first
            if shutil.which("ffmpeg") is None:
                raise UnsupportedFormat(self.path, f"is a chained Ogg file ({chains} streams one after "
                                                   "another): only ffmpeg decodes all of it (install it, e.g. "
                                                   "`apt install ffmpeg`)")
            return ffmpeg_blocks(self.path)
        try:
            return soundfile_blocks(self.path, self._native)
        except AudioError:
            if ext in SOUNDFILE_EXTENSIONS or shutil.which("ffmpeg") is None:
                raise
            return ffmpeg_blocks(self.path)

    def __iter__(self) -> Iterator[np.ndarray]:
        blocks, self._first = self._first, None
        if blocks is None:
            check_audio_file(self.path)
            blocks = self._open()[2]
        try:
            yield from self._convert(blocks)
        finally:
            self._native.report()

    def _convert(self, blocks) -> Iterator[np.ndarray]:
        import soxr

        resampler = None if self.rate == self.source_rate else soxr.ResampleStream(
            self.source_rate, self.rate, self.channels, dtype="float32", quality="HQ")
        max_in, seen = int(self.max_seconds * self.source_rate), 0
        self.faults = SampleFaults()
        try:
            for block in blocks:
                seen += block.shape[0]
                self.faults.count(block)
                if seen > max_in:
                    raise AudioError(self.path, f"longer than the {self.max_seconds / 3600:g} h limit")
                if self.mono:
                    block = _mono(block)
                if resampler is not None:
                    block = resampler.resample_chunk(np.ascontiguousarray(block), last=False)
                yield _finite(np.asarray(block, dtype=np.float32).reshape(-1, self.channels))
            if resampler is not None:
                yield _finite(resampler.resample_chunk(np.zeros((0, self.channels), np.float32), last=True)
                              .reshape(-1, self.channels))
        except (RuntimeError, ValueError, OSError, MemoryError) as e:
            raise AudioError(self.path, f"truncated or corrupt audio data ({e})") from None
        if seen == 0:
            raise AudioError(self.path, "contains no audio samples")


OVERFLOW = 1e3  # a float sample 60 dB past full scale is not music but a broken or hostile file


class SampleFaults:
    """Samples of a decoded file that are not audio: non-finite ones (NaN, infinity; read as
    silence) and overflowing ones (float samples past :data:`OVERFLOW`), as shares of all samples."""

    def __init__(self) -> None:
        self.total = self.non_finite = self.overflowing = 0

    def count(self, block: np.ndarray) -> None:
        self.total += block.size
        finite = np.isfinite(block)
        if not finite.all():
            self.non_finite += int(block.size - np.count_nonzero(finite))
        if block.dtype.kind == "f" and block.size and not max(block.max(), -block.min()) <= OVERFLOW:  # NaN: counted
            with np.errstate(invalid="ignore"):
                self.overflowing += int(np.count_nonzero(np.abs(block) > OVERFLOW))

    def shares(self) -> dict[str, np.ndarray]:
        """What the features keep, so a prediction can say what is wrong with the audio."""
        n = max(self.total, 1)
        return {"non_finite": np.array(self.non_finite / n), "overflowing": np.array(self.overflowing / n)}


def _mono(block: np.ndarray) -> np.ndarray:
    """``block.mean(axis=1, keepdims=True, dtype=float32)`` in a tenth of the time (numpy reduces
    over a short last axis slowly): its channels summed in order, then divided, the same numbers
    for up to 7 channels (numpy sums 8 or more pairwise: within float32 rounding of them)."""
    total = block[:, 0].astype(np.float32)  # a copy
    for c in range(1, block.shape[1]):
        total += block[:, c]
    total /= np.float32(block.shape[1])
    return total[:, None]


def _finite(block: np.ndarray) -> np.ndarray:
    if not np.isfinite(block).all():
        block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    return block


class _SampleBuffer:
    """Decoded blocks written into one array as they come, instead of a list joined at the end
    (which held the track twice: 1.3 GB more at the peak for 2 h of 22.05 kHz audio)."""

    def __init__(self, channels: int, capacity: int):
        self.data = np.empty((max(capacity, 1), channels), dtype=np.float32)
        self.n = 0

    def append(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=np.float32).reshape(-1, self.data.shape[1])
        if self.n + block.shape[0] > self.data.shape[0]:
            grown = np.empty((max(2 * self.data.shape[0], self.n + block.shape[0]), self.data.shape[1]), np.float32)
            grown[:self.n] = self.data[:self.n]
            self.data = grown
        self.data[self.n:self.n + block.shape[0]] = block
        self.n += block.shape[0]

    def samples(self) -> np.ndarray:
        return self.data[:self.n]


def load_for_model(path: str | os.PathLike, sample_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Mono float32 at ``sample_rate``, normalised to -23 LUFS; at least 3 s long."""
    return samples_for_model(DecodeStream(path, sample_rate, mono=True))[0]


def samples_for_model(stream: DecodeStream) -> tuple[np.ndarray, Loudness]:
    """The whole of ``stream`` (mono), checked for length and normalised to -23 LUFS in place,
    with its loudness before normalisation."""
    buffer = _SampleBuffer(1, stream.expected_frames + 4096 if stream.expected_frames else 60 * stream.rate)
    for block in stream:
        buffer.append(block[:, :1])
    y = buffer.samples()[:, 0]
    _check_length(stream.path, y.shape[0], stream.rate)
    loudness = metered(y, stream.rate).loudness()
    y *= gain_to_target(loudness.lufs)
    return y, loudness


def blocks_for_model(stream: DecodeStream) -> tuple[int, Loudness, Callable[[], Iterator[np.ndarray]]]:
    """A long track without holding it: a first pass measures its length and loudness, then the
    returned function decodes it again, yielding mono blocks normalised to -23 LUFS (the same
    samples ``samples_for_model`` gives). Returns (number of samples, loudness, that function)."""
    meter, n = LoudnessMeter(stream.rate), 0
    for block in stream:
        meter.feed(block[:, 0])
        n += block.shape[0]
    _check_length(stream.path, n, stream.rate)
    loudness = meter.loudness()
    gain = gain_to_target(loudness.lufs)

    def second_pass() -> Iterator[np.ndarray]:
        seen = 0
        for block in stream:
            seen += block.shape[0]
            yield block[:, 0] * gain
        if seen != n:
            raise AudioError(stream.path, "changed while it was being read (decode it again)")

    return n, loudness, second_pass


def too_short(path: str | os.PathLike, n: int, rate: int) -> AudioError:
    """The error for a track under MIN_SECONDS, its length rounded down to the millisecond (a
    2.9995 s file is "2.999 s", never "3.0 s; at least 3 s needed")."""
    seconds = math.floor(n / rate * 1000) / 1000
    return AudioError(path, f"too short ({seconds:.3f} s; at least {MIN_SECONDS:g} s needed)")


def _check_length(path: Path, n: int, rate: int) -> None:
    if n < MIN_SECONDS * rate:
        raise too_short(path, n, rate)


def _segment_plan(n: int, sample_rate: int, start_s: float, length_s: float,
                  min_length_s: float | None) -> tuple[int, int, int]:
    """(lo, hi, length): the model segment is ``y[lo:hi]``, repeated to ``length`` samples."""
    seg = int(round(length_s * sample_rate))
    start = int(round(start_s * sample_rate))
    if n >= start + seg:
        return start, start + seg, seg
    if n >= seg:
        return n - seg, n, seg
    need = seg if min_length_s is None else min(seg, int(np.ceil(min_length_s * sample_rate)))
    return 0, n, max(n, need)


def segment_span(n: int, sample_rate: int, start_s: float = 15.0, length_s: float = 60.0,
                 min_length_s: float | None = None) -> tuple[int, int] | None:
    """Where :func:`select_segment` takes the segment from a track of ``n`` samples, in samples,
    or None where it repeats the track to fill it."""
    lo, hi, length = _segment_plan(n, sample_rate, start_s, length_s, min_length_s)
    return (lo, hi) if hi - lo == length else None


def select_segment(y: np.ndarray, sample_rate: int, start_s: float = 15.0, length_s: float = 60.0,
                   path: str | os.PathLike = "<audio>", min_length_s: float | None = None) -> np.ndarray:
    """The model segment (docs/SPEC.md section 3): ``start_s`` to ``start_s + length_s`` when the track is
    long enough; the last ``length_s`` when it is not. A shorter track is repeated (never padded
    with silence) to ``min_length_s``: the whole segment by default (the ``paper`` preset's fixed
    60 s input); with ``min_length_s`` one model window (``clip``), so a 30 s clip stays 30 s and
    gives no repeated windows. Under 3 s raises :class:`AudioError`."""
    n = y.shape[0]
    if n < MIN_SECONDS * sample_rate:
        raise too_short(path, n, sample_rate)
    lo, hi, length = _segment_plan(n, sample_rate, start_s, length_s, min_length_s)
    if hi - lo == length:
        return y[lo:hi]
    return np.tile(y[lo:hi], -(-length // (hi - lo)))[:length]
