"""The app's own label export in its JSON form: ``{"labels": [{"path", "valence", "arousal", ...}],
"scale": ...}``; the rows are read as the labels CSV's are (damer_core.datasets.labels_csv)."""

from __future__ import annotations

import json
from pathlib import Path

from damer_core.datasets.base import SCALE_RANGES, DatasetError, DataSetFormat, LabelledTrack, clip, one_line
from damer_core.datasets.labels_csv import LABEL_KEYS, label_track, labelled_file


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


def load_labels_json(path: Path, audio_only: bool = False) -> tuple[list[LabelledTrack], dict]:
    """The app's JSON export: ``{"labels": [{"path", "valence", "arousal", ...}]}`` on its declared
    ``scale`` (the app writes -1..1, the default)."""
    items, scale = _json_items(path)

    def rows():
        for i, it in enumerate(items):
            where = f"{path.name}, labels[{i}]"
            if not isinstance(it, dict):
                raise DatasetError(f"{where}: not an object with path, valence and arousal")
            missing = [k for k in LABEL_KEYS if k not in it]
            if missing:
                raise DatasetError(f"{where}: missing {', '.join(missing)}")
            yield label_track(path, it, where, scale)
    return labelled_file(path, "labels-json", scale, rows(), audio_only)


FORMAT = DataSetFormat("labels-json", "a labels .json", lambda path: path.suffix.lower() == ".json",
                       lambda path, scale: load_labels_json(path, audio_only=True), suffix=".json")
