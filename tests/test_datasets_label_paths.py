"""Paths in label files: relative ones resolve against the label file's folder whatever their
characters, absolute ones are taken as written, and a path that leaves the data folder, is empty
or holds a NUL is refused with its row."""

import json

import pytest
from test_datasets_bad_data import refused

from damer_core.datasets.labels_csv import load_labels_csv
from damer_core.datasets.labels_json import load_labels_json

# -- paths in label files ---------------------------------------------------------------------

ODD_NAMES = ["plain.wav", "Ünïcödé 日本語 ♫.wav", "new\nline.wav", "comma, and \"quote\".wav", "tab\tinside.wav",
             "sub/deeper/x.wav", "sub/../up-and-back.wav", "./dot.wav"]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_relative_paths_resolve_against_the_label_files_folder(tmp_path, monkeypatch, name):
    data = tmp_path / "data"
    target = (data / name).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"")
    monkeypatch.chdir(tmp_path)  # not the data folder: resolution must not depend on it
    cell = '"' + name.replace('"', '""') + '"'
    (data / "labels.csv").write_text(f"path,valence,arousal\n{cell},0.5,-0.5\n", encoding="utf-8")
    (data / "labels.json").write_text(json.dumps({"labels": [{"path": name, "valence": 0.5, "arousal": -0.5}]}))
    for tracks, _ in (load_labels_csv(data / "labels.csv"), load_labels_json(data / "labels.json")):
        assert tracks[0].path == target


def test_absolute_paths_are_taken_as_written(tmp_path):
    elsewhere = tmp_path / "library" / "song.wav"
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "labels.csv").write_text(f"path,valence,arousal\n{elsewhere},0.5,-0.5\n")
    assert load_labels_csv(tmp_path / "data" / "labels.csv")[0][0].path == elsewhere


BAD_PATHS = [("../outside.wav", "leaves the data folder"), ("..", "leaves the data folder"),
             ("sub/../../outside.wav", "leaves the data folder"), ("../data-sibling/x.wav", "leaves the data folder"),
             ("a\nb/../../x.wav", "leaves the data folder"), ("   ", "path is empty"),
             ("a\0b.wav", "holds a NUL character")]


@pytest.mark.parametrize("raw,problem", BAD_PATHS, ids=[r.replace("\0", "NUL") for r, _ in BAD_PATHS])
def test_bad_paths_are_refused_with_their_row(tmp_path, raw, problem):
    data = tmp_path / "data"
    data.mkdir()
    cell = '"' + raw + '"'
    (data / "labels.csv").write_text(f"path,valence,arousal\nok.wav,0.1,0.1\n\n{cell},0.5,-0.5\n")
    (data / "labels.json").write_text(json.dumps({"labels": [{"path": "ok.wav", "valence": 0.1, "arousal": 0.1},
                                                             {"path": raw, "valence": 0.5, "arousal": -0.5}]}))
    from_csv = refused(load_labels_csv, data / "labels.csv")
    from_json = refused(load_labels_json, data / "labels.json")
    assert from_csv.startswith("labels.csv, row 4: ") and problem in from_csv
    assert from_json.startswith("labels.json, labels[1]: ") and problem in from_json
    assert from_csv.split(": ", 1)[1] == from_json.split(": ", 1)[1]  # the same words for both
