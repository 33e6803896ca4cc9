"""Decoding, resampling, loudness normalisation and model-segment selection (SPEC section 3).

Every failure to turn a file into usable audio raises :class:`AudioError` (one type, the file
name and a human reason in its message), so a caller that scans thousands of files can report
and skip instead of crashing.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

MODEL_SAMPLE_RATE = 22_050
TARGET_LUFS = -23.0
MIN_SECONDS = 3.0
MAX_SECONDS = 2 * 3600.0  # decoding stops with an error past this: guards huge or bogus headers
MIN_RATE, MAX_RATE = 1_000, 768_000
SOUNDFILE_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc"}
FFMPEG_EXTENSIONS = {".m4a", ".mp4", ".aac", ".opus", ".webm", ".mka", ".wma", ".alac", ".ac3"}
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS
FFMPEG_TIMEOUT_S = 300.0
_BLOCK = 1 << 16
log = logging.getLogger("damer_core.audio")


def audio_files(folder: str | os.PathLike) -> list[Path]:
    """Every audio file (by extension) under ``folder``, recursively, sorted."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


class AudioError(Exception):
    """A file could not be turned into usable audio. ``str()`` is one line: ``name: reason``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name}: {reason}")


class UnsupportedFormat(AudioError):
    """The format needs a decoder that is not installed (ffmpeg)."""


# fd 2 is one per process: one redirection at a time, and never across a ``yield``.
_STDERR_LOCK = threading.RLock()
_REPORTED: set[str] = set()


class NativeStderr:
    """What a native decoder writes straight to fd 2 while decoding one file (libmpg123 inside
    libsndfile prints ``[src/libmpg123/layer3.c:...] error: ...`` for damaged frames it conceals).
    :meth:`capture` sends fd 2 to a temporary file around each native call, then keeps the
    decoder's lines and writes anything else (another thread's progress or error text, Qt's
    messages) back to the real fd 2; :meth:`report` logs the decoder's lines once, as one line.
    Where fd 2 cannot be redirected (no console on Windows, a closed fd) the calls run uncaptured."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._file = None
        self.lines: list[str] = []

    @contextmanager
    def capture(self) -> Iterator[None]:
        with _STDERR_LOCK:
            saved = self._redirect()
            try:
                yield
            finally:
                if saved is not None:
                    _restore_fd2(saved)
                    self._sort_captured()

    def _redirect(self) -> int | None:
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile()
            if sys.stderr is not None:
                sys.stderr.flush()  # Python's own pending text belongs on the terminal
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            return None
        try:
            os.dup2(self._file.fileno(), 2)
        except OSError:
            os.close(saved)
            return None
        return saved

    def _sort_captured(self) -> None:
        """The decoder's lines are kept; the rest goes back to the terminal it was meant for."""
        try:
            self._file.seek(0)
            data = self._file.read()
            self._file.seek(0)
            self._file.truncate()
        except OSError:
            return
        others = []
        for raw in data.splitlines(keepends=True):
            text = raw.decode(errors="replace").strip()
            if "mpg123" in text or "layer3" in text:
                self.lines.append(text)
            elif raw.strip():
                others.append(raw)
        if others:
            try:
                os.write(2, b"".join(others))
            except OSError:
                pass

    def report(self) -> None:
        """Log what the decoder said (one WARNING on ``damer_core.audio``) and drop the temporary file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        lines, self.lines = self.lines, []
        with _STDERR_LOCK:  # once per file: the player and the views both decode it, maybe at once
            if not lines or self.path in _REPORTED:
                return
            _REPORTED.add(self.path)
        log.warning("%s: decoder warnings: %s (%d line%s)", self.path, lines[0], len(lines), "" if len(lines) == 1 else "s")


def _restore_fd2(saved: int) -> None:
    try:
        os.dup2(saved, 2)
    finally:
        os.close(saved)


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32 [frames, channels]
    sample_rate: int
    source_rate: int
    path: str

    @property
    def duration(self) -> float:
        return self.samples.shape[0] / self.sample_rate


def check_audio_file(path: str | os.PathLike) -> Path:
    """Refuse what cannot be an audio file before anything reads it: a missing path, a folder, a
    symbolic-link loop, or a FIFO, socket or device (reading a FIFO would wait for ever).
    Raises :class:`AudioError` with the reason in words; returns the path."""
    import stat

    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise AudioError(path, "file not found") from None
    except PermissionError:
        raise AudioError(path, "permission denied") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise AudioError(path, "is a symbolic link that points to itself (a link loop)") from None
        raise AudioError(path, f"cannot be read ({e.strerror or e})") from None
    if stat.S_ISDIR(st.st_mode):
        raise AudioError(path, "is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise AudioError(path, "is not a regular file (a pipe, socket or device), so it cannot be audio")
    if st.st_size == 0:
        raise AudioError(path, "file is empty (0 bytes)")
    try:
        with open(path, "rb"):
            pass
    except PermissionError:
        raise AudioError(path, "permission denied") from None
    except OSError as e:
        raise AudioError(path, f"cannot be opened ({e.strerror or e})") from None
    return path


def _check_stream(path: Path, rate: int, channels: int) -> None:
    if channels <= 0:
        raise AudioError(path, "has no audio channels")
    if not MIN_RATE <= rate <= MAX_RATE:
        raise AudioError(path, f"unsupported sample rate {rate} Hz")


# libsndfile's wording where it misleads (the file does exist: we checked) or says too little.
_LIBSNDFILE_REASONS = {
    "channel count is zero": "has no audio channels",
    "file does not exist or is not a regular file (possibly a pipe?)": "not a readable audio file (format not recognised)",
    "internal error : sf_info struct incomplete": "not a readable audio file (corrupt header)",
}


def _soundfile_blocks(path: Path, native: NativeStderr) -> tuple[int, int, Iterator[np.ndarray]]:
    import soundfile as sf

    try:
        with native.capture():
            f = sf.SoundFile(str(path))
    except sf.LibsndfileError as e:
        detail = (getattr(e, "error_string", "") or "").strip().rstrip(".") or "unknown error"
        raise AudioError(path, _LIBSNDFILE_REASONS.get(detail.lower(), f"not a readable audio file ({detail})")) from None
    except (RuntimeError, ValueError, TypeError, OSError) as e:
        raise AudioError(path, f"not a readable audio file ({e})") from None
    try:
        _check_stream(path, f.samplerate, f.channels)
    except AudioError:
        f.close()
        raise

    # Only libmpg123 talks on fd 2: the other formats keep decoding in parallel threads.
    quiet = native.capture if f.format == "MP3" else nullcontext

    def blocks() -> Iterator[np.ndarray]:
        with f:
            while True:
                with quiet():
                    block = f.read(_BLOCK, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                yield block

    return f.samplerate, f.channels, _Blocks(blocks(), f.frames)


class _Blocks:
    """Decoded blocks, with the number of frames the file's header announces (0: unknown)."""

    def __init__(self, blocks: Iterator[np.ndarray], frames: int):
        self.blocks, self.frames = blocks, max(int(frames or 0), 0)

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.blocks


def _ffprobe(path: Path) -> tuple[int, int]:
    probe = shutil.which("ffprobe")
    if probe is None:
        raise UnsupportedFormat(path, "needs ffmpeg to decode (install it, e.g. `apt install ffmpeg`)")
    try:
        out = subprocess.run(
            [probe, "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=sample_rate,channels", "-of", "csv=p=0", str(path)],
            capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise AudioError(path, "ffprobe timed out reading the file") from None
    fields = [x for x in out.stdout.strip().splitlines()[:1] for x in x.split(",") if x]
    if out.returncode != 0 or len(fields) < 2:
        detail = out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "no audio stream"
        raise AudioError(path, f"not a readable audio file ({detail})")
    try:
        rate, channels = int(fields[0]), int(fields[1])
    except ValueError:
        raise AudioError(path, "not a readable audio file (no audio stream)") from None
    return rate, channels


def _ffmpeg_blocks(path: Path) -> tuple[int, int, Iterator[np.ndarray]]:
    if shutil.which("ffmpeg") is None:
        raise UnsupportedFormat(path, "needs ffmpeg to decode (install it, e.g. `apt install ffmpeg`)")
    rate, channels = _ffprobe(path)
    _check_stream(path, rate, channels)

    def blocks() -> Iterator[np.ndarray]:
        proc = subprocess.Popen(
            ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a:0",
             "-f", "f32le", "-acodec", "pcm_f32le", "-"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
        )
        watchdog = threading.Timer(FFMPEG_TIMEOUT_S, proc.kill)
        watchdog.start()
        try:
            frame_bytes = 4 * channels
            while True:
                raw = proc.stdout.read(_BLOCK * frame_bytes)
                if not raw:
                    break
                usable = len(raw) - len(raw) % frame_bytes
                yield np.frombuffer(raw[:usable], dtype="<f4").reshape(-1, channels)
            err = proc.stderr.read().decode(errors="replace").strip()
            if proc.wait() != 0:
                detail = err.splitlines()[-1] if err else f"ffmpeg exit code {proc.returncode}"
                raise AudioError(path, f"decoding failed ({detail})")
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    return rate, channels, blocks()


def decode(path: str | os.PathLike, sample_rate: int | None = None, mono: bool = True,
           max_seconds: float = MAX_SECONDS) -> DecodedAudio:
    """Decode a file to float32 ``[frames, channels]`` (one channel if ``mono``), resampled with
    soxr to ``sample_rate`` (None keeps the file's rate). Raises :class:`AudioError`. What the
    native decoder prints about damaged frames goes to the ``damer_core.audio`` log, not fd 2."""
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

    def _open(self):
        ext = self.path.suffix.lower()
        self._native = NativeStderr(self.path)
        if ext in FFMPEG_EXTENSIONS:
            return _ffmpeg_blocks(self.path)
        try:
            return _soundfile_blocks(self.path, self._native)
        except AudioError:
            if ext in SOUNDFILE_EXTENSIONS or shutil.which("ffmpeg") is None:
                raise
            return _ffmpeg_blocks(self.path)

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
        try:
            for block in blocks:
                seen += block.shape[0]
                if seen > max_in:
                    raise AudioError(self.path, f"longer than the {self.max_seconds / 3600:g} h limit")
                if self.mono:
                    block = block.mean(axis=1, keepdims=True, dtype=np.float32)
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


LUFS_CHUNK_SECONDS = 10.0  # the K-weighting runs over chunks this long: memory stays small for 2 h


def loudness_lufs(y: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4 with gating) of a mono signal, in LUFS: pyloudnorm's
    measure, computed in chunks (LoudnessMeter) so a 2 h track needs no float64 copy of itself."""
    return _metered(y, sample_rate).lufs()


def _metered(y: np.ndarray, sample_rate: int) -> "LoudnessMeter":
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

    def loudness(self) -> "Loudness":
        if self.n < int(0.4 * self.rate) + 1:
            return Loudness(float("-inf"), 0.0)
        z = self._blocks()
        with np.errstate(divide="ignore"):
            audible = float(np.mean(-0.691 + 10.0 * np.log10(z) >= SILENCE_LUFS))
        return Loudness(_gated_loudness(z), audible)


SILENCE_LUFS = -70.0  # BS.1770's absolute gate: a 400 ms block below it counts as silence
MIN_AUDIBLE = 0.05  # below this share of audible blocks a track is near-silent (a lone click, DC)


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
    """A copy of a mono signal scaled to ``target_lufs`` (``samples_for_model`` scales its own
    buffer in place instead). Silence (no gated blocks) is returned unchanged."""
    y = np.array(y, dtype=np.float32)  # a copy: the caller's array is left as it was
    y *= _gain(loudness_lufs(y, sample_rate), target_lufs)
    return y


def _gain(lufs: float, target_lufs: float = TARGET_LUFS) -> np.float32:
    return np.float32(10.0 ** ((target_lufs - lufs) / 20.0)) if np.isfinite(lufs) else np.float32(1.0)


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
    loudness = _metered(y, stream.rate).loudness()
    y *= _gain(loudness.lufs)
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
    gain = _gain(loudness.lufs)

    def second_pass() -> Iterator[np.ndarray]:
        seen = 0
        for block in stream:
            seen += block.shape[0]
            yield block[:, 0] * gain
        if seen != n:
            raise AudioError(stream.path, "changed while it was being read (decode it again)")

    return n, loudness, second_pass


def _check_length(path: Path, n: int, rate: int) -> None:
    if n < MIN_SECONDS * rate:
        raise AudioError(path, f"too short ({n / rate:.1f} s; at least {MIN_SECONDS:g} s needed)")


def select_segment(y: np.ndarray, sample_rate: int, start_s: float = 15.0, length_s: float = 60.0,
                   path: str | os.PathLike = "<audio>", min_length_s: float | None = None) -> np.ndarray:
    """The model segment (SPEC section 3): ``start_s`` to ``start_s + length_s`` when the track is
    long enough; the last ``length_s`` when it is not. A shorter track is repeated (never padded
    with silence) to ``min_length_s``: the whole segment by default (the ``paper`` preset's fixed
    60 s input); with ``min_length_s`` one model window (``clip``), so a 30 s clip stays 30 s and
    gives no repeated windows. Under 3 s raises :class:`AudioError`."""
    n = y.shape[0]
    seg = int(round(length_s * sample_rate))
    start = int(round(start_s * sample_rate))
    if n < MIN_SECONDS * sample_rate:
        raise AudioError(path, f"too short ({n / sample_rate:.1f} s; at least {MIN_SECONDS:g} s needed)")
    if n >= start + seg:
        return y[start:start + seg]
    if n >= seg:
        return y[n - seg:]
    need = seg if min_length_s is None else min(seg, int(np.ceil(min_length_s * sample_rate)))
    if n >= need:
        return y
    reps = -(-need // n)
    return np.tile(y, reps)[:need]
