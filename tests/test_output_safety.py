"""Nothing the user owns is overwritten (one helper: damer_core.contract.fileutil.check_output_file), and
what is printed or exported cannot be turned against the user: terminal escapes and huge strings
from a bundle, spreadsheet formulas in CSV cells (damer_core.contract.safe_text)."""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path

import pytest
from app_helpers import tagged

from damer_core.contract.errors import InputError
from damer_core.contract.fileutil import check_output_file, free_path
from damer_core.contract.safe_text import FORMULA_START, from_spreadsheet_cell, shown, spreadsheet_cell

MODEL = str(Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt")
HOSTILE = ["=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx", "'=x", "''", "'", "=HYPERLINK(\"http://x\")", "plain",
           "-", "=", "a=b", " =x", "'plain", "\x1b]0;pwned\x07", "é=x"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("clips")
    data = tagged(root / "t.ogg", 3.5, seed=3).read_bytes()
    (root / "t.ogg").unlink()
    for name in ("=1+1.ogg", "-x.ogg", "@a.ogg", "plain.ogg"):
        (root / name).write_bytes(data)
    return root


# -- 1. never overwrite what the user owns ----------------------------------------------------
def _predict(*args: str) -> int:
    from damer_core.cli.main import main

    return main(["predict", "--checkpoint", MODEL, *args])


@pytest.mark.parametrize("kind", ["text file", "audio input", "csv of another program", "folder", "device",
                                  "symlink to an input"])
def test_predict_output_refuses_what_it_did_not_write(kind, clips, tmp_path, capsys):
    target = {"text file": tmp_path / "notes.txt", "audio input": clips / "plain.ogg",
              "csv of another program": tmp_path / "budget.csv", "folder": tmp_path / "out",
              "device": Path("/dev/null"), "symlink to an input": tmp_path / "link.csv"}[kind]
    if kind == "text file":
        target.write_text("my notes\n")
    elif kind == "csv of another program":
        target.write_text("path,amount\nrent,900\n")
    elif kind == "folder":
        target.mkdir()
    elif kind == "symlink to an input":
        target.symlink_to(clips / "plain.ogg")
    before = target.read_bytes() if target.is_file() and kind != "device" else None
    assert _predict("--output", str(target), str(clips)) == 2
    err = capsys.readouterr().err
    assert f"{target}:" in err and err.count("\n") == 1 and "Traceback" not in err
    if before is not None:
        assert target.read_bytes() == before
    assert not list(tmp_path.glob("*.part*")) and not list(clips.glob("*.part*")) and not list(target.parent.glob(".*.tmp"))


def test_force_replaces_a_foreign_file_but_never_an_input(clips, tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("path,amount\nrent,900\n")
    assert _predict("--force", "--output", str(notes), str(clips)) == 0
    rows = list(csv.DictReader(io.StringIO(notes.read_text())))
    assert len(rows) == 4 and "rent" not in notes.read_text()
    with pytest.raises(InputError, match="one of the input files"):
        check_output_file(clips / "plain.ogg", force=True, inputs=[clips / "plain.ogg"])


def test_an_earlier_results_file_is_resumed_not_refused(clips, tmp_path):
    out = tmp_path / "r.csv"
    assert _predict("--output", str(out), str(clips / "plain.ogg")) == 0
    assert _predict("--output", str(out), str(clips)) == 0  # more files: appended to its own output
    assert len(list(csv.DictReader(io.StringIO(out.read_text())))) == 4


def test_train_out_refuses_a_folder_of_other_files(tmp_path, capsys):
    from damer_core.cli.main import main

    music = tmp_path / "Music"
    music.mkdir()
    (music / "best.pt").write_text("my own file called best.pt")
    assert main(["train", "--dataset", str(tmp_path / "none.csv"), "--out", str(music)]) == 2
    assert "holds other files" in capsys.readouterr().err
    assert (music / "best.pt").read_text() == "my own file called best.pt" and not (music / ".train.lock").exists()


def test_train_out_keeps_an_earlier_runs_model_unless_resumed_or_forced(tmp_path, capsys):
    """A finished (or interrupted) run's model is the user's: a new run on its folder is refused in
    one line that names the ways on; a run folder with no checkpoint yet is reused."""
    import json

    from damer_core.cli.main import main

    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"id": "earlier", "data_fingerprint": "f"}))
    missing = str(tmp_path / "none.csv")
    assert main(["train", "--dataset", missing, "--out", str(run)]) == 2  # no checkpoint yet: on to the data set
    assert "none.csv" in capsys.readouterr().err
    (run / "best.pt").write_text("MODEL")
    assert main(["train", "--dataset", missing, "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds an earlier run (best.pt); --resume continues it, --force replaces it" in err and "\n" not in err
    assert (run / "best.pt").read_text() == "MODEL"
    assert main(["train", "--dataset", missing, "--out", str(run), "--force"]) == 2
    assert "none.csv" in capsys.readouterr().err  # forced: on to the data set (missing here)


def test_a_copied_model_never_replaces_another(tmp_path):
    taken = [tmp_path / "m.pt", tmp_path / "m-2.pt"]
    for p in taken:
        p.write_text("x")
    assert free_path(tmp_path / "m.pt") == tmp_path / "m-3.pt"
    assert free_path(tmp_path / "new.pt") == tmp_path / "new.pt"


def test_app_exports_never_write_into_a_folder_and_say_so(tmp_path):
    from app.library.exports import write_csv

    (tmp_path / "out.csv").mkdir()
    with pytest.raises(InputError, match="is a folder"):
        write_csv(tmp_path / "out.csv", ["path"], [["a"]], {"path"}, True)


def test_a_full_disk_names_the_file(tmp_path, monkeypatch):
    import errno

    from damer_core.contract.fileutil import atomic_write

    target = tmp_path / "results.csv"
    target.write_text("earlier\n")
    with pytest.raises(OSError) as caught:
        with atomic_write(target):
            raise OSError(errno.ENOSPC, "No space left on device")
    assert caught.value.filename == str(target) and target.read_text() == "earlier\n"
    assert not list(tmp_path.glob(".*.tmp"))


# -- 4. spreadsheet formulas and terminal escapes ---------------------------------------------
def _generated_cells(n: int = 2000) -> list[str]:
    rng = random.Random(7)
    alphabet = list(FORMULA_START) + ["'", "a", "1", ",", '"', "\n", "é", "\udcff", " "]
    return HOSTILE + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(n)]


def test_spreadsheet_cells_never_start_a_formula_and_read_back_exactly():
    for value in _generated_cells():
        cell = spreadsheet_cell(value)
        assert not cell.startswith(FORMULA_START), repr(value)
        assert from_spreadsheet_cell(cell) == value, repr(value)


def test_predict_csv_guards_relative_names_unless_raw(clips, monkeypatch, capsys):
    monkeypatch.chdir(clips)
    names = ["=1+1.ogg", "-x.ogg", "@a.ogg", "plain.ogg"]
    assert _predict("--", *names) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]
    assert [r[0] for r in rows] == ["'=1+1.ogg", "'-x.ogg", "'@a.ogg", "plain.ogg"]
    assert all(r[1] and float(r[1]) == float(r[1]) for r in rows)  # the numbers are never guarded
    assert _predict("--csv-raw", "--", *names) == 0
    assert [r[0] for r in list(csv.reader(io.StringIO(capsys.readouterr().out)))[1:]] == names


def _library_with(tmp_path, titles: list[str]):
    from app.library.db import LibraryDB

    db = LibraryDB(tmp_path / "lib.sqlite3")
    folder = db.add_folder(str(tmp_path))
    db.upsert_tracks(folder, [{"path": str(tmp_path / f"{i}.ogg"), "title": t, "artist": t, "album": "",
                               "duration": 60.0, "size": 1, "mtime": 0.0} for i, t in enumerate(titles)])
    for i in range(len(titles)):
        db.store_static(str(tmp_path / f"{i}.ogg"), "m", 0.1, -0.2, 0.5)
    return db


@pytest.mark.parametrize("safe", [True, False])
def test_app_predictions_export_guards_titles_and_artists(tmp_path, safe):
    from app.library.exports import export_predictions

    db = _library_with(tmp_path, HOSTILE)
    out = tmp_path / "p.csv"
    assert export_predictions(db, "m", "/x/model.pt", lambda r: "calm", out, spreadsheet_safe=safe) == len(HOSTILE)
    with open(out, newline="", encoding="utf-8", errors="surrogateescape") as f:
        rows = list(csv.DictReader(f))
    titles = [r["title"] for r in rows]
    if safe:
        assert not any(c.startswith(FORMULA_START) for r in rows for c in (r["title"], r["artist"], r["path"]))
        assert sorted(from_spreadsheet_cell(t) for t in titles) == sorted(HOSTILE)
    else:
        assert sorted(titles) == sorted(HOSTILE)


def test_label_export_reads_back_exactly_through_the_training_loader(tmp_path):
    from app.labelling.labels import export_labels
    from damer_core.datasets.labels_csv import load_labels_csv

    music = tmp_path / "music"
    music.mkdir()
    db = _library_with(music, ["a", "b", "c"])
    names = ["=1+1.ogg", "-x.ogg", "'=q.ogg"]
    for i, name in enumerate(names):  # tracks named like formulas, artists too
        (music / name).write_bytes(b"")
        db.conn.execute(
            "UPDATE tracks SET path = ?, artist = ? WHERE path = ?",
            (str(music / name), "=cmd|' /C calc'!A0", str(music / f"{i}.ogg")),
        )
        db.conn.commit()
        label = db.add_label(db.track_id(str(music / name)), "me")
        db.append_label_points(label, [(0.0, 0.2 * i, -0.1)], 0.2 * i, -0.1, 1, 100)
    out = music / "labels.csv"
    assert export_labels(db, out) == 3
    text = out.read_text()
    assert "\n=" not in text and ",=" not in text  # nothing a spreadsheet runs
    tracks, _ = load_labels_csv(out)
    assert sorted(t.path.name for t in tracks) == sorted(names)
    assert {t.group for t in tracks} == {"=cmd|' /C calc'!A0"}


def _bundle_with(tmp_path, **fields) -> Path:
    import torch

    from damer_core.models.checkpoint import load_checkpoint

    b = load_checkpoint(MODEL)
    b.update(fields)
    path = tmp_path / "hostile.pt"
    torch.save(b, path)
    return path


def test_info_shows_a_bundles_strings_without_their_escapes(tmp_path, capsys):
    from damer_core.cli.main import main

    evil = "\x1b]0;owned\x07\x1b[2J\rFAKE: all tests passed\u202e"
    path = _bundle_with(tmp_path, created=evil, damer_core_version=evil,
                        data={"name": evil, "format": "csv", "n_tracks": 3, "n_samples": 9})
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out and "\x07" not in out
    assert "\\x1b]0;owned" in out  # shown, escaped, so the user sees what the file holds
    assert main(["info", "--jsonl", str(path)]) == 0
    assert "\x1b" not in capsys.readouterr().out


@pytest.mark.parametrize("field,value,words", [
    ("created", "x" * 10_000_000, "10,000,000 characters"),
    ("data", {"name": "d", "missing_audio": ["a"] * 200_000}, "200,000 entries"),
    ("data", {"y" * 5000: 1}, "5,000 characters"),
])
def test_bundle_checks_bound_text_and_lists(tmp_path, field, value, words, capsys):
    from damer_core.cli.main import main

    path = _bundle_with(tmp_path, **{field: value})
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err) < 500


def test_shown_escapes_every_control_character_and_caps_length():
    for code in list(range(0x20)) + list(range(0x7f, 0xa0)) + [0x202e, 0x2066, 0x2028]:
        s = shown(f"a{chr(code)}b")
        assert chr(code) not in s and s.startswith("a\\") and s.endswith("b")
    long = shown("z" * 10_000)
    assert len(long) < 400 and "9,700 more characters" in long
    assert shown("bad\udcff") == "bad\ufffd"
    assert os.fsdecode(b"\xff") != shown(os.fsdecode(b"\xff"))


# -- from a hostile review -------------------------------------------------------------------
def test_a_raw_results_file_resumes_with_its_names_unchanged(clips, tmp_path, monkeypatch):
    monkeypatch.chdir(clips)
    (clips / "'=a.ogg").write_bytes((clips / "plain.ogg").read_bytes())
    out = tmp_path / "raw.csv"
    assert _predict("--csv-raw", "--output", str(out), "--", "'=a.ogg", "plain.ogg") == 0
    assert [r["path"] for r in csv.DictReader(io.StringIO(out.read_text()))] == ["'=a.ogg", "plain.ogg"]
    before = out.read_text()
    assert _predict("--csv-raw", "--output", str(out), "--", "'=a.ogg", "plain.ogg") == 0
    assert out.read_text() == before


@pytest.mark.parametrize("content", [
    "my notes\n",
    "path,valence,arousal,confidence,emotion,duration,error,warning\nsong1,1,2,3,calm,4,,,EXTRA NOTE\n",
    "path,valence,arousal,confidence,emotion,duration,error,warning\n,my comment\n",
])
def test_a_file_that_only_looks_like_results_is_not_ours(content, clips, tmp_path, capsys):
    for target in (tmp_path / "res.csv", tmp_path / "res.csv.part0"):
        target.write_text(content)
        assert _predict("--output", str(tmp_path / "res.csv"), str(clips / "plain.ogg")) == 2
        assert str(target) in capsys.readouterr().err and target.read_text() == content
        target.unlink()


def test_a_json_report_never_replaces_a_users_file(tmp_path, capsys):
    from damer_core.cli.main import main

    thesis = tmp_path / "thesis.txt"
    thesis.write_text("chapter 1")
    assert main(["evaluate", "--checkpoint", MODEL, "--dataset", str(tmp_path / "none"), "--json", str(thesis)]) == 2
    assert "already exists" in capsys.readouterr().err and thesis.read_text() == "chapter 1"
    assert main(["baseline", "--dataset", str(tmp_path / "none"), "--json", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


def test_a_stray_run_json_does_not_make_a_run_folder(tmp_path, capsys):
    from damer_core.cli.main import main

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "run.json").write_text("{}")
    (mine / "best.pt").write_text("MINE")
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--out", str(mine)]) == 2
    assert "holds other files" in capsys.readouterr().err and (mine / "best.pt").read_text() == "MINE"


def test_a_failed_checkpoint_write_names_the_file(tmp_path, monkeypatch):
    import shutil as sh

    import torch

    from damer_core.models.checkpoint import save_atomic

    def full(*a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file data/0")

    monkeypatch.setattr(torch, "save", full)
    monkeypatch.setattr(sh, "disk_usage", lambda p: sh._ntuple_diskusage(100, 100, 0))
    with pytest.raises(OSError) as caught:
        save_atomic({"a": 1}, tmp_path / "last.pt")
    assert f"{tmp_path / 'last.pt'}: cannot write the checkpoint (the disk is full)" in str(caught.value)


def test_progress_lines_for_people_are_sanitised(capsys):
    from damer_core.progress import Progress

    Progress("human").message("skipped bad\x1b]0;T\x07.ogg\nforged line")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err and "\\x1b]0;T" in err


def test_an_atomic_write_follows_a_link_and_keeps_the_files_mode(tmp_path):
    from damer_core.contract.fileutil import atomic_write

    target = tmp_path / "real.csv"
    target.write_text("old")
    os.chmod(target, 0o640)
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    with atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink() and target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640


def test_info_lists_no_more_than_the_three_quadrant_parts(tmp_path, capsys):
    from damer_core.cli.main import main

    path = _bundle_with(tmp_path, quadrant={f"p{i}": {"n": 1, "acc": 0.5, "macro_f1": 0.5} for i in range(99_000)})
    assert main(["info", str(path)]) == 2
    assert "quadrant key" in capsys.readouterr().err
