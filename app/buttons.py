"""Buttons' clicks, connected one way everywhere."""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QAbstractButton


def on_click(button: QAbstractButton, slot: Callable[[], object] | SignalInstance) -> None:
    """``slot()`` (or a signal's ``emit()``) on each click, without arguments: ``clicked`` carries the
    checked flag, which a slot with an optional first parameter (``delete(verb="Delete")``) would
    take as that parameter."""
    fire = slot.emit if isinstance(slot, SignalInstance) else slot

    def clicked(_checked: bool = False) -> None:  # returns None: PySide6 mis-counts a slot's returned bool
        fire()

    button.clicked.connect(clicked)
