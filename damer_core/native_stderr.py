"""What native decoders write straight to file descriptor 2, captured per file and logged once
(:class:`NativeStderr`), so damaged-frame complaints never reach the user's terminal."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import threading
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger("damer_core.audio")  # the name the warnings have always been logged under

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
