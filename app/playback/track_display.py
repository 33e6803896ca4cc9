"""The track in the player as the right-hand side shows it: its Mel and cochleogram views and its
V-A trajectory on the circle, with the playhead and the circle's marker following the position.
Asks the analysis queue for what is missing and shows what arrives for this track; late results are
dropped after close."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from app.analysis.library_analysis import LibraryAnalysis
from app.library.db import LibraryDB
from app.model_in_use import ModelInUse
from app.playback.player import Player
from app.playback.transport import TransportBar
from app.playback.views import SpectrogramViews
from app.state import AppState
from app.widgets.va_circle import VACircleWidget
from damer_core.contract.safe_text import shown_name
from damer_core.contract.trajectory import displayed, value_at

TRAJECTORY_KEYS = ("t", "valence", "arousal", "confidence")


def trajectory_arrays(traj: dict) -> dict[str, np.ndarray]:
    """A shown trajectory (damer_core.contract.trajectory.displayed) as float arrays; None (not predicted) becomes NaN."""
    return {k: np.array(traj[k], dtype=float) for k in TRAJECTORY_KEYS}


class TrackDisplay(QObject):
    views_shown = Signal(object, str)  # track path, error ("" when the spectrograms are shown)
    trajectory_shown = Signal(object, str)  # track path, error ("" when the V-A trajectory is shown)
    other_failed = Signal(str)  # another track's analysis failed: why, for the status bar

    def __init__(self, db: LibraryDB, analysis: LibraryAnalysis, player: Player, transport: TransportBar,
                 views: SpectrogramViews, circle: VACircleWidget, state: AppState, parent: QObject | None = None):
        super().__init__(parent)
        self.db, self.analysis, self.player, self.transport = db, analysis, player, transport
        self.views, self.circle, self.state = views, circle, state
        self.trajectory: dict[str, np.ndarray] | None = None  # the V-A trajectory shown on the circle
        self.closed = False  # late worker results are dropped after close
        state.model_changed.connect(self._model_changed)

    @property
    def path(self) -> str:
        """The track in the player ("" before the first): the state's."""
        return self.state.track.path

    @property
    def track_id(self) -> int:
        return self.state.track.track_id

    def show_track(self) -> None:
        """The trajectory when the library has it, then the spectrograms and a missing trajectory
        of the track just set: the queue's most urgent job, from one decode in the worker."""
        self.load_trajectory()
        self.views.show_message(f"Computing spectrograms of {shown_name(self.path)}...", busy=True)
        self.analysis.open_track(self.path, need_trajectory=bool(self.state.model.path) and self.trajectory is None)

    def _model_changed(self, now: ModelInUse, before: ModelInUse) -> None:
        """The track's trajectory by the model now in use, asked for first when it has none."""
        if not self.path and now.path:
            return
        self.load_trajectory()
        if now.path and self.trajectory is None:
            self.analysis.request_trajectory(self.path)

    def load_trajectory(self) -> None:
        """The stored trajectory of the track by the model in use; the circle says why there is none."""
        model = self.state.model
        self.trajectory = None
        if not model.path:
            self.circle.clear(model.why_none)
            return
        traj = self.db.trajectory(self.track_id, model.key) if self.track_id >= 0 else None
        if traj is None:
            self.circle.clear("Analysing this track...")
            return
        self._show_trajectory(displayed(traj))  # stored raw: smoothed now, as the display is set

    def _show_trajectory(self, traj: dict) -> None:
        self.trajectory = tr = trajectory_arrays(traj)
        self.circle.clear()
        self.circle.set_path(list(zip(tr["valence"], tr["arousal"])) if self.state.settings.show_trajectory else [])
        self.show_position(self.player.position)
        self.trajectory_shown.emit(self.path, "")

    def show_position(self, seconds: float) -> None:
        """The transport's time, the views' playhead and the circle's marker at ``seconds``."""
        self.transport.set_position(seconds, self.player.duration)
        self.views.set_playhead(seconds)
        tr = self.trajectory
        if tr is not None and len(tr["t"]):
            v, a, c = (value_at(tr["t"], tr[k], seconds) for k in ("valence", "arousal", "confidence"))
            self.circle.set_prediction(seconds, v, a, c)

    # -- the analysis queue's results -----------------------------------------------------------
    def trajectory_ready(self, path: str, traj: dict) -> None:
        if path == self.path and not self.closed:
            self._show_trajectory(traj)

    def views_ready(self, path: str, views) -> None:
        if path == self.path and not self.closed:
            self.views.set_views(views, views.mel_db.shape[1] * views.hop_seconds)
            self.views_shown.emit(path, "")

    def analysis_failed(self, path: str, message: str) -> None:
        if self.closed:
            return
        if path and path == self.path:
            self.views.show_message(f"Cannot show this track: {message}")
            self.views_shown.emit(path, message)
            if self.state.model.path:
                self.circle.clear(f"Cannot analyse this track:\n{message}")
                self.trajectory_shown.emit(path, message)
        else:
            self.other_failed.emit(message)
