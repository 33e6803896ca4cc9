"""Progress reporting for the CLI: a human progress bar on stderr, or one JSON object per line
on stdout (``--progress jsonl``) for the app to parse while a child process runs."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from damer_core.contract import events
from damer_core.contract.safe_text import shown

LINE_EVERY_S = 10.0  # without a terminal: a progress line this often, as git and pip write to a log


class Progress:
    """``task(name, total)`` starts a counted task, ``advance()`` moves it, ``event(kind, **data)``
    reports anything else (an epoch's metrics, an error). In ``jsonl`` mode every call is one
    JSON line on stdout: ``{"event": kind, ...}``."""

    def __init__(self, mode: str = "human", stream: TextIO | None = None, enabled: bool = True):
        if mode not in ("human", "jsonl", "none"):
            raise ValueError(f"unknown progress mode {mode!r}")
        self.mode = mode if enabled else "none"
        self.stream = stream
        self._task = ""
        self._total = 0
        self._done = 0
        self._t0 = time.monotonic()
        self._last_draw = 0.0

    def _out(self) -> TextIO:
        return self.stream or (sys.stdout if self.mode == "jsonl" else sys.stderr)

    def emit(self, event: events.Event) -> None:
        """One event of damer_core.contract.events, as a JSON line in jsonl mode (its fields were
        checked when it was made)."""
        if self.mode == "jsonl":
            print(event.to_json(), file=self._out(), flush=True)

    def task(self, name: str, total: int) -> None:
        self._task, self._total, self._done, self._t0 = name, total, 0, time.monotonic()
        self.emit(events.Task(name, total))
        self._draw(force=True)

    def advance(self, n: int = 1, file: str | None = None) -> None:
        self._done += n
        self.emit(events.Progress(self._done, self._total, self._task, file=file))
        self._draw(force=self._done >= self._total)

    def _draw(self, force: bool = False) -> None:
        if self.mode != "human":
            return
        out = self._out()
        tty = hasattr(out, "isatty") and out.isatty()
        finished = self._done >= self._total
        now = time.monotonic()
        if not tty:  # a log file or a pipe: a line when the task starts, every LINE_EVERY_S, and at the end
            starting = self._done == 0
            if not (starting or finished or now - self._last_draw >= LINE_EVERY_S):
                return
            self._last_draw = now
            print(f"{self._task}: {self._done}/{self._total}" + (" done" if finished else ""), file=out, flush=True)
            return
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        total = max(self._total, 1)
        frac = min(self._done / total, 1.0)
        bar = "#" * int(30 * frac) + "-" * (30 - int(30 * frac))
        elapsed = now - self._t0
        eta = elapsed / frac - elapsed if frac > 0 else 0.0
        end = "\n" if finished else ""
        print(
            f"\r{self._task}: [{bar}] {self._done}/{self._total}  "
            f"{elapsed:5.1f}s elapsed, ~{eta:5.1f}s left",
            end=end,
            file=out,
            flush=True,
        )

    def message(self, text: str, file: str | None = None, error: str | None = None) -> None:
        """A line for the human (stderr) or a ``message`` event."""
        if self.mode == "human":  # names from files may hold terminal escapes; the event keeps the text
            print("\n".join(shown(line, limit=2000) for line in text.splitlines() or [""]), file=self._out(), flush=True)
        self.emit(events.Message(text, file=file, error=error))
