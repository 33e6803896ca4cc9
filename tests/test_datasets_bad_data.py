"""Bad data never trains silently: generated NaN / infinite / out-of-scale labels and features,
array files that are not plain numbers, odd label paths, garbage, empty and header-only files for
every loader, each refused in one line naming the file and the row or index; and a run whose loss
stops being finite stops with a message and never writes a best.pt."""

import json
import math
import tracemalloc

import numpy as np
import pytest

from damer_core.datasets import FORMATS, DatasetError, load_dataset
from damer_core.datasets.arrays import load_arrays
from damer_core.datasets.labels_csv import load_labels_csv
from damer_core.datasets.labels_json import load_labels_json


def refused(call, *args, **kw) -> str:
    """The DatasetError message of ``call``, checked to be one line."""
    with pytest.raises(DatasetError) as e:
        call(*args, **kw)
    message = str(e.value)
    assert message and "\n" not in message and "\r" not in message, repr(message)
    return message


def random_arrays(root, n=24, seed=0):
    """A Memo2496-style folder of random features; labels of both signs on both dimensions."""
    rng = np.random.default_rng(seed)
    memo = root / "memo"
    (memo / "labels").mkdir(parents=True)
    np.save(memo / "mel_spec.npy", rng.normal(size=(n, 128, 87)).astype(np.float32))
    np.save(memo / "cochlegram.npy", rng.normal(size=(n, 84, 87)).astype(np.float32))
    for dim in "av":
        np.save(memo / "labels" / f"label_{dim}.npy", rng.uniform(0.2, 0.9, n) * np.resize([1, -1], n))
    return root


def patch_array(root, name, change):
    path = root / "memo" / name
    x = np.load(path)
    change(x)
    np.save(path, x)


# -- features and labels of the array layout ---------------------------------------------------

@pytest.mark.parametrize("name,shape", [("mel_spec.npy", 128), ("cochlegram.npy", 84)])
@pytest.mark.parametrize("value,shown", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
@pytest.mark.parametrize("index", [0, 7, 11])
def test_non_finite_features_name_the_file_and_index(tmp_path, name, shape, value, shown, index):
    root = random_arrays(tmp_path / "Memo2496", n=12)
    patch_array(root, name, lambda x: x.__setitem__((index, shape - 1, 86), value))
    assert refused(load_arrays, root) == f"{name}, index {index}: holds {shown}; features must be finite numbers"


@pytest.mark.parametrize("value,shown", [(1e300, "inf"), (-1e39, "-inf")])
def test_float64_features_beyond_float32_are_caught_after_the_cast(tmp_path, value, shown):
    root = random_arrays(tmp_path / "Memo2496", n=6)
    mel = np.load(root / "memo" / "mel_spec.npy").astype(np.float64)
    mel[4, 0, 0] = value
    np.save(root / "memo" / "mel_spec.npy", mel)
    assert refused(load_arrays, root).startswith(f"mel_spec.npy, index 4: holds {shown}")


@pytest.mark.parametrize("name,dim", [("labels/label_a.npy", "arousal"), ("labels/label_v.npy", "valence")])
@pytest.mark.parametrize("value,shown", [(np.nan, "NaN"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_non_finite_array_labels(tmp_path, name, dim, value, shown):
    root = random_arrays(tmp_path / "Memo2496", n=8)
    patch_array(root, name, lambda x: x.__setitem__(5, value))
    assert refused(load_arrays, root) == f"{name}, index 5: {dim} is {shown}; labels must be finite numbers"


@pytest.mark.parametrize("scale,value", [("-1..1", 7.0), ("-1..1", -50.0), ("-1..1", 1e300), ("0..1", -0.5),
                                         ("1..9", 0.0), ("1..9", 9.5)])
def test_array_labels_outside_a_declared_scale(tmp_path, scale, value):
    root = random_arrays(tmp_path / "Memo2496", n=8)
    middle = {"-1..1": 0.5, "0..1": 0.5, "1..9": 5.0}[scale]
    for name in ("labels/label_a.npy", "labels/label_v.npy"):
        patch_array(root, name, lambda x: x.fill(middle))
    patch_array(root, "labels/label_v.npy", lambda x: x.__setitem__(2, value))
    message = refused(load_arrays, root, scale)
    assert message == f"labels/label_v.npy, index 2: valence {value:g} is outside the declared scale {scale}"


class Payload:
    """Unpickling it would create a file: proof that an object array is never unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def write_as(path, kind, tmp_path):
    good = np.zeros((3, 128, 87), np.float32)
    if kind == "npz renamed":
        with open(path, "wb") as f:
            np.savez(f, mel=good)
    elif kind == "pickle":
        import pickle

        path.write_bytes(pickle.dumps(Payload(tmp_path / "ran")))
    elif kind == "object array":
        np.save(path, np.array([Payload(tmp_path / "ran"), 1], dtype=object), allow_pickle=True)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(np.random.default_rng(3).bytes(5000))
    elif kind == "truncated":
        np.save(path, good)
        path.write_bytes(path.read_bytes()[:1000])
    elif kind == "text":
        path.write_text("1,2,3\n4,5,6\n")
    else:
        np.save(path, good.astype(kind) if isinstance(kind, str) else np.zeros(3, dtype=kind))


ARRAY_FILE_PROBLEMS = [
    ("npz renamed", "not a .npy array (a .npz archive renamed?)"),
    ("pickle", "not a .npy array (pickled Python data is refused)"),
    ("object array", "holds Python objects (dtype object); only arrays of numbers are read"),
    ("empty", "an empty file, not a .npy array"),
    ("random bytes", "not a .npy array"),
    ("text", "not a .npy array"),
    ("truncated", "cannot be read as a .npy array ("),
    ("complex64", "dtype complex64 is not a real number type"),
    ("complex128", "dtype complex128 is not a real number type"),
    ("bool", "dtype bool is not a real number type"),
    ("U3", "dtype <U3 is not a real number type"),
    ("S3", "dtype |S3 is not a real number type"),
    ("datetime64[s]", "dtype datetime64[s] is not a real number type"),
    ([("a", "<f4"), ("b", "<i4")], "a structured dtype (fields a, b) is not a real number type"),
]


@pytest.mark.filterwarnings("error")  # a complex array once trained with a ComplexWarning
@pytest.mark.parametrize("name", ["mel_spec.npy", "cochlegram.npy", "labels/label_a.npy", "labels/label_v.npy"])
@pytest.mark.parametrize("kind,problem", ARRAY_FILE_PROBLEMS, ids=[str(k) for k, _ in ARRAY_FILE_PROBLEMS])
def test_array_files_that_are_not_plain_numbers(tmp_path, name, kind, problem):
    root = random_arrays(tmp_path / "Memo2496", n=3)
    write_as(root / "memo" / name, kind, tmp_path)
    message = refused(load_arrays, root)
    assert message.startswith(f"{name}: {problem}"), message
    assert not (tmp_path / "ran").exists()


def test_guessed_array_scale_checks_finiteness_only(tmp_path):
    root = random_arrays(tmp_path / "Memo2496", n=8)  # the releases are zero-centred, their range not promised
    patch_array(root, "labels/label_a.npy", lambda x: x.__setitem__(0, 3.5))
    assert load_arrays(root).arousal[0] == 3.5


# -- label files: one rule for CSV and JSON ----------------------------------------------------

BAD_LABELS = [  # (CSV cell, JSON value, the message after "<file>, <row>: <column> ")
    ("nan", math.nan, "is NaN; labels must be finite numbers"),
    ("NaN", math.nan, "is NaN; labels must be finite numbers"),
    ("inf", math.inf, "is inf; labels must be finite numbers"),
    ("Infinity", math.inf, "is inf; labels must be finite numbers"),
    ("-inf", -math.inf, "is -inf; labels must be finite numbers"),
    ("1e400", 1e400, "is inf; labels must be finite numbers"),
    ("7", 7, "7 is outside the declared scale -1..1"),
    ("-50", -50, "-50 is outside the declared scale -1..1"),
    ("1e300", 1e300, "1e+300 is outside the declared scale -1..1"),
    ("1.01", 1.01, "1.01 is outside the declared scale -1..1"),
    ("-1.5", -1.5, "-1.5 is outside the declared scale -1..1"),
    ("high", "high", "is not a number ('high')"),
    ("", "", "is not a number ('')"),
    ("0x10", "0x10", "is not a number ('0x10')"),
]


def csv_with_bad_row(path, column, cell, position):
    rows = [["a.wav", "0.5", "-0.5"], ["b.wav", "-0.25", "0.75"], ["c.wav", "1", "-1"]]
    bad = ["d.wav", "0.1", "0.1"]
    bad[1 if column == "valence" else 2] = cell
    rows.insert(position, bad)
    path.write_text("path,valence,arousal\n" + "".join(",".join(r) + "\n" for r in rows))
    return position + 2  # the line: header first, 1-based


def json_with_bad_item(path, column, value, position):
    items = [{"path": p, "valence": v, "arousal": a} for p, v, a in [("a.wav", 0.5, -0.5), ("b.wav", -0.25, 0.75)]]
    items.insert(position, {"path": "d.wav", "valence": 0.1, "arousal": 0.1, column: value})
    path.write_text(json.dumps({"labels": items}))
    return position


@pytest.mark.parametrize("column", ["valence", "arousal"])
@pytest.mark.parametrize("position", [0, 3])
@pytest.mark.parametrize("cell,value,problem", BAD_LABELS, ids=[c or "empty" for c, _, _ in BAD_LABELS])
def test_csv_and_json_labels_follow_one_rule(tmp_path, column, position, cell, value, problem):
    line = csv_with_bad_row(tmp_path / "labels.csv", column, cell, position)
    assert refused(load_labels_csv, tmp_path / "labels.csv") == f"labels.csv, row {line}: {column} {problem}"
    index = json_with_bad_item(tmp_path / "labels.json", column, value, min(position, 2))
    assert refused(load_labels_json, tmp_path / "labels.json") == f"labels.json, labels[{index}]: {column} {problem}"


@pytest.mark.parametrize("value", [None, True, [0.5], {"v": 1}])
def test_json_label_values_that_are_not_numbers(tmp_path, value):
    json_with_bad_item(tmp_path / "labels.json", "arousal", value, 1)
    expected = f"labels.json, labels[1]: arousal is not a number ({value!r})"
    assert refused(load_labels_json, tmp_path / "labels.json") == expected


@pytest.mark.parametrize("scale,bad,good", [("1..9", ["0.99", "9.01", "-5", "50"], ["1", "9", "5.5"]),
                                            ("0..1", ["-0.01", "1.5"], ["0", "1", "0.5"]),
                                            ("-1..1", ["-1.001", "2"], ["-1", "1", "1.0000001"])])
def test_each_scale_bounds_the_labels(tmp_path, scale, bad, good):
    csv = tmp_path / "labels.csv"
    for cell in bad:
        csv.write_text(f"path,valence,arousal\na.wav,{good[0]},{good[0]}\nb.wav,{cell},{good[0]}\n")
        expected = f"labels.csv, row 3: valence {float(cell):g} is outside the declared scale {scale}"
        assert refused(load_labels_csv, csv, scale) == expected
    csv.write_text("path,valence,arousal\n" + "".join(f"x.wav,{g},{good[0]}\n" for g in good))
    tracks, _ = load_labels_csv(csv, scale)
    assert all(-1.0 <= t.valence <= 1.0 for t in tracks)


def test_row_numbers_are_line_numbers_past_blank_lines_and_multi_line_cells(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text('path,valence,arousal\n\na.wav,0.1,0.2\n"multi\nline.wav",0.3,0.4\n\n\nz.wav,nan,0.2\n')
    assert refused(load_labels_csv, csv) == "labels.csv, row 8: valence is NaN; labels must be finite numbers"


@pytest.mark.parametrize("encoding,named", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16"), ("utf-16-be", "UTF-16"),
                                            ("utf-32", "UTF-32")])
@pytest.mark.parametrize("sep", [",", "\t"])
def test_a_unicode_text_csv_is_named_with_what_to_do(tmp_path, encoding, named, sep):
    """Excel's "Unicode text" (UTF-16 with a byte-order mark, tabs) and its relatives, generated."""
    body = sep.join(["path", "valence", "arousal"]) + "\n" + sep.join(["café.wav", "0.5", "-0.5"]) + "\n"
    (tmp_path / "labels.csv").write_bytes(body.encode(encoding))
    message = refused(load_labels_csv, tmp_path / "labels.csv")
    assert message.startswith(f"labels.csv: is {named} text") and "CSV UTF-8" in message


def test_short_rows_are_named_not_a_traceback(tmp_path):
    (tmp_path / "labels.csv").write_text("path,valence,arousal\na.wav,0.1,0.2\nb.wav,0.5\n")
    assert refused(load_labels_csv, tmp_path / "labels.csv") == "labels.csv, row 3: arousal is not a number ('')"


def annotation_folder(root, kind, body):
    """A PMEmo / 1000 Songs / DEAM folder whose annotation file holds ``body`` under its real header."""
    header, name = {
        "pmemo": ("musicId,Arousal(mean),Valence(mean)", "static_annotations.csv"),
        "emomusic": ("song_id,mean_arousal,std_arousal,mean_valence,std_valence", "static_annotations.csv"),
        "deam": ("song_id, valence_mean, valence_std, arousal_mean, arousal_std",
                 "static_annotations_averaged_songs_1_2000.csv"),
    }[kind]
    (root / "annotations").mkdir(parents=True)
    if kind == "pmemo":
        (root / "metadata.csv").write_text("musicId,fileName\n1,1.mp3\n")
    (root / "annotations" / name).write_text(header + "\n" + body)
    return root, name


@pytest.mark.parametrize("kind,body,expected", [
    ("pmemo", "1,0.5,0.5\n2,nan,0.5\n", "row 3: Arousal(mean) is NaN"),
    ("pmemo", "1,0.5,1.5\n", "row 2: Valence(mean) 1.5 is outside the declared scale 0..1"),
    ("emomusic", "2,7,1,3,1\n3,2,1,inf,1\n", "row 3: mean_valence is inf"),
    ("emomusic", "2,0,1,3,1\n", "row 2: mean_arousal 0 is outside the declared scale 1..9"),
    ("deam", "2, 3, 1, 3, 1\n\n5, -inf, 1, 6, 1\n", "row 4: valence_mean is -inf"),
    ("deam", "2, 3, 1, 10, 1\n", "row 2: arousal_mean 10 is outside the declared scale 1..9"),
])
def test_release_annotations_are_checked_too(tmp_path, kind, body, expected):
    root, name = annotation_folder(tmp_path / kind, kind, body)
    assert refused(load_dataset, root, kind).startswith(f"{name}, {expected}")


# -- garbage, empty and header-only files ------------------------------------------------------

MB50 = 50 * 1024 * 1024


def garbage(kind: str) -> bytes:
    rng = np.random.default_rng(50)
    header = b"path,valence,arousal\n"
    return {
        "random bytes": lambda: rng.bytes(MB50),
        "header then random bytes": lambda: header + rng.bytes(MB50),
        "one line of commas": lambda: b"," * MB50,
        "header then one endless line": lambda: header + b"a" * MB50,
        "header then text rows": lambda: header + b"x.wav,zz,yy\n" * (MB50 // 12),
        "quote never closed": lambda: header + b'"' + b"a,b\n" * (MB50 // 4),
    }[kind]()


@pytest.mark.parametrize("kind", ["random bytes", "header then random bytes", "one line of commas",
                                  "header then one endless line", "header then text rows", "quote never closed"])
def test_a_50_mb_garbage_csv_fails_at_once_in_little_memory(tmp_path, kind):
    path = tmp_path / "labels.csv"
    path.write_bytes(garbage(kind))
    tracemalloc.start()
    try:
        message = refused(load_dataset, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert message.startswith("labels.csv")
    assert peak < 8 * 1024 * 1024, f"{peak / 1e6:.0f} MB for a {MB50 // 2**20} MB file"


def test_a_garbage_annotation_file_in_a_folder_is_not_read_whole(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "static_annotations.csv").write_bytes(b"x" * MB50)
    tracemalloc.start()
    try:
        message = refused(load_dataset, tmp_path / "ds")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "not a recognised data set" in message and peak < 8 * 1024 * 1024


@pytest.mark.parametrize("kind", ["csv", "pmemo", "emomusic", "deam", "4q"])
def test_header_only_files(tmp_path, kind):
    if kind == "csv":
        path = tmp_path / "labels.csv"
        path.write_text("path,valence,arousal\n\n")
        assert refused(load_dataset, path) == "labels.csv: has a header but no rows"
        return
    if kind == "4q":
        (tmp_path / kind).mkdir()
        (tmp_path / kind / "panda_dataset_taffc_annotations.csv").write_text("Song,Quadrant\n")
        name = "panda_dataset_taffc_annotations.csv"
    else:
        _, name = annotation_folder(tmp_path / kind, kind, "")
    assert refused(load_dataset, tmp_path / kind, kind) == f"{name}: has a header but no rows"


@pytest.mark.parametrize("text,problem", [
    ("", "not valid JSON (Expecting value at line 1, column 1)"),
    ("{", "not valid JSON ("),
    ('{"labels": [{"path": "a.wav", "valence": 0.1,}]}', "not valid JSON ("),
    ("[1, 2]", 'not a DAMER labels export (no "labels" list)'),
    ('{"labels": 5}', 'not a DAMER labels export (no "labels" list)'),
    ('{"labels": []}', "has no labels"),
    ('{"labels": [1]}', "labels[0]: not an object with path, valence and arousal"),
    ('{"labels": [{"path": "a.wav", "valence": 0.1}]}', "labels[0]: missing arousal"),
    ('{"labels": [{"valence": 0.1, "arousal": 0.2}]}', "labels[0]: missing path"),
    ('{"labels": [{"path": 5, "valence": 0.1, "arousal": 0.2}]}', "labels[0]: path is not a string (5)"),
    ('{"scale": "1..10", "labels": [{"path": "a", "valence": 1, "arousal": 1}]}', "unknown label scale '1..10'"),
    ("[" * 200_000, "cannot be read as JSON ("),
    ('{"labels": [{"path": "a.wav", "valence": 1' + "0" * 5000 + ', "arousal": 0}]}', "cannot be read as JSON ("),
    (b"\xff\xfe{\x00".decode("latin-1"), "cannot be read as JSON ("),
])
def test_malformed_label_json(tmp_path, text, problem):
    path = tmp_path / "labels.json"
    path.write_bytes(text.encode("latin-1") if text.startswith("\xff") else text.encode())
    message = refused(load_dataset, path)
    assert message.startswith("labels.json") and problem in message, message


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_empty_folder_says_what_is_missing_for_every_format(tmp_path, fmt):
    empty = tmp_path / "empty"
    empty.mkdir()
    message = refused(load_dataset, empty, fmt)
    assert str(empty) in message, message
    missing = tmp_path / "nowhere"
    assert str(missing) in refused(load_dataset, missing, fmt)


@pytest.mark.parametrize("fmt,problem", [("csv", "format csv takes a labels .csv file, not a folder"),
                                         ("labels-json", "format labels-json takes a labels .json file, not a folder"),
                                         ("arrays", "no mel_spec.npy here"),
                                         ("pmemo", "PMEmo folder"), ("emomusic", "missing static_annotations.csv"),
                                         ("deam", "missing static_annotations_averaged_songs_1_2000.csv"),
                                         ("4q", "missing panda_dataset_taffc_annotations.csv"),
                                         ("auto", "not a recognised data set")])
def test_empty_folder_messages(tmp_path, fmt, problem):
    assert problem in refused(load_dataset, tmp_path, fmt)


def test_a_file_where_a_folder_is_needed(tmp_path):
    (tmp_path / "labels.csv").write_text("path,valence,arousal\n")
    assert refused(load_dataset, tmp_path / "labels.csv", "pmemo").endswith("format pmemo takes a folder, not a file")
