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


def test_calibration_labels_are_kept_apart_from_the_curators_labels(scanned_window, tmp_path):
    """Newcomer's report: a session's labels became ordinary labels (averaged into them, trained on,
    drawn on the map). They measure the curator: their own set, exported as such."""
    import csv

    from app.labelling.labels import export_labels, labels_for, static_labels
    from app.training.values import my_labels_text

    w = scanned_window
    db = w.db
    a, b = w.model.rows[0], w.model.rows[1]
    mine = LabelRecorder(db, a.id, "ann")
    mine.add(0.0, 0.5, 0.5)
    mine.flush()
    session = start_session(db, "ann", b.id)
    for track, value in ((a, -0.5), (b, 0.25), (b, 0.3)):  # a labelled track, and the duplicate twice
        rec = LabelRecorder(db, track.id, "ann", session)
        rec.add(0.0, value, value)
        rec.flush()
    finish_session(db, session)
    assert static_labels(db) == {a.path: (0.5, 0.5)}  # not averaged with the session's -0.5; b not labelled
    assert db.labelled_paths() == {a.path} and [lb.valence for lb in labels_for(db)] == [0.5]
    rows = {r.path: r for r in db.tracks("")}
    assert rows[a.path].labelled and not rows[b.path].labelled  # the Labelled column
    assert db.label_counts() == (1, 1, 3)
    said = my_labels_text(*db.label_counts())
    assert said.startswith("your 1 label on 1 track in this library; 3 calibration labels kept apart")
    assert export_labels(db, tmp_path / "mine.csv") == 1
    assert export_labels(db, tmp_path / "calibration.csv", calibration=True) == 3
    exported = list(csv.DictReader(open(tmp_path / "calibration.csv")))
    assert [r["session"] for r in exported] == [str(session)] * 3 and exported[0]["valence"] == "-0.5000"
    db.delete_labels(b.id, "ann")  # Delete label on the track: the session's labels stay with the session
    assert db.label_counts() == (1, 1, 3)


def test_a_session_says_its_length_and_plays_excerpts_of_unlabelled_tracks_first(scanned_window, qtbot, monkeypatch):
    """Newcomer's report: a 16-minute session (whole tracks, one of 5 minutes) that reused labelled tracks."""
    from app.labelling import calibration
    from app.windows.other_windows import choose_calibration_tracks

    w = scanned_window
    rows = w.model.rows
    rec = LabelRecorder(w.db, rows[0].id, "ann")
    rec.add(0.0, 0.1, 0.1)
    rec.flush()
    for _ in range(5):  # random order, the unlabelled always first
        picked = choose_calibration_tracks([r.id for r in rows], w.db.labelled_paths(), w.db, n=len(rows) - 1)
        assert rows[0].id not in picked and len(set(picked)) == len(rows) - 1
    w.windows.start_calibration()
    dlg = w.windows.calibration
    n = len(dlg.track_ids) + 1
    minutes = round((n * 30 + (n - 1) * 15) / 60)
    assert dlg.info.text().startswith(f"{n} excerpts of 30 s from {n - 1} tracks") and f"about {minutes} min" in dlg.info.text()
    dlg.rest.setChecked(False)
    assert f"about {round(n * 30 / 60)} min" in dlg.info.text()
    dlg.rest.setChecked(True)
    monkeypatch.setattr(calibration, "EXCERPT_SECONDS", 1)
    dlg.start_btn.click()
    qtbot.waitUntil(lambda: dlg.timer.isActive(), timeout=30_000)  # the excerpt played: the rest began
    assert w.player.state == "paused" and w.player.position < 3 and dlg.info.text().startswith("Rest:")
    dlg.close()
