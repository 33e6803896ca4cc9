"""Labelling mode on the V-A circle: while the track plays, holding the mouse on the circle records
the trajectory at 20 Hz (drawn as it is made, saved every half second); the curator can redo,
delete and review a label against the model's trajectory."""

from __future__ import annotations

import sqlite3
import sys

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from app.labels import FLUSH_BUSY_MS, LabelRecorder, delete_labels, labels_for
from app.library_db import LibraryDB
from app.player import Player
from app.va_circle import VACircleWidget

SAMPLE_HZ = 20


class LabellingBar(QWidget):
    def __init__(self, curator: str, parent=None):
        super().__init__(parent)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.mode = QPushButton("Label")
        self.mode.setCheckable(True)
        self.mode.setToolTip("Labelling mode: while the track plays, hold the mouse on the circle and follow the music")
        self.curator = QLineEdit(curator)
        self.curator.setPlaceholderText("curator name")
        self.curator.setMaximumWidth(140)
        self.redo = QPushButton("Redo")
        self.redo.setToolTip("Delete your label of this track and start again from the beginning")
        self.delete = QPushButton("Delete label")
        self.review = QCheckBox("Show labels")
        self.review.setToolTip("Show the saved labels of this track next to the model's trajectory")
        self.status = QLabel()
        for w in (self.mode, QLabel("Curator"), self.curator, self.redo, self.delete, self.review):
            lay.addWidget(w)
        lay.addWidget(self.status, 1)


class LabellingController(QObject):
    label_saved = Signal(str)  # track path, after each flush and at the end

    def __init__(self, bar: LabellingBar, circle: VACircleWidget, player: Player, db: LibraryDB, parent=None):
        super().__init__(parent)
        self.bar, self.circle, self.player, self.db = bar, circle, player, db
        self.track_id = -1
        self.path = ""
        self.recorder: LabelRecorder | None = None
        self.pen: tuple[float, float] | None = None  # V-A under the held mouse
        self.session_id: int | None = None
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // SAMPLE_HZ)
        self.timer.timeout.connect(self.sample)
        self.unsaved: list[LabelRecorder] = []  # finished labels whose last points wait for a locked database
        self.retry_timer = QTimer(self)
        self.retry_timer.setInterval(1000)
        self.retry_timer.timeout.connect(self._retry_unsaved)
        circle.point_pressed.connect(self.press)
        circle.point_moved.connect(self.move)
        circle.point_released.connect(self.release)
        bar.mode.toggled.connect(self.set_mode)
        bar.redo.clicked.connect(self.redo)
        bar.delete.clicked.connect(self.delete)
        bar.review.toggled.connect(lambda on: self.show_saved())

    @property
    def active(self) -> bool:
        return self.bar.mode.isChecked()

    @property
    def curator(self) -> str:
        return self.bar.curator.text().strip() or "curator"

    def set_track(self, track_id: int, path: str) -> None:
        self.finish()
        self.track_id, self.path = track_id, path
        self.show_saved()

    def set_mode(self, on: bool) -> None:
        self.circle.labelling = on
        if not on:
            self.finish()
        self.bar.status.setText("Hold the mouse on the circle while the music plays" if on else "")

    # -- recording ------------------------------------------------------------------------------
    def press(self, v: float, a: float) -> None:
        if not self.active or self.track_id < 0:
            return
        if self.player.state != "playing":
            self.bar.status.setText("Press play (Space) first: labels follow the music as it plays")
            return
        if self.recorder is None:
            try:
                self.recorder = LabelRecorder(self.db, self.track_id, self.curator, self.session_id)
            except sqlite3.OperationalError as e:
                self.bar.status.setText(f"Cannot start a label: {e}")
                return
            self.circle.label_points = []
        self.pen = (v, a)
        self.sample()
        self.timer.start()

    def move(self, v: float, a: float) -> None:
        if self.pen is not None:
            self.pen = (v, a)

    def release(self) -> None:
        self.pen = None
        self.timer.stop()
        if self.recorder is not None:
            self._flush(self.recorder)
            self.label_saved.emit(self.path)

    def sample(self) -> None:
        if self.pen is None or self.recorder is None or self.player.state != "playing":
            return
        t = self.player.position
        self.recorder.add(t, *self.pen)
        self.circle.label_points.append(self.pen)
        self.circle.update()
        n = self.recorder.n
        self.bar.status.setText(self.recorder.error or f"Recording: {n} points, {t:.1f} s")

    def _flush(self, recorder: LabelRecorder, busy_ms: int = FLUSH_BUSY_MS) -> bool:
        """Flush ``recorder``; one that cannot be saved now is retried every second until it is."""
        if recorder.flush(busy_ms):
            return True
        self.bar.status.setText(recorder.error + " (retrying)")
        if recorder not in self.unsaved:
            self.unsaved.append(recorder)
        self.retry_timer.start()
        return False

    def _retry_unsaved(self, busy_ms: int = FLUSH_BUSY_MS) -> None:
        self.unsaved = [r for r in self.unsaved if not r.flush(busy_ms)]
        if self.unsaved:
            self.bar.status.setText(self.unsaved[0].error + " (retrying)")
        else:
            self.retry_timer.stop()
            self.bar.status.setText("All label points saved")
            self.label_saved.emit(self.path)

    def finish(self) -> None:
        """Close the current label (its points are saved, or queued for a retry if the database is locked)."""
        self.pen = None
        self.timer.stop()
        if self.recorder is not None:
            self._flush(self.recorder)
            self.recorder = None
            self.label_saved.emit(self.path)

    def shutdown(self) -> None:
        """At exit: finish the label and give a locked database a last, longer chance."""
        self.finish()
        self.retry_timer.stop()
        if self.unsaved:
            self._retry_unsaved(busy_ms=5000)
        for r in self.unsaved:
            print(f"damer-explorer: {r.error}", file=sys.stderr)

    # -- editing and review ---------------------------------------------------------------------
    def redo(self) -> None:
        self.delete()
        if self.active and self.track_id >= 0:
            self.player.seek(0.0)
            self.bar.status.setText("Label deleted: play and hold the mouse to label again")

    def delete(self) -> None:
        self.finish()
        if self.track_id >= 0:
            n = delete_labels(self.db, self.track_id, self.curator)
            self.bar.status.setText(f"Deleted {n} label(s) by {self.curator}")
            self.label_saved.emit(self.path)
        self.circle.label_points = []
        self.show_saved()

    def show_saved(self) -> None:
        """With "Show labels" on, the saved trajectories of this track are drawn (blue) next to the
        model's faint path, so a curator can review a label against the prediction."""
        if self.recorder is not None:
            return
        pts: list[tuple[float, float]] = []
        if self.bar.review.isChecked() and self.track_id >= 0:
            for lb in labels_for(self.db, self.track_id):
                pts += [(v, a) for _, v, a in lb.points]
        self.circle.label_points = pts
        self.circle.update()
