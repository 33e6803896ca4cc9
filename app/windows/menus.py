"""Menus and key shortcuts built from declarations, each entry declared once: (menu, text, slot,
shortcut) for a menu entry, (key, slot, what it does) for a key; Help > Keyboard shortcuts lists
both from the same declarations."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import QMainWindow, QMenu

from app.widgets.buttons import ignoring_checked

MenuEntry = tuple[str, str, Callable[[], object], str]  # menu, text, slot, shortcut ("" for none)
KeyEntry = tuple[str, Callable[[], object], str]  # key, slot, what it does


def build_menus(window: QMainWindow, entries: list[MenuEntry], keys: list[KeyEntry]) -> dict[str, QAction]:
    """The window's menu bar and key shortcuts; returns each menu entry's action by its text."""
    menus: dict[str, QMenu] = {}
    actions: dict[str, QAction] = {}
    for menu, text, slot, key in entries:
        if menu not in menus:
            menus[menu] = window.menuBar().addMenu(menu)
        action = QAction(text, window)
        action.triggered.connect(ignoring_checked(slot))
        if key:
            action.setShortcut(QKeySequence(key))
        menus[menu].addAction(action)
        actions[text] = action
    for key, slot, _ in keys:
        QShortcut(QKeySequence(key), window).activated.connect(slot)
    return actions


def shortcut_list(entries: list[MenuEntry], keys: list[KeyEntry]) -> list[tuple[str, str]]:
    """(key, what it does): the keys, then every menu entry with a shortcut ("File > Rescan library")."""
    listed = [(key, what) for key, _, what in keys]
    listed += [(key, f"{menu.strip('&')} > {text.rstrip('.')}") for menu, text, _, key in entries if key]
    return listed
