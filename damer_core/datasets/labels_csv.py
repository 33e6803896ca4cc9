"""The generic labels CSV (``path,valence,arousal`` + a declared scale) and the app's own label
export (the same columns in [-1, 1], or its JSON form). Relative paths resolve against the
file's folder and may not climb out of it; absolute paths are taken as written. Several rows for
one file are averaged into one track. Every label is a finite number inside the declared scale:
anything else stops the load with the file and the row named. An optional ``artist`` or ``group``
column (JSON key) names the split group: tracks of one group never sit on both sides of a
train/validation/test split."""

from __future__ import annotations

import json
from pathlib import Path

from damer_core.contract.safe_text import from_spreadsheet_cell, shown
from damer_core.datasets.base import (
    SCALE_RANGES,
    DatasetError,
    LabelledTrack,
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


def _description(path: Path, fmt: str, scale: str, tracks: list[LabelledTrack], rows: int, warnings: list[str],
                 averaged: int) -> dict:
    desc = {"name": path.stem, "format": fmt, "root": str(path.parent), "scale": scale, "rows": rows}
    if warnings:
        desc["warnings"] = warnings
    if averaged:
        desc["averaged"] = averaged  # files labelled in several rows (annotators): their mean is trained on
    if any(t.group for t in tracks):
        desc["split_group"] = "group"
    return desc


def _track(source: Path, item: dict, where: str, scale: str) -> LabelledTrack:
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


def load_labels_csv(path: Path, scale: str = "-1..1") -> tuple[list[LabelledTrack], dict]:
    check_scale(scale)
    tracks = [
        _track(path, _unguarded(r, path.parent), f"{path.name}, row {r.line}", scale) for r in read_table(path, list(LABEL_KEYS))
    ]
    merged, warnings, averaged = merge_annotators(tracks, path.name)
    return merged, _description(path, "csv", scale, merged, len(tracks), warnings, averaged)


def _json_items(path: Path) -> tuple[list, str]:
    """The ``labels`` list of an export and its declared scale."""
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder, not a labels .json file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path.name}: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except (OSError, ValueError, RecursionError) as e:  # unreadable, not UTF-8, too deep, an endless number
        raise DatasetError(f"{path.name}: cannot be read as JSON ({one_line(e)})") from None
    items = data.get("labels") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise DatasetError(f"{path.name}: not a DAMER labels export (no \"labels\" list)")
    if not items:
        raise DatasetError(f"{path.name}: has no labels")
    scale = data.get("scale", "-1..1")
    if not isinstance(scale, str) or scale not in SCALE_RANGES:
        raise DatasetError(f"{path.name}: unknown label scale {clip(repr(scale))}; "
                           f"choose one of {', '.join(SCALE_RANGES)}")
    return items, scale


def load_labels_json(path: Path) -> tuple[list[LabelledTrack], dict]:
    """The app's JSON export: ``{"labels": [{"path", "valence", "arousal", ...}]}`` on its declared
    ``scale`` (the app writes -1..1, the default)."""
    items, scale = _json_items(path)
    tracks = []
    for i, it in enumerate(items):
        where = f"{path.name}, labels[{i}]"
        if not isinstance(it, dict):
            raise DatasetError(f"{where}: not an object with path, valence and arousal")
        missing = [k for k in LABEL_KEYS if k not in it]
        if missing:
            raise DatasetError(f"{where}: missing {', '.join(missing)}")
        tracks.append(_track(path, it, where, scale))
    merged, warnings, averaged = merge_annotators(tracks, path.name)
    return merged, _description(path, "labels-json", scale, merged, len(tracks), warnings, averaged)
