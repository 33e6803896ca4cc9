"""The library's folders and their scan: add and remove folders, and rescan them in a child process
(app.library.scanner; tag parsing is pure Python, and in a thread it would compete with the GUI for the GIL:
measured 250 ms stalls at 2,000 files). The window shows what the signals say."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget

from app.child import CoreProcess, scanner_command
from app.library.db import LibraryDB
from app.library.scanner import ScanReport
from app.settings import Settings
from damer_core.contract import events
from damer_core.contract.safe_text import shown, shown_name

log = logging.getLogger(__name__)

RELOAD_EVERY = 1000  # files: the table shows the tracks found so far this often during a long scan


def report_text(ev: events.Report) -> str:
    """The status line of a scan's report."""
    report = ScanReport(ev.added, ev.updated, ev.removed, [tuple(u) for u in ev.unreadable], ev.cancelled)
    return report.summary + (" (File > Show unreadable files)" if report.unreadable else "")


def progress_text(ev: events.Progress) -> str:
    return f"Scanning {shown_name(ev.folder or '')}: {ev.done} / {ev.total}"


class LibraryScan(QObject):
    progress = Signal(str, int, int)  # text, done, total (0 / 0: busy)
    library_changed = Signal(str)  # the tracks changed: reload the table; the report's status line, or ""
    finished = Signal(str)  # the scan ended: "" or why it failed

    def __init__(self, db: LibraryDB, settings: Settings, parent: QWidget):
        super().__init__(parent)
        self.window = parent  # the dialogs' parent
        self.db, self.settings = db, settings
        self.process: CoreProcess | None = None  # the scanner child while a scan runs
        self.closed = False  # the window closed: what the child still says is dropped

    def add_folder(self, folder: str | None = None) -> None:
        """Add ``folder`` (asked for when not given) and rescan."""
        if not folder:
            folder = QFileDialog.getExistingDirectory(self.window, "Add a music folder",
                                                      self.settings.last_folder or str(Path.home()))
        if not folder:
            return
        self.settings.last_folder = folder
        log.info("folder added: %s", Path(folder).resolve())
        self.db.add_folder(str(Path(folder).resolve()))
        self.rescan()

    def remove_folder(self) -> None:
        """Ask which folder leaves the library (its files stay on disk)."""
        folders = [p for _, p in self.db.folders()]
        if not folders:
            return
        folder, ok = QInputDialog.getItem(self.window, "Remove folder", "Remove from the library (files stay on disk):",
                                          folders, 0, False)
        if ok and folder:
            log.info("folder removed: %s", folder)
            self.db.remove_folder(folder)
            self.library_changed.emit("")

    def rescan(self) -> None:
        """Pick up new, changed and removed files; nothing when a scan runs already."""
        if self.process is not None:
            return
        self.process = CoreProcess(self, threads=1)
        self.process.event_read.connect(self._on_event)
        self.process.finished.connect(self._finished)
        self.progress.emit("Scanning...", 0, 0)
        log.info("scan started: %s", ", ".join(p for _, p in self.db.folders()) or "no folders")
        self.process.start([str(self.db.path)], command=scanner_command())

    def cancel(self) -> None:
        if self.process is not None:
            self.process.cancel()

    def _on_event(self, ev: events.Event) -> None:
        if self.closed:
            return
        if isinstance(ev, events.Progress):
            self.progress.emit(progress_text(ev), ev.done, ev.total)
            if ev.done and ev.done % RELOAD_EVERY == 0:
                self.library_changed.emit("")
        elif isinstance(ev, events.Report):
            log.info("scan: %s", report_text(ev))
            self.library_changed.emit(report_text(ev))

    def _finished(self, code: int, error: str) -> None:
        self.process = None
        if code != 0:
            log.warning("scan failed: %s", error or f"exit code {code}")
        if not self.closed:
            self.finished.emit(f"scan failed: {error or f'exit code {code}'}" if code != 0 else "")

    def show_unreadable(self) -> None:
        """The files and folders the scans could not read, with the reason."""
        rows = self.db.unreadable()
        text = "\n".join(f"{shown_name(p)}: {shown(r)}" for p, r in rows) or "Every file in the library could be read."
        box = QMessageBox(QMessageBox.Icon.Information, "Unreadable files", f"{len(rows)} file(s) could not be read.",
                          parent=self.window)
        box.setDetailedText(text)
        box.exec()
