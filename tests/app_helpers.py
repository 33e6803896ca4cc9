"""Helpers for the app tests: tagged audio files and a library folder with good and bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

from damer_core.audio.synthetic import chord_music

SR = 22_050


def tagged(path: Path, seconds: float, title: str = "", artist: str = "", album: str = "", seed: int = 0,
           major: bool = True, fast: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {".flac": "FLAC", ".ogg": "OGG", ".wav": "WAV", ".mp3": "MP3"}[path.suffix]
    with sf.SoundFile(path, "w", SR, 1, format=fmt) as f:
        if title:
            f.title = title
        if artist:
            f.artist = artist
        if album:
            f.album = album
        f.write(chord_music(seconds, major, fast, SR, seed=seed))
    return path


def music_folder(root: Path) -> Path:
    tagged(root / "a" / "one.flac", 6, "Morning", "Alice", "First", seed=1)
    tagged(root / "a" / "two.ogg", 9, "Evening", "Bob", "First", seed=2, major=False, fast=False)
    tagged(root / "b" / "three.wav", 4, seed=3)
    (root / "b" / "broken.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    (root / "b" / "empty.wav").write_bytes(b"")
    (root / "notes.txt").write_text("not music")
    return root


def press_in_window(qtbot, window, keys: str) -> None:
    """``keys`` (a QKeySequence string) typed into ``window`` once it is shown and active."""
    from PySide6.QtGui import QKeySequence
    from PySide6.QtTest import QTest

    window.show()
    window.activateWindow()
    window.setFocus()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    QTest.keySequence(window, QKeySequence(keys))


def answer_dialog(button_text: str, tries: int = 200, when=None) -> list[str]:
    """Click the button whose text contains ``button_text`` in the next modal dialog, as a person
    would (``when`` given: once it is also true, as a person who takes their time); returns the
    dialog's text once answered (a list, filled later)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QAbstractButton, QApplication, QMessageBox

    seen: list[str] = []

    def poll(left: int = tries) -> None:
        box = QApplication.activeModalWidget()
        if box is None or (when is not None and not when()):
            if left:
                QTimer.singleShot(25, lambda: poll(left - 1))
            return
        seen.append(box.text() if isinstance(box, QMessageBox) else box.windowTitle())
        for b in box.findChildren(QAbstractButton):
            if button_text.lower() in b.text().replace("&", "").lower():
                b.click()
                return
        raise AssertionError(f"no button {button_text!r} in {[b.text() for b in box.findChildren(QAbstractButton)]}")

    QTimer.singleShot(0, poll)
    return seen


def listed_library(path: Path, names, artist: str = ""):
    """A LibraryDB at ``path`` listing one folder, /music, and a 60 s track /music/<name>.flac per
    name (title the name): the library as a scan leaves it, without audio."""
    from app.library.db import LibraryDB

    db = LibraryDB(path)
    db.add_folder("/music")
    db.upsert_tracks(1, [{"path": f"/music/{n}.flac", "title": n, "artist": artist, "album": "", "duration": 60.0,
                          "size": 1, "mtime": 0.0} for n in names])
    return db


def app_state(model: str = ""):
    """The app's state with ``model`` in use ("": none; the file is made when missing, as a
    placeholder the state only stats)."""
    from app.settings import Settings
    from app.state import AppState

    if model and not Path(model).exists():
        Path(model).parent.mkdir(parents=True, exist_ok=True)
        Path(model).write_bytes(b"placeholder: never loaded")
    return AppState(Settings(active_model=model or "/nonexistent/none.pt"))


def fresh_window(qtbot, tmp_path: Path, monkeypatch):
    """A shown MainWindow on a fresh install: its own config and data folders, no sound card."""
    from app.playback import player as player_mod
    from app.windows.main_window import MainWindow

    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w
