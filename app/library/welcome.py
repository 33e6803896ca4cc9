"""What the library shows while it has no tracks: on a first start, a greeting that adds the
user's Music folder in one click (or asks for another); with folders but nothing found yet, what
is happening and what to do."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from app.widgets.buttons import on_click


def music_folder() -> str:
    """The user's Music folder (XDG ``MUSIC`` on Linux), or "" where there is none."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MusicLocation)
    return folder if folder and Path(folder).is_dir() else ""


class LibraryWelcome(QWidget):
    folder_chosen = Signal(str)  # a folder to add; "" asks the user for one

    def __init__(self, parent=None):
        super().__init__(parent)
        self.heading = QLabel()
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        font.setBold(True)
        self.heading.setFont(font)
        self.heading.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.add_music = QPushButton()
        self.choose = QPushButton("Choose a folder...")
        on_click(self.add_music, self._add_music)
        on_click(self.choose, lambda: self.folder_chosen.emit(""))
        lay = QVBoxLayout(self)
        lay.addStretch(1)
        lay.addWidget(self.heading)
        lay.addWidget(self.text)
        for b in (self.add_music, self.choose):
            lay.addWidget(b, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(2)
        self.show_state([])

    def show_state(self, folders: list[str]) -> None:
        """The greeting when the library has no folder; otherwise what its folders gave."""
        music = music_folder()
        self.music = music
        if folders:
            shown = ", ".join(Path(f).name or f for f in folders[:3]) + (" ..." if len(folders) > 3 else "")
            self.heading.setText("No music yet")
            self.text.setText(f"No audio files found in {shown} yet.\nA scan may still be running "
                              "(see below): tracks are listed as they are found.")
        else:
            self.heading.setText("Welcome to DAMER Explorer")
            self.text.setText("Add a folder of music to see, hear and label the "
                              "emotion of every track: the app lists the files, predicts their valence and "
                              "arousal, and shows the prediction moving as a track plays.")
        self.add_music.setVisible(bool(music) and music not in folders)
        self.add_music.setText(f"Add my Music folder ({_home_relative(music)})" if music else "")
        self.choose.setText("Add another folder..." if folders else "Choose a folder...")

    def _add_music(self) -> None:
        self.folder_chosen.emit(self.music)


def _home_relative(folder: str) -> str:
    try:
        return "~/" + str(Path(folder).relative_to(Path.home()))
    except ValueError:
        return folder
