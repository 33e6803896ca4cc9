"""The model registry: the built-in model first (it cannot be renamed or deleted), then every
bundle the app trained or imported (the models folder), with its data, date, feature preset and
test metrics read by a `damer-core info --jsonl` child (torch stays out of the GUI). Set active,
rename, delete, import, reveal on disk. A bundle that fails to load is listed with the reason and
can only be deleted."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView, QDialog, QHBoxLayout, QInputDialog, QLabel, QMessageBox, QPushButton, QTableWidget,
    QTableWidgetItem, QVBoxLayout,
)

from app.child import CoreProcess
from app.paths import models_dir
from damer_core.builtin import BUILTIN_NAME, builtin_model_path, is_builtin

COLUMNS = ["Model", "Data", "Created", "Preset", "Arousal AUC", "Valence AUC", "Status"]


def _auc(info: dict, dim: str) -> str:
    """The test part's AUC ("(val)" when a run has no test part yet, "n/a" when undefined)."""
    if dim not in info.get("dimensions", {}):
        return "not predicted" if info else ""
    m = info["dimensions"][dim].get("metrics", {}) or {}
    if "fuse" in m:  # a bundle from before the validation part
        m = {"held-out": m}
    part = next((p for p in ("test", "val", "held-out") if p in m), None)
    if part is None:
        return ""
    v = (m[part].get("fuse") or {}).get("auc")
    text = "n/a" if v is None or v != v else f"{v:.3f}"  # NaN: a one-class part
    return text if part == "test" else f"{text} ({part})"


class ModelRegistry(QDialog):
    activate = Signal(str)
    import_requested = Signal()

    def __init__(self, active: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 360)
        self.active = active
        self.info: dict[str, dict] = {}
        self.errors: dict[str, str] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel()
        buttons = QHBoxLayout()
        for text, slot in [("Set active", self.set_active), ("Rename...", self.rename), ("Delete", self.delete),
                           ("Import...", self.import_requested.emit), ("Reveal on disk", self.reveal),
                           ("Refresh", self.refresh)]:
            b = QPushButton(text)
            b.clicked.connect(slot)
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        self.proc = CoreProcess(self, threads=1)
        self.proc.event.connect(self._on_event)
        self.proc.finished.connect(lambda code, err: self._fill())
        self.refresh()

    def paths(self) -> list[Path]:
        """The built-in model (where this install has one), then the user's bundles."""
        builtin = builtin_model_path()
        own = sorted(models_dir().glob("*.pt")) if models_dir().is_dir() else []
        return ([builtin] if builtin is not None else []) + own

    def refresh(self) -> None:
        self.info, self.errors = {}, {}
        paths = self.paths()
        self._fill()
        if paths and not self.proc.running:
            self.status.setText("Reading the bundles...")
            self.proc.start(["info", "--jsonl"] + [str(p) for p in paths])

    def _on_event(self, ev: dict) -> None:
        if ev.get("event") == "info":
            self.info[ev["path"]] = ev
        elif ev.get("event") == "bundle_error":
            self.errors[ev["path"]] = ev["message"]

    def _fill(self) -> None:
        paths = self.paths()
        self.table.setRowCount(len(paths))
        for r, p in enumerate(paths):
            info, err = self.info.get(str(p), {}), self.errors.get(str(p))
            data = info.get("data", {})
            status = err or ("active" if str(p) == self.active else ("ok" if info else "..."))
            if is_builtin(p) and not err:
                status += " (built-in, fine-tunable)"
            cells = [BUILTIN_NAME if is_builtin(p) else p.stem,
                     f"{data.get('name', '')} ({data.get('n_tracks', '?')} tracks)" if info else "",
                     str(info.get("created", ""))[:16].replace("T", " "),
                     info.get("feature_config", {}).get("name", ""), _auc(info, "arousal"), _auc(info, "valence"), status]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(p) if c == 0 else text)
                if err:
                    item.setForeground(QBrush(QColor(180, 40, 40)))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        bad = len(self.errors)
        self.status.setText(f"{len(paths)} model(s) in {models_dir()}" + (f"; {bad} cannot be loaded" if bad else ""))

    def selected(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows()
        paths = self.paths()
        return paths[rows[0].row()] if rows and rows[0].row() < len(paths) else None

    def set_active(self) -> None:
        p = self.selected()
        if p is None:
            return
        if str(p) in self.errors:
            self.status.setText(f"Cannot use it: {self.errors[str(p)]}")
            return
        self.active = str(p)
        self.activate.emit(str(p))
        self._fill()

    def _refuse_builtin(self, p: Path, what: str) -> bool:
        if is_builtin(p):
            self.status.setText(f"The built-in model cannot be {what}; choose another model as active instead")
            return True
        return False

    def rename(self) -> None:
        p = self.selected()
        if p is None or self._refuse_builtin(p, "renamed"):
            return
        name, ok = QInputDialog.getText(self, "Rename model", "New name:", text=p.stem)
        name = name.strip().replace("/", "-")
        if ok and name and name != p.stem:
            target = p.with_name(f"{name}.pt")
            if target.exists():
                self.status.setText(f"A model called {name} exists already")
                return
            p.rename(target)
            if self.active == str(p):
                self.active = str(target)
                self.activate.emit(str(target))
            self.refresh()

    def delete(self, confirm: bool = True) -> None:
        p = self.selected()
        if p is None or self._refuse_builtin(p, "deleted"):
            return
        if confirm and QMessageBox.question(self, "Delete model", f"Delete {p.name}?") != QMessageBox.StandardButton.Yes:
            return
        p.unlink(missing_ok=True)
        if self.active == str(p):  # the built-in model takes over
            builtin = builtin_model_path()
            self.active = str(builtin) if builtin is not None else ""
            self.activate.emit("")
        self.refresh()

    def reveal(self) -> None:
        p = self.selected()
        QDesktopServices.openUrl(QUrl.fromLocalFile(str((p or models_dir()).parent if p else models_dir())))
