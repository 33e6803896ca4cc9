"""The library table's rows, read and made ready off the GUI thread: with 50,000 tracks the
query takes about 0.2 s and the rows' emotion words, search texts and sort up to 0.2 s more, which
held the window on every change of model, scan step and label import. Each reload reads in a
connection of its own; only the latest one is shown, with the rows refreshed on their own while it
was read (a prediction stored, a label saved) as they were refreshed, not as it read them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

from app.library.db import LibraryDB
from app.library.latest_read import LatestRead
from app.library.rows import TrackRow
from app.library.table_model import TableRows
from damer_core.contract.emotions import EmotionTerm


def read_table(db: LibraryDB, values: dict, terms: list[EmotionTerm],
               sort: tuple[int, Qt.SortOrder] | None) -> tuple[TableRows, list[str]]:
    """The table's rows (``values``: LibraryDB.tracks' arguments) and the library's folders."""
    return TableRows.of(db.tracks(**values), terms, sort), [p for _, p in db.folders()]


class TableReload(QObject):
    loaded = Signal(object, list)  # TableRows, the library's folders
    failed = Signal(str)  # why the library could not be read

    def __init__(self, db_path: Path, terms: list[EmotionTerm], parent: QObject | None = None):
        super().__init__(parent)
        self.terms = terms
        self._reads = LatestRead(db_path, "library-table", self)
        self._fresh: dict[str, TrackRow] = {}  # rows refreshed since the reload began: newer than what it reads

    @property
    def pending(self) -> bool:
        """The latest reload has not been shown yet."""
        return self._reads.pending

    def reload(self, values: dict, sort: tuple[int, Qt.SortOrder] | None) -> None:
        self._fresh = {}
        terms = self.terms
        self._reads.read(lambda db: read_table(db, values, terms, sort), self._arrived, self._failed)

    def close(self) -> None:
        """The window closes: a reload still being read is shown nowhere."""
        self._reads.forget()
        self._fresh = {}

    def keep(self, row: TrackRow) -> None:
        """A row read again on the GUI thread while a reload is under way: it wins over the reload's."""
        if self.pending:
            self._fresh[row.path] = row

    def _arrived(self, found: tuple[TableRows, list[str]]) -> None:
        table, folders = found
        if self._fresh:
            table.replace(self._fresh, self.terms)
        self._fresh = {}
        self.loaded.emit(table, folders)

    def _failed(self, message: str) -> None:
        self._fresh = {}
        self.failed.emit(f"The library could not be read: {message}")
