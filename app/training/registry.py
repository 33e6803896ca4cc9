"""The model registry: the built-in model first (it cannot be renamed or deleted), then every
bundle the app imported or a run was used from (the models folder), then finished training runs
not used yet (Set active copies one into the models folder), with its data, date, feature preset and
test metrics read by a `damer-core info --jsonl` child (torch stays out of the GUI). Every row shows
its file's size and date at once; the child reads only bundles not read before (cached by path,
modification time and size) and each row fills in as its line arrives. Set active, rename, delete,
import, reveal on disk. A bundle that fails to load is listed with the reason and can only be
deleted."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.child import CoreProcess
from app.model_in_use import ModelInUse
from app.model_info import READ, description_of, file_key
from app.paths import bundle_name, copy_into_models, models_dir, models_path_for
from app.state import AppState
from app.training.confirm import confirm_use
from app.training.values import use_model_question
from app.widgets.buttons import on_click
from damer_core.contract import events
from damer_core.contract.builtin import builtin_model_paths, builtin_name, is_builtin
from damer_core.contract.model_card import FEW_TRACKS, ModelDescription
from damer_core.contract.paths import runs_dir
from damer_core.contract.safe_text import shown, shown_path

COLUMNS = ["Model", "Kind", "Data", "Created", "Preset", "Arousal AUC", "Valence AUC", "Status", "Size", "Modified",
           "Held-out check"]
SMALL_PART = FEW_TRACKS  # a held-out part of fewer tracks is too small to rank models: its figure is greyed


def file_cells(key: tuple[str, int, int] | None) -> list[str]:
    """Size and modification date, known from the file system before any bundle is read."""
    if key is None:
        return ["", ""]
    size = f"{key[2] / 1e6:.1f} MB" if key[2] >= 100_000 else f"{max(1, round(key[2] / 1e3))} kB"  # a head: 11 kB, not 0.0 MB
    return [size, datetime.fromtimestamp(key[1] / 1e9).strftime("%Y-%m-%d %H:%M")]


def description_cells(d: ModelDescription | None) -> tuple[list[str], dict[str, int], tuple[str, int]]:
    """(kind, data, created, preset, arousal AUC, valence AUC cells; each dimension's held-out
    tracks; the held-out check and its tracks) of a model's description ("" while unread)."""
    if d is None:
        return ["", "", "", "", "", ""], {}, ("", 0)
    data = f"{d.data} ({d.n_tracks if d.n_tracks is not None else '?'} tracks)"
    cells = [d.kind_name, data, d.created[:16].replace("T", " "), d.feature_preset,
             d.auc_text("arousal"), d.auc_text("valence")]
    tracks = {dim: d.auc[dim].n for dim in d.auc}
    return cells, tracks, d.held_out_text()


def support_summary(checked: list[tuple[str, int]]) -> str:
    """In words, whose held-out figures rest on enough tracks to be compared: (model, tracks) each."""
    ranked = sorted(((name, n) for name, n in checked if n > 0), key=lambda e: -e[1])
    if not ranked:
        return ""
    enough = [(name, n) for name, n in ranked if n >= SMALL_PART]
    few = [name for name, n in ranked if n < SMALL_PART]
    if enough:
        name, n = enough[0]
        parts = [f"Best supported: {name} (checked on {n} held-out tracks)"]
        if len(enough) > 1:
            parts.append("also enough to compare: " + ", ".join(f"{m} ({k})" for m, k in enough[1:])
                         + "; where the intervals overlap, neither is shown to be better")
    else:
        parts = [f"No model here was checked on {SMALL_PART} or more held-out tracks"]
    if few:
        parts.append(f"{', '.join(few)}: checked on fewer than {SMALL_PART} tracks, too few to show it is better "
                     "or worse (greyed)")
    return "; ".join(parts) + "."


def is_run(path: Path) -> bool:
    """A training run's best model, where the app's runs go (not yet in the models folder)."""
    return path.name == "best.pt" and path.parent.parent == runs_dir()


def finished_runs() -> list[Path]:
    """Each training run's best.pt, newest first, except those already copied into the models
    folder (under the name "Use this model" and Set active give them)."""
    if not runs_dir().is_dir():
        return []
    runs = [p for p in runs_dir().glob("*/best.pt") if not models_path_for(p).exists()]
    return sorted(runs, key=lambda p: p.parent.name, reverse=True)


def unreadable_reason(path: str) -> str:
    try:
        Path(path).stat()
    except OSError as e:
        return e.strerror or str(e)
    return "it went away"


class ModelRegistry(QDialog):
    """Model > Models...: choosing a model changes the state's model in use; the rows follow it."""

    import_requested = Signal()

    def __init__(self, state: AppState, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Models")
        self.resize(900, 360)
        self.state = state
        self.info: dict[str, ModelDescription | None] = {}
        self.errors: dict[str, str] = {}
        self.keys: dict[str, tuple[str, int, int] | None] = {}  # path -> file_key when listed
        self.reading: set[str] = set()  # paths the running child has still to report
        self._refresh_again = False
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # every action acts on one model: a second row Ctrl-clicked must not decide which
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.status = QLabel()
        self.support = QLabel()  # which model's figures are well enough supported to compare, in words
        self.support.setWordWrap(True)
        buttons = QHBoxLayout()
        for text, slot in [("Set active", self.set_active), ("Rename...", self.rename), ("Delete", self.delete),
                           ("Import...", self.import_requested.emit), ("Reveal on disk", self.reveal),
                           ("Refresh", self.refresh)]:
            b = QPushButton(text)
            on_click(b, slot)
            buttons.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.support)
        lay.addWidget(self.status)
        lay.addLayout(buttons)
        self.proc = CoreProcess(self, threads=1)
        self.proc.event_read.connect(self._on_event)
        self.proc.finished.connect(self._read_finished)
        state.model_changed.connect(self._model_changed)
        self.refresh()

    @property
    def active(self) -> str:
        return self.state.model.path

    def _model_changed(self, now: ModelInUse, before: ModelInUse) -> None:
        self._fill()

    def paths(self) -> list[Path]:
        """The built-in models (the default, then the DAMER network, where this install has them),
        the user's bundles, then finished training runs not yet brought into the models folder
        (listed as soon as they finish)."""
        own = sorted(models_dir().glob("*.pt")) if models_dir().is_dir() else []
        return builtin_model_paths() + own + finished_runs()

    def refresh(self) -> None:
        """List every bundle now, with what is known of it; read the unknown ones in the child."""
        self.info, self.errors = {}, {}
        paths = self.paths()
        self.keys = {str(p): file_key(p) for p in paths}
        for key in self.keys.values():
            if key in READ:
                self._store(READ[key])
        for p, key in self.keys.items():
            if key is None:  # a link loop, a dangling link, a file gone since the listing
                self.errors[p] = f"cannot be read ({unreadable_reason(p)})"
        unread = [p for p, key in self.keys.items() if key is not None and key not in READ]
        if self.proc.running:
            self._refresh_again = bool(unread)  # one child at a time: the rest once it is done
        elif unread:
            self.reading = set(unread)
            self.proc.start(["info", "--jsonl"] + unread)
        self._fill()

    def _store(self, ev: events.Info | events.BundleError) -> None:
        if isinstance(ev, events.Info):
            self.info[ev.path] = description_of(ev)
        else:
            self.errors[ev.path] = ev.message

    def _on_event(self, ev: events.Event) -> None:
        if not isinstance(ev, (events.Info, events.BundleError)) or ev.path not in self.keys:
            return
        path = ev.path
        self.reading.discard(path)
        key = self.keys[path]
        if key is not None:
            READ[key] = ev
        self._store(ev)
        self._fill()

    def _read_finished(self, code: int, error: str) -> None:
        for path in self.reading & self.keys.keys():  # never reported: not cached, so Refresh retries
            self.errors[path] = f"could not be read ({error or f'damer-core exited with code {code}'})"
        self.reading = set()
        if self._refresh_again:
            self._refresh_again = False
            self.refresh()
        else:
            self._fill()

    def _fill(self) -> None:
        paths = self.paths()
        self.table.setRowCount(len(paths))
        checked: list[tuple[str, int]] = []
        for r, p in enumerate(paths):
            known, err = str(p) in self.info, self.errors.get(str(p))
            status = err or ("active" if str(p) == self.active else ("ok" if known else "reading..."))
            if is_builtin(p) and not err:
                status += " (built-in, fine-tunable)"
            name = builtin_name(p) or (f"{bundle_name(p)} (training run)" if is_run(p) else p.stem)
            if is_run(p) and known and not err and str(p) != self.active:
                status = "finished run: Set active copies it into the models folder"
            described, per_dim, (check, n) = description_cells(self.info.get(str(p)))
            n_a, n_v = per_dim.get("arousal", 0), per_dim.get("valence", 0)
            checked.append((name, n or max(n_a, n_v)))
            cells = [name, *described, status, *file_cells(self.keys.get(str(p))), check]
            tracks = {COLUMNS.index("Arousal AUC"): n_a, COLUMNS.index("Valence AUC"): n_v, len(cells) - 1: n}
            for c, text in enumerate(cells):
                text = shown(text, limit=200)  # a bundle's strings are untrusted: no control characters, capped
                item = QTableWidgetItem(text)
                item.setToolTip(shown_path(p) if c == 0 else text)
                if err:
                    item.setForeground(QBrush(QColor(180, 40, 40)))
                elif 0 < tracks.get(c, 0) < SMALL_PART:  # too few tracks to mean anything
                    item.setForeground(QBrush(QColor(150, 150, 150)))
                    item.setToolTip(f"{text}: only {tracks[c]} held-out tracks, too few to compare models")
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.support.setText(support_summary(checked))
        bad = len(self.errors)
        reading = f"; reading the details of {len(self.reading)}..." if self.reading else ""
        runs, builtins = sum(is_run(p) for p in paths), sum(is_builtin(p) for p in paths)
        where = (f"{builtins} built-in, " if builtins else "") + f"{len(paths) - runs - builtins} model(s) in {models_dir()}"
        where += f", {runs} finished training run(s)" if runs else ""
        self.status.setText(where + (f"; {bad} cannot be loaded" if bad else "") + reading)

    def selected(self) -> Path | None:
        rows = self.table.selectionModel().selectedRows()
        paths = self.paths()
        return paths[rows[0].row()] if rows and rows[0].row() < len(paths) else None

    def set_active(self) -> None:
        p = self.selected()
        if p is None:
            return
        if str(p) in self.errors:
            self.status.setText(f"Cannot use it: {shown(self.errors[str(p)])}")
            return
        if not confirm_use(self, use_model_question(self.info.get(str(p)))):  # its figures must vouch for it, or the user
            return
        self.state.try_model(str(p), bring_in=(lambda q: str(copy_into_models(q))) if is_run(p) else None)

    def _refuse_builtin(self, p: Path, what: str) -> bool:
        if is_builtin(p):
            self.status.setText(f"The built-in model cannot be {what}; choose another model as active instead")
            return True
        if is_run(p) and what == "renamed":
            self.status.setText("A training run's model is renamed once it is in the models folder: Set active "
                                "copies it there")
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
            old = file_key(p)
            p.rename(target)
            new = file_key(target)
            if old in READ and new is not None:  # a rename keeps mtime and size: no need to read it again
                READ[new] = dataclasses.replace(READ[old], path=str(target))
            if self.active == str(p):
                self.state.choose_model(str(target))
            self.refresh()

    def delete(self, confirm: bool = True) -> None:
        p = self.selected()
        if p is None or self._refuse_builtin(p, "deleted"):
            return
        what = f"the training run {p.parent.name} (its folder: checkpoints and metrics)" if is_run(p) else p.name
        if confirm and QMessageBox.question(self, "Delete model", f"Delete {what}?") != QMessageBox.StandardButton.Yes:
            return
        was_active = self.active == str(p)
        if is_run(p):
            shutil.rmtree(p.parent, ignore_errors=True)
        p.unlink(missing_ok=True)
        if was_active:  # the built-in model takes over
            self.state.choose_model("")
        self.refresh()

    def reveal(self) -> None:
        p = self.selected()
        QDesktopServices.openUrl(QUrl.fromLocalFile(str((p or models_dir()).parent if p else models_dir())))
