"""Child for the app-level SIGKILL test: the real main window (no sound card), a track playing and
a curator holding the mouse on the V-A circle with real mouse events, moved every 100 ms. Prints
how many points the window has drawn, until it is killed. argv: library database, track path."""

import math
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QPoint, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.playback import player as player_mod  # noqa: E402

player_mod.probe_sounddevice = lambda: (None, "no audio output device found")
from app.windows.main_window import MainWindow  # noqa: E402

qt_app = QApplication([])
window = MainWindow(Path(sys.argv[1]))
window.resize(1400, 900)
window.show()
window.open_track(sys.argv[2], autoplay=True)
circle = window.circle
step = {"i": 0}


def pixel(v: float, a: float) -> QPoint:
    p = circle.to_pixel(v, a)
    return QPoint(round(p.x()), round(p.y()))


def move() -> None:
    step["i"] += 1
    angle = step["i"] * 0.2
    QTest.mouseMove(circle, pixel(0.6 * math.cos(angle), 0.6 * math.sin(angle)))
    print(len(circle.label_points), flush=True)


def begin() -> None:
    if window.player.state != "playing":
        QTimer.singleShot(50, begin)
        return
    window.label_bar.curator.setText("kim")
    window.label_bar.mode.setChecked(True)
    QTest.mousePress(circle, Qt.MouseButton.LeftButton, pos=pixel(0.6, 0.0))
    timer = QTimer(window)
    timer.timeout.connect(move)
    timer.start(100)


begin()
qt_app.exec()
