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
from typing import Iterator

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
    :meth:`capture` sends fd 2 to a temporary file around each native call; :meth:`report` logs it
    once, as one line, instead of it landing in the user's terminal. Where fd 2 cannot be
    redirected (no console on Windows, a closed fd) the calls simply run uncaptured."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._file = None

    @contextmanager
    def capture(self) -> Iterator[None]:
        with _STDERR_LOCK:
            saved = self._redirect()
            try:
                yield
            finally:
                if saved is not None:
                    _restore_fd2(saved)

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

    def report(self) -> None:
        """Log what was captured (one WARNING on ``damer_core.audio``) and drop the temporary file."""
        if self._file is None:
            return
        try:
            self._file.seek(0)
            first, count = "", 0
            for raw in self._file:
                line = raw.decode(errors="replace").strip()
                if line:
                    first, count = first or line, count + 1
        except OSError:
            return
        finally:
            self._file.close()
            self._file = None
        with _STDERR_LOCK:  # once per file: the player and the views both decode it, maybe at once
            if not count or self.path in _REPORTED:
                return
            _REPORTED.add(self.path)
        log.warning("%s: decoder warnings: %s (%d line%s)", self.path, first, count, "" if count == 1 else "s")


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

    return f.samplerate, f.channels, blocks()


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
    native = NativeStderr(path)
    try:
        return _decode(Path(path), sample_rate, mono, max_seconds, native)
    finally:
        native.report()


def _decode(path: Path, sample_rate: int | None, mono: bool, max_seconds: float, native: NativeStderr) -> DecodedAudio:
    import soxr

    check_audio_file(path)
    ext = path.suffix.lower()
    if ext in FFMPEG_EXTENSIONS:
        rate, channels, blocks = _ffmpeg_blocks(path)
    else:
        try:
            rate, channels, blocks = _soundfile_blocks(path, native)
        except AudioError:
            if ext in SOUNDFILE_EXTENSIONS or shutil.which("ffmpeg") is None:
                raise
            rate, channels, blocks = _ffmpeg_blocks(path)
    out_rate = sample_rate or rate
    out_channels = 1 if mono else channels
    resampler = None if out_rate == rate else soxr.ResampleStream(
        rate, out_rate, out_channels, dtype="float32", quality="HQ")
    max_in = int(max_seconds * rate)
    parts: list[np.ndarray] = []
    seen = 0
    try:
        for block in blocks:
            seen += block.shape[0]
            if seen > max_in:
                raise AudioError(path, f"longer than the {max_seconds / 3600:g} h limit")
            if mono:
                block = block.mean(axis=1, keepdims=True, dtype=np.float32)
            if resampler is not None:
                block = resampler.resample_chunk(np.ascontiguousarray(block), last=False)
            parts.append(np.asarray(block, dtype=np.float32))
        if resampler is not None:
            parts.append(resampler.resample_chunk(np.zeros((0, out_channels), np.float32), last=True))
    except (RuntimeError, ValueError, OSError, MemoryError) as e:
        raise AudioError(path, f"truncated or corrupt audio data ({e})") from None
    if seen == 0:
        raise AudioError(path, "contains no audio samples")
    samples = np.concatenate(parts, axis=0) if parts else np.zeros((0, out_channels), np.float32)
    samples = samples.reshape(-1, out_channels)
    if not np.isfinite(samples).all():
        np.nan_to_num(samples, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
    return DecodedAudio(samples, out_rate, rate, str(path))


def loudness_lufs(y: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness (ITU-R BS.1770-4 with gating) of a mono signal, in LUFS."""
    import pyloudnorm

    if y.shape[0] < int(0.4 * sample_rate) + 1:  # shorter than one gating block
        return float("-inf")
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(np.asarray(y, dtype=np.float64)))


def normalise_loudness(y: np.ndarray, sample_rate: int, target_lufs: float = TARGET_LUFS) -> np.ndarray:
    """Scale a mono signal to ``target_lufs``. Silence (no gated blocks) is returned unchanged."""
    lufs = loudness_lufs(y, sample_rate)
    if not np.isfinite(lufs):
        return np.asarray(y, dtype=np.float32)
    gain = 10.0 ** ((target_lufs - lufs) / 20.0)
    return (np.asarray(y, dtype=np.float32) * np.float32(gain)).astype(np.float32, copy=False)


def load_for_model(path: str | os.PathLike, sample_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Mono float32 at ``sample_rate``, normalised to -23 LUFS; at least 3 s long."""
    audio = decode(path, sample_rate=sample_rate, mono=True)
    y = audio.samples[:, 0]
    if y.shape[0] < MIN_SECONDS * sample_rate:
        raise AudioError(path, f"too short ({y.shape[0] / sample_rate:.1f} s; at least {MIN_SECONDS:g} s needed)")
    return normalise_loudness(y, sample_rate)


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
