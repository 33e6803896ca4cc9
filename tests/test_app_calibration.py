"""Calibration: the covert duplicate, the distance and verdict stored with the session, and a
whole session driven through the window."""

import pytest
from PySide6.QtCore import QPoint, Qt

from app.labelling.calibration import finish_session, plan, start_session
from app.labelling.labels import LabelRecorder


def test_plan_repeats_one_track_covertly():
    for seed in range(20):
        order, dup = plan([1, 2, 3, 4, 5], seed=seed)
        assert sorted(order) == sorted([1, 2, 3, 4, 5, dup]) and order.count(dup) == 2
        first, second = [i for i, t in enumerate(order) if t == dup]
        assert second - first >= 2  # never straight after itself
    with pytest.raises(ValueError):
        plan([1])


@pytest.mark.parametrize("offset,passed", [(0.1, True), (0.3, False)])
def test_duplicate_distance_and_verdict_are_stored(scanned_window, offset, passed):
    db = scanned_window.db
    tid = db.tracks()[0].id
    sid = start_session(db, "kim", tid)
    for shift in (0.0, offset):
        rec = LabelRecorder(db, tid, "kim", session_id=sid)
        for k in range(30):
            rec.add(k * 0.1, 0.2 + shift * 0.6, -0.1 + shift * 0.8)
        rec.flush()
    distance, verdict = finish_session(db, sid)
    assert distance == pytest.approx(offset, abs=1e-9) and verdict is passed
    row = db.conn.execute("SELECT distance, passed, ended FROM calibration_sessions WHERE id = ?", (sid,)).fetchone()
    assert row[0] == pytest.approx(offset) and row[1] == int(passed) and row[2] is not None


def test_a_whole_session_through_the_window(scanned_window, qtbot):
    w = scanned_window
    w.label_bar.curator.setText("kim")
    ids = [r.id for r in w.model.rows]
    w.windows.start_calibration(ids)
    dlg = w.windows.calibration
    dlg.rest.setChecked(False)
    results = []
    dlg.finished_session.connect(lambda d, p: results.append((d, p)))
    dlg.start_btn.click()
    for _ in range(len(ids) + 1):
        qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
        p = w.circle.to_pixel(0.4, 0.3)
        qtbot.mousePress(w.circle, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
        qtbot.wait(300)
        qtbot.mouseRelease(w.circle, Qt.MouseButton.LeftButton, pos=QPoint(round(p.x()), round(p.y())))
        dlg.next_btn.click()
    assert results and results[0][1] is True and results[0][0] < 0.05  # the same point both times
    assert "passed" in dlg.info.text()
    n = w.db.conn.execute("SELECT COUNT(*) FROM labels WHERE session_id = ?", (dlg.session_id,)).fetchone()[0]
    assert n == len(ids) + 1


def test_rest_countdown_then_next_track(scanned_window, qtbot, monkeypatch):
    from app.labelling import calibration

    monkeypatch.setattr(calibration, "REST_SECONDS", 2)
    w = scanned_window
    w.windows.start_calibration([r.id for r in w.model.rows])
    dlg = w.windows.calibration
    dlg.start_btn.click()
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    first = w.state.track.path
    dlg._track_ended()  # as when the track plays to its end
    assert dlg.info.text() == "Rest: 2 s" and dlg.timer.isActive()
    qtbot.waitUntil(lambda: dlg.index == 1, timeout=5_000)
    assert not dlg.timer.isActive() and dlg.info.text().startswith("Track 2 of 4")
    assert w.state.track.path != first  # the duplicate is never presented twice in a row


def test_the_model_is_out_of_sight_during_a_session_and_back_after(scanned_window, qtbot):
    """The model's marker, word and table values would bias the curator: hidden while the session
    runs, where the dialog does not cover the spectrograms or the circle; afterwards everything is
    as it was, label mode included."""
    from app.library.table_model import COLUMNS

    w = scanned_window
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    assert not w.label_bar.mode.isChecked()
    model_cols = [COLUMNS.index(c) for c in ("Valence", "Arousal", "Emotion")]
    assert not any(w.library.table.isColumnHidden(c) for c in model_cols)
    w.windows.start_calibration([r.id for r in w.model.rows])
    dlg = w.windows.calibration
    dlg.rest.setChecked(False)
    qtbot.waitExposed(dlg)
    qtbot.mouseClick(dlg.start_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    w.circle.set_prediction(1.0, 0.8, 0.7, 0.9)  # a confident model point arrives
    assert w.circle.blind and w.circle.highlight == ""
    assert all(w.library.table.isColumnHidden(c) for c in model_cols) and w.label_bar.mode.isChecked()
    shot = w.circle.grab().toImage()
    p = w.circle.to_pixel(0.8, 0.7).toPoint()
    marker = shot.pixelColor(p)
    assert not (marker.red() > 150 and marker.green() < 120), "the model's marker is drawn"
    dialog_rect = dlg.frameGeometry()
    for part in (w.views, w.circle):
        top_left = part.mapToGlobal(QPoint(0, 0))
        assert not dialog_rect.intersects(part.rect().translated(top_left)), type(part).__name__
    dlg.close()  # mid-session: the session ends with its dialog
    assert not w.circle.blind and not w.label_bar.mode.isChecked()
    assert not any(w.library.table.isColumnHidden(c) for c in model_cols)
    assert w.labelling.session_id is None
    w.circle.set_prediction(2.0, 0.8, 0.7, 0.9)
    assert w.circle.highlight != ""


def test_closing_during_the_rest_ends_the_session_for_good(scanned_window, qtbot, monkeypatch):
    from app.labelling import calibration

    monkeypatch.setattr(calibration, "REST_SECONDS", 1)
    w = scanned_window
    w.windows.start_calibration([r.id for r in w.model.rows])
    dlg = w.windows.calibration
    ended = []
    dlg.finished_session.connect(lambda d, p: ended.append(d))
    dlg.start_btn.click()
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    dlg._track_ended()  # the rest starts...
    assert dlg.timer.isActive()
    dlg.close()  # ...and the curator closes the dialog
    assert not dlg.timer.isActive() and len(ended) == 1
    playing = w.state.track.path
    qtbot.wait(2500)  # past the rest: no next track, no second ending
    assert w.state.track.path == playing and len(ended) == 1 and dlg.index == 0
    dlg._track_ended()  # a track ending after the session changes nothing
    assert not dlg.timer.isActive()
