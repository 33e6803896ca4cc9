"""The main window: library on the left; transport, Mel and cochleogram views and the V-A circle
on the right. Builds the parts and wires them to the state (app.state: the track in the player,
the model in use); the work is done by the parts (app.library, app.playback, app.analysis,
app.labelling) and the menus' other windows (app.windows.other_windows)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMainWindow, QPushButton, QSplitter, QVBoxLayout, QWidget

from app.analysis.cache_dialog import apply_cache_limit
from app.analysis.library_analysis import LibraryAnalysis
from app.labelling.controller import LabellingBar, LabellingController
from app.library.db import LibraryDB
from app.library.panel import LibraryPanel
from app.library.scan import LibraryScan
from app.library.table_model import LibraryModel
from app.library.table_reload import TableReload, read_table
from app.model_in_use import ModelInUse
from app.playback.player import Player
from app.playback.track_display import TrackDisplay
from app.playback.transport import TransportBar
from app.playback.views import SpectrogramViews
from app.settings import Settings
from app.state import AppState, CurrentTrack
from app.widgets.buttons import on_click
from app.widgets.va_circle import VACircleWidget
from app.windows.file_menu import FileMenuActions
from app.windows.menus import KeyEntry, MenuEntry, build_menus, shortcut_list
from app.windows.other_windows import OtherWindows, WindowParts
from app.windows.window_state import restore_window, save_window
from damer_core.contract.emotions import load_emotion_terms
from damer_core.contract.safe_text import shown_name

WHOLE_TRACK_VALUES = "Table values: whole-track means"
SPREADSHEET_SAFE = "Spreadsheet-safe CSV exports"

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    views_shown = Signal(object, str)  # track path, error ("" when the spectrograms are shown)
    trajectory_shown = Signal(object, str)  # track path, error ("" when the V-A trajectory is shown)

    def __init__(self, db_path: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DAMER Explorer")
        self.settings = Settings.load()
        apply_cache_limit(self.settings.cache_limit_mb)
        self.terms = load_emotion_terms()
        self.db = LibraryDB(db_path)  # LibraryLocked goes to the caller (app.main shows it)
        self.state = AppState(self.settings, self)
        self.model = LibraryModel(self.terms, self)
        self.library = LibraryPanel(self.model)
        self.player = Player(self.settings.output_device, self)
        self.transport = TransportBar()
        self.views = SpectrogramViews()
        self.circle = VACircleWidget(self.terms)
        self.label_bar = LabellingBar(self.settings.curator)
        self.labelling = LabellingController(self.label_bar, self.circle, self.player, self.db, self)
        self.analysis = LibraryAnalysis(self.db, self.state, self)
        self.library_scan = LibraryScan(self.db, self.settings, self)
        self.table_reload = TableReload(self.db.path, self.terms, self)
        self.track = TrackDisplay(self.db, self.analysis, self.player, self.transport, self.views, self.circle,
                                  self.state, self)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)  # the library | the track
        self.view_split = QSplitter(Qt.Orientation.Horizontal)  # the spectrograms | the circle
        self.menu_actions: dict[str, QAction] = {}  # menu entry text -> its action (_menu_entries)
        self.windows = OtherWindows(WindowParts(
            self, self.settings, self.state, self.db, self.terms, self.analysis, self.library, self.player,
            self.labelling, self.circle, open_track=lambda path: self.open_track(path, autoplay=True),
            shortcuts=self.shortcuts, say=self.say))
        self.files = FileMenuActions(self, self.db, self.state, self.settings, self.labelling, self.model, self.say,
                                     labels_changed=self._labels_imported)
        self._build_layout()
        self._build_actions()
        self._connect()
        self._restore()
        self.library.show_rows(*read_table(self.db, self._table_values(), self.terms, None), "")  # before the window
        self._start_model()

    @property
    def library_busy(self) -> bool:
        """A scan runs or the table is being read (tests and scripts wait for False)."""
        return self.library_scan.process is not None or self.table_reload.pending

    @property
    def trajectory(self) -> dict | None:
        """Its V-A trajectory as the circle shows it (app.playback.track_display); None while there is none."""
        return self.track.trajectory

    # -- construction ---------------------------------------------------------------------------
    def _build_layout(self) -> None:
        for text, slot, tip in [("Add folder...", self.add_folder, "Add a music folder to the library"),
                                ("Remove folder...", self.library_scan.remove_folder, "Remove a folder from the library"),
                                ("Rescan", self.rescan, "Pick up new, changed and removed files"),
                                ("Analyse library", self.analyse_library, "Predict V-A for every track")]:
            b = QPushButton(text)
            b.setToolTip(tip)
            on_click(b, slot)
            self.library.add_button(b)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.transport)
        self.view_split.addWidget(self.views)
        circle_box = QWidget()
        cl = QVBoxLayout(circle_box)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.circle, 1)
        cl.addWidget(self.label_bar)
        self.view_split.addWidget(circle_box)
        self.view_split.setStretchFactor(0, 3)
        self.view_split.setStretchFactor(1, 2)
        rl.addWidget(self.view_split, 1)
        self.main_split.addWidget(self.library)
        self.main_split.addWidget(right)
        right.setMinimumWidth(right.minimumSizeHint().width())  # the transport keeps its sizes at any split
        self.main_split.setCollapsible(1, False)
        self.main_split.setStretchFactor(0, 2)
        self.main_split.setStretchFactor(1, 3)
        self.main_split.setSizes([560, 1040])
        self.setCentralWidget(self.main_split)
        self.transport.set_devices(self.player.output_devices(), self.settings.output_device, self.player.reason)
        # what the status bar told the user, in View > Log
        self.statusBar().messageChanged.connect(lambda text: log.info("%s", text) if text else None)

    def _menu_entries(self) -> list[MenuEntry]:
        """Every menu entry, declared once: (menu, text, slot, shortcut)."""
        return [
            ("&File", "Add music folder...", self.add_folder, "Ctrl+O"),
            ("&File", "Rescan library", self.rescan, "F5"),
            ("&File", "Show unreadable files", self.library_scan.show_unreadable, ""),
            ("&File", "Export labels (CSV or JSON)...", self.files.export_labels, ""),
            ("&File", "Export calibration labels...", self.files.export_calibration_labels, ""),
            ("&File", "Import labels CSV...", self.files.import_labels, ""),
            ("&File", "Export predictions CSV...", self.files.export_predictions, ""),
            ("&File", SPREADSHEET_SAFE, self.toggle_spreadsheet_safe, ""),
            ("&File", "Feature cache...", self.windows.show_cache, ""),
            ("&File", "Quit", self.close, "Ctrl+Q"),
            ("&Label", "Calibration session...", self.windows.start_calibration, ""),
            ("&View", "Emotion map", self.windows.show_map, "Ctrl+M"),
            ("&View", WHOLE_TRACK_VALUES, self.toggle_whole_track_values, ""),
            ("&View", "Log", self.windows.show_log, ""),
            ("&Model", "Train a model...", self.windows.show_training, ""),
            ("&Model", "Models...", self.windows.show_registry, ""),
            ("&Model", "Import model bundle...", self.windows.import_model, ""),
            ("&Model", "Analyse library", self.analyse_library, ""),
            ("&Help", "User guide", self.windows.show_guide, "F1"),
            ("&Help", "Keyboard shortcuts", self.windows.show_shortcuts, ""),
            ("&Help", "About DAMER Explorer", self.windows.show_about, ""),
        ]

    def _key_shortcuts(self) -> list[KeyEntry]:
        return [("Space", self.player.toggle, "Play / pause"),
                ("Left", lambda: self.seek_relative(-5), "Back 5 s"),
                ("Right", lambda: self.seek_relative(5), "Forward 5 s"),
                ("Down", lambda: self.step_track(1), "Next track"),
                ("Up", lambda: self.step_track(-1), "Previous track"),
                ("Ctrl+F", self.focus_search, "Search the library")]

    def _build_actions(self) -> None:
        self.menu_actions.update(build_menus(self, self._menu_entries(), self._key_shortcuts()))
        whole_tip = ("The table's valence, arousal and emotion from each track's whole trajectory "
                     "(where it has one) instead of its model segment (0:15-1:15)")
        safe_tip = ("Exported CSV cells starting with = + - @ tab or CR get a leading apostrophe, so a spreadsheet "
                    "shows them as text instead of running them as formulas; off: exact text for other programs")
        for text, on, tip in ((WHOLE_TRACK_VALUES, self.settings.whole_track_values, whole_tip),
                              (SPREADSHEET_SAFE, self.settings.spreadsheet_safe_csv, safe_tip)):
            self.menu_actions[text].setCheckable(True)
            self.menu_actions[text].setChecked(on)
            self.menu_actions[text].setToolTip(tip)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(key, what it does) for Help > Keyboard shortcuts, from the declarations above."""
        return shortcut_list(self._menu_entries(), self._key_shortcuts())

    def _connect(self) -> None:
        self.library.track_activated.connect(lambda p: self.open_track(p, autoplay=True))
        self.library.seek_step.connect(self.seek_relative)
        self.library.cancel_requested.connect(self.cancel_background)
        self.library.folder_chosen.connect(self.add_folder)
        self.table_reload.loaded.connect(lambda rows, folders: self.library.show_rows(rows, folders, self.state.track.path))
        self.table_reload.failed.connect(lambda message: self.say(message, 10000))
        t, p = self.transport, self.player
        t.play_pause.connect(self.play_pause)
        t.stop.connect(p.stop)
        t.previous.connect(lambda: self.step_track(-1))
        t.next.connect(lambda: self.step_track(1))
        t.seek.connect(self.seek_to)
        t.volume_changed.connect(p.set_volume)
        t.device_chosen.connect(self.choose_device)
        p.position_changed.connect(self.on_position)
        p.state_changed.connect(lambda s: t.set_playing(s == "playing"))
        p.loaded.connect(self.on_loaded)
        p.finished.connect(lambda: self.step_track(1))
        p.error.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.views.seek_requested.connect(p.seek)
        a = self.analysis
        a.progress.connect(self.on_analysis_progress)
        a.pass_finished.connect(self.on_analysis_finished)
        a.static_ready.connect(lambda path, ev: self._refresh_track(path))  # stored already by the analysis
        a.trajectory_ready.connect(self.track.trajectory_ready)
        a.views_ready.connect(self.track.views_ready)
        a.track_failed.connect(self.track.analysis_failed)
        self.track.views_shown.connect(self.views_shown)
        self.track.trajectory_shown.connect(self.trajectory_shown)
        self.track.other_failed.connect(lambda m: self.statusBar().showMessage(m, 5000))
        self.labelling.label_saved.connect(self._refresh_track)
        self.state.track_changed.connect(self._track_changed)
        self.state.track_changed.connect(self.labelling.track_changed)
        self.state.model_changed.connect(self._model_changed)
        s = self.library_scan
        s.progress.connect(self.library.show_progress)
        s.library_changed.connect(self._library_changed)
        s.finished.connect(self._scan_finished)

    def _splitters(self) -> dict[str, QSplitter]:
        return {"main": self.main_split, "views": self.view_split}

    def _restore(self) -> None:
        restore_window(self, self.settings, self._splitters())
        self.transport.volume.setValue(int(round(self.settings.volume * 100)))
        self.player.set_volume(self.settings.volume)

    def save_settings(self) -> None:
        s = self.settings
        save_window(self, s, self._splitters())
        s.volume = self.player.volume
        s.curator = self.label_bar.curator.text().strip()
        s.output_device = self.player.device
        s.save()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.track.closed = self.library_scan.closed = True  # late results of either are dropped from now on
        self.table_reload.close()
        self.labelling.shutdown()
        self.save_settings()
        self.cancel_background()
        self.analysis.shutdown()
        self.windows.close_all()
        self.player.shutdown()
        self.db.close()
        super().closeEvent(event)

    # -- library --------------------------------------------------------------------------------
    def reload_library(self) -> None:
        """The table's rows, read off the GUI thread; the panel shows them when they come."""
        self.table_reload.reload(self._table_values(), self.model.sort_key)

    def toggle_spreadsheet_safe(self) -> None:
        self.settings.spreadsheet_safe_csv = self.menu_actions[SPREADSHEET_SAFE].isChecked()
        self.settings.save()

    def toggle_whole_track_values(self) -> None:
        """The table's values: each track's model segment (0:15-1:15), or the mean of its whole trajectory."""
        self.settings.whole_track_values = self.menu_actions[WHOLE_TRACK_VALUES].isChecked()
        self.settings.save()
        self.reload_library()

    def say(self, message: str, ms: int) -> None:
        """A line in the status bar for ``ms`` milliseconds (and in View > Log)."""
        self.statusBar().showMessage(message, ms)

    def add_folder(self, folder: str | None = None) -> None:
        """Add a music folder (asked for when not given) and rescan (app.library.scan)."""
        self.library_scan.add_folder(folder)

    def rescan(self) -> None:
        self.library_scan.rescan()

    def _library_changed(self, message: str) -> None:
        self.reload_library()
        if message:
            self.statusBar().showMessage(message, 10000)

    def _scan_finished(self, failure: str) -> None:
        self.library.show_progress(None)
        if failure:
            self.statusBar().showMessage(failure, 10000)
        if self.state.model.path and not self.analysis.queue.pass_running:
            self.analysis.analyse_library()  # the new files, if any: nothing to say when there are none

    def _labels_imported(self) -> None:
        self.reload_library()
        self.windows.refresh_map()

    def cancel_background(self) -> None:
        self.library_scan.cancel()
        self.analysis.cancel_pass()

    # -- models and analysis --------------------------------------------------------------------
    def _start_model(self) -> None:
        model = self.state.model
        if not model.path:
            self.circle.clear(model.why_none)
        else:  # the built-in model on a first start: predictions without an import
            self.analysis.analyse_library()

    def _model_changed(self, now: ModelInUse, before: ModelInUse) -> None:
        """The table shows the new model's predictions (the previous model's until they arrive) and
        the rest of the library is analysed; the track display and the queue follow by themselves."""
        self.reload_library()
        if now.path:
            self.analyse_library()

    def analyse_library(self) -> None:
        if not self.state.model.path:
            self.circle.clear(self.state.model.why_none)
            self.statusBar().showMessage("No model to analyse with: import or train one first", 8000)
            return
        self.analysis.analyse_library(self._say_if_nothing_queued)

    def _say_if_nothing_queued(self, queued: int) -> None:
        if not queued:
            self.statusBar().showMessage("Every track is analysed with the active model", 5000)

    def on_analysis_progress(self, done: int, total: int, left: float) -> None:
        eta = f", about {int(left // 60)}:{int(left % 60):02d} left" if left >= 0 else ""
        counts = self.analysis.queue.pass_counts
        parts = [f"{what} {counts[op][0]} / {counts[op][1]}" for op, what in (("static", "emotion"), ("track", "trajectories"))
                 if counts.get(op, [0, 0])[1]]
        self.library.show_progress(f"Analysing: {', '.join(parts) or f'{done} / {total}'}{eta}", done, total)

    def on_analysis_finished(self, message: str) -> None:
        self.library.show_progress(None)
        if message:
            self.statusBar().showMessage(message, 10000)
        self.windows.refresh_map()

    def _table_values(self) -> dict:
        """What the table's values are: the model in use's, the previous model's until it has
        analysed a track, each track's segment or whole-track mean (View menu)."""
        return {"model": self.state.model.key, "previous": self.state.previous_key,
                "whole": self.settings.whole_track_values}

    def _refresh_track(self, path: str) -> None:
        """A track's row read again: a new prediction, or a label saved (its "labelled" mark)."""
        fresh = self.db.track(path, **self._table_values())
        if fresh is None:
            return
        self.table_reload.keep(fresh)  # newer than what a reload under way may have read
        if (src := self.model.row_for_path(path)) >= 0:
            self.model.update_row(src, fresh)

    # -- the current track ----------------------------------------------------------------------
    def open_track(self, path: str, autoplay: bool = False) -> None:
        """The track becomes the state's current one (everything showing it follows), then plays."""
        if not path:
            return
        row = self.model.row_for_path(path)
        track_id, title = (self.model.rows[row].id, self.model.rows[row].title) if row >= 0 else (-1, "")
        self.state.open_track(path, track_id, title or shown_name(path))
        self.player.load(path, autoplay=autoplay)
        self.track.show_track()

    def _track_changed(self, track: CurrentTrack) -> None:
        self.library.select_path(track.path)
        self.model.set_playing(track.path)
        self.setWindowTitle(f"{track.title} - DAMER Explorer")

    # -- transport ------------------------------------------------------------------------------
    def play_pause(self) -> None:
        if self.player.audio is None:
            path = self.state.track.path or self.library.path_at(max(self.library.current_row(), 0))
            self.open_track(path, autoplay=True)
        else:
            self.player.toggle()

    def on_loaded(self, path: str, duration: float) -> None:
        self.transport.set_position(self.player.position, duration)

    def on_position(self, seconds: float) -> None:
        self.track.show_position(seconds)

    def seek_relative(self, delta: float) -> None:
        self.seek_to(self.player.position + delta)

    def seek_to(self, seconds: float) -> None:
        self.views.follow()
        self.player.seek(seconds)

    def step_track(self, step: int) -> None:
        nxt = self.library.neighbour(self.state.track.path, step)
        if nxt:
            self.open_track(nxt, autoplay=True)  # next / previous plays, also when a track has just ended

    def focus_search(self) -> None:
        self.library.search.setFocus()
        self.library.search.selectAll()

    def choose_device(self, name: str) -> None:
        self.player.set_device(name)
        self.settings.output_device = name

