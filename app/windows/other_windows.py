"""The windows the menus open: the training panel, the Models dialog, the emotion map, a
calibration session, the feature cache, the log and the help windows. Each is built with the
objects it needs (the library, the state, the analysis queue), never the main window; the
training panel and the emotion map are made on first use and kept, the others anew each time."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.analysis.cache_dialog import CacheDialog
from app.analysis.jobs import LIBRARY
from app.analysis.library_analysis import LibraryAnalysis
from app.labelling.calibration import CalibrationDialog
from app.labelling.controller import LabellingController
from app.labelling.emotion_map import EmotionMap, map_points
from app.library.db import LibraryDB
from app.library.panel import LibraryPanel
from app.paths import copy_into_models, import_problem, model_name
from app.playback.player import Player
from app.settings import Settings
from app.state import AppState, CurrentTrack
from app.training.confirm import confirm_use
from app.training.panel import TrainingPanel
from app.training.registry import ModelRegistry
from app.training.values import use_model_question
from app.widgets.va_circle import VACircleWidget
from app.windows.help import TextWindow, about_window, guide_window, shortcuts_window
from app.windows.log_window import LogWindow, show_log_window
from damer_core.contract.emotions import EmotionTerm
from damer_core.contract.model_card import ModelDescription


@dataclass
class WindowParts:
    """What the other windows work with: the library, the state, the player, the labelling and the
    analysis; ``open_track`` plays a track as a double-click does; ``say`` shows a status line."""
    parent: QWidget  # the Qt parent of the dialogs (placement, lifetime)
    settings: Settings
    state: AppState
    db: LibraryDB
    terms: list[EmotionTerm]
    analysis: LibraryAnalysis
    library: LibraryPanel
    player: Player
    labelling: LabellingController
    circle: VACircleWidget
    open_track: Callable[[str], None]
    shortcuts: Callable[[], list[tuple[str, str]]]
    say: Callable[[str, int], None]


class OtherWindows:
    def __init__(self, parts: WindowParts) -> None:
        self.parts = p = parts
        self.training: TrainingPanel | None = None
        self.emotion_map: EmotionMap | None = None
        self.registry: ModelRegistry | None = None
        self.calibration: CalibrationDialog | None = None
        self.help_window: TextWindow | None = None
        self.cache_dialog: CacheDialog | None = None
        self.log_window: LogWindow | None = None
        self.refusal: QMessageBox | None = None  # the last "Model not used" dialog
        self.unsaved: QMessageBox | None = None  # the "Settings not saved" dialog (once per problem)
        Settings.when_unsaved(self.settings_not_saved)
        p.state.track_changed.connect(self._track_changed)
        p.state.model_refused.connect(self.refuse_model)
        p.state.model_changed.connect(self._model_changed)
        p.state.model_checking.connect(lambda path: p.say(f"Trying the model {model_name(path)}...", 15000))

    def close_all(self) -> None:
        Settings.when_unsaved(None)
        if self.training is not None:
            self.training.cancel()
            self.training.close()
        if self.emotion_map is not None:
            self.emotion_map.close()

    def _track_changed(self, track: CurrentTrack) -> None:
        if self.emotion_map is not None and self.emotion_map.isVisible():
            self.emotion_map.show_similar(track.path)

    def show_log(self) -> None:
        self.log_window = show_log_window(self.parts.parent)

    def show_cache(self) -> None:
        self.cache_dialog = CacheDialog(self.parts.settings.cache_limit_mb, self.parts.parent)
        self.cache_dialog.limit_changed.connect(self._cache_limit_changed)
        self.cache_dialog.show()

    def _cache_limit_changed(self, mb: int) -> None:
        self.parts.settings.cache_limit_mb = mb
        self.parts.settings.save()

    def show_guide(self) -> None:
        self.help_window = guide_window(self.parts.parent)
        self.help_window.show()

    def show_shortcuts(self) -> None:
        self.help_window = shortcuts_window(self.parts.shortcuts(), self.parts.parent)
        self.help_window.show()

    def show_about(self) -> None:
        self.help_window = about_window(self.parts.state, self.parts.parent)
        self.help_window.show()

    def start_calibration(self, track_ids: list[int] | None = None) -> None:
        """A session over the tracks shown in the table (20 at most, as in the paper)."""
        p = self.parts
        if track_ids is None:
            track_ids = choose_calibration_tracks(p.library.shown_track_ids(), p.db.labelled_paths(), p.db)
        if len(track_ids) < 2:
            p.say("A calibration session needs at least two tracks in the table", 8000)
            return
        self.calibration = CalibrationDialog(track_ids, p.db, p.player, p.labelling, p.open_track,
                                             self._blind, p.parent)
        self.calibration.place(p.library)
        self.calibration.show()

    def _blind(self, blind: bool) -> None:
        """The model's prediction out of sight while the curator labels (it would bias them)."""
        self.parts.circle.set_blind(blind)
        self.parts.library.hide_predictions(blind)

    def show_map(self) -> None:
        p = self.parts
        if self.emotion_map is None:
            self.emotion_map = EmotionMap(p.terms)
            self.emotion_map.play_requested.connect(p.open_track)
            self.emotion_map.resize(1100, 760)
        self.emotion_map.set_points(map_points(p.db, p.state.model.key))
        if p.state.track.path:
            self.emotion_map.show_similar(p.state.track.path)
        self.emotion_map.show()
        self.emotion_map.raise_()

    def refresh_map(self) -> None:
        if self.emotion_map is not None and self.emotion_map.isVisible():
            self.emotion_map.set_points(map_points(self.parts.db, self.parts.state.model.key))

    def show_registry(self) -> None:
        self.registry = ModelRegistry(self.parts.state, self.parts.parent)
        self.registry.import_requested.connect(lambda: self.import_model())
        self.registry.show()

    def _use_finished_run(self, path: str) -> None:
        """The training panel's "Use this model...": it asked already, where there was anything to ask."""
        self.import_model(path, ask=False)

    def import_model(self, path: str | None = None, ask: bool = True) -> None:
        """Try a bundle (AppState.try_model) and use it if it passes (and, where its figures cannot
        vouch for it and ``ask``, the user says so): from outside the models folder it is tried
        where it lies, then copied in (app.paths.copy_into_models)."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.parts.parent, "Import a DAMER model bundle", str(Path.home()),
                                                  "Model bundles (*.pt)")
        if not path:
            return
        problem = import_problem(path)
        if problem:  # a folder, a pipe, a missing file: no child is started to read it
            self.refuse_model(path, problem)
            return
        self.parts.state.try_model(path, bring_in=lambda p: str(copy_into_models(p)),
                                   ask=self._use_anyway if ask else None)

    def _use_anyway(self, description: ModelDescription | None) -> bool:
        """An imported model its figures cannot vouch for is used only if the user says so."""
        return confirm_use(self.parts.parent, use_model_question(description))

    def _model_changed(self, now, before) -> None:
        self._refresh_registry()

    def _refresh_registry(self, *_: object) -> None:
        if self.registry is not None and self.registry.isVisible():
            self.registry.refresh()

    def refuse_model(self, path: str, why: str) -> None:
        """One dialog, not modal: the model in use stays, and says so."""
        kept = self.parts.state.model
        name = model_name(kept.path) if kept.chosen and kept.path else "the built-in model"
        stays = f"The model in use stays {name}." if kept.path else "No model is in use still."
        self.refusal = self._warning("Model not used", f"{why}\n\n{stays}")

    def settings_not_saved(self, problem: str) -> None:
        self.unsaved = self._warning("Settings not saved", problem)

    def _warning(self, title: str, text: str) -> QMessageBox:
        """A warning that does not block: the window goes on while it is shown."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok, self.parts.parent)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_training(self) -> None:
        from app.labelling.labels import export_labels

        p = self.parts
        if self.training is None:
            self.training = TrainingPanel(
                p.state,
                labels_export=lambda path: export_labels(p.db, path),
                library_folders=lambda: [folder for _, folder in p.db.folders()],
                label_counts=p.db.label_counts)
            self.training.activate_requested.connect(self._use_finished_run)
            self.training.model_ready.connect(self._refresh_registry)  # a finished run is listed at once
            self.training.running_changed.connect(  # one heavy child at a time; the playing track still runs
                lambda running: p.analysis.queue.set_paused_below(LIBRARY if running else None))
            self.training.resize(1400, 760)
        self.training.refresh_source()  # the labels counted anew: some may have been drawn meanwhile
        self.training.show()
        self.training.raise_()


def choose_calibration_tracks(ids: list[int], labelled: set[str], db: LibraryDB, n: int = 20) -> list[int]:
    """Up to ``n`` tracks for a session, those the curator has not labelled first (a label they
    remember would not measure them), each in a random order."""
    labelled_ids = {track_id for path, track_id in db.track_ids().items() if path in labelled}  # one query
    fresh = [i for i in ids if i not in labelled_ids]
    known = [i for i in ids if i in labelled_ids]
    return random.sample(fresh, min(n, len(fresh))) + random.sample(known, max(0, min(n - len(fresh), len(known))))
