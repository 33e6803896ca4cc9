"""Data sets the trainer reads (docs/SPEC.md section 8). :func:`load_dataset` detects the layout."""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.annotated import DEAM_FILES, load_deam, load_emomusic, load_pmemo
from damer_core.datasets.arrays import find_array_folder, load_arrays
from damer_core.datasets.base import DIMENSIONS, DatasetError, FeatureSet, LabelledTrack, featurise, find_file, merge_duplicates
from damer_core.datasets.fourq import ANNOTATIONS as FOURQ_ANNOTATIONS
from damer_core.datasets.fourq import load_4q
from damer_core.datasets.labels_csv import load_labels_csv, load_labels_json
from damer_core.datasets.split import Split, split_tracks
from damer_core.features import CLIP, FeatureConfig
from damer_core.progress import Progress

FORMATS = ("auto", "arrays", "pmemo", "emomusic", "deam", "4q", "csv", "labels-json")
FILE_FORMATS = {"csv": ".csv", "labels-json": ".json"}

__all__ = ["DIMENSIONS", "DatasetError", "FeatureSet", "LabelledTrack", "FORMATS", "detect_format",
           "load_dataset", "load_unlabelled", "Split", "split_tracks"]


def detect_format(path: Path) -> str:
    if path.is_file():
        if path.suffix.lower() == ".csv":
            return "csv"
        if path.suffix.lower() == ".json":
            return "labels-json"
        raise DatasetError(f"{path.name}: a data set is a folder, a labels .csv or a labels .json")
    if not path.is_dir():
        raise DatasetError(f"{path}: no such file or folder")
    if find_array_folder(path) is not None:
        return "arrays"
    if find_file(path, DEAM_FILES[0]) is not None:
        return "deam"
    if find_file(path, FOURQ_ANNOTATIONS) is not None:
        return "4q"
    static = find_file(path, "static_annotations.csv")
    if static is not None:
        with open(static, encoding="utf-8-sig", errors="replace") as f:
            header = f.readline(4096)  # a header line, not a garbage file's one endless line
        if "musicId" in header:
            return "pmemo"
        if "song_id" in header:
            return "emomusic"
    raise DatasetError(f"{path}: not a recognised data set (expected memo/mel_spec.npy arrays, a PMEmo, "
                       "1000 Songs, DEAM or 4Q folder, or a labels .csv/.json)")


def load_dataset(path: str | Path, fmt: str = "auto", scale: str | None = None, cfg: FeatureConfig = CLIP,
                 progress: Progress | None = None, cache=None, descriptors: bool = False,
                 drop_conflicts: bool = False) -> FeatureSet:
    """Load any supported data set as model windows. Audio data sets are featurised with ``cfg``
    through the feature cache; array data sets bring their own features. ``descriptors``: each
    window's musical descriptors too (``FeatureSet.descriptors``), which need the audio."""
    path = Path(path)
    fmt = _checked_format(path, fmt)
    if fmt == "arrays":
        if descriptors:
            raise DatasetError(f"{path}: precomputed arrays hold no audio to compute musical descriptors from")
        return load_arrays(path, scale)
    tracks, desc = labelled_tracks(path, fmt, scale, drop_conflicts, progress)
    return featurise(tracks, cfg, desc, progress, cache, kind="model+descriptors" if descriptors else "model")


def _checked_format(path: Path, fmt: str) -> str:
    """The data set's format (detected for "auto"), a known one, on the right kind of path."""
    fmt = detect_format(path) if fmt == "auto" else fmt
    if fmt not in FORMATS:
        raise DatasetError(f"unknown data-set format {fmt!r}; choose one of {', '.join(FORMATS)}")
    _check_kind(path, fmt)
    return fmt


def labelled_tracks(path: Path, fmt: str, scale: str | None, drop_conflicts: bool = False,
                    progress: Progress | None = None) -> tuple[list[LabelledTrack], dict]:
    """The audio files of an audio data set with their labels, one per track (the duplicates rule
    of :func:`damer_core.datasets.base.merge_duplicates`), and its description; the warnings it
    leaves are in ``description["warnings"]`` and said through ``progress``."""
    loaders = {"pmemo": load_pmemo, "emomusic": load_emomusic, "deam": load_deam, "4q": load_4q,
               "csv": lambda p: load_labels_csv(p, scale or "-1..1"), "labels-json": load_labels_json}
    tracks, desc = loaders[fmt](path)
    if fmt not in FILE_FORMATS:  # a labels file averages its annotators' rows in its loader
        tracks, warnings, _ = merge_duplicates(tracks, desc.get("name", path.name), drop_conflicts=drop_conflicts)
        if warnings:
            desc["warnings"] = desc.get("warnings", []) + warnings
    for warning in desc.get("warnings", []):
        (progress or Progress("none")).message(f"warning: {warning}")
    return tracks, desc


def load_descriptor_set(path: str | Path, fmt: str = "auto", scale: str | None = None, cfg: FeatureConfig = CLIP,
                        progress: Progress | None = None, cache=None) -> FeatureSet:
    """Like :func:`load_dataset`, but each sample is a window's musical descriptors
    (damer_core.descriptors) in ``FeatureSet.descriptors``, ``mel``/``coch`` empty: the descriptors
    need the audio, so array data sets are refused."""
    path = Path(path)
    if _checked_format(path, fmt) == "arrays":
        raise DatasetError(f"{path}: precomputed arrays hold no audio to compute musical descriptors from")
    tracks, desc = labelled_tracks(path, _checked_format(path, fmt), scale, progress=progress)
    return featurise(tracks, cfg, desc, progress, cache, kind="descriptors")


def _check_kind(path: Path, fmt: str) -> None:
    """A label file for the file formats, a folder for the others: the wrong one is named as such."""
    wants_file = fmt in FILE_FORMATS
    if path.is_file() if wants_file else path.is_dir():
        return
    what = f"a labels {FILE_FORMATS[fmt]} file" if wants_file else "a folder"
    if not path.exists():
        raise DatasetError(f"{path}: no such {'file' if wants_file else 'folder'} (format {fmt} takes {what})")
    raise DatasetError(f"{path}: format {fmt} takes {what}, not {'a folder' if wants_file else 'a file'}")


def load_unlabelled(folder: str | Path, cfg: FeatureConfig = CLIP, progress: Progress | None = None,
                    cache=None, descriptors: bool = False) -> FeatureSet:
    """Every audio file under ``folder`` as unlabelled windows (PCL's optional pool)."""
    from damer_core.audio import audio_files

    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: the unlabelled pool must be a folder of audio files")
    files = audio_files(folder)
    if not files:
        raise DatasetError(f"{folder}: no audio files found for the unlabelled pool")
    nan = float("nan")
    tracks = [LabelledTrack(p, nan, nan, p.name) for p in files]
    return featurise(tracks, cfg, {"name": folder.name, "format": "unlabelled", "root": str(folder)}, progress, cache,
                     kind="model+descriptors" if descriptors else "model")
