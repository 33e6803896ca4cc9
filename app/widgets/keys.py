"""Keys every tool window closes with, as a dialog does: Esc, Ctrl+W and the platform's Close."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QWidget


def close_on_keys(window: QWidget) -> None:
    closing = {"Esc", "Ctrl+W"} | {k.toString() for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Close)}
    for keys in sorted(closing - {""}):  # each once: a key bound twice would be ambiguous and do nothing
        QShortcut(QKeySequence(keys), window).activated.connect(window.close)
