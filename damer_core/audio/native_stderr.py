"""What native decoders write straight to file descriptor 2, captured per file and logged once
(:class:`NativeStderr`), so no decoder's complaints ever reach the user's terminal."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, TextIO

log = logging.getLogger("damer_core.audio.decoding")  # the name the warnings have always been logged under

# fd 2 is one per process: one redirection at a time, and never across a ``yield``.
_STDERR_LOCK = threading.RLock()
_REPORTED: set[str] = set()


class NativeStderr:
    """What native code writes straight to fd 2 while one file is decoded (libmpg123 inside
    libsndfile prints ``[src/libmpg123/layer3.c:...] error: ...`` for damaged frames it conceals;
    other codecs have their own words). :meth:`capture` sends fd 2 to a temporary file around each
    native call and keeps every line written there, whichever library wrote it; Python's own
    ``sys.stderr`` (another thread's progress or error text) is pointed at the real terminal
    meanwhile, so it is never taken for the decoder's. :meth:`report` logs the lines once, as one
    line. Where fd 2 cannot be redirected (no console on Windows, a closed fd) the calls run uncaptured."""

    def __init__(self, path: str | os.PathLike):
        self.path = str(path)
        self._file: IO[bytes] | None = None  # made on the first capture, kept for the next
        self.lines: list[str] = []

    @contextmanager
    def capture(self) -> Iterator[None]:
        with _STDERR_LOCK:
            saved = self._redirect()
            python_stderr = _python_stderr_to(saved) if saved is not None else None
            try:
                yield
            finally:
                if python_stderr is not None:
                    python_stderr.restore()
                if saved is not None:
                    _restore_fd2(saved)
                    self._keep_captured()

    def _redirect(self) -> int | None:
        try:
            if self._file is None:
                self._file = tempfile.TemporaryFile()
            captured = self._file
            if sys.stderr is not None:
                sys.stderr.flush()  # Python's own pending text belongs on the terminal
            saved = os.dup(2)
        except (OSError, ValueError, AttributeError):
            return None
        try:
            os.dup2(captured.fileno(), 2)
        except OSError:
            os.close(saved)
            return None
        return saved

    def _keep_captured(self) -> None:
        """Every line native code wrote while it decoded this file: the decoder's chatter, for the log."""
        captured = self._file
        if captured is None:
            return
        try:
            captured.seek(0)
            data = captured.read()
            captured.seek(0)
            captured.truncate()
        except OSError:
            return
        self.lines += [text for text in (raw.decode(errors="replace").strip() for raw in data.splitlines()) if text]

    def report(self) -> None:
        """Log what the decoder said (one WARNING on ``damer_core.audio.decoding``) and drop the temporary file."""
        if self._file is not None:
            self._file.close()
            self._file = None
        lines, self.lines = self.lines, []
        with _STDERR_LOCK:  # once per file: the player and the views both decode it, maybe at once
            if not lines or self.path in _REPORTED:
                return
            _REPORTED.add(self.path)
        from damer_core.contract.safe_text import shown

        log.warning("%s: decoder warnings: %s (%d line%s)", shown(self.path, 1000), shown(lines[0]), len(lines),
                    "" if len(lines) == 1 else "s")


class _python_stderr_to:
    """``sys.stderr`` pointed at the terminal's fd (``saved``, fd 2's original) until :meth:`restore`:
    Python's text during a capture is the user's, not the decoder's."""

    def __init__(self, saved: int):
        self.previous = sys.stderr
        try:
            self.stream: TextIO | None = open(os.dup(saved), "w", encoding="utf-8", errors="backslashreplace", buffering=1)
        except (OSError, ValueError):
            self.stream = None
            return
        if getattr(self.previous, "fileno", None) is not None and _fd_of(self.previous) == 2:
            sys.stderr = self.stream  # only the real fd-2 stream: a capturing test's or app's replacement stays

    def restore(self) -> None:
        if self.stream is None:
            return
        if sys.stderr is self.stream:
            sys.stderr = self.previous
        self.stream.close()


def _fd_of(stream) -> int:
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return -1


def _restore_fd2(saved: int) -> None:
    try:
        os.dup2(saved, 2)
    finally:
        os.close(saved)
