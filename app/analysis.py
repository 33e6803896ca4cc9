"""Analysing tracks with the active model in a `damer-core predict` child process: the GUI never
runs torch, so playback and the window stay smooth. Results go into SQLite as they arrive."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.child import CoreProcess
from app.library_db import LibraryDB


def prediction_key(model: str) -> str:
    """The library's key for a model's predictions: its path, size and modification time, so a
    bundle replaced at the same path (an upgraded built-in model, a retrained best.pt) is analysed
    again instead of lending its predecessor's predictions."""
    try:
        st = os.stat(model)
    except OSError:
        return model
    return f"{model}|{st.st_size}|{st.st_mtime_ns}"


class Analyser(QObject):
    progress = Signal(int, int, float)  # done, total, seconds left (estimate; -1 unknown)
    track_done = Signal(str)  # path
    predicted = Signal(str, dict)  # path, trajectory (also for files outside the library)
    track_failed = Signal(str, str)  # path, reason
    finished = Signal(bool, str)  # completed (not cancelled / crashed), message

    def __init__(self, db_path: Path, parent=None):
        super().__init__(parent)
        self.db_path = db_path
        self.proc = CoreProcess(self)
        self.proc.event.connect(self._on_event)
        self.proc.finished.connect(self._on_finished)
        self.model = ""
        self.key = ""
        self._db: LibraryDB | None = None
        self._done = self._total = 0
        self._t0 = 0.0
        self._list: tempfile.NamedTemporaryFile | None = None

    @property
    def running(self) -> bool:
        return self.proc.running

    def start(self, model: str, paths: list[str], key: str | None = None) -> None:
        """Predict ``paths`` with the bundle ``model``; results are stored under ``key`` (default:
        :func:`prediction_key` of the bundle)."""
        if self.running or not paths:
            return
        self.model, self._done, self._total, self._t0 = model, 0, len(paths), time.monotonic()
        self.key = key or prediction_key(model)
        self._db = LibraryDB(self.db_path)
        self._list = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
        self._list.write("\n".join(paths))
        self._list.close()
        self.progress.emit(0, self._total, -1.0)
        self.proc.start(["predict", "--checkpoint", model, "--files-from", self._list.name, "--progress", "jsonl"])

    def cancel(self) -> None:
        self.proc.cancel()

    def _on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "prediction" and self._db is not None:
            traj = ev["trajectory"]
            self._db.store_prediction(ev["path"], self.key, ev["valence"], ev["arousal"], ev["confidence"], traj)
            self.predicted.emit(ev["path"], traj)
            self.track_done.emit(ev["path"])
        elif kind == "file_error":
            self.track_failed.emit(ev.get("path", ""), ev.get("message", ""))
        elif kind == "progress":
            self._done = int(ev.get("done", self._done))
            elapsed = time.monotonic() - self._t0
            left = elapsed / self._done * (self._total - self._done) if self._done else -1.0
            self.progress.emit(self._done, self._total, left)

    def _on_finished(self, code: int, error: str) -> None:
        if self._list is not None:
            Path(self._list.name).unlink(missing_ok=True)
        if self._db is not None:
            self._db.close()
            self._db = None
        if self.proc.cancelled:
            self.finished.emit(False, f"analysis cancelled after {self._done} of {self._total} tracks")
        elif code == 0 or (code == 1 and self._done):
            self.finished.emit(True, f"analysed {self._done} tracks")
        else:
            message = f"analysis failed: {error or f'damer-core exited with {code}'}"
            if self._done < self._total:
                self.track_failed.emit("", message)  # the child failed as a whole, not on one file
            self.finished.emit(False, message)
