"""Data sets the trainer reads (docs/SPEC.md section 8). :func:`load_dataset` detects the layout."""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.arrays import load_arrays
from damer_core.datasets.base import DIMENSIONS, DatasetError, FeatureSet, LabelledTrack, featurise, merge_duplicates
from damer_core.datasets.registry import BY_NAME, FILE_FORMATS, FORMATS, detect_format
from damer_core.datasets.split import Split, split_tracks
from damer_core.features.spectra import CLIP, FeatureConfig
from damer_core.progress import Progress

__all__ = ["DIMENSIONS", "DatasetError", "FeatureSet", "LabelledTrack", "FORMATS", "detect_format",
           "load_dataset", "load_descriptor_set", "load_evaluation_sets", "load_unlabelled", "Split", "split_tracks"]


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
    load = BY_NAME[fmt].load
    if load is None:
        raise DatasetError(f"{path}: format {fmt} holds features, not audio with labels")
    tracks, desc = load(path, scale)
    if fmt not in FILE_FORMATS:  # a labels file averages its annotators' rows in its loader
        tracks, warnings, _ = merge_duplicates(tracks, desc.get("name", path.name), drop_conflicts=drop_conflicts)
        if warnings:
            desc["warnings"] = desc.get("warnings", []) + warnings
    for warning in desc.get("warnings", []):
        (progress or Progress("none")).message(f"warning: {warning}")
    return tracks, desc


def load_descriptor_set(path: str | Path, fmt: str = "auto", scale: str | None = None, cfg: FeatureConfig = CLIP,
                        progress: Progress | None = None, cache=None, embeddings: bool = False) -> FeatureSet:
    """Like :func:`load_dataset`, but each sample is a window's musical descriptors
    (damer_core.features.descriptors) in ``FeatureSet.descriptors``, ``mel``/``coch`` empty: the descriptors
    need the audio, so array data sets are refused. ``embeddings``: each window's row also carries
    musicnn's embedding (damer_core.features.head_inputs)."""
    path = Path(path)
    if _checked_format(path, fmt) == "arrays":
        raise DatasetError(f"{path}: precomputed arrays hold no audio to compute musical descriptors from")
    tracks, desc = labelled_tracks(path, _checked_format(path, fmt), scale, progress=progress)
    return featurise(tracks, cfg, desc, progress, cache, kind="descriptors+embeddings" if embeddings else "descriptors")


def load_evaluation_sets(kinds: tuple[str, ...], path: str | Path, fmt: str = "auto", scale: str | None = None,
                         cfg: FeatureConfig = CLIP, progress: Progress | None = None, cache=None) -> dict[str, FeatureSet]:
    """The FeatureSets a model is scored on, by kind (damer_core.models.base.Model.evaluation_sets):
    "model", "model+descriptors" (DAMER windows), "descriptors" and "descriptors+embeddings"
    (descriptor windows, with musicnn's embedding)."""
    loaders = {"model": lambda: load_dataset(path, fmt, scale, cfg, progress, cache),
               "model+descriptors": lambda: load_dataset(path, fmt, scale, cfg, progress, cache, descriptors=True),
               "descriptors": lambda: load_descriptor_set(path, fmt, scale, cfg, progress, cache),
               "descriptors+embeddings": lambda: load_descriptor_set(path, fmt, scale, cfg, progress, cache, True)}
    return {kind: loaders[kind]() for kind in kinds}


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
    from damer_core.audio.decoding import audio_files

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
