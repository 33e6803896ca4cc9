"""CSV reading that survives the real data sets' quirks: stray tabs, spaces after commas, BOMs."""

from __future__ import annotations

import csv
from pathlib import Path

from damer_core.datasets.base import DatasetError


def read_table(path: Path, required: list[str]) -> list[dict[str, str]]:
    """Rows as dicts with every header and value stripped of spaces and tabs; a missing file or
    column raises :class:`DatasetError` naming it."""
    if not path.is_file():
        raise DatasetError(f"missing file {path}")
    try:
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as f:
            sample = f.read(4096)
            f.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            reader = csv.reader(f, delimiter=delimiter)
            header = [h.strip(" \t\r\n\"") for h in next(reader, [])]
            rows = [{h: v.strip(" \t\r\n\"") for h, v in zip(header, row)} for row in reader if any(c.strip() for c in row)]
    except (OSError, csv.Error) as e:
        raise DatasetError(f"{path.name}: cannot be read ({e})") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DatasetError(f"{path.name}: missing column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(repr(c) for c in missing)} (found: {', '.join(header) or 'nothing'})")
    return rows


def parse_float(value: str, path: Path, row: int, column: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{path.name}, row {row + 2}: {column} is not a number ({value!r})") from None
