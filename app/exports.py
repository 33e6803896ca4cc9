"""File > Export predictions CSV: the active model's static V-A of every track it has analysed."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from app.library_db import LibraryDB, TrackRow

PREDICTION_COLUMNS = ["path", "title", "artist", "valence", "arousal", "confidence", "emotion", "model"]


def _cell(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"  # empty: not predicted by this model (a one-dimension bundle)


def export_predictions(db: LibraryDB, model_key: str, model: str, word: Callable[[TrackRow], str],
                       path: str | Path) -> int:
    """Write the predictions of the model ``model`` (its library key ``model_key``) to a CSV, with
    each track's emotion word (``word``, the library table's); returns how many tracks it lists."""
    rows = [r for r in db.tracks(model_key) if r.analysed]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(PREDICTION_COLUMNS)
        for r in rows:
            w.writerow([r.path, r.title, r.artist, _cell(r.valence), _cell(r.arousal), _cell(r.confidence),
                        word(r), Path(model).name])
    return len(rows)
