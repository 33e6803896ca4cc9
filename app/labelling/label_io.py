"""File > Export labels and File > Import labels CSV: the file dialogs, the question an import asks
when some of its tracks already have labels, and the status line each leaves. The formats and the
database work are app.labelling.labels'."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from app.labelling.labels import export_labels, import_labels_csv, read_labels_csv
from app.library.db import LibraryDB
from damer_core.contract.errors import InputError
from damer_core.contract.safe_text import shown, shown_path


def ask_export_path(parent: QWidget) -> str:
    path, _ = QFileDialog.getSaveFileName(parent, "Export labels", str(Path.home() / "labels.csv"), "Labels (*.csv *.json)")
    return path


def export_labels_file(db: LibraryDB, path: str, spreadsheet_safe: bool = True) -> str:
    """Write every label to ``path`` (CSV or JSON by its extension); returns the status line (what
    went wrong, naming the file, when it could not be written: nothing is left half-written)."""
    try:
        n = export_labels(db, Path(path), spreadsheet_safe=spreadsheet_safe)
    except (OSError, InputError) as e:
        return f"Labels not exported: {export_error(path, e)}"
    return f"exported {n} labels to {path} (train on it: damer-core train --dataset {path})"


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


def import_labels_file(parent: QWidget, db: LibraryDB, path: str, curator: str,
                       existing: str | None = None) -> tuple[bool, str]:
    """Import a ``path,valence,arousal`` CSV as labels by ``curator``. When some of its tracks
    already have labels, ask first (unless ``existing`` says): averaging silently would change what
    the map and the trainer see without the curator knowing. A file that cannot be read is shown in
    a message box. Returns (whether labels were imported, the status line; "" when there is none)."""
    from damer_core.facade import DatasetError

    try:
        found, _, labelled = read_labels_csv(db, Path(path))
        existing = existing or (ask_existing_labels(parent, len(found), sorted(labelled)) if labelled else "add")
        if existing == "cancel":
            return False, "Import cancelled: nothing changed"
        n, problems = import_labels_csv(db, Path(path), curator, existing=existing)
    except DatasetError as e:
        QMessageBox.warning(parent, "Import labels", shown(str(e), 2000))
        return False, ""
    added = {
        "add": ", averaged with the labels already there on {k}",
        "replace": ", replacing your own labels among {k} already labelled",
        "skip": "",
    }[existing].format(k=f"{len(labelled)} track(s)")
    return True, f"imported {n} labels{added}" + (f", {len(problems)} skipped" if problems else "")
