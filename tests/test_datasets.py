"""Loaders against tiny fixture folders laid out like the real releases, quirks included."""

import json

import numpy as np
import pytest
from synthdata import memo_arrays, write_song

from damer_core.datasets import DatasetError, detect_format, load_dataset, load_unlabelled
from damer_core.datasets.arrays import load_arrays
from damer_core.datasets.deam import load_deam
from damer_core.datasets.emomusic import load_emomusic
from damer_core.datasets.labels_csv import load_labels_csv
from damer_core.datasets.pmemo import load_pmemo


def pmemo(root):
    (root / "annotations").mkdir(parents=True)
    (root / "metadata.csv").write_text(
        "musicId,fileName,title,artist,album,duration,chorus_start_time,chorus_end_time\n"
        "1,1.mp3,Song A,Artist,Album,200.1,01:05,01:35\n4,4.mp3,Song B,Artist,Album,180.2,00:50,01:20\n"
        "7,7.mp3,Song C,Artist,Album,190.0,00:40,01:10\n")
    (root / "annotations" / "static_annotations.csv").write_text(
        "musicId,Arousal(mean),Valence(mean)\n1,0.9,0.75\n4,0.2,0.125\n7,0.5,0.5\n9,0.8,0.8\n")
    (root / "annotations" / "dynamic_annotations.csv").write_text(
        "musicId,frameTime,Arousal(mean),Valence(mean)\n1,15.5,0.8,0.7\n1,16.0,0.85,0.7\n")
    for i, (major, fast) in {1: (True, True), 4: (False, False), 7: (True, False)}.items():
        write_song(root / "chorus" / f"{i}.mp3", major, fast, seed=i)
    return root


def emomusic(root):
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "static_annotations.csv").write_text(
        "song_id,mean_arousal,std_arousal,mean_valence,std_valence\n2,7,1.1,3,0.9\n3,2,0.8,8,1.2\n")
    (root / "annotations" / "songs_info.csv").write_text(
        "song_id,file_name,Artist,Song title,start of the segment (min.sec),end of the segment (min.sec),Genre\n"
        "2,2.mp3,\tThe Artist\t,\tFirst Song\t,0.45,1.30,\tBlues\t\n3,3.mp3,Other\t,Second\t,1.00,1.45,Rock\t\n")
    (root / "annotations" / "arousal_cont_average.csv").write_text("song_id,sample_15000ms,sample_15500ms\n2,0.1,0.2\n")
    write_song(root / "clips_45seconds" / "2.mp3", False, True, seed=2)
    write_song(root / "clips_45seconds" / "3.mp3", True, False, seed=3)
    return root


def deam(root):
    ann = root / "DEAM_Annotations" / "annotations" / "annotations averaged per song" / "song_level"
    ann.mkdir(parents=True)
    (ann / "static_annotations_averaged_songs_1_2000.csv").write_text(
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std\n2, 3.1, 0.94, 3, 0.63\n5, 7, 1.1, 6.5, 1.2\n")
    (ann / "static_annotations_averaged_songs_2000_2058.csv").write_text(
        "song_id, valence_mean, valence_std, valence_ max_mean, valence_max_std, valence_min_mean, valence_min_std, "
        "arousal_mean, arousal_std, arousal_max_mean, arousal_max_std, arousal_min_mean, arousal_min_std\n"
        "2001, 5, 1, 6, 1, 4, 1, 9, 1, 9, 1, 8, 1\n")
    for sid, (major, fast) in {2: (False, False), 5: (True, True), 2001: (True, True)}.items():
        write_song(root / "DEAM_audio" / "MEMD_audio" / f"{sid}.mp3", major, fast, seed=sid)
    return root


def test_pmemo_scales_and_reports_missing_audio(tmp_path):
    root = pmemo(tmp_path / "PMEmo2019")
    assert detect_format(root) == "pmemo"
    tracks, desc = load_pmemo(root)
    by_id = {t.track_id: t for t in tracks}
    assert sorted(by_id) == ["1", "4", "7"] and desc["missing_audio"] == ["9"]
    assert by_id["1"].arousal == pytest.approx(0.8) and by_id["1"].valence == pytest.approx(0.5)  # 2x - 1
    assert by_id["4"].valence == pytest.approx(-0.75)
    assert by_id["1"].path.name == "1.mp3" and by_id["1"].path.parent.name == "chorus"


def test_emomusic_arousal_first_and_tabs(tmp_path):
    root = emomusic(tmp_path / "emoMusic")
    assert detect_format(root) == "emomusic"
    tracks, desc = load_emomusic(root)
    t = {x.track_id: x for x in tracks}
    assert t["2"].arousal == pytest.approx(0.5) and t["2"].valence == pytest.approx(-0.5)  # (x - 5) / 4
    assert t["3"].arousal == pytest.approx(-0.75) and t["3"].valence == pytest.approx(0.75)
    assert desc["n_titles"] == 2


def test_deam_spaces_after_commas_and_second_file(tmp_path):
    root = deam(tmp_path / "DEAM")
    assert detect_format(root) == "deam"
    tracks, _ = load_deam(root)
    t = {x.track_id: x for x in tracks}
    assert sorted(t) == ["2", "2001", "5"]
    assert t["2"].valence == pytest.approx((3.1 - 5) / 4) and t["2"].arousal == pytest.approx(-0.5)
    assert t["2001"].arousal == pytest.approx(1.0) and t["2001"].valence == pytest.approx(0.0)


def test_audio_dataset_featurises_by_track(tmp_path):
    fs = load_dataset(pmemo(tmp_path / "PMEmo2019"))
    assert fs.mel.shape == (12, 128, 87) and fs.coch.shape == (12, 84, 87)  # 3 four-second tracks x 4 clips
    assert fs.n_tracks == 3 and fs.description["n_samples"] == 12
    assert np.unique(fs.arousal[fs.track == 0]).size == 1
    assert fs.binary("arousal").sum() == 4  # only song 1 has arousal > 0.5 of 0..1


@pytest.mark.parametrize("builder,victim,message", [
    (pmemo, "annotations/static_annotations.csv", "missing static_annotations.csv"),
    (pmemo, "metadata.csv", "missing metadata.csv"),
    (emomusic, "annotations/static_annotations.csv", "not a recognised data set"),
])
def test_missing_files_are_named(tmp_path, builder, victim, message):
    root = builder(tmp_path / "ds")
    (root / victim).unlink()
    with pytest.raises(DatasetError, match=message):
        (load_pmemo if builder is pmemo else load_dataset)(root)


def test_missing_column_is_named(tmp_path):
    root = deam(tmp_path / "DEAM")
    f = next(root.rglob("static_annotations_averaged_songs_1_2000.csv"))
    f.write_text("song_id, valence_mean, valence_std\n2, 3, 1\n")
    with pytest.raises(DatasetError, match="missing column 'arousal_mean'"):
        load_deam(root)


def test_generic_csv_scales_resolves_and_guards_paths(tmp_path):
    write_song(tmp_path / "music" / "a.wav", True, True, seed=1)
    write_song(tmp_path / "music" / "sub" / "b.wav", False, False, seed=2)
    write_song(tmp_path / "music" / "c.wav", False, True, seed=3)
    csv = tmp_path / "music" / "labels.csv"
    csv.write_text(f"path,valence,arousal\na.wav,9,1\nsub/b.wav,5,7\n{tmp_path / 'music' / 'c.wav'},1,9\n")
    tracks, desc = load_labels_csv(csv, "1..9")
    assert [t.valence for t in tracks] == [1.0, 0.0, -1.0] and [t.arousal for t in tracks] == [-1.0, 0.5, 1.0]
    assert tracks[1].path == (tmp_path / "music" / "sub" / "b.wav").resolve()
    csv.write_text("path,valence,arousal\n../outside.wav,0.1,0.2\n")
    with pytest.raises(DatasetError, match="leaves the data folder"):
        load_labels_csv(csv)
    csv.write_text("file,valence,arousal\na.wav,0.1,0.2\n")
    with pytest.raises(DatasetError, match="missing column 'path'"):
        load_labels_csv(csv)
    csv.write_text("path,valence,arousal\na.wav,high,0.2\n")
    with pytest.raises(DatasetError, match="row 2: valence is not a number"):
        load_labels_csv(csv)


def test_several_curators_of_one_track_are_averaged_into_one_track(tmp_path):
    write_song(tmp_path / "a.wav", True, True, seed=1)
    write_song(tmp_path / "b.wav", False, False, seed=2)
    csv = tmp_path / "labels.csv"  # the app's export: one row per curator (a.wav twice, once by absolute path)
    csv.write_text(f"path,valence,arousal,curator,n_points\na.wav,0.6,0.2,ann,40\nb.wav,-0.5,-0.5,ann,30\n"
                   f"{tmp_path / 'a.wav'},0.2,0.6,kim,35\n")
    tracks, desc = load_labels_csv(csv)
    assert desc["rows"] == 3 and len(tracks) == 2
    a = next(t for t in tracks if t.path.name == "a.wav")
    assert a.valence == pytest.approx(0.4) and a.arousal == pytest.approx(0.4)
    fs = load_dataset(csv)
    assert fs.n_tracks == 2  # a.wav once: never in both the training and the test split


def test_labels_json_export_and_unreadable_track_is_skipped(tmp_path):
    write_song(tmp_path / "a.ogg", True, True, seed=1)
    write_song(tmp_path / "b.ogg", False, False, seed=2)
    (tmp_path / "broken.ogg").write_bytes(b"OggS" + bytes(100))
    export = tmp_path / "my_labels.json"
    export.write_text(json.dumps({"labels": [{"path": "a.ogg", "valence": 0.6, "arousal": 0.4, "curator": "ann"},
                                             {"path": "b.ogg", "valence": -0.5, "arousal": -0.2},
                                             {"path": "broken.ogg", "valence": 0.1, "arousal": 0.1}]}))
    fs = load_dataset(export)
    assert fs.n_tracks == 2 and len(fs.description["skipped"]) == 1
    assert fs.description["skipped"][0].startswith("my_labels.json, labels[2]: broken.ogg: ")  # its file and index


def test_arrays_layout_validation(tmp_path):
    root = memo_arrays(tmp_path / "Memo2496", 6)
    fs = load_arrays(root)
    assert len(fs) == 6 and fs.feature_config.name == "clip" and fs.description["name"] == "Memo2496"
    (root / "memo" / "labels" / "label_v.npy").unlink()
    with pytest.raises(DatasetError, match="missing labels/label_v.npy"):
        load_arrays(root)
    np.save(root / "memo" / "labels" / "label_v.npy", np.zeros(5))
    with pytest.raises(DatasetError, match="label_v.npy has 5 rows but mel_spec.npy has 6"):
        load_arrays(root)


def test_44_frame_pmemo_arrays(tmp_path):
    d = tmp_path / "pmemo_arrays" / "pmemo"
    (d / "labels").mkdir(parents=True)
    np.save(d / "mel_spec.npy", np.zeros((4, 128, 44), np.float32))
    np.save(d / "cochlegram.npy", np.zeros((4, 84, 44), np.float32))
    np.save(d / "labels" / "label_a.npy", np.array([0.2, 0.7, 0.9, 0.4]))
    np.save(d / "labels" / "label_v.npy", np.array([0.6, 0.5, 0.1, 0.55]))
    fs = load_arrays(tmp_path / "pmemo_arrays")
    assert fs.feature_config.n_frames == 44 and fs.feature_config.hop_length == 512
    assert fs.binary("arousal").tolist() == [0, 1, 1, 0] and fs.binary("valence").tolist() == [1, 0, 0, 1]


def test_unlabelled_pool(tmp_path):
    write_song(tmp_path / "lib" / "x.flac", True, True, seed=5)
    pool = load_unlabelled(tmp_path / "lib")
    assert len(pool) == 4 and np.isnan(pool.valence).all()  # a 4 s song: 4 distinct 1 s clips
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no audio files"):
        load_unlabelled(tmp_path / "empty")


def test_the_format_registry_gives_the_cli_choices_and_every_format_module_is_in_it():
    import pkgutil

    import damer_core.datasets as datasets
    from damer_core.cli.main import build_parser
    from damer_core.datasets.registry import REGISTRY

    modules = [m.name for m in pkgutil.iter_modules(datasets.__path__)]
    declared = [getattr(__import__(f"damer_core.datasets.{m}", fromlist=["FORMAT"]), "FORMAT", None) for m in modules]
    assert sorted(f.name for f in declared if f is not None) == sorted(f.name for f in REGISTRY)
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    choices = next(a.choices for a in train._actions if a.dest == "format")
    assert list(choices) == ["auto", *(f.name for f in REGISTRY)]
