"""Labelling mode on the V-A circle: while the track plays, holding the mouse on the circle records
the trajectory at 20 Hz (drawn as it is made, saved every half second); the curator can redo,
delete and review a label against the model's trajectory."""

from __future__ import annotations

import logging
import sqlite3

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QGridLayout, QLabel, QLineEdit, QMessageBox, QPushButton, QWidget

from app.labelling.labels import FLUSH_BUSY_MS, LabelRecorder, delete_labels, labels_for
from app.library.db import LibraryDB
from app.playback.player import Player
from app.state import CurrentTrack
from app.widgets.buttons import on_click
from app.widgets.elided_label import ElidedLabel
from app.widgets.va_circle import VACircleWidget

SAMPLE_HZ = 20

log = logging.getLogger(__name__)


class LabellingBar(QWidget):
    """Two short rows of controls and a status line under the circle. Its width never depends on
    its text, so nothing here can move the circle while a curator holds the mouse on it."""

    def __init__(self, curator: str, parent=None):
        super().__init__(parent)
        lay = QGridLayout(self)
        lay.setContentsMargins(4, 2, 4, 2)
        self.mode = QPushButton("Label")
        self.mode.setCheckable(True)
        self.mode.setToolTip("Labelling mode: while the track plays, hold the mouse on the circle and follow the music")
        self.curator = QLineEdit(curator)
        self.curator.setPlaceholderText("curator name")
        self.curator.setMinimumWidth(self.curator.fontMetrics().horizontalAdvance("M" * 10))
        self.redo = QPushButton("Redo")
        self.redo.setToolTip("Delete your label of this track and start again from the beginning")
        self.delete = QPushButton("Delete label")
        self.review = QCheckBox("Show labels")
        self.review.setToolTip("Show the saved labels of this track next to the model's trajectory")
        self.status = ElidedLabel()
        lay.addWidget(self.mode, 0, 0)
        lay.addWidget(QLabel("Curator"), 0, 1)
        lay.addWidget(self.curator, 0, 2, 1, 2)
        lay.addWidget(self.redo, 1, 0)
        lay.addWidget(self.delete, 1, 1, 1, 2)
        lay.addWidget(self.review, 1, 3)
        lay.addWidget(self.status, 2, 0, 1, 4)
        lay.setColumnStretch(3, 1)


class LabellingController(QObject):
    label_saved = Signal(object)  # track path, after each flush and at the end

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
        on_click(bar.redo, self.redo)
        on_click(bar.delete, self.delete)
        bar.review.toggled.connect(lambda on: self.show_saved())
        player.state_changed.connect(self.on_player_state)

    @property
    def active(self) -> bool:
        return self.bar.mode.isChecked()

    @property
    def curator(self) -> str:
        return self.bar.curator.text().strip() or "curator"

    def track_changed(self, track: CurrentTrack) -> None:
        """The state's new track: the one labelled from now on (a recording of the last one is saved first)."""
        self.set_track(track.track_id, track.path)

    def set_track(self, track_id: int, path: str) -> None:
        self.finish()
        self.track_id, self.path = track_id, path
        self.show_saved()

    def set_mode(self, on: bool) -> None:
        self.circle.labelling = on
        if not on:
            self.finish()
        self.bar.status.setText(self._ready_text() if on else "")

    def _ready_text(self) -> str:
        if self.track_id < 0:
            return "Only library tracks can be labelled: add this file's folder to the library"
        if self.player.state == "playing":
            return "Hold the mouse on the circle while the music plays"
        if self.player.state == "loading":
            return "Loading the track: hold the mouse on the circle, recording starts when the music plays"
        return "Press play (Space), then hold the mouse on the circle"

    def on_player_state(self, state: str) -> None:
        """Keep the bar true to the player: a press made while the track loads starts recording as
        soon as it plays (sample() runs on the timer)."""
        if not self.active:
            return
        if self.pen is not None:
            self.sample()
        elif self.recorder is not None and state != "playing":
            self.bar.status.setText(f"Paused: {self.recorder.n} points saved; press play to go on")
        else:
            self.bar.status.setText(self._ready_text())

    # -- recording ------------------------------------------------------------------------------
    def press(self, v: float, a: float) -> None:
        if not self.active:
            return
        if self.track_id < 0:
            self.bar.status.setText(self._ready_text())
            return
        self.pen = (v, a)
        self.circle.set_pen(self.pen)
        self.timer.start()
        self.sample()

    def move(self, v: float, a: float) -> None:
        if self.pen is not None:
            self.pen = (v, a)
            self.circle.set_pen(self.pen)

    def release(self) -> None:
        held = self.pen is not None
        self.pen = None
        self.circle.set_pen(None)
        self.timer.stop()
        if self.recorder is not None:
            if self._flush(self.recorder):
                self.bar.status.setText(f"Saved: {self.recorder.n} points. Hold the mouse again to go on")
            self.label_saved.emit(self.path)
        elif held:
            self.bar.status.setText("Nothing recorded: the music was not playing. Press play (Space), then hold the mouse")

    def sample(self) -> None:
        if self.pen is None:
            return
        if self.player.state != "playing":
            if self.recorder is None:
                self.bar.status.setText("Waiting for the music: recording starts when it plays"
                                        if self.player.state == "loading" else
                                        "Press play (Space): recording starts when the music plays")
            return
        if self.recorder is None:
            try:
                self.recorder = LabelRecorder(self.db, self.track_id, self.curator, self.session_id)
            except sqlite3.OperationalError as e:
                self.bar.status.setText(f"Cannot start a label: {e}")
                self.pen = None
                self.circle.set_pen(None)
                self.timer.stop()
                return
            self.circle.label_points = []
        t = self.player.position
        self.recorder.add(t, *self.pen)
        self.circle.label_points.append(self.pen)
        self.circle.update()
        self.bar.status.setText(self.recorder.error or f"Recording: {self.recorder.n} points, {t:.1f} s")

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
        self.circle.set_pen(None)
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
            log.error("%s", r.error)

    # -- editing and review ---------------------------------------------------------------------
    def redo(self) -> None:
        if self.delete(verb="Redo"):
            if self.active and self.track_id >= 0:
                self.player.seek(0.0)
                self.bar.status.setText("Label deleted: play and hold the mouse to label again")

    def delete(self, verb: str = "Delete") -> bool:
        """Delete this curator's labels of the track after asking; True when they were deleted."""
        self.finish()
        if self.track_id < 0:
            return False
        track_id, curator = self.track_id, self.curator
        mine = labels_for(self.db, track_id, curator)
        if not mine:
            self.bar.status.setText(f"No label by {curator} on this track")
            return verb == "Redo"
        points = sum(lb.n_points for lb in mine)
        asked = self.confirm(f"{verb}: delete {curator}'s label of this track ({points} points)? This cannot be undone.")
        if self.track_id != track_id:  # the track ended (or another was opened) while the question was up
            self.bar.status.setText("Nothing deleted: the track changed while you were asked")
            return False
        if not asked:
            self.bar.status.setText("Nothing deleted")
            return False
        n = delete_labels(self.db, track_id, curator)
        self.bar.status.setText(f"Deleted {n} label(s) by {curator}")
        self.label_saved.emit(self.path)
        self.circle.label_points = []
        self.show_saved()
        return True

    def confirm(self, question: str) -> bool:
        box = QMessageBox(QMessageBox.Icon.Question, "Delete label", question,
                          QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, self.bar)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Yes

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
