"""The main window: library on the left; transport, Mel and cochleogram views and the V-A circle
on the right. Wires the player, the scanner, the views and the analyser together."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog, QMainWindow, QMessageBox, QPushButton, QSplitter, QVBoxLayout, QWidget,
)

from app.analysis import Analyser, prediction_key
from app.cache_dialog import apply_cache_limit
from app.labelling import LabellingBar, LabellingController
from app.child import CoreProcess, scanner_command
from app.library_db import LibraryDB
from app.library_model import LibraryModel
from app.library_panel import LibraryPanel
from app.paths import models_dir
from app.player import Player
from app.scanner import ScanReport
from app.settings import Settings
from app.transport import TransportBar
from app.va_circle import VACircleWidget
from app.views import SpectrogramViews
from app.workers import Worker
from damer_core.emotions import load_emotion_terms
from damer_core.trajectory import value_at

NO_MODEL = ("No emotion model installed.\nTrain one with `damer-core train`,\n"
            "then Model > Import model bundle...")
MODEL_MISSING = "The active model's file is gone:\n{name}\nChoose another under Model > Models..."


def _ignoring_checked(slot):
    """A slot for QAction.triggered(bool): the flag would land in the slot's first optional
    argument (start_calibration took it for its track ids), and a lambda returning the slot's
    bool (close() returns one) trips PySide6. Calls ``slot()`` and returns nothing."""
    def run(_checked: bool = False) -> None:
        slot()
    return run


class MainWindow(QMainWindow):
    views_shown = Signal(str, str)  # track path, error ("" when the spectrograms are shown)
    trajectory_shown = Signal(str, str)  # track path, error ("" when the V-A trajectory is shown)

    def __init__(self, db_path: Path | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DAMER Explorer")
        self.settings = Settings.load()
        apply_cache_limit(self.settings.cache_limit_mb)
        self.terms = load_emotion_terms()
        self.db = LibraryDB(db_path)  # LibraryLocked goes to the caller (app.main shows it)
        self.model = LibraryModel(self.terms, self)
        self.library = LibraryPanel(self.model)
        self.player = Player(self.settings.output_device, self)
        self.transport = TransportBar()
        self.views = SpectrogramViews()
        self.circle = VACircleWidget(self.terms)
        self.label_bar = LabellingBar(self.settings.curator)
        self.labelling = LabellingController(self.label_bar, self.circle, self.player, self.db, self)
        self.analyser = Analyser(self.db.path, self)
        self.current_analyser = Analyser(self.db.path, self)
        self.current_path = ""
        self.closed = False  # late worker results are dropped after close
        self.current_track_id = -1
        self.trajectory: dict | None = None
        self._scan: CoreProcess | None = None
        self._views_job: Worker | None = None
        self.training = None
        self.emotion_map = None
        self.registry = None
        self.calibration = None
        self.help_window = None
        self.cache_dialog = None
        self._build_layout()
        self._build_actions()
        self._connect()
        self._restore()
        self.reload_library()
        self._update_model_state()

    # -- construction ---------------------------------------------------------------------------
    def _build_layout(self) -> None:
        for text, slot, tip in [("Add folder...", self.add_folder, "Add a music folder to the library"),
                                ("Remove folder...", self.remove_folder, "Remove a folder from the library"),
                                ("Rescan", self.rescan, "Pick up new, changed and removed files"),
                                ("Analyse library", self.analyse_library, "Predict V-A for every track")]:
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            self.library.add_button(b)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.transport)
        self.view_split = QSplitter(Qt.Orientation.Horizontal)
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
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.addWidget(self.library)
        self.main_split.addWidget(right)
        self.main_split.setStretchFactor(0, 2)
        self.main_split.setStretchFactor(1, 3)
        self.main_split.setSizes([560, 1040])
        self.setCentralWidget(self.main_split)
        self.transport.set_devices(self.player.output_devices(), self.settings.output_device, self.player.reason)
        self.statusBar()

    def _menu_actions(self) -> list[tuple[str, str, object, str]]:
        """Every menu entry, declared once: (menu, text, slot, shortcut)."""
        return [
            ("&File", "Add music folder...", self.add_folder, "Ctrl+O"),
            ("&File", "Rescan library", self.rescan, "F5"),
            ("&File", "Show unreadable files", self.show_unreadable, ""),
            ("&File", "Export labels (CSV or JSON)...", self.export_labels, ""),
            ("&File", "Import labels CSV...", self.import_labels, ""),
            ("&File", "Export predictions CSV...", self.export_predictions, ""),
            ("&File", "Feature cache...", self.show_cache, ""),
            ("&File", "Quit", self.close, "Ctrl+Q"),
            ("&Label", "Calibration session...", self.start_calibration, ""),
            ("&View", "Emotion map", self.show_map, "Ctrl+M"),
            ("&Model", "Train a model...", self.show_training, ""),
            ("&Model", "Models...", self.show_registry, ""),
            ("&Model", "Import model bundle...", self.import_model, ""),
            ("&Model", "Analyse library", self.analyse_library, ""),
            ("&Help", "User guide", self.show_guide, "F1"),
            ("&Help", "Keyboard shortcuts", self.show_shortcuts, ""),
            ("&Help", "About DAMER Explorer", self.show_about, ""),
        ]

    def _key_shortcuts(self) -> list[tuple[str, object, str]]:
        return [("Space", self.player.toggle, "Play / pause"),
                ("Left", lambda: self.seek_relative(-5), "Back 5 s"),
                ("Right", lambda: self.seek_relative(5), "Forward 5 s"),
                ("Down", lambda: self.step_track(1), "Next track"),
                ("Up", lambda: self.step_track(-1), "Previous track"),
                ("Ctrl+F", self.focus_search, "Search the library")]

    def _build_actions(self) -> None:
        self.actions: dict[str, QAction] = {}
        menus: dict[str, object] = {}
        for menu, text, slot, key in self._menu_actions():
            if menu not in menus:
                menus[menu] = self.menuBar().addMenu(menu)
            action = QAction(text, self)
            action.triggered.connect(_ignoring_checked(slot))
            if key:
                action.setShortcut(QKeySequence(key))
            menus[menu].addAction(action)
            self.actions[text] = action
        for key, slot, _ in self._key_shortcuts():
            QShortcut(QKeySequence(key), self, activated=slot)

    def shortcuts(self) -> list[tuple[str, str]]:
        """(key, what it does) for Help > Keyboard shortcuts, from the declarations above."""
        keys = [(key, what) for key, _, what in self._key_shortcuts()]
        keys += [(key, f"{menu.strip('&')} > {text.rstrip('.')}") for menu, text, _, key in self._menu_actions() if key]
        return keys

    def show_cache(self) -> None:
        from app.cache_dialog import CacheDialog

        self.cache_dialog = CacheDialog(self.settings.cache_limit_mb, self)
        self.cache_dialog.limit_changed.connect(self._cache_limit_changed)
        self.cache_dialog.show()

    def _cache_limit_changed(self, mb: int) -> None:
        self.settings.cache_limit_mb = mb
        self.settings.save()

    def show_guide(self) -> None:
        from app.help import guide_window

        self.help_window = guide_window(self)
        self.help_window.show()

    def show_shortcuts(self) -> None:
        from app.help import TextWindow, shortcuts_markdown

        self.help_window = TextWindow("Keyboard shortcuts", shortcuts_markdown(self.shortcuts()), self)
        self.help_window.resize(460, 420)
        self.help_window.show()

    def show_about(self) -> None:
        from app.help import TextWindow, about_markdown
        from damer_core.builtin import is_builtin

        model = self.usable_model()
        label = ("the built-in model (DAMER trained on 4Q)" if model and is_builtin(model)
                 else Path(model).name if model else "none")
        self.help_window = TextWindow("About DAMER Explorer", about_markdown(model, label), self)
        self.help_window.resize(620, 420)
        self.help_window.show()

    def _connect(self) -> None:
        self.library.track_activated.connect(lambda p: self.open_track(p, autoplay=True))
        self.library.cancel_requested.connect(self.cancel_background)
        t, p = self.transport, self.player
        t.play_pause.connect(self.play_pause)
        t.stop.connect(p.stop)
        t.previous.connect(lambda: self.step_track(-1))
        t.next.connect(lambda: self.step_track(1))
        t.seek.connect(self._seek_from_transport)
        t.volume_changed.connect(p.set_volume)
        t.device_chosen.connect(self.choose_device)
        p.position_changed.connect(self.on_position)
        p.state_changed.connect(lambda s: t.set_playing(s == "playing"))
        p.loaded.connect(self.on_loaded)
        p.finished.connect(lambda: self.step_track(1))
        p.error.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.views.seek_requested.connect(p.seek)
        self.analyser.progress.connect(self.on_analysis_progress)
        self.analyser.track_done.connect(lambda path: self._refresh_track(path))
        self.analyser.track_failed.connect(lambda path, m: self.statusBar().showMessage(m, 5000))
        self.analyser.finished.connect(self.on_analysis_finished)
        self.labelling.label_saved.connect(self._refresh_track)
        self.current_analyser.track_done.connect(lambda path: self._refresh_track(path))
        self.current_analyser.track_failed.connect(self._current_analysis_failed)
        self.current_analyser.predicted.connect(self._predicted_outside_library)

    def _restore(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(QByteArray(base64.b64decode(s.window_geometry)))
        else:  # first start: most of the screen, so every table column and the circle have room
            screen = self.screen().availableGeometry()
            self.resize(max(1024, min(1600, int(screen.width() * 0.85))), max(700, min(980, int(screen.height() * 0.85))))
            left, right = int(self.width() * 0.4), int(self.width() * 0.6)
            self.main_split.setSizes([left, right])
            self.view_split.setSizes([right // 2, right // 2])
        if s.window_state:
            self.restoreState(QByteArray(base64.b64decode(s.window_state)))
        for name, split in (("main", self.main_split), ("views", self.view_split)):
            if name in s.splitters:
                split.restoreState(QByteArray(base64.b64decode(s.splitters[name])))
        self.transport.volume.setValue(int(round(s.volume * 100)))
        self.player.set_volume(s.volume)

    def save_settings(self) -> None:
        s = self.settings
        s.window_geometry = base64.b64encode(bytes(self.saveGeometry())).decode()
        s.window_state = base64.b64encode(bytes(self.saveState())).decode()
        s.splitters = {name: base64.b64encode(bytes(split.saveState())).decode()
                       for name, split in (("main", self.main_split), ("views", self.view_split))}
        s.volume = self.player.volume
        s.curator = self.label_bar.curator.text().strip()
        s.output_device = self.player.device
        s.save()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.closed = True
        self.labelling.shutdown()
        self.save_settings()
        self.cancel_background()
        self.current_analyser.cancel()
        if self.training is not None:
            self.training.cancel()
            self.training.close()
        if self.emotion_map is not None:
            self.emotion_map.close()
        self.player.shutdown()
        self.db.close()
        super().closeEvent(event)

    # -- library --------------------------------------------------------------------------------
    def reload_library(self) -> None:
        self.model.set_rows(self.db.tracks(self.model_key()))
        n = len(self.model.rows)
        self.library.count.setText(f"{n} track{'s' if n != 1 else ''}")
        if self.current_path:
            self.library.select_path(self.current_path)

    def add_folder(self, folder: str | None = None) -> None:
        if not folder:
            folder = QFileDialog.getExistingDirectory(self, "Add a music folder", self.settings.last_folder or str(Path.home()))
        if not folder:
            return
        self.settings.last_folder = folder
        self.db.add_folder(str(Path(folder).resolve()))
        self.rescan()

    def remove_folder(self) -> None:
        folders = [p for _, p in self.db.folders()]
        if not folders:
            return
        from PySide6.QtWidgets import QInputDialog

        folder, ok = QInputDialog.getItem(self, "Remove folder", "Remove from the library (files stay on disk):", folders, 0, False)
        if ok and folder:
            self.db.remove_folder(folder)
            self.reload_library()

    def rescan(self) -> None:
        """Scan in a child process (app.scanner): tag parsing is pure Python, and in a thread it
        would compete with the GUI for the GIL (measured: 250 ms stalls at 2,000 files)."""
        if self._scan is not None:
            return
        self._scan = CoreProcess(self, threads=1)
        self._scan.event.connect(self._on_scan_event)
        self._scan.finished.connect(self._scan_finished)
        self.library.show_progress("Scanning...", 0, 0)
        self._scan.start([str(self.db.path)], command=scanner_command())

    def _on_scan_event(self, ev: dict) -> None:
        if self.closed:
            return
        if ev.get("event") == "progress":
            done, total = int(ev["done"]), int(ev["total"])
            self.library.show_progress(f"Scanning {Path(ev['folder']).name}: {done} / {total}", done, total)
            if done and done % 1000 == 0:
                self.reload_library()
        elif ev.get("event") == "report":
            report = ScanReport(ev["added"], ev["updated"], ev["removed"], [tuple(u) for u in ev["unreadable"]],
                                ev["cancelled"])
            self.reload_library()
            self.statusBar().showMessage(report.summary + (" (File > Show unreadable files)" if report.unreadable else ""), 10000)

    def _scan_finished(self, code: int, error: str) -> None:
        self._scan = None
        if self.closed:
            return
        self.library.show_progress(None)
        if code != 0:
            self.statusBar().showMessage(f"scan failed: {error or f'exit code {code}'}", 10000)
        model = self.usable_model()
        if model and not self.analyser.running and self.db.unanalysed(self.model_key()):
            self.analyse_library()

    def show_unreadable(self) -> None:
        rows = self.db.unreadable()
        text = "\n".join(f"{Path(p).name}: {r}" for p, r in rows) or "Every file in the library could be read."
        box = QMessageBox(QMessageBox.Icon.Information, "Unreadable files", f"{len(rows)} file(s) could not be read.", parent=self)
        box.setDetailedText(text)
        box.exec()

    def export_labels(self, path: str | None = None) -> None:
        from app.labels import export_labels

        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export labels", str(Path.home() / "labels.csv"),
                                                  "Labels (*.csv *.json)")
        if path:
            self.labelling.finish()
            n = export_labels(self.db, Path(path))
            self.statusBar().showMessage(f"exported {n} labels to {path} (train on it: damer-core train --dataset {path})", 10000)

    def import_labels(self, path: str | None = None, existing: str | None = None) -> None:
        """Import a ``path,valence,arousal`` CSV as labels by the current curator. When some of its
        tracks already have labels, ask first (unless ``existing`` says): averaging silently would
        change what the map and the trainer see without the curator knowing."""
        from app.labels import import_labels_csv, read_labels_csv
        from damer_core.datasets import DatasetError

        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import labels", str(Path.home()), "Labels CSV (*.csv)")
        if not path:
            return
        try:
            found, _, labelled = read_labels_csv(self.db, Path(path))
            existing = existing or (self._ask_existing_labels(len(found), sorted(labelled)) if labelled else "add")
            if existing == "cancel":
                self.statusBar().showMessage("Import cancelled: nothing changed", 8000)
                return
            n, problems = import_labels_csv(self.db, Path(path), self.labelling.curator, existing=existing)
        except DatasetError as e:
            QMessageBox.warning(self, "Import labels", str(e))
            return
        self.reload_library()
        self._refresh_map()
        added = {"add": ", averaged with the labels already there on {k}", "replace": ", replacing your own labels among {k} already labelled",
                 "skip": ""}[existing].format(k=f"{len(labelled)} track(s)")
        self.statusBar().showMessage(f"imported {n} labels{added}" + (f", {len(problems)} skipped" if problems else ""), 15000)

    def _ask_existing_labels(self, total: int, labelled: list[str]) -> str:
        box = QMessageBox(QMessageBox.Icon.Question, "Import labels",
                          f"{len(labelled)} of the {total} tracks in this file already have labels. "
                          "A track with several labels is placed (and trained) at their average.", parent=self)
        box.setDetailedText("\n".join(labelled))
        buttons = {box.addButton("Add beside them (average)", QMessageBox.ButtonRole.AcceptRole): "add",
                   box.addButton("Replace my labels", QMessageBox.ButtonRole.DestructiveRole): "replace",
                   box.addButton("Skip those tracks", QMessageBox.ButtonRole.ActionRole): "skip",
                   box.addButton(QMessageBox.StandardButton.Cancel): "cancel"}
        box.exec()
        return buttons.get(box.clickedButton(), "cancel")

    def export_predictions(self, path: str | None = None) -> None:
        import csv

        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Export predictions", str(Path.home() / "predictions.csv"), "CSV (*.csv)")
        if not path:
            return
        model = self.usable_model()
        rows = [r for r in self.db.tracks(self.model_key()) if r.analysed]
        cell = lambda x: "" if x is None else f"{x:.4f}"  # noqa: E731 - empty: not predicted by this model
        with open(path, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["path", "title", "artist", "valence", "arousal", "confidence", "emotion", "model"])
            for r in rows:
                w.writerow([r.path, r.title, r.artist, cell(r.valence), cell(r.arousal), cell(r.confidence),
                            self.model.word(r), Path(model).name])
        self.statusBar().showMessage(f"exported {len(rows)} predictions to {path}", 10000)

    def cancel_background(self) -> None:
        if self._scan is not None:
            self._scan.cancel()
        self.analyser.cancel()

    # -- models and analysis --------------------------------------------------------------------
    def usable_model(self) -> str:
        """The model in use: the one the user chose, else the built-in model; "" when the chosen
        one's file is gone, or when there is none at all."""
        from damer_core.builtin import builtin_model_path

        model = self.settings.active_model
        if model:
            return model if Path(model).is_file() else ""
        builtin = builtin_model_path()
        return str(builtin) if builtin is not None else ""

    def model_key(self) -> str:
        """The library's key for the model in use's predictions (app.analysis.prediction_key)."""
        model = self.usable_model()
        return prediction_key(model) if model else ""

    def _no_model_message(self) -> str:
        model = self.settings.active_model
        return MODEL_MISSING.format(name=Path(model).name) if model and not Path(model).is_file() else NO_MODEL

    def _update_model_state(self) -> None:
        if not self.usable_model():
            self.circle.clear(self._no_model_message())
        elif self.db.unanalysed(self.model_key()):
            self.analyse_library()  # the built-in model on a first start: predictions without an import

    def import_model(self, path: str | None = None) -> None:
        if not path:
            path, _ = QFileDialog.getOpenFileName(self, "Import a DAMER model bundle", str(Path.home()), "Model bundles (*.pt)")
        if not path:
            return
        src = Path(path)
        if src.resolve().parent != models_dir().resolve():
            # best.pt / last.pt of a run are named after the run folder; never overwrite another model
            stem = src.parent.name if src.stem in ("best", "last") else src.stem
            dest = models_dir() / f"{stem}.pt"
            k = 2
            while dest.exists():
                dest = models_dir() / f"{stem}-{k}.pt"
                k += 1
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
            src = dest
        self.set_active_model(str(src))

    def set_active_model(self, path: str) -> None:
        """Persist the choice ("" = the built-in model); the table shows this model's predictions
        and the rest is analysed."""
        from damer_core.builtin import is_builtin

        self.settings.active_model = "" if path and is_builtin(path) else path
        self.settings.save()
        self.reload_library()
        if not self.usable_model():
            self.trajectory = None
            self.circle.clear(self._no_model_message())
            return
        if self.current_path:
            self._load_trajectory()
        self.analyse_library()

    def start_calibration(self, track_ids: list[int] | None = None) -> None:
        """A session over the tracks shown in the table (20 at most, as in the paper)."""
        import random

        from app.calibration import CalibrationDialog

        if track_ids is None:
            paths = [self.library.path_at(r) for r in range(self.library.proxy.rowCount())]
            ids = [self.model.rows[self.model.row_for_path(p)].id for p in paths]
            track_ids = random.sample(ids, min(20, len(ids)))
        if len(track_ids) < 2:
            self.statusBar().showMessage("A calibration session needs at least two tracks in the table", 8000)
            return
        self.calibration = CalibrationDialog(self, track_ids)
        self.calibration.show()

    def map_points(self):
        from app.emotion_map import MapPoint
        from app.labels import static_labels

        labelled = static_labels(self.db)
        points = []
        for r in self.db.tracks(self.model_key()):
            if r.path in labelled:
                v, a = labelled[r.path]
                points.append(MapPoint(r.path, r.title, r.artist, r.duration, v, a, 1.0, True))
            elif r.valence is not None and r.arousal is not None:  # a one-dimension model cannot place a track
                points.append(MapPoint(r.path, r.title, r.artist, r.duration, r.valence, r.arousal, r.confidence or 0.0, False))
        return points

    def show_map(self) -> None:
        from app.emotion_map import EmotionMap

        if self.emotion_map is None:
            self.emotion_map = EmotionMap(self.terms)
            self.emotion_map.play_requested.connect(lambda p: self.open_track(p, autoplay=True))
            self.emotion_map.resize(1100, 760)
        self.emotion_map.set_points(self.map_points())
        if self.current_path:
            self.emotion_map.show_similar(self.current_path)
        self.emotion_map.show()
        self.emotion_map.raise_()

    def _refresh_map(self) -> None:
        if self.emotion_map is not None and self.emotion_map.isVisible():
            self.emotion_map.set_points(self.map_points())

    def show_registry(self) -> None:
        from app.registry import ModelRegistry

        self.registry = ModelRegistry(self.usable_model(), self)
        self.registry.activate.connect(self.set_active_model)
        self.registry.import_requested.connect(lambda: (self.import_model(), self.registry.refresh()))
        self.registry.show()

    def show_training(self) -> None:
        from app.labels import export_labels
        from app.training_panel import TrainingPanel

        if self.training is None:
            self.training = TrainingPanel(
                labels_export=lambda path: export_labels(self.db, path),
                library_folders=lambda: [p for _, p in self.db.folders()],
                active_model=self.usable_model)
            self.training.activate_requested.connect(self.import_model)
            self.training.resize(1400, 760)
        self.training.show()
        self.training.raise_()

    def analyse_library(self) -> None:
        model = self.usable_model()
        if not model:
            self.circle.clear(self._no_model_message())
            self.statusBar().showMessage("No model to analyse with: import or train one first", 8000)
            return
        todo = [p for _, p in self.db.unanalysed(self.model_key())]
        if not todo:
            self.statusBar().showMessage("Every track is analysed with the active model", 5000)
            return
        self.analyser.start(model, todo, self.model_key())

    def on_analysis_progress(self, done: int, total: int, left: float) -> None:
        eta = f", about {int(left // 60)}:{int(left % 60):02d} left" if left >= 0 else ""
        self.library.show_progress(f"Analysing: {done} / {total}{eta}", done, total)

    def on_analysis_finished(self, ok: bool, message: str) -> None:
        self.library.show_progress(None)
        self.statusBar().showMessage(message, 10000)
        self.reload_library()
        self._refresh_map()

    def _refresh_track(self, path: str) -> None:
        src = self.model.row_for_path(path)
        fresh = self.db.track(path, self.model_key())
        if src >= 0 and fresh is not None:
            self.model.update_row(src, fresh)
        if path == self.current_path and self.current_track_id >= 0:
            # a file outside the library is shown from memory (_predicted_outside_library); reading
            # the database here would find nothing and put "Analysing..." back over its marker
            self._load_trajectory()

    # -- the current track ----------------------------------------------------------------------
    def open_track(self, path: str, autoplay: bool = False) -> None:
        if not path:
            return
        self.current_path = path
        rows = [r for r in self.model.rows if r.path == path]
        self.current_track_id = rows[0].id if rows else -1
        self.library.select_path(path)
        self.model.set_playing(path)
        self.setWindowTitle(f"{rows[0].title if rows else Path(path).name} - DAMER Explorer")
        self.labelling.set_track(self.current_track_id, path)
        if self.emotion_map is not None and self.emotion_map.isVisible():
            self.emotion_map.show_similar(path)
        self.player.load(path, autoplay=autoplay)
        self._compute_views(path)
        self._load_trajectory()

    def _compute_views(self, path: str) -> None:
        self.views.show_message(f"Computing spectrograms of {Path(path).name}...", busy=True)

        def work(w: Worker):
            from damer_core.extract import track_display_views

            return path, track_display_views(path)

        def done(result) -> None:
            p, views = result
            if p == self.current_path and not self.closed:
                self.views.set_views(views, views.mel_db.shape[1] * views.hop_seconds)
                self.views_shown.emit(p, "")

        def failed(message: str) -> None:
            if not self.closed:
                self.views.show_message(f"Cannot show this track: {message}")
                self.views_shown.emit(path, message)

        job = Worker(work, "views", parent=self)
        job.result.connect(done)
        job.error.connect(failed)
        self._views_job = job.start()

    def _load_trajectory(self) -> None:
        model = self.usable_model()
        self.trajectory = None
        if not model:
            self.circle.clear(self._no_model_message())
            return
        traj = self.db.trajectory(self.current_track_id, self.model_key()) if self.current_track_id >= 0 else None
        if traj is None:
            self.circle.clear("Analysing this track...")
            if not self.current_analyser.running:
                self.current_analyser.start(model, [self.current_path], self.model_key())
            return
        self._show_trajectory(traj)

    def _show_trajectory(self, traj: dict) -> None:
        """The smoothed trajectory (damer_core.trajectory); None (not predicted) becomes NaN."""
        self.trajectory = {k: np.array(traj[k], dtype=float) for k in ("t", "valence", "arousal", "confidence")}
        tr = self.trajectory
        self.circle.clear()
        self.circle.set_path(list(zip(tr["valence"], tr["arousal"])) if self.settings.show_trajectory else [])
        self.on_position(self.player.position)
        self.trajectory_shown.emit(self.current_path, "")

    def _predicted_outside_library(self, path: str, traj: dict) -> None:
        """A file opened from outside the library (``damer-explorer song.flac``) is analysed but
        not stored: its trajectory is shown from memory."""
        if path == self.current_path and self.current_track_id < 0 and not self.closed:
            self._show_trajectory(traj)

    def _current_analysis_failed(self, path: str, message: str) -> None:
        if self.closed or (path and path != self.current_path):
            return
        self.circle.clear(f"Cannot analyse this track:\n{message}")
        self.trajectory_shown.emit(self.current_path, message)

    # -- transport ------------------------------------------------------------------------------
    def play_pause(self) -> None:
        if self.player.audio is None:
            path = self.current_path or self.library.path_at(max(self.library.current_row(), 0))
            self.open_track(path, autoplay=True)
        else:
            self.player.toggle()

    def on_loaded(self, path: str, duration: float) -> None:
        self.transport.set_position(self.player.position, duration)

    def on_position(self, seconds: float) -> None:
        self.transport.set_position(seconds, self.player.duration)
        self.views.set_playhead(seconds)
        tr = self.trajectory
        if tr is not None and len(tr["t"]):
            v, a, c = (value_at(tr["t"], tr[k], seconds) for k in ("valence", "arousal", "confidence"))
            self.circle.set_prediction(seconds, v, a, c)

    def seek_relative(self, delta: float) -> None:
        self.views.follow()
        self.player.seek(self.player.position + delta)

    def _seek_from_transport(self, seconds: float) -> None:
        self.views.follow()
        self.player.seek(seconds)

    def step_track(self, step: int) -> None:
        nxt = self.library.neighbour(self.current_path, step)
        if nxt:
            self.open_track(nxt, autoplay=self.player.state in ("playing",) or step != 0)

    def focus_search(self) -> None:
        self.library.search.setFocus()
        self.library.search.selectAll()

    def choose_device(self, name: str) -> None:
        self.player.set_device(name)
        self.settings.output_device = name

