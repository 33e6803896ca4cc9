"""Buttons' clicks and menu actions' triggers, connected one way everywhere: without the checked flag."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import SignalInstance
from PySide6.QtWidgets import QAbstractButton


def ignoring_checked(slot: Callable[[], object]) -> Callable[[bool], None]:
    """A slot for ``clicked(bool)`` / ``triggered(bool)``: the flag would land in the slot's first
    optional argument (``delete(verb="Delete")`` asked "False: delete ...?", start_calibration took
    it for its track ids), and a lambda returning the slot's bool (close() returns one) trips
    PySide6. Calls ``slot()`` and returns nothing."""
    def run(_checked: bool = False) -> None:
        slot()
    return run


def on_click(button: QAbstractButton, slot: Callable[[], object] | SignalInstance) -> None:
    """``slot()`` (or a signal's ``emit()``) on each click, without arguments."""
    button.clicked.connect(ignoring_checked(slot.emit if isinstance(slot, SignalInstance) else slot))
