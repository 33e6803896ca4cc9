"""Screenshots of the curator's tools from the real app: the training panel mid-run and the
library emotion map. Saves docs/training_panel.png and docs/emotion_map.png.

    python packaging/screenshot_curator.py [--audio ../shared/audio]

It labels the shared recordings on the circle with synthetic mouse input (no sound card needed),
trains on those labels plus the demo chords from the panel (the real `damer-core train` child),
grabs the panel after a few epochs, activates the finished model and grabs the emotion map.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "packaging"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--audio", default=str(ROOT.parent / "shared" / "audio"))
    args = ap.parse_args()
    from screenshot import demo_model, isolated_offscreen  # packaging/screenshot.py

    work = isolated_offscreen("damer-curator-shot-")

    from PySide6.QtCore import QPoint, Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from app.windows.main_window import MainWindow

    demo = demo_model(work)  # also leaves the demo chord arrays in work/demo
    app = QApplication([])
    w = MainWindow()
    w.resize(1500, 950)
    w.show()
    w.add_folder(args.audio)
    while w.library_busy:
        QTest.qWait(100)
    w.windows.import_model(str(demo))
    while w.analysis.running:
        QTest.qWait(200)
    w.label_bar.curator.setText("demo curator")
    w.label_bar.mode.setChecked(True)
    for row, (v, a) in enumerate([(0.7, 0.5), (-0.5, -0.6), (0.4, -0.7), (-0.6, 0.6)]):
        w.open_track(w.library.path_at(row), autoplay=True)
        while w.player.state != "playing":
            QTest.qWait(50)
        p = w.circle.to_pixel(v, a)
        QTest.mousePress(w.circle, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
        for k in range(6):
            QTest.qWait(100)
            q = w.circle.to_pixel(v + 0.03 * k, a - 0.02 * k)
            QTest.mouseMove(w.circle, QPoint(round(q.x()), round(q.y())))
        QTest.mouseRelease(w.circle, Qt.MouseButton.LeftButton, pos=QPoint(round(q.x()), round(q.y())))
    w.label_bar.mode.setChecked(False)
    w.player.pause()
    w.windows.show_training()
    panel = w.windows.training
    panel.path.setText(str(work / "demo"))
    panel.epochs.setValue(6)
    panel.batch.setValue(8)
    panel.start_btn.click()
    epochs_done = lambda: sum(len(panel.history.get(f"{d}.total", {})) for d in ("arousal", "valence"))  # noqa: E731
    while epochs_done() < 8 and panel.proc.running:  # arousal's six epochs and two of valence's
        QTest.qWait(200)
    (ROOT / "docs").mkdir(exist_ok=True)
    panel.grab().save(str(ROOT / "docs" / "training_panel.png"))
    while panel.proc.running:
        QTest.qWait(200)
    w.windows.show_map()
    w.windows.emotion_map.resize(1100, 720)
    w.windows.emotion_map.show_similar(w.library.path_at(0))
    QTest.qWait(300)
    w.windows.emotion_map.grab().save(str(ROOT / "docs" / "emotion_map.png"))
    print("saved docs/training_panel.png and docs/emotion_map.png")
    w.close()
    QTimer.singleShot(0, app.quit)
    return 0


if __name__ == "__main__":
    sys.exit(main())
