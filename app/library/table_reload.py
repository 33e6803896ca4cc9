"""The library table's rows, read and made ready off the GUI thread: with 50,000 tracks the
query takes about 0.2 s and the rows' emotion words, search texts and sort up to 0.2 s more, which
held the window on every change of model, scan step and label import. Each reload reads in a
connection of its own; only the latest one is shown, with the rows refreshed on their own while it
was read (a prediction stored, a label saved) as they were refreshed, not as it read them."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, Signal

from app.library.db import LibraryDB
from app.library.rows import TrackRow
from app.library.table_model import TableRows
from app.workers import Worker
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
        self.db_path, self.terms = db_path, terms
        self._request = 0
        self.pending = False  # the latest reload has not been shown yet
        self._fresh: dict[str, TrackRow] = {}  # rows refreshed since it began: newer than what it reads

    def reload(self, values: dict, sort: tuple[int, Qt.SortOrder] | None) -> None:
        self._request += 1
        self.pending = True
        self._fresh = {}
        request, path, terms = self._request, self.db_path, self.terms

        def read(w: Worker) -> tuple[TableRows, list[str]]:
            db = LibraryDB.reader(path)
            try:
                return read_table(db, values, terms, sort)
            finally:
                db.close()

        job = Worker(read, "library-table", parent=self)
        job.result.connect(lambda found: self._arrived(request, found))
        job.error.connect(lambda message: self._failed(request, message))
        job.start()

    def close(self) -> None:
        """The window closes: a reload still being read is shown nowhere."""
        self._request += 1
        self.pending, self._fresh = False, {}

    def keep(self, row: TrackRow) -> None:
        """A row read again on the GUI thread while a reload is under way: it wins over the reload's."""
        if self.pending:
            self._fresh[row.path] = row

    def _arrived(self, request: int, found: tuple[TableRows, list[str]]) -> None:
        if request != self._request:
            return  # an earlier reload's rows are already out of date
        table, folders = found
        if self._fresh:
            table.replace(self._fresh, self.terms)
        self.pending, self._fresh = False, {}
        self.loaded.emit(table, folders)

    def _failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.pending, self._fresh = False, {}
            self.failed.emit(f"The library could not be read: {message}")
