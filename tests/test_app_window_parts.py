"""The work MainWindow hands to other modules, without a window: a bundle's copy into the models
folder, the predictions CSV, the emotion map's points and the scan's status line."""

import csv

import pytest
from app_helpers import listed_library


@pytest.fixture
def db(tmp_path):
    d = listed_library(tmp_path / "library.sqlite3", ("a", "b", "c"), artist="Ann")
    d.store_static("/music/a.flac", "m", 0.5, -0.25, 0.8)
    d.store_static("/music/b.flac", "m", None, 0.5, 0.6)  # a one-dimension model
    yield d
    d.close()


def test_a_bundle_is_copied_into_the_models_folder_without_overwriting_another(tmp_path, monkeypatch):
    from app.paths import copy_into_models, models_dir

    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    run = tmp_path / "runs" / "memo-1"
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(b"weights")
    (tmp_path / "mine.pt").write_bytes(b"other")
    first, again = copy_into_models(run / "best.pt"), copy_into_models(str(run / "best.pt"))
    assert first.name == "memo-1.pt" and first.parent == models_dir()
    assert again == first  # the same bytes brought in twice (Set active, then "Use this model"): one copy
    (run / "best.pt").write_bytes(b"weights of a resumed run")  # other bytes under the same name: never overwritten
    assert copy_into_models(run / "best.pt").name == "memo-1-2.pt"
    assert first.read_bytes() == b"weights" and copy_into_models(first) == first  # already there: used as it is
    assert copy_into_models(tmp_path / "mine.pt").name == "mine.pt"


@pytest.mark.parametrize("free_kb", [0, 600])
def test_a_copy_that_fills_the_disk_leaves_nothing_and_names_the_file(tmp_path, monkeypatch, small_disk, free_kb):
    """A real full (or nearly full) disk under the models folder: one line naming the file and the
    problem, and no partial bundle left where the Models dialog would list it."""
    import os

    from disks import fill

    from app.paths import ImportRefused, copy_into_models, models_dir

    monkeypatch.setenv("DAMER_DATA_DIR", str(small_disk / "data"))
    models_dir().mkdir(parents=True)
    big = tmp_path / "big.pt"
    big.write_bytes(os.urandom(2 << 20))
    filler = fill(small_disk)
    if free_kb:  # room for a part of the bundle, not all of it
        filler.write_bytes(filler.read_bytes()[: -free_kb * 1024])
    with pytest.raises(ImportRefused) as e:
        copy_into_models(big)
    assert "big.pt" in str(e.value) and "No space left on device" in str(e.value) and "\n" not in str(e.value)
    assert list(models_dir().iterdir()) == []


def test_predictions_csv_lists_the_analysed_tracks(db, tmp_path):
    from app.library.exports import PREDICTION_COLUMNS, export_predictions

    out = tmp_path / "pred.csv"
    assert export_predictions(db, "m", "/models/m.pt", lambda r: "calm" if r.valence else "", out) == 2
    rows = list(csv.reader(out.open(encoding="utf-8")))
    assert rows[0] == PREDICTION_COLUMNS
    assert rows[1] == ["/music/a.flac", "a", "Ann", "0.5000", "-0.2500", "0.8000", "calm", "m.pt"]
    assert rows[2][3:5] == ["", "0.5000"]  # not predicted: empty


def test_map_points_are_labels_first_then_two_dimension_predictions(db):
    from app.labelling.emotion_map import map_points
    from app.labelling.labels import LabelRecorder

    rec = LabelRecorder(db, db.track_id("/music/c.flac"), "ann")
    rec.add(0.0, -0.5, 0.5)
    rec.flush()
    points = {p.path: p for p in map_points(db, "m")}
    assert set(points) == {"/music/a.flac", "/music/c.flac"}  # b: valence not predicted
    assert points["/music/c.flac"].labelled and points["/music/c.flac"].confidence == 1.0
    assert (points["/music/a.flac"].valence, points["/music/a.flac"].confidence) == (0.5, 0.8)


def test_scan_report_status_line_points_at_the_unreadable_files():
    from app.library.scan import report_text
    from damer_core.contract import events

    assert report_text(events.Report(3, 0, 1, [], False)) == "scan finished: 3 new, 0 changed, 1 removed"
    text = report_text(events.Report(0, 0, 0, [["/m/x.mp3", "broken"]], True))
    assert text.startswith("scan cancelled: ") and text.endswith("1 unreadable (File > Show unreadable files)")
