"""The library's data in one place: only app/library/db.py speaks SQL, and its label and calibration
methods keep each write whole."""

import math
import re
import sqlite3
from pathlib import Path

import pytest
from app_helpers import listed_library

from app.library.db import MIGRATIONS, LibraryDB

APP = Path(__file__).resolve().parent.parent / "app"
SQL_MODULES = {"library/db.py"}
SQL_USE = re.compile(r"\.conn\b|\bexecute(many|script)?\(")


def test_no_app_module_but_the_database_one_runs_sql():
    offenders = [f"{p.name}:{i}: {line.strip()}" for p in sorted(APP.rglob("*.py"))
                 if p.relative_to(APP).as_posix() not in SQL_MODULES
                 for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if SQL_USE.search(line)]
    assert offenders == []


@pytest.fixture
def db(tmp_path):
    d = listed_library(tmp_path / "library.sqlite3", ("a", "b"))
    yield d
    d.close()


def test_track_id_and_path_look_each_other_up(db):
    tid = db.track_id("/music/a.flac")
    assert db.track_path(tid) == "/music/a.flac"
    assert db.track_id("/music/none.flac") is None
    with pytest.raises(KeyError, match="no track with id 999"):
        db.track_path(999)


def test_a_label_without_points_is_not_a_label(db):
    a, b = db.track_id("/music/a.flac"), db.track_id("/music/b.flac")
    db.add_label(b, "kim")  # started, nothing drawn yet
    label_id = db.add_label(a, "kim", session_id=None)
    db.append_label_points(label_id, [(0.0, 0.2, 0.4), (0.1, 0.4, 0.6)], 0.3, 0.5, 2, busy_ms=100)
    assert db.labelled_paths() == {"/music/a.flac"}
    assert db.static_labels() == {"/music/a.flac": (0.3, 0.5)}
    (label,) = db.labels()
    assert label.points == [(0.0, 0.2, 0.4), (0.1, 0.4, 0.6)] and label.n_points == 2 and label.session_id is None


def test_label_points_on_a_locked_database_write_nothing_and_keep_the_wait(db):
    label_id = db.add_label(db.track_id("/music/a.flac"), "kim")
    other = sqlite3.connect(db.path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        db.append_label_points(label_id, [(0.0, 0.2, 0.4)], 0.2, 0.4, 1, busy_ms=10)
    other.execute("ROLLBACK")
    other.close()
    assert db.label_points(label_id) == [] and db.labels() == []
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000  # back to the library's own wait


def test_calibration_session_keeps_its_labels_and_a_verdict(db):
    a = db.track_id("/music/a.flac")
    sid = db.start_calibration("kim", a)
    assert db.calibration_session(sid) == ("kim", a)
    label_id = db.add_label(a, "kim", session_id=sid)
    db.append_label_points(label_id, [(0.0, 0.1, 0.1)], 0.1, 0.1, 1, busy_ms=100)
    assert [lb.session_id for lb in db.labels(a, "kim", calibration=True)] == [sid]
    assert db.labels(a, "kim") == [] and db.static_labels() == {}  # kept apart from the curator's labels
    db.end_calibration(sid, math.nan, None)  # the duplicate was not labelled twice: no distance
    assert db.conn.execute("SELECT distance, passed, ended IS NOT NULL FROM calibration_sessions").fetchone() == (
        None, None, 1)
    with pytest.raises(KeyError, match="no calibration session"):
        db.calibration_session(sid + 1)


def test_deleting_a_curators_labels_leaves_the_others(db):
    a = db.track_id("/music/a.flac")
    for curator in ("kim", "kim", "ann"):
        db.append_label_points(db.add_label(a, curator), [(0.0, 0.0, 0.0)], 0.0, 0.0, 1, busy_ms=100)
    assert db.delete_labels(a, "kim") == 2
    assert [lb.curator for lb in db.labels(a)] == ["ann"]


def test_the_static_pass_stores_a_row_the_trajectory_pass_completes(db):
    a, b = db.tracks()[0].path, db.tracks()[1].path
    assert {p for _, p in db.unanalysed("m")} == {p for _, p in db.without_trajectory("m")} >= {a, b}
    db.store_static(a, "m", 0.5, None, 0.8)
    row = db.track(a, "m")
    assert row.analysed and row.valence == 0.5 and row.arousal is None and db.trajectory(row.id, "m") is None
    assert a not in {p for _, p in db.unanalysed("m")} and a in {p for _, p in db.without_trajectory("m")}
    traj = {"t": [0.0, 0.5], "valence": [0.1, 0.2], "arousal": [None, None], "confidence": [0.9, 0.9]}
    db.store_prediction(a, "m", 0.4, None, 0.7, traj)
    assert db.trajectory(row.id, "m") == traj and a not in {p for _, p in db.without_trajectory("m")}
    db.store_static(a, "m", 0.3, None, 0.6)  # a later static pass keeps the trajectory
    assert db.trajectory(row.id, "m") == traj and db.track(a, "m").valence == 0.3
    assert db.store_static("/not/in/the/library.wav", "m", 0.1, 0.1, 0.5) is None


def test_an_older_library_keeps_its_predictions_through_the_migration(tmp_path):
    from app.library.db import MIGRATIONS

    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:3]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO folders VALUES (1, '/music', 0)")
    conn.execute("INSERT INTO tracks VALUES (1, '/music/a.flac', 1, 'A', '', '', 60, 1, 0, 0)")
    conn.execute("INSERT INTO predictions VALUES (1, 'm', 0.2, -0.1, 0.9, '{\"t\": [0.0]}', 0)")
    conn.commit()
    conn.close()
    db = LibraryDB(path)
    assert db.schema_version == len(MIGRATIONS)
    assert db.trajectory(1, "m") == {"t": [0.0]} and db.track("/music/a.flac", "m").valence == 0.2
    db.store_static("/music/a.flac", "n", 0.5, 0.5, 0.5)  # NULL trajectories are allowed now
    assert db.trajectory(1, "n") is None
    db.close()


def test_a_new_model_shows_the_previous_ones_values_until_its_own_arrive(db):
    """"Use this model" used to blank every value in the table until the re-analysis finished."""
    a, b = "/music/a.flac", "/music/b.flac"
    db.store_static(a, "old", 0.5, -0.2, 0.8)
    db.store_static(b, "old", -0.3, 0.4, 0.7)
    db.store_static(a, "new", -0.6, 0.1, 0.9)
    rows = {r.path: r for r in db.tracks("new", previous="old")}
    assert (rows[a].valence, rows[a].analysed, rows[a].previous) == (-0.6, True, False)
    assert (rows[b].valence, rows[b].arousal, rows[b].analysed, rows[b].previous) == (-0.3, 0.4, False, True)
    assert {r.path: r.valence for r in db.tracks("new")} == {a: -0.6, b: None}  # without a previous model
    assert not any(r.previous for r in db.tracks("new", previous="new"))
    assert [r.previous for r in db.tracks("new", previous="gone")] == [False, False]


def test_the_table_can_show_each_trajectorys_mean_instead_of_the_segments(db, tmp_path):
    a, b = "/music/a.flac", "/music/b.flac"
    traj = {"t": [0.0, 0.5, 1.0], "valence": [0.9, 0.6, 0.3], "arousal": [None, None, None], "confidence": [1, 1, 1]}
    db.store_prediction(a, "m", -0.2, None, 0.7, traj)  # the segment says negative, the whole track positive
    db.store_static(b, "m", 0.4, 0.1, 0.6)  # no trajectory yet: its segment's value stands
    rows = {r.path: r for r in db.tracks("m", whole=True)}
    assert rows[a].valence == pytest.approx(0.6) and rows[a].arousal is None and rows[a].whole
    assert (rows[b].valence, rows[b].whole) == (0.4, False)
    assert {r.path: r.valence for r in db.tracks("m")} == {a: -0.2, b: 0.4}
    db.store_static(a, "m", -0.1, None, 0.7)  # a later static pass keeps the trajectory's mean
    assert db.track(a, "m", whole=True).valence == pytest.approx(0.6) and db.track(a, "m").valence == -0.1
    db.store_static(b, "old", 0.0, 0.0, 0.5)
    prev = {r.path: r for r in db.tracks("new", previous="m", whole=True)}
    assert prev[a].valence == pytest.approx(0.6) and prev[a].previous


def test_an_older_library_gets_its_trajectories_means(tmp_path):
    path = tmp_path / "v4.sqlite3"
    conn = sqlite3.connect(path)
    for script in MIGRATIONS[:4]:
        conn.executescript(script)
    conn.execute("PRAGMA user_version = 4")
    conn.execute("INSERT INTO folders VALUES (1, '/music', 0)")
    conn.execute("INSERT INTO tracks VALUES (1, '/music/a.flac', 1, 'A', '', '', 60, 1, 0, 0)")
    conn.execute("""INSERT INTO predictions VALUES (1, 'm', 0.2, -0.1, 0.9,
                    '{"t": [0, 0.5], "valence": [0.5, 0.1], "arousal": [-0.4, null]}', 0)""")
    conn.commit()
    conn.close()
    db = LibraryDB(path)
    row = db.track("/music/a.flac", "m", whole=True)
    assert row.valence == pytest.approx(0.3) and row.arousal == pytest.approx(-0.4) and row.whole
    db.close()


def test_a_reader_reads_while_the_app_writes_and_cannot_write(db):
    """Other threads read through LibraryDB.reader: no write lock, so a write under way (a scan,
    a label import) neither blocks nor fails its reading; it reads what was committed."""
    reader = LibraryDB.reader(db.path, busy_timeout=0.1)
    try:
        db.conn.execute("BEGIN IMMEDIATE")
        db.conn.execute("DELETE FROM tracks")
        assert {p for _, p in reader.unanalysed("m")} == {"/music/a.flac", "/music/b.flac"}
        db.conn.execute("ROLLBACK")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.add_folder("/elsewhere")
    finally:
        reader.close()
