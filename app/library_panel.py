"""The library side of the window: folder actions, instant search, the track table, and the
progress of scans and analyses with a Cancel button."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton, QTableView,
    QVBoxLayout, QWidget,
)

from app.library_model import LibraryFilter, LibraryModel


class LibraryPanel(QWidget):
    track_activated = Signal(str)  # path
    cancel_requested = Signal()

    def __init__(self, model: LibraryModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.proxy = LibraryFilter(self)
        self.proxy.setSourceModel(model)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        self.buttons = QHBoxLayout()
        lay.addLayout(self.buttons)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search title, artist, album or emotion (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_search)
        lay.addWidget(self.search)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        for col, width in enumerate([170, 110, 110, 60, 60, 60, 75, 75, 62]):
            self.table.setColumnWidth(col, width)
        # Slots are methods, never lambdas returning emit()'s bool: PySide6 mis-counts returned bools.
        self.table.doubleClicked.connect(self._activate)
        self.table.activated.connect(self._activate)
        lay.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.progress_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setMaximumHeight(16)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancel_requested)
        row.addWidget(self.progress_label, 1)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel)
        lay.addLayout(row)
        self.show_progress(None)
        self.count = QLabel()
        lay.addWidget(self.count)

    def _activate(self, index) -> None:
        self.track_activated.emit(self.path_at(index.row()))

    def add_button(self, button: QPushButton) -> None:
        self.buttons.addWidget(button)

    def path_at(self, proxy_row: int) -> str:
        src = self.proxy.mapToSource(self.proxy.index(proxy_row, 0))
        return self.model.rows[src.row()].path if src.isValid() else ""

    def current_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def select_path(self, path: str) -> None:
        src = self.model.row_for_path(path)
        if src < 0:
            return
        idx = self.proxy.mapFromSource(self.model.index(src, 0))
        if idx.isValid():
            self.table.selectRow(idx.row())
            self.table.scrollTo(idx)

    def neighbour(self, path: str, step: int) -> str:
        """The track ``step`` rows away in the current sort and filter, or ""."""
        src = self.model.row_for_path(path)
        row = self.proxy.mapFromSource(self.model.index(src, 0)).row() if src >= 0 else self.current_row()
        target = row + step if row >= 0 else 0
        return self.path_at(target) if 0 <= target < self.proxy.rowCount() else ""

    def show_progress(self, text: str | None, done: int = 0, total: int = 0) -> None:
        visible = text is not None
        for w in (self.progress_label, self.progress, self.cancel):
            w.setVisible(visible)
        if visible:
            self.progress_label.setText(text)
            self.progress.setRange(0, max(total, 1) if total else 0)
            self.progress.setValue(done)
