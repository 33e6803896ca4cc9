"""200+ bad audio files through the library scan, the views' extraction and `damer-core predict`:
each reported with its name and a reason, no crash, no hang, the good files still processed."""

import json
import subprocess
import sys

import numpy as np
import pytest
from badfiles import bad_folder

from app.library import scanner
from app.library.db import LibraryDB
from damer_core.audio.decoding import AudioError
from damer_core.features.extract import track_display_views


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-music")
    bad, good = bad_folder(root)
    assert len(bad) >= 200
    return root, bad, good


def test_scan_lists_every_bad_file_and_keeps_the_good(folder, tmp_path):
    root, bad, good = folder
    db = LibraryDB(tmp_path / "lib.sqlite3")
    db.add_folder(str(root))
    report = scanner.scan(db)
    tracks = {t.path for t in db.tracks()}
    unreadable = dict(db.unreadable())
    assert {str(g) for g in good} <= tracks
    assert tracks | set(unreadable) == {str(p) for p in bad + good}  # every file accounted for
    assert all(r and "\n" not in r for r in unreadable.values())
    # what cannot even be parsed is listed at scan time; truncated files with a valid header are
    # listed as (short) tracks and reported when played or analysed (the next two tests)
    must = [p for p in bad if p.name.startswith(("random_", "zero_length", "wrong_ext", "zero_channels"))]
    assert {str(p) for p in must} <= set(unreadable), sorted(set(map(str, must)) - set(unreadable))[:5]
    assert report.added == len(tracks)


def test_views_extraction_reports_or_succeeds_for_each(folder):
    root, bad, good = folder
    failures = 0
    for p in bad:
        try:
            v = track_display_views(p)
            assert np.isfinite(v.mel_db).all()
        except AudioError as e:
            failures += 1
            assert str(e).startswith(p.name + ": ") and "\n" not in str(e)
    assert failures >= 190  # nearly all are too short or unreadable; none crashed
    assert track_display_views(good[0]).mel_db.shape[0] == 128


@pytest.mark.slow
def test_predict_reports_each_bad_file_and_predicts_the_good(folder, trained_bundle):
    root, bad, good = folder
    res = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", str(root), "--checkpoint",
                          str(trained_bundle), "--progress", "jsonl"], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-1000:]
    events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    predicted = {e["path"] for e in events if e["event"] == "prediction"}
    errors = {e["path"]: e["message"] for e in events if e["event"] == "file_error"}
    assert {str(g) for g in good} <= predicted
    assert len(predicted) + len(errors) == len(bad) + len(good)
    for path, message in errors.items():
        assert message.startswith(path.rsplit("/", 1)[-1] + ": ") and "\n" not in message
