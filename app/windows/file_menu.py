"""The File menu's exports and imports: labels (CSV or JSON) out, a labels CSV in, the model in
use's predictions out. Each says in the status bar what it did or why it could not."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from app.labelling import label_io
from app.labelling.controller import LabellingController
from app.library.db import LibraryDB
from app.library.table_model import LibraryModel
from app.settings import Settings
from app.state import AppState
from damer_core.contract.errors import InputError


class FileMenuActions:
    def __init__(self, parent: QWidget, db: LibraryDB, state: AppState, settings: Settings,
                 labelling: LabellingController, table: LibraryModel, say: Callable[[str, int], None],
                 labels_changed: Callable[[], None]) -> None:
        self.parent, self.db, self.state, self.settings = parent, db, state, settings
        self.labelling, self.table, self.say, self.labels_changed = labelling, table, say, labels_changed
        self.importing: label_io.LabelImport | None = None  # a labels file being imported

    def export_labels(self, path: str | None = None, calibration: bool = False) -> None:
        """Your labels; or (``calibration``) the labels of calibration sessions, kept apart from
        them: they join a training only through a file like this one."""
        path = path or label_io.ask_export_path(self.parent, "calibration_labels.csv" if calibration else "labels.csv")
        if path:
            self.labelling.finish()
            self.say(label_io.export_labels_file(self.db, path, self.settings.spreadsheet_safe_csv, calibration), 10000)

    def export_calibration_labels(self, path: str | None = None) -> None:
        self.export_labels(path, calibration=True)

    def import_labels(self, path: str | None = None, existing: str | None = None) -> None:
        """Import a ``path,valence,arousal`` CSV as labels by the current curator, off the GUI thread
        (app.labelling.label_io.LabelImport); it asks first when some of its tracks already have
        labels (unless ``existing`` says). One import at a time."""
        if self.importing is not None:
            self.say("A labels file is being imported; wait for it to finish", 5000)
            return
        path = path or label_io.ask_import_path(self.parent)
        if not path:
            return
        self.importing = label_io.LabelImport(self.parent, self.db.path, self.labelling.curator, existing)
        self.importing.finished.connect(self._imported)
        self.say(f"Importing labels from {Path(path).name}...", 60000)
        self.importing.start(path)

    def _imported(self, imported: bool, message: str) -> None:
        if self.importing is not None:
            self.importing.deleteLater()
        self.importing = None
        if imported:
            self.labels_changed()
        if message:
            self.say(message, 15000 if imported else 8000)

    def export_predictions(self, path: str | None = None) -> None:
        from app.library.exports import export_predictions

        if not path:
            path, _ = QFileDialog.getSaveFileName(self.parent, "Export predictions", str(Path.home() / "predictions.csv"),
                                                  "CSV (*.csv)")
        if path:
            try:
                n = export_predictions(self.db, self.state.model.key, self.state.model.path, self.table.word, path,
                                       self.settings.spreadsheet_safe_csv)
            except (OSError, InputError) as e:
                self.say(f"Predictions not exported: {label_io.export_error(path, e)}", 15000)
                return
            self.say(f"exported {n} predictions to {path}", 10000)
