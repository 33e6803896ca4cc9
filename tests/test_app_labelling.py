"""Labelling: trajectories recorded with real mouse events, saved as they are drawn, kept when
the process is killed, exported in the trainer's format, and the calibration distance."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from app_helpers import answer_dialog, tagged
from PySide6.QtCore import QPoint, Qt

from app.labelling.labels import (
    CONSISTENCY_THRESHOLD,
    LabelRecorder,
    export_labels,
    import_labels_csv,
    labels_for,
    trajectory_distance,
)
from app.library.db import LibraryDB
from damer_core.datasets import DatasetError, load_dataset

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def window(scanned_window):
    return scanned_window


def pixel(circle, v, a):
    p = circle.to_pixel(v, a)
    return QPoint(round(p.x()), round(p.y()))


def test_recording_a_trajectory_with_the_mouse(window, qtbot):
    w = window
    path = [r.path for r in w.model.rows if r.title == "Evening"][0]  # 9 s
    w.open_track(path, autoplay=True)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    w.label_bar.curator.setText("ann")
    w.label_bar.mode.setChecked(True)
    c = w.circle
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=pixel(c, 0.5, 0.5))
    qtbot.wait(600)
    qtbot.mouseMove(c, pixel(c, -0.2, 0.3))
    qtbot.wait(600)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=pixel(c, -0.2, 0.3))
    (label,) = labels_for(w.db, w.state.track.track_id)
    pts = np.array(label.points)
    duration = pts[-1, 0] - pts[0, 0]
    assert label.curator == "ann" and len(pts) >= 10 * duration >= 9  # >= 10 Hz over ~1.2 s
    assert np.all(np.diff(pts[:, 0]) > 0)  # playback time, increasing
    first = pts[pts[:, 0] < pts[0, 0] + 0.4]
    last = pts[pts[:, 0] > pts[-1, 0] - 0.3]
    assert np.allclose(first[:, 1:], [0.5, 0.5], atol=0.02) and np.allclose(last[:, 1:], [-0.2, 0.3], atol=0.02)
    assert label.valence == pytest.approx(pts[:, 1].mean()) and label.arousal == pytest.approx(pts[:, 2].mean())
    assert len(c.label_points) == len(pts)  # drawn as it is made
    row = w.model.rows[w.model.row_for_path(path)]
    assert row.labelled
    answer_dialog("Yes")  # Redo asks before it deletes the label
    w.label_bar.redo.click()
    assert labels_for(w.db, w.state.track.track_id) == [] and w.player.position < 0.5


def test_labels_need_playback(window, qtbot):
    w = window
    w.open_track(w.model.rows[0].path, autoplay=False)
    qtbot.waitUntil(lambda: w.player.state == "stopped", timeout=10_000)
    w.label_bar.mode.setChecked(True)
    qtbot.mouseClick(w.circle, Qt.MouseButton.LeftButton, pos=pixel(w.circle, 0.1, 0.1))
    assert "Press play" in w.label_bar.status.text() and labels_for(w.db) == []


def test_labelling_through_a_locked_database_retries_until_every_point_is_saved(window, qtbot):
    """Another program holds the library's write lock while the curator labels: the points stay
    in memory, the bar says so, and they are all written once the lock is gone."""
    import sqlite3

    w = window
    path = [r.path for r in w.model.rows if r.title == "Evening"][0]
    w.open_track(path, autoplay=True)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    w.label_bar.mode.setChecked(True)
    c = w.circle
    qtbot.mousePress(c, Qt.MouseButton.LeftButton, pos=pixel(c, 0.4, -0.4))
    qtbot.wait(200)
    other = sqlite3.connect(w.db.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    qtbot.wait(1200)
    qtbot.mouseRelease(c, Qt.MouseButton.LeftButton, pos=pixel(c, 0.4, -0.4))
    drawn = len(c.label_points)
    assert "label points not saved yet: database is locked (retrying)" in w.label_bar.status.text()
    assert len(w.labelling.unsaved) == 1
    other.execute("ROLLBACK")
    other.close()
    qtbot.waitUntil(lambda: not w.labelling.unsaved, timeout=5_000)
    assert w.label_bar.status.text() == "All label points saved"
    (label,) = labels_for(w.db, w.state.track.track_id)
    assert len(label.points) == label.n_points == drawn >= 20


def test_killed_labelling_keeps_all_but_the_last_second(tmp_path):
    db = LibraryDB(tmp_path / "lib.sqlite3")
    db.add_folder(str(tmp_path))
    db.upsert_tracks(1, [{"path": str(tagged(tmp_path / "x.wav", 3.5)), "title": "x", "artist": "", "album": "",
                          "duration": 3.5, "size": 1, "mtime": 1.0}])
    db.close()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "label_child.py"), str(tmp_path / "lib.sqlite3")],
                            stdout=subprocess.PIPE, text=True, env=env)
    added = 0
    t0 = time.monotonic()
    for line in proc.stdout:
        added = int(line)
        if time.monotonic() - t0 > 2.5:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    db = LibraryDB(tmp_path / "lib.sqlite3")
    (label,) = labels_for(db)
    assert added - label.n_points <= 20 and label.n_points >= 20  # at most 1 s (20 points) lost
    pts = np.array(label.points)
    i = np.arange(len(pts))
    np.testing.assert_allclose(pts[:, 0], i * 0.05)  # an intact prefix, nothing corrupted
    assert label.valence == pytest.approx(pts[:, 1].mean())


def test_export_round_trips_through_the_trainer_loader(tmp_path):
    db = LibraryDB(tmp_path / "lib.sqlite3")
    db.add_folder(str(tmp_path))
    files = [tagged(tmp_path / f"s{i}.flac", 4, seed=i) for i in range(2)]
    db.upsert_tracks(1, [{"path": str(f), "title": f.stem, "artist": ["Ann", ""][i], "album": "", "duration": 4.0,
                          "size": 1, "mtime": 1.0} for i, f in enumerate(files)])
    ids = [db.track_id(str(f)) for f in files]
    for tid, (v, a) in zip(ids, [(0.6, -0.4), (-0.3, 0.8)]):
        rec = LabelRecorder(db, tid, "ann")
        for k in range(5):
            rec.add(k * 0.1, v + 0.01 * k, a)
        rec.flush()
    assert export_labels(db, tmp_path / "labels.csv") == 2
    rows = list(csv.DictReader(open(tmp_path / "labels.csv")))
    assert rows[0]["valence"] == "0.6200" and rows[0]["curator"] == "ann" and rows[0]["n_points"] == "5"
    assert rows[0]["artist"] == "Ann" and rows[1]["artist"] == ""
    fs = load_dataset(tmp_path / "labels.csv")
    assert fs.n_tracks == 2 and sorted(set(np.round(fs.valence, 2))) == [-0.28, 0.62]
    assert "Ann" in set(fs.group) and len(set(fs.group)) == 2  # the artist is the split group; untagged goes alone
    assert export_labels(db, tmp_path / "labels.json") == 2
    fs_json = load_dataset(tmp_path / "labels.json")
    assert np.array_equal(np.sort(fs_json.arousal), np.sort(fs.arousal))
    db2 = LibraryDB(tmp_path / "lib2.sqlite3")
    db2.add_folder(str(tmp_path))
    db2.upsert_tracks(1, [{"path": str(files[0]), "title": "s0", "artist": "", "album": "", "duration": 4.0,
                           "size": 1, "mtime": 1.0}])
    n, problems = import_labels_csv(db2, tmp_path / "labels.csv", "imported")
    assert n == 1 and len(problems) == 1 and "not in the library" in problems[0]
    assert labels_for(db2)[0].valence == pytest.approx(0.62)


def test_duplicate_consistency_distance():
    a = [(t, 0.5, 0.5) for t in np.arange(0, 10, 0.1)]
    b = [(t, 0.5 + 0.3, 0.5 + 0.4) for t in np.arange(0.05, 10, 0.1)]  # 0.5 away everywhere
    assert trajectory_distance(a, b) == pytest.approx(0.5, abs=1e-6)
    assert trajectory_distance(a, a) == 0.0
    c = [(t, 0.5 + 0.12, 0.5 - 0.16) for t in np.arange(0, 10, 0.25)]
    d = trajectory_distance(a, c)
    assert d == pytest.approx(0.2, abs=1e-6) and d < CONSISTENCY_THRESHOLD


def test_a_label_that_is_not_a_number_refuses_the_file_and_names_the_row(tmp_path):
    db = LibraryDB(tmp_path / "lib.sqlite3")
    db.add_folder(str(tmp_path))
    db.upsert_tracks(1, [{"path": str(tmp_path / f"{n}.flac"), "title": n, "artist": "", "album": "", "duration": 4.0,
                          "size": 1, "mtime": 1.0} for n in ("a", "b")])
    (tmp_path / "labels.csv").write_text("path,valence,arousal\na.flac,0.2,0.5\nb.flac,nan,0.5\n")
    with pytest.raises(DatasetError, match=r"labels.csv, row 3: valence is NaN; labels must be finite numbers") as e:
        import_labels_csv(db, tmp_path / "labels.csv", "kim")
    assert "not in the library" not in str(e.value)
    assert labels_for(db) == []  # nothing half-imported


def test_rows_that_disagree_on_a_track_are_averaged_and_said_in_flat_memory(tmp_path):
    """Reviewer's retry: a track's rows (1, 1) and (-1, -1) became a silent neutral label, and
    50,000 rows naming one track kept 50,000 objects (20,000 here)."""
    import tracemalloc

    from app.labelling.labels import read_labels_csv, write_labels

    db = LibraryDB(tmp_path / "lib.sqlite3")
    db.add_folder(str(tmp_path))
    db.upsert_tracks(1, [{"path": str(tmp_path / f"{n}.flac"), "title": n, "artist": "", "album": "", "duration": 4.0,
                          "size": 1, "mtime": 1.0} for n in ("a", "b")])
    rows = ["a.flac,1,1", "a.flac,-1,-1", "b.flac,0.5,0.25", "b.flac,0.5,0.25"] + ["b.flac,0.5,0.25"] * 20_000
    (tmp_path / "labels.csv").write_text("path,valence,arousal\n" + "\n".join(rows) + "\n")
    tracemalloc.start()
    file = read_labels_csv(db, tmp_path / "labels.csv")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert sorted((p.rsplit("/", 1)[1], v, a) for _, p, v, a in file.found) == [("a.flac", 0.0, 0.0), ("b.flac", 0.5, 0.25)]
    assert peak < 2 << 20, f"{peak / 2**20:.1f} MiB for 20,000 rows of one track"
    n, problems = write_labels(db, file, "kim")
    assert n == 2 and problems == ["1 track(s) have rows with different labels, imported as their average (a.flac)"]
    db.close()
