"""The windows the main window opens from its menus: the training panel, the models dialog, the
emotion map, a calibration session, the feature cache, the log and the help windows. Each is kept in
the MainWindow attribute of its name, declared in MainWindow.__init__; most are made on first use,
the Models dialog anew each time it opens (it reads the models folder then)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.analysis.jobs import LIBRARY

if TYPE_CHECKING:
    from app.windows.main_window import MainWindow


class OtherWindows:
    """MainWindow's part that opens the other windows and wires them to it (a mixin: it works on
    the window's library, player, settings and analysis queue)."""

    def show_log(self: MainWindow) -> None:
        from app.windows.log_window import show_log_window

        self.log_window = show_log_window(self)

    def show_cache(self: MainWindow) -> None:
        from app.analysis.cache_dialog import CacheDialog

        self.cache_dialog = CacheDialog(self.settings.cache_limit_mb, self)
        self.cache_dialog.limit_changed.connect(self._cache_limit_changed)
        self.cache_dialog.show()

    def _cache_limit_changed(self: MainWindow, mb: int) -> None:
        self.settings.cache_limit_mb = mb
        self.settings.save()

    def show_guide(self: MainWindow) -> None:
        from app.windows.help import guide_window

        self.help_window = guide_window(self)
        self.help_window.show()

    def show_shortcuts(self: MainWindow) -> None:
        from app.windows.help import shortcuts_window

        self.help_window = shortcuts_window(self.shortcuts(), self)
        self.help_window.show()

    def show_about(self: MainWindow) -> None:
        from app.windows.help import about_window

        self.help_window = about_window(self.usable_model(), self)
        self.help_window.show()

    def start_calibration(self: MainWindow, track_ids: list[int] | None = None) -> None:
        """A session over the tracks shown in the table (20 at most, as in the paper)."""
        import random

        from app.labelling.calibration import CalibrationDialog

        if track_ids is None:
            paths = [self.library.path_at(r) for r in range(self.library.proxy.rowCount())]
            ids = [self.model.rows[self.model.row_for_path(p)].id for p in paths]
            track_ids = random.sample(ids, min(20, len(ids)))
        if len(track_ids) < 2:
            self.statusBar().showMessage("A calibration session needs at least two tracks in the table", 8000)
            return
        self.calibration = CalibrationDialog(self, track_ids)
        self.calibration.place()
        self.calibration.show()

    def show_map(self: MainWindow) -> None:
        from app.labelling.emotion_map import EmotionMap, map_points

        if self.emotion_map is None:
            self.emotion_map = EmotionMap(self.terms)
            self.emotion_map.play_requested.connect(lambda p: self.open_track(p, autoplay=True))
            self.emotion_map.resize(1100, 760)
        self.emotion_map.set_points(map_points(self.db, self.model_key()))
        if self.current_path:
            self.emotion_map.show_similar(self.current_path)
        self.emotion_map.show()
        self.emotion_map.raise_()

    def _refresh_map(self: MainWindow) -> None:
        from app.labelling.emotion_map import map_points

        if self.emotion_map is not None and self.emotion_map.isVisible():
            self.emotion_map.set_points(map_points(self.db, self.model_key()))

    def show_registry(self: MainWindow) -> None:
        from app.training.registry import ModelRegistry

        self.registry = ModelRegistry(self.usable_model(), self)
        self.registry.activate.connect(self.set_active_model)
        self.registry.import_requested.connect(lambda: (self.import_model(), self.registry.refresh()))
        self.registry.show()

    def show_training(self: MainWindow) -> None:
        from app.labelling.labels import export_labels
        from app.training.panel import TrainingPanel

        if self.training is None:
            self.training = TrainingPanel(
                labels_export=lambda path: export_labels(self.db, path),
                library_folders=lambda: [p for _, p in self.db.folders()],
                active_model=self.usable_model)
            self.training.activate_requested.connect(self.import_model)
            self.training.running_changed.connect(  # one heavy child at a time; the playing track still runs
                lambda running: self.analysis.queue.set_paused_below(LIBRARY if running else None))
            self.training.resize(1400, 760)
        self.training.show()
        self.training.raise_()
