"""The generic labels CSV (``path,valence,arousal`` + a declared scale) and the app's own label
export (the same columns in [-1, 1], or its JSON form). Relative paths resolve against the
file's folder and may not climb out of it; absolute paths are taken as written. Several rows for
one file are averaged into one track. An optional ``artist`` or ``group`` column (JSON key) names
the split group: tracks of one group never sit on both sides of a train/validation/test split."""

from __future__ import annotations

import json
import math
from pathlib import Path

from damer_core.datasets.base import DatasetError, LabelledTrack, to_unit_scale
from damer_core.datasets.tables import parse_float, read_table


def resolve_track_path(root: Path, raw: str, source: Path, row: int) -> Path:
    p = Path(raw)
    if p.is_absolute():
        return p
    resolved = (root / p).resolve()
    if not resolved.is_relative_to(root.resolve()):
        raise DatasetError(f"{source.name}, row {row + 2}: path {raw!r} leaves the data folder {root}")
    return resolved


def merge_annotators(tracks: list[LabelledTrack]) -> list[LabelledTrack]:
    """One track per file: rows naming the same file (several curators, or one curator's redone
    label) are averaged, as Memo2496 averages its annotators, so a track is never trained on twice
    or split across train and test."""
    groups: dict[Path, list[LabelledTrack]] = {}
    for t in tracks:
        groups.setdefault(t.path, []).append(t)
    merged = []
    for path, group in groups.items():
        v = [t.valence for t in group if math.isfinite(t.valence)]
        a = [t.arousal for t in group if math.isfinite(t.arousal)]
        split_group = next((t.group for t in group if t.group), None)
        merged.append(LabelledTrack(path, sum(v) / len(v) if v else math.nan, sum(a) / len(a) if a else math.nan,
                                    group[0].track_id, split_group))
    return merged


def _group(row: dict) -> str | None:
    """The split group of a row: its ``group`` column, else its ``artist`` column, else none."""
    for key in ("group", "artist"):
        value = row.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def _description(path: Path, fmt: str, scale: str, tracks: list[LabelledTrack], rows: int) -> dict:
    desc = {"name": path.stem, "format": fmt, "root": str(path.parent), "scale": scale, "rows": rows}
    if any(t.group for t in tracks):
        desc["split_group"] = "group"
    return desc


def load_labels_csv(path: Path, scale: str = "-1..1") -> tuple[list[LabelledTrack], dict]:
    table = read_table(path, ["path", "valence", "arousal"])
    root = path.parent
    tracks = []
    for i, r in enumerate(table):
        v, a = to_unit_scale([parse_float(r["valence"], path, i, "valence"),
                              parse_float(r["arousal"], path, i, "arousal")], scale)
        tracks.append(LabelledTrack(resolve_track_path(root, r["path"], path, i), float(v), float(a), r["path"], _group(r)))
    if not tracks:
        raise DatasetError(f"{path.name}: has a header but no rows")
    merged = merge_annotators(tracks)
    return merged, _description(path, "csv", scale, merged, len(tracks))


def load_labels_json(path: Path) -> tuple[list[LabelledTrack], dict]:
    """The app's JSON export: ``{"labels": [{"path", "valence", "arousal", ...}]}`` in [-1, 1]."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        items = data["labels"]
        tracks = [LabelledTrack(resolve_track_path(path.parent, str(it["path"]), path, i),
                                float(it["valence"]), float(it["arousal"]), str(it["path"]), _group(it))
                  for i, it in enumerate(items)]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"{path.name}: not a DAMER labels export ({e})") from None
    bad = [t.track_id for t in tracks if not (math.isfinite(t.valence) and math.isfinite(t.arousal))]
    if bad:
        raise DatasetError(f"{path.name}: labels that are not numbers for {', '.join(bad[:3])}")
    merged = merge_annotators(tracks)
    return merged, _description(path, "labels-json", "-1..1", merged, len(tracks))
