"""One rule for rows naming the same track, in every loader (damer_core.datasets.base.merge_duplicates):
exact duplicates are used once with a warning, conflicting ones refused naming the ids, or left out
with a warning under --drop-conflicts; a labels file's rows are annotations and are averaged."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from test_datasets import deam, emomusic, pmemo
from test_fourq import SONGS, fourq_folder

from damer_core.datasets import DatasetError, labelled_tracks

QUADRANTS = ["Q1", "Q2", "Q3", "Q4"]


def _append(path: Path, lines: list[str]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write("".join(line + "\n" for line in lines))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("dups")
    return {"4q": fourq_folder(root / "4q"), "pmemo": pmemo(root / "pmemo"), "emomusic": emomusic(root / "emomusic"),
            "deam": deam(root / "deam")}


def _copy(src: Path, dest: Path) -> Path:
    import shutil

    shutil.copytree(src, dest, ignore=shutil.ignore_patterns("*.mp3", "*.ogg"))
    for audio in list(src.rglob("*.mp3")) + list(src.rglob("*.ogg")):
        target = dest / audio.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(audio)
    return dest


# per format: the annotation file, a duplicate of an existing row, a conflicting one (same id)
CASES = {
    "4q": ("panda_dataset_taffc_annotations.csv", lambda i: f"{SONGS[i][0]},{SONGS[i][1]}",
           lambda i: f"{SONGS[i][0]},{QUADRANTS[(QUADRANTS.index(SONGS[i][1]) + 1) % 4]}", len(SONGS)),
    "pmemo": ("annotations/static_annotations.csv", lambda i: ["1,0.9,0.75", "4,0.2,0.125", "7,0.5,0.5"][i],
              lambda i: ["1,0.1,0.75", "4,0.9,0.125", "7,0.5,0.9"][i], 3),
    "emomusic": ("annotations/static_annotations.csv", lambda i: ["2,7,1.1,3,0.9", "3,2,0.8,8,1.2"][i],
                 lambda i: ["2,1,1.1,3,0.9", "3,2,0.8,1,1.2"][i], 2),
    "deam": ("DEAM_Annotations/annotations/annotations averaged per song/song_level/"
             "static_annotations_averaged_songs_1_2000.csv", lambda i: ["2, 3.1, 0.94, 3, 0.63", "5, 7, 1.1, 6.5, 1.2"][i],
             lambda i: ["2, 8, 0.94, 3, 0.63", "5, 2, 1.1, 6.5, 1.2"][i], 2),
}


@pytest.mark.parametrize("fmt", list(CASES))
@pytest.mark.parametrize("seed", range(4))
def test_generated_duplicates_follow_one_rule(fmt, seed, folders, tmp_path):
    name, same, other, n = CASES[fmt]
    rng = random.Random(seed)
    root = _copy(folders[fmt], tmp_path / fmt)
    base, _ = labelled_tracks(root, fmt, None)
    exact = sorted(rng.sample(range(n), rng.randint(1, n)))
    _append(root / name, [same(i) for i in exact for _ in range(rng.randint(1, 3))])
    tracks, desc = labelled_tracks(root, fmt, None)
    assert len(tracks) == len(base) and len({t.track_id for t in tracks}) == len(tracks)
    assert [(t.track_id, t.valence, t.arousal) for t in tracks] == [(t.track_id, t.valence, t.arousal) for t in base]
    assert any(f"{len(exact)} track(s) listed more than once with the same label" in w for w in desc["warnings"])
    conflicting = sorted(rng.sample(range(n), rng.randint(1, n)))
    _append(root / name, [other(i) for i in conflicting])
    with pytest.raises(DatasetError, match=f"{len(conflicting)} track\\(s\\) listed more than once with different "
                                           "labels.*--drop-conflicts"):
        labelled_tracks(root, fmt, None)
    kept, desc = labelled_tracks(root, fmt, None, drop_conflicts=True)
    assert len(kept) == len(base) - len(conflicting)
    assert any(w.startswith(f"{desc['name']}: left out {len(conflicting)} track(s)") for w in desc["warnings"])


def test_the_error_names_the_rows(folders, tmp_path):
    root = _copy(folders["4q"], tmp_path / "4q")
    _append(root / "panda_dataset_taffc_annotations.csv", ["MT001,Q3"])
    with pytest.raises(DatasetError) as caught:
        labelled_tracks(root, "4q", None)
    assert "MT001 (panda_dataset_taffc_annotations.csv, row 2: Q1; panda_dataset_taffc_annotations.csv, row 8: Q3)" \
        in str(caught.value)


def test_a_labels_csv_averages_annotators_and_uses_exact_repeats_once(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.ogg").write_bytes(b"")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,valence,arousal\n0.ogg,0.5,0.5\n0.ogg,0.5,0.5\n1.ogg,0.2,0.4\n1.ogg,0.6,0.0\n2.ogg,0,0\n")
    tracks, desc = labelled_tracks(labels, "csv", None)
    by_name = {t.path.name: t for t in tracks}
    assert len(tracks) == 3 and by_name["1.ogg"].valence == pytest.approx(0.4) and desc["averaged"] == 1
    assert desc["warnings"] == ["labels.csv: 1 track(s) listed more than once with the same label, used once: 0.ogg"]


def test_train_takes_the_flag_and_keeps_it_for_a_resume():
    from damer_core.cli.main import _data_args, build_parser

    args = build_parser().parse_command(["train", "--dataset", "x", "--drop-conflicts"])
    assert _data_args(args).drop_conflicts is True and _data_args(args).to_dict()["drop_conflicts"] is True


def test_one_file_named_relative_and_absolute_is_one_track(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.ogg").write_bytes(b"")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"path,valence,arousal\na.ogg,0.5,0.5\n{tmp_path}/sub/../a.ogg,0.1,0.1\n")
    tracks, desc = labelled_tracks(labels, "csv", None)
    assert len(tracks) == 1 and tracks[0].valence == pytest.approx(0.3) and desc["averaged"] == 1
