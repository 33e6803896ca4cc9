"""Any file name the file system allows: names that are not UTF-8, with newlines, tabs, quotes,
commas, a leading '-' or '=', control characters, 250 bytes. Each is scanned into the library
and found again on a rescan, predicted by `predict` (stdout and --output, a rerun skips it), read
from a labels CSV, and opened in the app; the bytes that come out are the bytes that went in."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from app_helpers import tagged

from damer_core.contract.safe_text import from_spreadsheet_cell, shown

MODEL = str(Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt")  # the shipped model

NAMES = [b"bad\xff\xfe", b"latin-1 caf\xe9", b"lone \x80 byte", b"cut \xc3", b"new\nline", b"car\rriage",
         b"tab\there", b"quo\"te's", b"com,ma", b"-leading dash", b"=SUM(1+1)", b"+plus", b"@at", b"'=quoted",
         b"esc \x1b]0;title\x07", b"rtl \xe2\x80\xae override", b"x" * 246]


@pytest.fixture(scope="module")
def odd_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("odd-names")
    template = tagged(root / "template.ogg", 3.5, seed=5)
    data = template.read_bytes()
    template.unlink()
    for name in NAMES:
        with open(os.path.join(os.fsencode(root), name + b".ogg"), "wb") as f:
            f.write(data)
    return root


def on_disk(root: Path) -> set[str]:
    return {str(root / n) for n in os.listdir(root)}


def test_the_names_are_what_the_test_means(odd_folder):
    names = os.listdir(os.fsencode(odd_folder))
    assert len(names) == len(NAMES) and max(len(n) for n in names) == 250
    assert sum(1 for n in names if not _utf8(n)) == 4


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def test_scan_keeps_every_name_and_a_rescan_finds_them_again(odd_folder, tmp_path):
    from app.library.db import LibraryDB
    from app.library.scanner import scan

    db = LibraryDB(tmp_path / "lib.sqlite3")
    db.add_folder(str(odd_folder))
    first = scan(db)
    assert (first.added, first.unreadable) == (len(NAMES), [])
    assert {r.path for r in db.tracks()} == on_disk(odd_folder)
    again = scan(db)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)
    for r in db.tracks():
        assert os.path.exists(r.path) and db.track_id(r.path) == r.id
        assert db.track(r.path).path == r.path
        assert "\x1b" not in r.title and "\n" not in r.title  # the shown title, the name's stem
    db.close()
    reopened = LibraryDB(tmp_path / "lib.sqlite3")  # the bytes are stored, not only kept in memory
    assert {r.path for r in reopened.tracks()} == on_disk(odd_folder)
    reopened.remove_paths([str(odd_folder / os.fsdecode(b"bad\xff\xfe.ogg"))])
    assert reopened.track_count() == len(NAMES) - 1


def _rows(data: bytes) -> list[dict]:
    text = data.decode("utf-8", "surrogateescape")
    return [{k: from_spreadsheet_cell(v) for k, v in r.items()} for r in csv.DictReader(io.StringIO(text))]


def test_predict_on_stdout_gives_each_name_back(odd_folder):
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    out = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--checkpoint", MODEL, str(odd_folder)],
                         capture_output=True,
                         env=env, timeout=600)
    assert out.returncode == 0, out.stderr.decode(errors="replace")[-2000:]
    rows = _rows(out.stdout)
    assert {r["path"] for r in rows} == on_disk(odd_folder)
    assert all(r["valence"] and not r["error"] for r in rows)


def test_predict_output_finishes_and_a_rerun_skips_every_name(odd_folder, tmp_path):
    from damer_core.cli.main import main

    results = tmp_path / "results.csv"
    assert main(["predict", "--checkpoint", MODEL, "--output", str(results), str(odd_folder)]) == 0
    rows = _rows(results.read_bytes())
    assert {r["path"] for r in rows} == on_disk(odd_folder) and not any(r["error"] for r in rows)
    before = results.read_bytes()
    assert main(["predict", "--checkpoint", MODEL, "--output", str(results), str(odd_folder)]) == 0
    assert results.read_bytes() == before


def test_files_from_lists_names_as_bytes_and_repeats_run_once(odd_folder, tmp_path, capsys):
    from damer_core.cli.main import main

    listed = tmp_path / "list.txt"
    chosen = [n for n in NAMES if b"\n" not in n and b"\r" not in n][:5]
    listed.write_bytes(b"\n".join(os.fsencode(odd_folder) + b"/" + n + b".ogg" for n in chosen * 3) + b"\n")
    results = tmp_path / "listed.csv"
    assert main(["predict", "--checkpoint", MODEL, "--files-from", str(listed), "--output", str(results)]) == 0
    rows = _rows(results.read_bytes())
    assert sorted(r["path"] for r in rows) == sorted(os.fsdecode(os.fsencode(odd_folder) + b"/" + n + b".ogg")
                                                     for n in chosen)
    assert "10 repeated file(s) left out" in capsys.readouterr().err


def test_a_labels_csv_names_the_files_as_they_are(odd_folder, tmp_path):
    from damer_core.datasets.labels_csv import load_labels_csv

    labels = odd_folder / "labels.csv"
    lines = [b"path,valence,arousal"]
    for i, n in enumerate(x for x in NAMES if b"\n" not in x and b"\r" not in x and b'"' not in x and b"," not in x):
        lines.append(n + b".ogg," + f"{0.1 * (i % 5)},{-0.1 * (i % 3)}".encode())
    labels.write_bytes(b"\n".join(lines) + b"\n")
    try:
        tracks, _ = load_labels_csv(labels)
    finally:
        labels.unlink()
    assert len(tracks) == len(lines) - 1 and all(t.path.is_file() for t in tracks)


def test_shown_names_are_one_safe_line():
    for n in NAMES:
        s = shown(os.fsdecode(n))
        assert s.isprintable() and "\x1b" not in s and "\u202e" not in s
        s.encode("utf-8")  # no surrogates left: a terminal, Qt or a log can take it


def test_the_app_opens_a_track_whose_name_is_not_utf8(odd_folder, qtbot, tmp_path, monkeypatch):
    from app_helpers import fresh_window

    monkeypatch.setenv("DAMER_BUILTIN_MODEL", MODEL)
    w = fresh_window(qtbot, tmp_path, monkeypatch)
    w.add_folder(str(odd_folder))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=30_000)
    qtbot.waitUntil(lambda: not w.analysis.running, timeout=300_000)  # the library pass: every name predicted
    assert all(r.analysed and r.valence is not None for r in w.db.tracks(w.state.model.key)), w.statusBar().currentMessage()
    assert {r.path for r in w.model.rows} == on_disk(odd_folder)
    target = os.fsdecode(os.fsencode(odd_folder) + b"/bad\xff\xfe.ogg")
    with qtbot.waitSignal(w.views_shown, timeout=60_000) as shown_signal:
        w.open_track(target, autoplay=False)
    assert shown_signal.args == [target, ""]
    qtbot.waitUntil(lambda: w.circle.marker is not None, timeout=60_000)  # the trajectory of that file
    assert "\ufffd" in w.windowTitle() or "bad" in w.windowTitle()
    w.close()


def test_a_playlist_lists_names_as_they_are(odd_folder, tmp_path):
    from app.labelling.emotion_map import MapPoint, write_m3u

    paths = sorted(on_disk(odd_folder))
    points = [MapPoint(path=p, title=os.path.basename(p), artist="\x1b[2J", valence=0.0, arousal=0.0,
                       confidence=1.0, labelled=False, duration=60.0) for p in paths]
    out = tmp_path / "list.m3u"
    assert write_m3u(out, points) == len(paths) - 2  # the names holding a line break cannot be playlist lines
    listed = [os.fsdecode(line) for line in out.read_bytes().split(b"\n") if line and not line.startswith(b"#")]
    assert sorted(listed) == [p for p in paths if "\n" not in p and "\r" not in p]
    assert not any(b"\x1b" in line for line in out.read_bytes().split(b"\n") if line.startswith(b"#EXTINF"))


def test_files_from_keeps_spaces_and_carriage_returns_inside_names(odd_folder, tmp_path):
    from damer_core.cli.inputs import listed_files as _listed_files

    listed = tmp_path / "list.txt"
    names = [b" lead space.ogg", b"car\rriage.ogg", b"trail space .ogg", b"bad\xff\xfe.ogg"]
    listed.write_bytes(b"\n".join(names) + b"\r\n\n")
    assert _listed_files(str(listed)) == [os.fsdecode(n) for n in names]


def test_a_lone_surrogate_in_a_labels_json_is_one_line(tmp_path):
    import json

    from damer_core.datasets import DatasetError
    from damer_core.datasets.labels_json import load_labels_json

    labels = tmp_path / "l.json"
    labels.write_text(json.dumps({"labels": [{"path": "b\ud800.ogg", "valence": 0.1, "arousal": 0.2}]}))
    with pytest.raises(DatasetError, match="l.json, labels\\[0\\]: path .* is not a name a file can have"):
        load_labels_json(labels)


def test_a_model_whose_path_is_not_utf8_keys_its_predictions(tmp_path):
    from app.library.db import LibraryDB
    from app.model_in_use import prediction_key

    model = os.fsdecode(os.fsencode(tmp_path) + b"/caf\xe9.pt")
    Path(model).write_bytes(b"x")
    key = prediction_key(model)
    key.encode("utf-8")
    db = LibraryDB(tmp_path / "lib.sqlite3")
    fid = db.add_folder(str(tmp_path))
    db.upsert_tracks(fid, [{"path": str(tmp_path / "t.ogg"), "title": "t", "artist": "", "album": "", "duration": 5.0,
                            "size": 1, "mtime": 0.0}])
    db.store_static(str(tmp_path / "t.ogg"), key, 0.1, 0.2, 0.5)
    assert db.tracks(key)[0].valence == 0.1 and db.unanalysed(key) == []
