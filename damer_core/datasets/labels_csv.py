"""The generic labels CSV (``path,valence,arousal`` + a declared scale) and the app's own label
export (the same columns in [-1, 1], or its JSON form). Relative paths resolve against the
file's folder and may not climb out of it; absolute paths are taken as written. Several rows for
one file are averaged into one track. Every label is a finite number inside the declared scale:
anything else stops the load with the file and the row named. An optional ``artist`` or ``group``
column (JSON key) names the split group: tracks of one group never sit on both sides of a
train/validation/test split."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from damer_core.contract.safe_text import from_spreadsheet_cell, shown
from damer_core.datasets.base import (
    DatasetError,
    DataSetFormat,
    LabelledTrack,
    Skipped,
    check_scale,
    clip,
    label_value,
    merge_duplicates,
    one_line,
    to_unit_scale,
)
from damer_core.datasets.tables import read_table

LABEL_KEYS = ("path", "valence", "arousal")


def resolve_track_path(root: Path, raw: str, where: str) -> Path:
    """``raw`` as written when absolute, else under ``root`` (the label file's folder) and never
    outside it; ``where`` names the file and row for the error."""
    if not raw.strip():
        raise DatasetError(f"{where}: path is empty")
    if "\0" in raw:
        raise DatasetError(f"{where}: path {clip(raw, 200)!r} holds a NUL character")
    try:
        raw.encode("utf-8", "surrogateescape")  # what the file system takes: any bytes, but not a lone \ud800
    except UnicodeEncodeError:
        raise DatasetError(f"{where}: path {shown(raw, 200)!r} is not a name a file can have (a lone surrogate)") from None
    p = Path(raw)
    if p.is_absolute():
        return p
    try:
        resolved = (root / p).resolve()
    except (OSError, RuntimeError) as e:
        raise DatasetError(f"{where}: path {clip(raw, 200)!r} cannot be resolved ({one_line(e)})") from None
    if not resolved.is_relative_to(root.resolve()):
        raise DatasetError(f"{where}: path {clip(raw, 200)!r} leaves the data folder {root}")
    return resolved


def merge_annotators(tracks: list[LabelledTrack], what: str) -> tuple[list[LabelledTrack], list[str], int]:
    """One track per file: rows naming the same file (several curators, or one curator's redone
    label) are averaged, as Memo2496 averages its annotators, so a track is never trained on twice
    or split across train and test; rows repeated exactly are used once, with a warning (the one
    rule of :func:`damer_core.datasets.base.merge_duplicates`)."""
    return merge_duplicates(tracks, what, average=True)


def _group(row: dict) -> str | None:
    """The split group of a row: its ``group`` column, else its ``artist`` column, else none."""
    for key in ("group", "artist"):
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def description(path: Path, fmt: str, scale: str, tracks: list[LabelledTrack], rows: int, warnings: list[str],
                 averaged: int) -> dict:
    desc = {"name": path.stem, "format": fmt, "root": str(path.parent), "scale": scale, "rows": rows}
    if warnings:
        desc["warnings"] = warnings
    if averaged:
        desc["averaged"] = averaged  # files labelled in several rows (annotators): their mean is trained on
    if any(t.group for t in tracks):
        desc["split_group"] = "group"
    return desc


def label_track(source: Path, item: dict, where: str, scale: str) -> LabelledTrack:
    """One label, a CSV row or a JSON object alike: the same checks, the same words."""
    raw = item["path"]
    if not isinstance(raw, str):
        raise DatasetError(f"{where}: path is not a string ({clip(repr(raw))})")
    v, a = to_unit_scale([label_value(item["valence"], scale, where, "valence"),
                          label_value(item["arousal"], scale, where, "arousal")], scale)
    return LabelledTrack(resolve_track_path(source.parent, raw, where), float(v), float(a), raw, _group(item), where)


def _unguarded(row: dict, root: Path) -> dict:
    """A CSV row's text cells without the apostrophe a spreadsheet-safe export put before a
    formula character (damer_core.contract.safe_text), so the app's label export reads back exactly. A path
    that names an existing file as written (a file really called ``'=x.ogg``) is taken as written."""
    out = {k: from_spreadsheet_cell(v) if k in ("path", "artist", "group", "curator") and isinstance(v, str) else v
           for k, v in row.items()}
    raw = row.get("path")
    if isinstance(raw, str) and out["path"] != raw and not (root / out["path"]).exists() and (root / raw).exists():
        out["path"] = raw
    return out


def load_labels_csv(path: Path, scale: str = "-1..1", audio_only: bool = False) -> tuple[list[LabelledTrack], dict]:
    """The labelled tracks of a labels CSV. ``audio_only`` (training): rows whose file does not
    exist are counted, not kept (memory stays flat however many), and the file is refused when
    they are most of it."""
    return labelled_file(path, "csv", scale, label_rows(path, scale), audio_only)


def label_rows(path: Path, scale: str = "-1..1") -> Iterator[LabelledTrack]:
    """A labels CSV's rows one at a time, each checked (the file refused at its first bad row):
    for a caller that keeps only some of a very large file."""
    check_scale(scale)
    return (label_track(path, _unguarded(r, path.parent), f"{path.name}, row {r.line}", scale)
            for r in read_table(path, list(LABEL_KEYS)))


def labelled_file(path: Path, fmt: str, scale: str, rows: Iterable[LabelledTrack], audio_only: bool
                  ) -> tuple[list[LabelledTrack], dict]:
    """A labels file's tracks (one per file, annotators averaged) and description; see :func:`load_labels_csv`."""
    skipped, tracks, n, examples = Skipped(), [], 0, []
    for track in rows:
        n += 1
        if audio_only and not track.path.exists():  # a folder or a pipe is named by the decoder, in featurise
            if skipped.add("file not found", track.track_id or track.path.name):
                examples.append(f"{track.where}: {track.path.name}: file not found")
        else:
            tracks.append(track)
    if audio_only and not tracks and skipped.total:
        raise DatasetError(f"{path.name}: none of its {n} rows names an audio file that exists ({skipped.summary()}); "
                           "fix the paths (relative paths are read from the file's folder)")
    skipped.refuse_if_most(path.name, n, len(tracks))
    merged, warnings, averaged = merge_annotators(tracks, path.name)
    if skipped.total:
        warnings = [*warnings, f"skipped {skipped.total} of {n} rows: {skipped.summary()}"]
    desc = description(path, fmt, scale, merged, n, warnings, averaged)
    if skipped.total:
        desc.update(skipped=examples, **skipped.describe())
    return merged, desc


FORMAT = DataSetFormat("csv", "a labels .csv", lambda path: path.suffix.lower() == ".csv",
                       lambda path, scale: load_labels_csv(path, scale or "-1..1", audio_only=True), suffix=".csv")
