"""The two decoders under :mod:`damer_core.audio.decoding`: libsndfile (soundfile) for WAV, FLAC, Ogg, MP3
and AIFF, ffmpeg for the rest, each yielding float32 ``[n, channels]`` blocks; and the checks
that refuse what cannot be audio before anything reads it. Failures are :class:`AudioError`."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path

import numpy as np

from damer_core.audio.native_stderr import NativeStderr
from damer_core.contract.errors import AudioError, UnsupportedFormat

MIN_RATE, MAX_RATE = 1_000, 768_000
SOUNDFILE_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".aifc"}
FFMPEG_EXTENSIONS = {".m4a", ".mp4", ".aac", ".opus", ".webm", ".mka", ".wma", ".alac", ".ac3"}
AUDIO_EXTENSIONS = SOUNDFILE_EXTENSIONS | FFMPEG_EXTENSIONS
FFMPEG_TIMEOUT_S = 300.0
BLOCK = 1 << 16  # frames per decoded block


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


def soundfile_blocks(path: Path, native: NativeStderr) -> tuple[int, int, Blocks]:
    import soundfile as sf

    try:
        with native.capture():
            f = sf.SoundFile(os.fsencode(path))  # bytes: any name the OS allows
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
                    block = f.read(BLOCK, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    return
                yield block

    return f.samplerate, f.channels, Blocks(blocks(), f.frames)


class Blocks:
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


def ogg_chains(path: Path) -> int:
    """How many Ogg streams follow one another in ``path`` (a "chained" Ogg: a stream that begins
    after another ended, as internet radio records and some tools write). libsndfile decodes only
    the first; ffmpeg decodes them all. Page headers are read, not the audio: a few kB per MB."""
    chains, ended = 0, True
    with open(path, "rb") as f:
        while len(header := f.read(27)) == 27 and header[:4] == b"OggS":
            flags, segments = header[5], header[26]
            if flags & 0x02 and ended:  # a beginning of stream after the previous ones ended
                chains, ended = chains + 1, False
            if flags & 0x04:
                ended = True
            lacing = f.read(segments)
            if len(lacing) < segments:
                break
            f.seek(sum(lacing), os.SEEK_CUR)
    return chains


def ffmpeg_blocks(path: Path) -> tuple[int, int, Iterator[np.ndarray]]:
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
        assert proc.stdout is not None and proc.stderr is not None  # both are pipes
        try:
            frame_bytes = 4 * channels
            while True:
                raw = proc.stdout.read(BLOCK * frame_bytes)
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
