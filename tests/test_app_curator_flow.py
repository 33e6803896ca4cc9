"""Issue 5's walk-through as a test: label three tracks on the circle, train on those labels from
the panel (real child process, curves moving), activate the model, see the library re-analysed
and placed on the emotion map."""

import pytest
from PySide6.QtCore import QPoint, Qt

from app import player as player_mod
from app.main_window import MainWindow
from app_helpers import music_folder


@pytest.mark.slow
def test_label_train_activate_map(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    w.add_folder(str(music_folder(tmp_path / "music")))
    qtbot.waitUntil(lambda: w._scan is None, timeout=20_000)
    w.label_bar.mode.setChecked(True)
    targets = [(0.7, 0.6), (-0.6, -0.5), (0.5, -0.6)]
    for row, (v, a) in zip(range(3), targets):
        w.open_track(w.library.path_at(row), autoplay=True)
        qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
        p = w.circle.to_pixel(v, a)
        qtbot.mousePress(w.circle, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
        qtbot.wait(400)
        qtbot.mouseRelease(w.circle, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
    w.label_bar.mode.setChecked(False)
    assert sum(r.labelled for r in w.model.rows) == 3
    w.show_training()
    panel = w.training
    panel.source.setCurrentIndex(2)  # my labels
    panel.epochs.setValue(2)
    panel.batch.setValue(16)
    panel.start_btn.click()
    qtbot.waitUntil(lambda: not panel.proc.running, timeout=300_000)
    assert panel.use_btn.isEnabled(), panel.status.text() + "\n" + panel.log.toPlainText()[-1500:]
    assert len(panel.curves["total"].getData()[0]) == 4  # the curves moved every epoch
    panel.use_btn.click()
    assert w.settings.active_model.endswith(".pt")
    qtbot.waitUntil(lambda: not w.analyser.running, timeout=300_000)
    rows = w.db.tracks(w.settings.active_model)
    assert all(r.valence is not None for r in rows)
    w.show_map()
    assert len(w.emotion_map.points) == 3 and all(p.labelled for p in w.emotion_map.points)
    w.close()
