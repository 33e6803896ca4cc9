"""File > Export labels and File > Import labels CSV: the file dialogs, the question an import asks
when some of its tracks already have labels, and the status line each leaves. The formats and the
database work are app.labelling.labels'."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.labelling.labels import LabelFile, export_labels, read_labels_csv, write_labels
from app.library.db import LibraryDB
from damer_core.contract.errors import InputError
from damer_core.contract.safe_text import shown, shown_path


def ask_export_path(parent: QWidget, name: str = "labels.csv") -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Export labels", str(Path.home() / name), "Labels (*.csv *.json)")
    return path


def export_labels_file(db: LibraryDB, path: str, spreadsheet_safe: bool = True, calibration: bool = False) -> str:
    """Write every label (or every calibration session's label) to ``path`` (CSV or JSON by its
    extension); returns the status line (what went wrong, naming the file, when it could not be
    written: nothing is left half-written)."""
    what = "calibration labels" if calibration else "labels"
    try:
        n = export_labels(db, Path(path), spreadsheet_safe=spreadsheet_safe, calibration=calibration)
    except (OSError, InputError) as e:
        return f"{what.capitalize()} not exported: {export_error(path, e)}"
    return f"exported {n} {what} to {path} (train on it: Model > Train a model..., a labels file)"


def export_error(path: str, e: Exception) -> str:
    """One line naming the file an export could not write and why (a full disk, a folder...)."""
    if isinstance(e, OSError):
        return shown(f"{e.filename or path}: {e.strerror or e}")
    return shown(str(e))


def ask_import_path(parent: QWidget) -> str:
    path, _ = QFileDialog.getOpenFileName(parent, "Import labels", str(Path.home()), "Labels CSV (*.csv)")
    return path


def ask_existing_labels(parent: QWidget, total: int, labelled: list[str]) -> str:
    """What to do with the file's tracks that already have labels: one of app.labelling.labels.IMPORT_MODES, or "cancel"."""
    box = QMessageBox(QMessageBox.Icon.Question, "Import labels",
                      f"{len(labelled)} of the {total} tracks in this file already have labels. "
                      "A track with several labels is placed (and trained) at their average.", parent=parent)
    box.setDetailedText("\n".join(shown_path(p) for p in labelled))
    buttons = {box.addButton("Add beside them (average)", QMessageBox.ButtonRole.AcceptRole): "add",
               box.addButton("Replace my labels", QMessageBox.ButtonRole.DestructiveRole): "replace",
               box.addButton("Skip those tracks", QMessageBox.ButtonRole.ActionRole): "skip",
               box.addButton(QMessageBox.StandardButton.Cancel): "cancel"}
    box.exec()
    clicked = box.clickedButton()
    return next((answer for button, answer in buttons.items() if button is clicked), "cancel")


class LabelImport(QObject):
    """File > Import labels CSV, off the GUI thread: the file is read (and matched to the library)
    in a thread with its own connection to the library, the curator is asked on the GUI thread when
    some tracks already have labels, and the labels are written in a thread again. ``finished(imported,
    status line)`` once it is over; the whole file is read once."""

    finished = Signal(bool, str)
    _read = Signal(object, str)  # LabelFile or None, the reason it could not be read
    _written = Signal(int, object)  # imported, problems

    def __init__(self, parent: QWidget, db_path: Path, curator: str, existing: str | None = None):
        super().__init__(parent)
        self.parent_widget, self.db_path, self.curator, self.existing = parent, db_path, curator, existing
        self.file: LabelFile | None = None
        self._read.connect(self._on_read)
        self._written.connect(self._on_written)

    def start(self, path: str) -> None:
        threading.Thread(target=self._read_file, args=(path,), name="label-import", daemon=True).start()

    def _in_thread(self, work):
        from damer_core.facade import DatasetError

        try:
            db = LibraryDB(self.db_path)
        except Exception as e:  # noqa: BLE001 - reported in the window, whatever stopped it
            return None, shown(str(e), 2000)
        try:
            return work(db), ""
        except (DatasetError, OSError, sqlite3.Error) as e:
            return None, shown(str(e), 2000)
        finally:
            db.close()

    def _read_file(self, path: str) -> None:
        file, why = self._in_thread(lambda db: read_labels_csv(db, Path(path)))
        self._read.emit(file, why)

    def _on_read(self, file: LabelFile | None, why: str) -> None:
        if file is None:
            QMessageBox.warning(self.parent_widget, "Import labels", why)
            self.finished.emit(False, "")
            return
        self.file = file
        existing = self.existing or (ask_existing_labels(self.parent_widget, len(file.found), sorted(file.labelled))
                                     if file.labelled else "add")
        if existing == "cancel":
            self.finished.emit(False, "Import cancelled: nothing changed")
            return
        self.existing = existing
        threading.Thread(target=self._write, name="label-import", daemon=True).start()

    def _write(self) -> None:
        assert self.file is not None and self.existing is not None
        file, existing = self.file, self.existing
        result, why = self._in_thread(lambda db: write_labels(db, file, self.curator, existing))
        self._written.emit(*(result if result is not None else (-1, [why])))

    def _on_written(self, n: int, problems: list[str]) -> None:
        if n < 0:
            QMessageBox.warning(self.parent_widget, "Import labels", problems[0])
            self.finished.emit(False, "")
            return
        assert self.file is not None and self.existing is not None
        added = {
            "add": ", averaged with the labels already there on {k}",
            "replace": ", replacing your own labels among {k} already labelled",
            "skip": "",
        }[self.existing].format(k=f"{len(self.file.labelled)} track(s)") if self.file.labelled else ""
        left_out = f"; not imported: {'; '.join(problems)}" if problems else ""
        self.finished.emit(True, f"imported {n} labels{added}{left_out}")
