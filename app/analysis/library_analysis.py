"""Analysis for the window: jobs go through the one queue (app.analysis.jobs) to the warm worker; its
typed events are stored once, in the window's own library connection, and announced with their
values, so the table and the circle update without reading the row back."""

from __future__ import annotations

import itertools
import logging
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.analysis.jobs import PLAYING, AnalysisQueue
from app.library.db import LibraryDB
from app.library.latest_read import LatestRead
from app.model_in_use import ModelInUse
from app.state import AppState
from app.workers import Worker
from damer_core.contract import display, events
from damer_core.contract.trajectory import displayed

log = logging.getLogger(__name__)


class LibraryAnalysis(QObject):
    static_ready = Signal(object, object)  # path, events.Static or events.Prediction (the row's new values)
    trajectory_ready = Signal(object, dict)  # path, smoothed trajectory (files outside the library too)
    views_ready = Signal(object, object)  # path, damer_core.contract.display.DisplayViews
    track_failed = Signal(object, str)  # path ("" for the worker as a whole), message
    progress = Signal(int, int, float)  # the library pass: done, total, seconds left (-1 unknown)
    pass_finished = Signal(str)

    def __init__(self, db: LibraryDB, state: AppState, parent=None):
        super().__init__(parent)
        self.db = db
        self.queue = AnalysisQueue(self)
        self.queue.set_model(state.model.path, state.model.key)
        state.model_changed.connect(self._model_changed)
        self._views_dir = Path(tempfile.mkdtemp(prefix="damer-views-"))
        self._npz_names = itertools.count()
        self._reads = LatestRead(db.path, "library-pass", self)  # which tracks the pass needs
        self._waiting: list[Callable[[int], None]] = []  # what each unanswered request asked to hear
        q = self.queue
        q.static_done.connect(self._on_static)
        q.predicted.connect(self._on_prediction)
        q.trajectory_part.connect(self._on_part)
        q.views_ready.connect(self._on_views)
        q.failed.connect(self.track_failed)
        q.progress.connect(self.progress)
        q.pass_finished.connect(self.pass_finished)

    @property
    def running(self) -> bool:
        """Jobs are running or queued, or the library is being read for a pass."""
        return self.queue.busy or self.queue.pending() > 0 or self._reads.pending

    def _model_changed(self, now: ModelInUse, before: ModelInUse) -> None:
        """Jobs from now on use the model now in use (the queue keeps the last usable one)."""
        if now.path:
            self.queue.set_model(now.path, now.key)

    def analyse_library(self, when_queued: Callable[[int], None] | None = None) -> bool:
        """The static V-A of every track without one first, then the missing trajectories. Which
        tracks those are is read off the GUI thread (a 50,000-track library's two queries take a
        quarter of a second), in a connection of its own; ``when_queued`` then gets how many jobs
        were queued (0: every track is analysed; the worker is started anyway), also when a later
        request (a rescan, a change of model) replaces this one. False, and nothing read, without
        a model."""
        key = self.queue.key
        if not self.queue.checkpoint:
            return False
        if when_queued is not None:
            self._waiting.append(when_queued)
        self._reads.read(lambda db: (db.unanalysed(key), db.without_trajectory(key)),
                         lambda found: self._begin_pass(key, *found), self._reading_failed)
        return True

    def _begin_pass(self, key: str, static: list, trajectories: list) -> None:
        if key != self.queue.key:
            return  # the model changed meanwhile: its own request follows
        log.info("library analysis with %s: %d tracks without an emotion, %d without a trajectory",
                 Path(self.queue.checkpoint).name, len(static), len(trajectories))
        self.queue.start_pass([p for _, p in static], [p for _, p in trajectories])
        if not self.queue.pending():
            self.queue.warm()  # nothing to analyse: the first double-click should still not wait for torch
        waiting, self._waiting = self._waiting, []
        for when_queued in waiting:
            when_queued(self.queue.pending())

    def _reading_failed(self, message: str) -> None:
        self._waiting = []
        self.track_failed.emit("", f"the library could not be read: {message}")

    def open_track(self, path: str, need_trajectory: bool) -> None:
        """The playing track first: its spectrograms and, when missing, its trajectory, from one decode."""
        npz = self._views_dir / f"{next(self._npz_names)}.npz"
        op = "track" if need_trajectory and self.queue.checkpoint else "views"
        self.queue.submit(op, path, PLAYING, str(npz))

    def request_trajectory(self, path: str) -> None:
        """The playing track's trajectory by a newly chosen model, before the library's."""
        if self.queue.checkpoint:
            self.queue.submit("track", path, PLAYING)

    def cancel_pass(self) -> int:
        self._forget_reading()  # a pass still being read is cancelled too
        return self.queue.cancel_pass()

    def _forget_reading(self) -> None:
        self._reads.forget()
        self._waiting = []

    def shutdown(self) -> None:
        self._forget_reading()  # a reading that comes back after the window closed starts nothing
        self.queue.shutdown()
        shutil.rmtree(self._views_dir, ignore_errors=True)

    # -- events ----------------------------------------------------------------------------------
    def _on_static(self, ev: events.Static, key: str) -> None:
        self.db.store_static(ev.path, key, ev.valence, ev.arousal, ev.confidence)
        if key == self.queue.key:
            self.static_ready.emit(ev.path, ev)

    def _on_prediction(self, ev: events.Prediction, key: str) -> None:
        """The window values are stored, smoothed when shown (damer_core.contract.trajectory.displayed): a
        change of the smoothing then needs no new analysis."""
        stored = {**ev.trajectory_raw, "raw": True} if ev.trajectory_raw else ev.trajectory
        self.db.store_prediction(ev.path, key, ev.valence, ev.arousal, ev.confidence, stored)
        if key == self.queue.key:
            self.static_ready.emit(ev.path, ev)
            self.trajectory_ready.emit(ev.path, displayed(stored))

    def _on_part(self, ev: events.TrajectoryPart, key: str) -> None:
        """Shown (smoothed as the whole one is), not stored: the whole trajectory follows."""
        if key == self.queue.key:
            self.trajectory_ready.emit(ev.path, displayed({**ev.trajectory, "raw": True}))

    def _on_views(self, path: str, npz: str) -> None:
        """Read off the GUI thread: a 2-hour track's views are tens of MB."""
        def read(w: Worker) -> tuple[str, display.DisplayViews]:
            try:
                return path, display.read_npz(npz)
            finally:
                Path(npz).unlink(missing_ok=True)

        job = Worker(read, "views", parent=self)
        job.result.connect(lambda result: self.views_ready.emit(*result))
        job.error.connect(lambda message: self.track_failed.emit(path, message))
        job.start()
