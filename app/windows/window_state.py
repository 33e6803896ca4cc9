"""The main window's geometry, state and splitter positions, kept in the settings between runs
(base64 of Qt's bytes)."""

from __future__ import annotations

import base64

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QMainWindow, QSplitter

from app.settings import Settings


def _encode(state: QByteArray) -> str:
    return base64.b64encode(state.data()).decode()


def _decode(text: str) -> QByteArray:
    """A saved state, or an empty one (which Qt ignores) where the settings file holds something
    that is not base64: a damaged value must not stop the window from opening."""
    try:
        return QByteArray(base64.b64decode(text, validate=True))
    except (ValueError, TypeError):
        return QByteArray()


def restore_window(window: QMainWindow, settings: Settings, splitters: dict[str, QSplitter]) -> None:
    """Geometry, state and ``splitters`` ("main": the library | the track, "views": the
    spectrograms | the circle) as the settings keep them."""
    s = settings
    if s.window_geometry:
        window.restoreGeometry(_decode(s.window_geometry))
    else:  # first start: most of the screen, so every table column and the circle have room
        screen = window.screen().availableGeometry()
        window.resize(max(1024, min(1600, int(screen.width() * 0.85))), max(700, min(980, int(screen.height() * 0.85))))
        left, right = int(window.width() * 0.45), int(window.width() * 0.55)
        splitters["main"].setSizes([left, right])
        splitters["views"].setSizes([right // 2, right // 2])
    if s.window_state:
        window.restoreState(_decode(s.window_state))
    for name, split in splitters.items():
        if name in s.splitters:
            split.restoreState(_decode(s.splitters[name]))


def save_window(window: QMainWindow, settings: Settings, splitters: dict[str, QSplitter]) -> None:
    """Keep the geometry, state and ``splitters`` in ``settings`` (not saved to disk here)."""
    settings.window_geometry = _encode(window.saveGeometry())
    settings.window_state = _encode(window.saveState())
    settings.splitters = {name: _encode(split.saveState()) for name, split in splitters.items()}
