"""The 4Q loader against a small generated folder laid out like the release (never the real clips)."""

import csv

import numpy as np
import pytest
from synthdata import write_song

from damer_core.datasets import DatasetError, detect_format, load_dataset, split_tracks
from damer_core.datasets.fourq import load_4q

# (song, quadrant, artist): Q1 V+A+, Q2 V-A+, Q3 V-A-, Q4 V+A-
SONGS = [("MT001", "Q1", "Ann"), ("MT002", "Q2", "Bob"), ("MT003", "Q3", "Ann"), ("MT004", "Q4", "Cy"),
         ("MT005", "Q1", "Dee"), ("MT006", "Q3", "Eve")]


def fourq_folder(root, ext=".ogg", songs=SONGS, metadata=True, extra_rows=()):
    root.mkdir(parents=True)
    with open(root / "panda_dataset_taffc_annotations.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Song", "Quadrant"])
        w.writerows([(s, q) for s, q, _ in songs] + list(extra_rows))
    if metadata:
        with open(root / "panda_dataset_taffc_metadata.csv", "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["Song", "Artist", "Title", "Quadrant", "PQuad", "MoodsStr", "GenresStr"])
            w.writerows([(s, a, f"Title {s}", q, 0.75, "Happy; Bright", "Pop") for s, q, a in songs])
    for i, (s, q, _) in enumerate(songs):
        write_song(root / q / f"{s}{ext}", major=q in ("Q1", "Q4"), fast=q in ("Q1", "Q2"), seconds=5.0, seed=i)
    return root


def test_quadrants_become_valence_and_arousal_and_artists_the_groups(tmp_path):
    root = fourq_folder(tmp_path / "4q", extra_rows=[("MT999", "Q2")])
    assert detect_format(root) == "4q"
    tracks, desc = load_4q(root)
    by = {t.track_id: t for t in tracks}
    assert desc["missing_audio"] == ["MT999"] and desc["split_group"] == "artist"
    signs = {s: (np.sign(by[s].valence), np.sign(by[s].arousal)) for s, _, _ in SONGS}
    assert signs["MT001"] == (1, 1) and signs["MT002"] == (-1, 1) and signs["MT003"] == (-1, -1) and signs["MT004"] == (1, -1)
    assert by["MT001"].group == "Ann" == by["MT003"].group and by["MT001"].path.parent.name == "Q1"


@pytest.mark.parametrize("ext", [".mp3", ".flac", ".wav"])
def test_any_audio_extension(tmp_path, ext):
    tracks, _ = load_4q(fourq_folder(tmp_path / "4q", ext=ext, songs=SONGS[:2]))
    assert sorted(t.path.suffix for t in tracks) == [ext, ext]


def test_featurised_windows_keep_the_artist_and_splits_respect_it(tmp_path):
    fs = load_dataset(fourq_folder(tmp_path / "4q"), "auto")
    assert fs.group is not None and set(fs.group) == {"Ann", "Bob", "Cy", "Dee", "Eve"}
    # 5 s clips with the clip preset: 5 distinct 1 s windows each, none repeated
    assert len(fs) == 6 * 5 and fs.description["format"] == "4q"
    sp = split_tracks(fs, seed=0)
    for a in set(fs.group):
        parts = {p for p in ("train", "val", "test") if a in set(fs.group[sp.part(p)])}
        assert len(parts) == 1, (a, parts)


def test_without_metadata_the_split_goes_by_track(tmp_path):
    tracks, desc = load_4q(fourq_folder(tmp_path / "4q", metadata=False, songs=SONGS[:2]))
    assert all(t.group is None for t in tracks) and desc["split_group"] == "track" and "by track" in desc["note"]


def test_bad_folders_say_what_is_wrong(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="not a recognised data set"):
        detect_format(tmp_path / "empty")
    root = fourq_folder(tmp_path / "bad", songs=SONGS[:1], extra_rows=[("MT777", "Q5")])
    with pytest.raises(DatasetError, match=r"panda_dataset_taffc_annotations.csv, row 3: quadrant 'Q5'"):
        load_4q(root)
    with pytest.raises(DatasetError, match="missing panda_dataset_taffc_annotations.csv"):
        load_4q(tmp_path / "empty")
