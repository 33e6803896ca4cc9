"""What the curator draws is what is saved: a layout that never moves under the mouse, a press
made while the track loads, deleting only after asking, imports that say what they mix, and the
word under the pen highlighted. Real windows and real mouse events (offscreen)."""

import math

import numpy as np
import pytest
from app_helpers import answer_dialog
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from app.labelling.labels import LabelRecorder, labels_for, static_labels
from app.widgets.va_circle import MARKER_MAX_RADIUS


def evening(w) -> str:
    return [r.path for r in w.model.rows if r.title == "Evening"][0]  # 9 s


def play(w, qtbot, path: str) -> None:
    w.open_track(path, autoplay=True)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)


def window_point(w, v: float, a: float) -> QPoint:
    p = w.circle.mapTo(w, w.circle.to_pixel(v, a).toPoint())
    return QPoint(p.x(), p.y())


def test_a_drag_saves_where_the_pointer_is_while_the_window_changes_around_it(scanned_window, qtbot):
    """The pointer is moved in window coordinates, as a hand moves it over the screen; meanwhile
    the status texts grow, the table's predictions fill in and a column appears. Every saved point
    must be where the pointer was over the circle as it was laid out when the drag began."""
    w = scanned_window
    play(w, qtbot, evening(w))
    w.label_bar.curator.setText("ann")
    qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)
    qtbot.wait(100)
    plan = [(0.3, 0.3), (0.1, 0.5), (-0.4, 0.2), (-0.2, -0.5), (0.6, -0.1)]
    points = [window_point(w, v, a) for v, a in plan]
    planned = [w.circle.from_pixel(QPointF(w.circle.mapFrom(w, p))) for p in points]  # pixel-rounded V-A
    before = w.circle.mapTo(w, QPoint(0, 0)), w.circle.size()
    handle = w.windowHandle()
    QTest.mousePress(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
    changes = [lambda: w.statusBar().showMessage("a much longer status message than before " * 6),
               lambda: w.library.show_progress("Analysing: 1 / 3, about 0:42 left, with a long folder name " * 3, 1, 3),
               lambda: [w.model.update_row(i, r.__class__(**{**r.__dict__, "valence": 0.51, "arousal": -0.25,
                                                              "confidence": 0.8, "analysed": True}))
                        for i, r in enumerate(w.model.rows)],
               lambda: w.library.table.setColumnHidden(2, False)]
    for point, change in zip(points[1:], changes):
        qtbot.wait(300)
        change()
        qtbot.wait(300)
        QTest.mouseMove(handle, point)
    qtbot.wait(300)
    QTest.mouseRelease(handle, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
    assert (w.circle.mapTo(w, QPoint(0, 0)), w.circle.size()) == before
    (label,) = labels_for(w.db, w.state.track.track_id)
    saved = np.array(label.points)[:, 1:]
    assert len(saved) >= 40
    nearest = np.min(np.linalg.norm(saved[:, None, :] - np.array(planned)[None], axis=2), axis=1)
    assert nearest.max() < 0.01, saved[nearest.argmax()]


def test_a_press_while_the_track_loads_records_once_it_plays(scanned_window, qtbot):
    w = scanned_window
    qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)
    w.open_track(evening(w), autoplay=True)
    assert w.player.state == "loading"
    qtbot.mousePress(w.circle, Qt.MouseButton.LeftButton, pos=w.circle.to_pixel(-0.5, 0.4).toPoint())
    assert "recording starts when it plays" in w.label_bar.status.text()
    qtbot.waitUntil(lambda: w.labelling.recorder is not None and w.labelling.recorder.n >= 10, timeout=10_000)
    assert w.label_bar.status.text().startswith("Recording:")
    qtbot.mouseRelease(w.circle, Qt.MouseButton.LeftButton, pos=w.circle.to_pixel(-0.5, 0.4).toPoint())
    (label,) = labels_for(w.db, w.state.track.track_id)
    assert label.valence == pytest.approx(-0.5, abs=0.02) and label.n_points >= 10


def test_the_bar_follows_the_player(scanned_window, qtbot):
    w = scanned_window
    w.open_track(evening(w), autoplay=False)
    qtbot.waitUntil(lambda: w.player.state == "stopped", timeout=10_000)
    qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)
    assert w.label_bar.status.text().startswith("Press play (Space)")
    qtbot.keyClick(w, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=5_000)
    assert w.label_bar.status.text() == "Hold the mouse on the circle while the music plays"


def record(w, qtbot, v: float, a: float, ms: int = 400) -> None:
    p = w.circle.to_pixel(v, a).toPoint()
    qtbot.mousePress(w.circle, Qt.MouseButton.LeftButton, pos=p)
    qtbot.wait(ms)
    qtbot.mouseRelease(w.circle, Qt.MouseButton.LeftButton, pos=p)


@pytest.mark.parametrize("button", ["redo", "delete"])
def test_deleting_a_label_asks_first(scanned_window, qtbot, button):
    w = scanned_window
    play(w, qtbot, evening(w))
    w.label_bar.curator.setText("ann")
    qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)
    record(w, qtbot, 0.2, 0.6)
    (label,) = labels_for(w.db, w.state.track.track_id)
    asked = answer_dialog("Cancel")
    qtbot.mouseClick(getattr(w.label_bar, button), Qt.MouseButton.LeftButton)
    assert f"({label.n_points} points)" in asked[0] and "cannot be undone" in asked[0]
    verb = {"redo": "Redo", "delete": "Delete"}[button]  # not the button's checked flag ("False: delete ...")
    assert asked[0].startswith(f"{verb}: delete ann's label of this track"), asked[0]
    assert len(labels_for(w.db, w.state.track.track_id)) == 1 and w.label_bar.status.text() == "Nothing deleted"
    answer_dialog("Yes")
    qtbot.mouseClick(getattr(w.label_bar, button), Qt.MouseButton.LeftButton)
    assert labels_for(w.db, w.state.track.track_id) == []


@pytest.mark.parametrize("answer,expected_v", [("Skip those tracks", 0.5), ("Add beside them", 0.0),
                                                ("Replace my labels", -0.5), ("Cancel", 0.5)])
def test_importing_over_existing_labels_asks_what_to_do(scanned_window, qtbot, tmp_path, answer, expected_v):
    w = scanned_window
    w.label_bar.curator.setText("ann")
    labelled, other = w.model.rows[0], w.model.rows[1]
    rec = LabelRecorder(w.db, labelled.id, "ann")
    rec.add(0.0, 0.5, 0.5)
    rec.flush()
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(f"path,valence,arousal\n{labelled.path},-0.5,-0.5\n{other.path},0.1,0.2\n")
    asked = answer_dialog(answer)
    w.files.import_labels(str(csv_path))
    qtbot.waitUntil(lambda: w.files.importing is None, timeout=30_000)  # read and written off the GUI thread
    assert asked and "1 of the 2 tracks in this file already have labels" in asked[0]
    labels = static_labels(w.db)
    assert labels[labelled.path][0] == pytest.approx(expected_v)
    assert (other.path in labels) == (answer != "Cancel")
    message = w.statusBar().currentMessage()
    assert {"Skip those tracks": "1 already labelled, left as they were",
            "Add beside them": "averaged with the labels already there",
            "Replace my labels": "replacing your own labels", "Cancel": "nothing changed"}[answer] in message


def test_the_word_under_the_pen_is_highlighted_and_no_marker_hides_a_word(scanned_window, qtbot):
    w = scanned_window
    c = w.circle
    play(w, qtbot, evening(w))
    qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)
    peaceful = math.radians(345)
    p = c.to_pixel(0.8 * math.cos(peaceful), 0.8 * math.sin(peaceful)).toPoint()
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=p)
    c.set_prediction(w.player.position, -0.7, 0.6, 0.9)  # the model meanwhile says "angry"
    assert c.highlight == "peaceful"
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=p)
    c.set_prediction(w.player.position, -0.7, 0.6, 0.9)
    assert c.highlight == "angry" and c.pen is None  # the pen is gone: the model's word again
    for size in [(300, 300), (480, 700), (900, 500)]:
        c.resize(*size)
        r = c.circle_rect()
        for term in c.terms:
            for hot in (False, True):
                box = c.word_rect(term, hot)
                assert c.rect().toRectF().contains(box), (term.word, size)
                for deg in range(0, 360, 3):  # a full-confidence marker anywhere on the rim
                    m = c.to_pixel(math.cos(math.radians(deg)), math.sin(math.radians(deg)))
                    nearest = QPointF(min(max(m.x(), box.left()), box.right()), min(max(m.y(), box.top()), box.bottom()))
                    assert math.hypot(m.x() - nearest.x(), m.y() - nearest.y()) > MARKER_MAX_RADIUS, (term.word, deg)
        assert r.width() > 100


def test_nothing_resizes_when_the_track_changes_or_label_is_toggled(scanned_window, qtbot):
    w = scanned_window
    widgets = (w.views, w.circle, w.library, w.label_bar)

    def layout():
        return [w.size()] + [(x.mapTo(w, QPoint(0, 0)), x.size()) for x in widgets]

    play(w, qtbot, evening(w))
    qtbot.waitUntil(lambda: w.views.stack.currentIndex() == 1, timeout=20_000)
    shown = layout()
    for step in (lambda: qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton),
                 lambda: w.step_track(1),  # a new track: "Computing spectrograms of <name>..." meanwhile
                 lambda: w.label_bar.status.setText("a long status line " * 20),
                 lambda: qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)):
        step()
        qtbot.wait(100)
        assert layout() == shown


def test_a_track_change_while_asked_deletes_nothing(scanned_window, qtbot):
    """The track ends (auto-advance) while "Delete label?" is up: Yes must not delete the label
    of the track that is playing now."""
    w = scanned_window
    play(w, qtbot, evening(w))
    w.label_bar.curator.setText("ann")
    qtbot.mouseClick(w.label_bar.mode, Qt.MouseButton.LeftButton)
    record(w, qtbot, 0.2, 0.6)
    first = w.state.track.track_id
    nxt = [r for r in w.model.rows if r.id != first][0]
    rec = LabelRecorder(w.db, nxt.id, "ann")  # the curator's careful label of the next track
    rec.add(0.0, -0.4, 0.4)
    rec.flush()
    from PySide6.QtCore import QTimer

    QTimer.singleShot(0, lambda: w.open_track(nxt.path, autoplay=True))  # the track changes under the box
    answer_dialog("Yes")
    qtbot.mouseClick(w.label_bar.delete, Qt.MouseButton.LeftButton)
    assert len(labels_for(w.db, nxt.id)) == 1 and len(labels_for(w.db, first)) == 1
    assert "the track changed" in w.label_bar.status.text()


def test_a_big_labels_file_is_read_once_off_the_gui_thread_and_strangers_are_counted(scanned_window, qtbot, tmp_path,
                                                                                        monkeypatch):
    """Generated: 2 rows for tracks of the library among 20,000 for files it does not hold."""
    import threading

    import app.labelling.labels as labels_mod
    from damer_core import facade

    w = scanned_window
    rows = [f"{w.model.rows[0].path},0.5,0.5", f"{w.model.rows[1].path},-0.5,0.25"]
    rows += [f"/elsewhere/stranger{i:05d}.flac,0.1,0.1" for i in range(20_000)]
    csv_path = tmp_path / "big.csv"
    csv_path.write_text("path,valence,arousal\n" + "\n".join(rows) + "\n")
    reads = []
    real = facade.label_rows
    monkeypatch.setattr(facade, "label_rows",
                        lambda *a, **k: reads.append(threading.current_thread().name) or real(*a, **k))
    w.files.import_labels(str(csv_path))
    assert w.files.importing is not None  # the call returned before the file was read
    qtbot.waitUntil(lambda: w.files.importing is None, timeout=60_000)
    assert reads == ["label-import"]  # once, and not on the GUI thread
    message = w.statusBar().currentMessage()
    assert message.startswith("imported 2 labels; not imported: 20000 of its rows name tracks that are not in the library (e.g. ")
    assert message.endswith("and 19997 more)") and message.count("stranger") == 3
    assert set(static_labels(w.db)) == {w.model.rows[0].path, w.model.rows[1].path}
    assert labels_mod.EXAMPLES == 3
