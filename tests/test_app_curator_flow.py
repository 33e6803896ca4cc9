"""Issue 5's walk-through as a test: label three tracks on the circle, train on those labels from
the panel (real child process, curves moving), activate the model, see the library re-analysed
and placed on the emotion map."""

import pytest
from app_helpers import answer_dialog
from PySide6.QtCore import QPoint, Qt

pytestmark = pytest.mark.slow  # labels, trains and activates in the real window

@pytest.mark.slow
def test_label_train_activate_map(qtbot, scanned_window):
    w = scanned_window
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
    w.windows.show_training()
    panel = w.windows.training
    panel.source.setCurrentIndex(2)  # my labels
    panel.epochs.setValue(2)
    panel.batch.setValue(16)
    panel.start_btn.click()
    qtbot.waitUntil(lambda: not panel.proc.running, timeout=300_000)
    assert panel.use_btn.isEnabled(), panel.status.text() + "\n" + panel.log.toPlainText()[-1500:]
    assert len(panel.curves["arousal.total"].getData()[0]) == 2 and len(panel.curves["valence.total"].getData()[0]) == 2
    # three labels leave the validation and test parts empty: the run warned, so Use asks first
    assert panel.use.finished_warnings and panel.use_btn.text() == "Use this model..."
    asked = answer_dialog("Use it anyway")
    panel.use_btn.click()
    assert "This run warned" in asked[0]
    qtbot.waitUntil(lambda: w.settings.active_model.endswith(".pt") or w.windows.refusal is not None,
                    timeout=120_000)  # once the model passed its check in a child
    assert w.windows.refusal is None, w.windows.refusal.text()
    qtbot.waitUntil(lambda: not w.analysis.running, timeout=300_000)
    rows = w.db.tracks(w.state.model.key)
    assert all(r.valence is not None for r in rows)
    w.windows.show_map()
    assert len(w.windows.emotion_map.points) == 3 and all(p.labelled for p in w.windows.emotion_map.points)
