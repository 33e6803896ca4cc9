"""Calibration session as in the Memo2496 protocol: a set of tracks with one covert duplicate; the
curator labels each 30 s excerpt while it plays, with an optional 15 s rest between them, the
session's length said up front and capped; at the end the mean distance between the duplicate's two labels is compared
with the 0.25 threshold, shown and stored."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable

from PySide6.QtCore import QPoint, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QDialog, QFormLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout, QWidget

from app.labelling.controller import LabellingController
from app.labelling.labels import CONSISTENCY_THRESHOLD, labels_for, trajectory_distance
from app.library.db import LibraryDB
from app.playback.player import Player
from app.widgets.buttons import on_click

log = logging.getLogger(__name__)

REST_SECONDS = 15
EXCERPT_SECONDS = 30  # each presentation: the track's first half minute, not the whole of a 5-minute track


def session_minutes(presentations: int, rest: bool) -> float:
    """How long a session lasts at most: each excerpt, and a rest after each but the last."""
    return (presentations * EXCERPT_SECONDS + (presentations - 1) * REST_SECONDS * rest) / 60


def plan(track_ids: list[int], seed: int | None = None) -> tuple[list[int], int]:
    """Presentation order: the tracks shuffled, one of them repeated covertly later (never right
    after itself). Returns (order, duplicated track id)."""
    if len(track_ids) < 2:
        raise ValueError("a calibration session needs at least two tracks")
    rng = random.Random(seed)
    order = list(track_ids)
    rng.shuffle(order)
    dup_index = rng.randrange(0, len(order) - 1)
    dup = order[dup_index]
    insert_at = rng.randrange(dup_index + 2, len(order) + 1)
    order.insert(insert_at, dup)
    return order, dup


def start_session(db: LibraryDB, curator: str, duplicate: int) -> int:
    return db.start_calibration(curator, duplicate)


def finish_session(db: LibraryDB, session_id: int) -> tuple[float, bool | None]:
    """Distance between the duplicate's two labels in this session and the verdict (None when the
    duplicate was not labelled twice); stored with the session."""
    curator, dup = db.calibration_session(session_id)
    labels = [lb for lb in labels_for(db, dup, curator, calibration=True) if lb.session_id == session_id]
    distance, passed = float("nan"), None
    if len(labels) >= 2:
        distance = trajectory_distance(labels[0].points, labels[1].points)
        passed = distance <= CONSISTENCY_THRESHOLD
    db.end_calibration(session_id, distance, passed)
    return distance, passed


class CalibrationDialog(QDialog):
    """Runs a session: opens each track (``open_track``, as a double-click does), labels go to this
    session, the prediction is hidden meanwhile (``blind``)."""

    finished_session = Signal(float, object)  # distance, passed (None: duplicate not labelled twice)

    def __init__(self, track_ids: list[int], db: LibraryDB, player: Player, labelling: LabellingController,
                 open_track: Callable[[str], None], blind: Callable[[bool], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Calibration session")
        self.db, self.player, self.labelling = db, player, labelling
        self.open_track, self._blind = open_track, blind
        self.track_ids = track_ids
        self.order: list[int] = []
        self.index = -1
        self.session_id: int | None = None
        self.label_mode_before = False
        self.rest_left = 0
        self.started = 0.0
        self.rest = QCheckBox(f"{REST_SECONDS} s rest after each track")
        self.rest.setChecked(True)
        self.cap = QSpinBox(minimum=1, maximum=600, value=60, suffix=" min")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.rest.toggled.connect(self._say_length)
        self._say_length()
        self.start_btn = QPushButton("Start")
        self.next_btn = QPushButton("Next track")
        self.next_btn.setEnabled(False)
        on_click(self.start_btn, self.start)
        on_click(self.next_btn, self.advance)
        form = QFormLayout()
        form.addRow("", self.rest)
        form.addRow("Session cap", self.cap)
        lay = QVBoxLayout(self)
        lay.addWidget(self.info)
        lay.addLayout(form)
        lay.addWidget(self.start_btn)
        lay.addWidget(self.next_btn)
        self.timer = QTimer(self)
        self.timer.setInterval(1000)
        self.timer.timeout.connect(self._tick_rest)
        self.player.finished.connect(self._track_ended)
        self.player.position_changed.connect(self._position)

    def _say_length(self, *_) -> None:
        """The session's length, said before it starts."""
        n = len(self.track_ids) + 1
        self.info.setText(f"{n} excerpts of {EXCERPT_SECONDS} s from {len(self.track_ids)} tracks (one of them "
                          f"presented twice without notice), about {session_minutes(n, self.rest.isChecked()):.0f} min "
                          "in all. Label each while it plays.")

    def start(self) -> None:
        self.order, dup = plan(self.track_ids)
        self.session_id = start_session(self.db, self.labelling.curator, dup)
        self.labelling.session_id = self.session_id
        self.label_mode_before = self.labelling.bar.mode.isChecked()
        self.labelling.bar.mode.setChecked(True)
        self._blind(True)
        self.started = time.monotonic()
        self.start_btn.setEnabled(False)
        self.next_btn.setEnabled(True)
        self.index = -1
        self.advance()

    def running(self) -> bool:
        return self.session_id is not None and self.next_btn.isEnabled()

    def _position(self, seconds: float) -> None:
        if self.running() and self.isVisible() and seconds >= EXCERPT_SECONDS and self.rest_left <= 0 \
                and not self.timer.isActive():
            self._excerpt_over()

    def _excerpt_over(self) -> None:
        """The excerpt has played: a rest, then the next (at once without rests)."""
        self.player.pause()
        if self.rest.isChecked():
            self._track_ended()
        else:
            self.advance()

    def _track_ended(self) -> None:
        if self.running() and self.isVisible():
            self.labelling.finish()
            if self.rest.isChecked():
                self.rest_left = REST_SECONDS
                self.timer.start()
                self._tick_rest()

    def _tick_rest(self) -> None:
        if not self.running():  # the session ended during the rest
            self.timer.stop()
            return
        if self.rest_left <= 0:
            self.timer.stop()
            self.advance()
            return
        self.info.setText(f"Rest: {self.rest_left} s")
        self.rest_left -= 1

    def advance(self) -> None:
        self.timer.stop()
        self.labelling.finish()
        self.index += 1
        over_time = time.monotonic() - self.started > self.cap.value() * 60
        if self.index >= len(self.order) or over_time:
            self.finish()
            return
        path = self.db.track_path(self.order[self.index])
        self.info.setText(f"Track {self.index + 1} of {len(self.order)}: label it while it plays")
        self.open_track(path)

    def place(self, lib: QWidget) -> None:
        """Over the library's lower left corner: the spectrograms and the circle stay in view."""
        corner = lib.mapToGlobal(QPoint(8, max(0, lib.height() - self.sizeHint().height() - 40)))
        self.move(corner)

    def done(self, result: int) -> None:  # noqa: D401 - Qt's close / Escape: a running session ends with it
        if self.running():
            self.finish()
        super().done(result)

    def finish(self) -> None:
        self.timer.stop()
        self.labelling.finish()
        self.labelling.session_id = None
        self._blind(False)
        self.labelling.bar.mode.setChecked(self.label_mode_before)
        assert self.session_id is not None, "finish() ends a started session"
        distance, passed = finish_session(self.db, self.session_id)
        if passed is None:
            self.info.setText("Session over: the duplicate was not labelled twice, so no consistency check.")
        else:
            verdict = "passed" if passed else "not passed (retrain on the extreme exemplars and try again)"
            self.info.setText(f"Duplicate consistency: mean distance {distance:.3f} vs threshold "
                              f"{CONSISTENCY_THRESHOLD}: {verdict}.")
        log.info("calibration session %s: %s", self.session_id, self.info.text())
        self.next_btn.setEnabled(False)
        self.start_btn.setEnabled(True)
        self.player.stop()
        self.finished_session.emit(distance, passed)
