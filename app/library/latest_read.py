"""Reading the library off the GUI thread, where only the latest read counts: each read runs in a
worker thread on a read-only connection of its own (LibraryDB.reader), and its result or error
reaches the GUI thread only if no later read was asked for, and the reads were not forgotten
meanwhile (a cancel, the window's close). The library pass and the table's reloads use it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject

from app.library.db import LibraryDB
from app.workers import Worker


class LatestRead(QObject):
    def __init__(self, db_path: Path, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.db_path, self.name = db_path, name
        self._request = 0
        self.pending = False  # the latest read has not come back yet

    def read(self, fn: Callable[[LibraryDB], Any], on_result: Callable[[Any], None],
             on_error: Callable[[str], None]) -> None:
        """``fn(db)`` in a worker thread; ``on_result(value)`` or ``on_error(message)`` on the GUI
        thread, unless the read is out of date by then."""
        self._request += 1
        self.pending = True
        request, path = self._request, self.db_path

        def work(w: Worker) -> Any:
            db = LibraryDB.reader(path)
            try:
                return fn(db)
            finally:
                db.close()

        job = Worker(work, self.name, parent=self)
        job.result.connect(lambda value: self._deliver(request, on_result, value))
        job.error.connect(lambda message: self._deliver(request, on_error, message))
        job.start()

    def forget(self) -> None:
        """The read under way comes back to nobody."""
        self._request += 1
        self.pending = False

    def _deliver(self, request: int, to: Callable[[Any], None], value: Any) -> None:
        if request == self._request:
            self.pending = False
            to(value)
