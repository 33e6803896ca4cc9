"""CSV reading that survives the real data sets' quirks: stray tabs, spaces after commas, BOMs.

Rows are read one at a time and every line is length-capped, so a huge or garbage file fails on
its first bad line instead of being read into memory whole."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from damer_core.datasets.base import DatasetError, clip, one_line, printable

# Far above any real annotation row; a longer line is binary garbage or a one-line dump.
MAX_LINE = 64 * 1024


class Row(dict):
    """A CSV row (header -> value) that knows its 1-based line number, header included."""

    line: int = 0


def _capped_lines(f, path: Path) -> Iterator[str]:
    n = 0
    while line := f.readline(MAX_LINE + 1):
        n += 1
        if len(line) > MAX_LINE:
            raise DatasetError(f"{path.name}, line {n}: longer than {MAX_LINE // 1024} KiB; not a CSV table")
        yield line


def read_table(path: Path, required: list[str], require_rows: bool = True) -> Iterator[Row]:
    """Rows with every header and value stripped of spaces and tabs, lazily; a missing file or
    column, an unreadable line, or (with ``require_rows``) a header without rows raises
    :class:`DatasetError` naming the file."""
    if not path.is_file():
        raise DatasetError(f"{path}: is a folder, not a CSV file" if path.is_dir() else f"missing file {path}")
    try:
        _check_encoding(path)
        with open(path, newline="", encoding="utf-8-sig", errors="surrogateescape") as f:
            sample = f.readline(MAX_LINE)  # the header decides: rows may hold either character freely
            f.seek(0)
            delimiter = ";" if sample.count(";") > sample.count(",") else ","
            reader = csv.reader(_capped_lines(f, path), delimiter=delimiter)
            header = [h.strip(" \t\r\n\"") for h in next(reader, [])]
            _check_header(path, header, required)
            n = 0
            line = reader.line_num + 1
            for cells in reader:
                if any(c.strip() for c in cells):
                    cells += [""] * (len(header) - len(cells))  # a short row: its missing cells are empty
                    row = Row((h, v.strip(" \t\r\n\"")) for h, v in zip(header, cells))
                    row.line = line
                    n += 1
                    yield row
                line = reader.line_num + 1
    except (OSError, csv.Error) as e:
        raise DatasetError(f"{path.name}: cannot be read ({one_line(e)})") from None
    if require_rows and n == 0:
        raise DatasetError(f"{path.name}: has a header but no rows")


def _check_encoding(path: Path) -> None:
    """UTF-8 (or ASCII) is read; UTF-16 and UTF-32, which spreadsheets write as "Unicode text",
    are named with what to do instead of a header of garbled characters."""
    with open(path, "rb") as f:
        head = f.read(4096)
    encoding = next((name for bom, name in ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
                                             (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16")) if head.startswith(bom)), "")
    if not encoding and head and head.count(b"\x00") > len(head) // 4:  # UTF-16 without its mark: every other byte 0
        encoding = "UTF-16"
    if encoding:
        raise DatasetError(f"{path.name}: is {encoding} text (a spreadsheet's \"Unicode text\"); save it as "
                           "\"CSV UTF-8 (comma delimited)\" and use that file")


def _check_header(path: Path, header: list[str], required: list[str]) -> None:
    missing = [c for c in required if c not in header]
    if missing:
        found = ", ".join(printable(clip(h)) for h in header[:20]) or "nothing"
        raise DatasetError(f"{path.name}: missing column{'s' if len(missing) > 1 else ''} "
                           f"{', '.join(repr(c) for c in missing)} (found: {clip(found, 200)})")
