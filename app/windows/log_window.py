"""View > Log: the recent log records, appended live, with a level filter; Copy all and Save as
give a user the text for a bug report, Open log folder the rotating files (app.log)."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.log import RING_SIZE, Entry, log_file, ring
from app.widgets.buttons import on_click

LEVELS = [("Debug", logging.DEBUG), ("Info", logging.INFO), ("Warning", logging.WARNING), ("Error", logging.ERROR)]


class LogWindow(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Log")
        self.setModal(False)
        self.shown_up_to = 0  # seq of the last entry taken (shown or filtered out)
        self.level = QComboBox()
        for name, level in LEVELS:
            self.level.addItem(name, level)
        self.text = QPlainTextEdit(readOnly=True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)  # long records wrap: no sideways scrolling
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setMaximumBlockCount(RING_SIZE)
        self._build_layout()
        self.level.currentIndexChanged.connect(self.refill)
        # queued: records arrive from worker threads, and a record logged while a slot runs is
        # shown after it rather than re-entering the text edit
        ring().bridge.appended.connect(self.append, Qt.ConnectionType.QueuedConnection)
        self.refill()
        self.resize(900, 500)

    def _build_layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Show from:"))
        top.addWidget(self.level)
        top.addStretch(1)
        for text, slot in [("Copy all", self.copy_all), ("Save as...", self.save_as),
                           ("Open log folder", self.open_folder), ("Close", self.close)]:
            button = QPushButton(text)
            button.setAutoDefault(False)
            on_click(button, slot)
            button.setEnabled(text != "Open log folder" or log_file() is not None)
            top.addWidget(button)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.text, 1)

    def threshold(self) -> int:
        return self.level.currentData()

    def refill(self) -> None:
        self.text.clear()
        self.shown_up_to = 0
        for entry in ring().snapshot():
            self.append(entry)

    def append(self, entry: Entry) -> None:
        if entry.seq <= self.shown_up_to:
            return  # queued before the last refill took it from the ring
        self.shown_up_to = entry.seq
        if entry.level >= self.threshold():
            self.text.appendPlainText(entry.text)

    def copy_all(self) -> None:
        QApplication.clipboard().setText(self.text.toPlainText())

    def save_as(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save log", str(Path.home() / "damer-explorer-log.txt"),
                                              "Text files (*.txt);;All files (*)")
        if not path:
            return
        try:
            Path(path).write_text(self.text.toPlainText() + "\n", encoding="utf-8")
        except OSError as e:
            QMessageBox.warning(self, "Save log", f"The log could not be saved:\n{e}")

    def open_folder(self) -> None:
        path = log_file()
        if path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent)))


def show_log_window(parent: QWidget) -> LogWindow:
    """The one Log window of ``parent`` (made on first use: a child, so it lives as long as
    ``parent``), shown and brought to the front."""
    window = parent.findChild(LogWindow)
    if window is None:
        window = LogWindow(parent)
    window.show()
    window.raise_()
    window.activateWindow()
    return window
