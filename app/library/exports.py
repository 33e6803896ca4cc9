"""File > Export predictions CSV: the active model's static V-A of every track it has analysed."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from app.library.db import LibraryDB
from app.library.rows import TrackRow
from damer_core.contract.fileutil import atomic_write, check_output_file
from damer_core.contract.safe_text import spreadsheet_cell

PREDICTION_COLUMNS = ["path", "title", "artist", "valence", "arousal", "confidence", "emotion", "model"]


def _cell(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"  # empty: not predicted by this model (a one-dimension bundle)


def write_csv(path: str | Path, header: list[str], rows: list[list], text_columns: set[str],
              spreadsheet_safe: bool) -> None:
    """An export the user asked for by name (the save dialog asked before replacing a file): never
    onto a folder, written whole or not at all (atomic), names as the OS gives them (surrogate
    escapes back to their bytes); with ``spreadsheet_safe`` the text cells a spreadsheet would run
    as formulas get a leading apostrophe (damer_core.contract.safe_text.spreadsheet_cell)."""
    check_output_file(path, force=True, what="the export")
    text = [i for i, c in enumerate(header) if c in text_columns] if spreadsheet_safe else []
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow([spreadsheet_cell(str(c)) if i in text else c for i, c in enumerate(row)])
    with atomic_write(path) as f:
        f.write(buf.getvalue().encode("utf-8", "surrogateescape"))


def export_predictions(db: LibraryDB, model_key: str, model: str, word: Callable[[TrackRow], str],
                       path: str | Path, spreadsheet_safe: bool = True) -> int:
    """Write the predictions of the model ``model`` (its library key ``model_key``) to a CSV, with
    each track's emotion word (``word``, the library table's); returns how many tracks it lists."""
    rows = [r for r in db.tracks(model_key) if r.analysed]
    write_csv(path, PREDICTION_COLUMNS, [[r.path, r.title, r.artist, _cell(r.valence), _cell(r.arousal),
                                          _cell(r.confidence), word(r), Path(model).name] for r in rows],
              {"path", "title", "artist", "emotion", "model"}, spreadsheet_safe)
    return len(rows)
