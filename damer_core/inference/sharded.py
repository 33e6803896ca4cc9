"""``damer-core predict --output results.csv`` over a collection of any size: resumable, and
sharded across the ranks of ``torchrun --nproc_per_node=N [--nnodes=M ...]``.

Rank r predicts every N-th file (r, r + N, ...), appending each result to
``results.csv.part<r>`` as it is made. When every rank is done, rank 0 merges the parts into
``results.csv`` (in the input order, written atomically) and removes them. A rerun skips every
file already in ``results.csv`` or in a part, so a run stopped after 900,000 of a million files
predicts only the last 100,000; files that failed are tried again.
"""

from __future__ import annotations

import csv
import functools
import glob
import io
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from damer_core.contract.fileutil import atomic_write, first_line
from damer_core.contract.safe_text import from_spreadsheet_cell, spreadsheet_cell

# one row per file, here and in `predict --format csv`; "emotion" is the word the app shows (damer_core.contract.emotions)
COLUMNS = ["path", "valence", "arousal", "confidence", "emotion", "duration", "error", "warning"]
TEXT_COLUMNS = ("path", "emotion", "error", "warning")  # the others are numbers this program formats
# File names travel as the OS gives them: bytes that are not UTF-8 are written back as the same bytes.
ENCODING: dict[str, Any] = {"encoding": "utf-8", "errors": "surrogateescape"}


def is_empty_file(path: Path) -> bool:
    """A file of 0 bytes: nothing in it can be lost (a part an older version began on a full disk)."""
    try:
        return path.stat().st_size == 0
    except OSError:
        return False


def is_results_file(path: Path) -> bool:
    """True when ``path`` is an earlier ``predict --output`` (or one of its parts) to resume: the
    results header, then rows of exactly its columns, each with a path; only the last line may be
    cut off (the row being written when a run died). Anything else is not ours to rewrite."""
    try:
        if first_line(path) != ",".join(COLUMNS).encode():
            return False
        with open(path, newline="", **ENCODING) as f:
            text = f.read()
    except OSError:
        return False
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    return all(len(row) == len(COLUMNS) and row[0] for row in rows)


def safe_row(row: list[str], spreadsheet_safe: bool) -> list[str]:
    """A row in COLUMNS order with its text cells made safe for a spreadsheet
    (damer_core.contract.safe_text.spreadsheet_cell), unless written raw for machine use."""
    if not spreadsheet_safe:
        return row
    return [spreadsheet_cell(c) if col in TEXT_COLUMNS else c for col, c in zip(COLUMNS, row)]


def part_files(output: Path) -> list[Path]:
    """The rank parts of ``output`` on disk (``results.csv.part0``, ``.part1``...)."""
    return sorted(p for p in output.parent.glob(f"{glob.escape(output.name)}.part*")
                  if p.name[len(output.name) + 5:].isdigit())


def part_path(output: Path, rank: int) -> Path:
    return output.with_name(f"{output.name}.part{rank}")


def read_rows(path: Path, spreadsheet_safe: bool = True) -> list[dict[str, str]]:
    """The complete rows of a results CSV; a last line cut off by a crash is ignored. Text cells
    lose the apostrophe a spreadsheet-safe run put before them (not those of a ``--csv-raw`` run)."""
    if not path.is_file():
        return []
    with open(path, newline="", **ENCODING) as f:  # newline="": a \r inside a quoted name is kept
        text = f.read()
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]  # the row being written when the process died
    rows = [row for row in csv.DictReader(io.StringIO(text, newline="")) if row.get("path")]
    for row in rows if spreadsheet_safe else []:
        for col in TEXT_COLUMNS:
            if row.get(col):
                row[col] = from_spreadsheet_cell(row[col])
    return rows


def same_file(path: str) -> str:
    """A file's key for resuming: one file named two ways (``song.ogg``, ``./a/../song.ogg``, its
    absolute path, a symbolic or hard link to it) is done once: its device and inode while it
    exists, else its resolved path. Relative names resolve from the folder the command runs in."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return os.path.realpath(path)
    return f"inode:{st.st_dev}:{st.st_ino}"


def finished(rows: Iterable[dict[str, str]]) -> set[str]:
    """The files (:func:`same_file`) predicted without an error (a failed one is tried again)."""
    return {same_file(row["path"]) for row in rows if not row.get("error")}


def row_of(result: dict) -> list[str]:
    """A result's CSV row, in :data:`COLUMNS` order."""
    cell = lambda x: "" if x is None else f"{x:.4f}"  # noqa: E731 - empty: not predicted by this bundle
    return ([result["path"]] + [cell(result.get(k)) for k in ("valence", "arousal", "confidence")]
            + [emotion_word(result), cell(result.get("duration")), result.get("error", ""), result.get("warning", "")])


def emotion_word(result: dict) -> str:
    """The circle's word for a result's static V-A ("" for an error, or where a dimension is not
    predicted); near an axis only what is known, e.g. "high energy" (damer_core.contract.emotions.read_point)."""
    from damer_core.contract.emotions import read_point

    v, a = result.get("valence"), result.get("arousal")
    if result.get("error") or v is None or a is None or result.get("warning"):
        return ""
    return read_point(float(v), float(a), _terms()).word


@functools.lru_cache(maxsize=1)
def _terms():
    from damer_core.contract.emotions import load_emotion_terms

    return load_emotion_terms()


def predict_shard(files: list[Path], output: Path, rank: int, world: int,
                  predict_one: Callable[[Path], dict], on_file: Callable[[dict], None] | None = None,
                  spreadsheet_safe: bool = True, keep_output: bool = True) -> int:
    """Predict this rank's share of ``files`` not yet done, appending rows to its part file.
    Returns the number of files predicted now."""
    part = part_path(output, rank)
    safe = spreadsheet_safe
    done = (finished(read_rows(output, safe)) if keep_output else set()) | finished(read_rows(part, safe))
    # The part is (re)written whole before rows are appended: with its header when new (a full
    # disk then leaves no empty stub), without a row cut off by a crash when resumed.
    with atomic_write(part) as f:
        f.write(_csv_text(read_rows(part, safe), spreadsheet_safe).encode(**ENCODING))
    todo = [f for i, f in enumerate(files) if i % world == rank and same_file(str(f)) not in done]
    try:
        with open(part, "a", newline="", **ENCODING) as out:
            writer = csv.writer(out)  # "\r\n" (RFC 4180): a name holding \r is quoted
            for path in todo:
                result = predict_one(path)
                writer.writerow(safe_row(row_of(result), spreadsheet_safe))
                out.flush()
                if on_file is not None:
                    on_file(result)
    except OSError as e:  # a full disk, also when closing: name the file
        if e.filename is None:
            raise OSError(e.errno, e.strerror or str(e), str(part)) from None
        raise
    return len(todo)


def merge(files: list[Path], output: Path, world: int, spreadsheet_safe: bool = True, keep_output: bool = True) -> int:
    """Rank 0, after every rank finished: ``output`` = its earlier rows + every part, one row per
    path (a later success replaces an earlier error), in the input order; the parts are removed.
    ``keep_output`` False: ``output`` is not an earlier results file (``--force``) and is replaced.
    Returns the number of rows."""
    parts = part_files(output)
    by_file: dict[str, dict[str, str]] = {}  # one row per file (same_file), however it was named
    for source in [output, *parts] if keep_output else parts:
        for row in read_rows(source, spreadsheet_safe):
            key = same_file(row["path"])
            if key not in by_file or by_file[key].get("error"):
                by_file[key] = row
    order = {same_file(str(f)): i for i, f in enumerate(files)}
    rows = sorted(by_file.values(), key=lambda r: (order.get(same_file(r["path"]), len(order)), r["path"]))
    with atomic_write(output) as f:
        f.write(_csv_text(rows, spreadsheet_safe).encode(**ENCODING))
    for p in parts:
        p.unlink(missing_ok=True)
    return len(rows)


def _csv_text(rows: list[dict[str, str]], spreadsheet_safe: bool) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(safe_row([row.get(c, "") or "" for c in COLUMNS], spreadsheet_safe) for row in rows)
    return buf.getvalue()


def model_record_path(output: Path) -> Path:
    """Beside the results: which model predicted their rows (a rerun with another one must not keep them)."""
    return output.with_name(f".{output.name}.model")


def model_identity(checkpoint: str | Path) -> dict[str, str]:
    """The model a results file's rows come from: its file's name and the SHA-256 of its bytes
    (a copy or a renamed file is the same model; a retrained one is not)."""
    import hashlib

    from damer_core.models.checkpoint import check_file

    check_file(Path(checkpoint))  # a missing or broken bundle is named as loading it would name it
    digest = hashlib.sha256()
    with open(checkpoint, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"name": Path(checkpoint).name, "sha256": digest.hexdigest()}


def recorded_model(output: Path) -> dict[str, str] | None:
    """The model recorded beside ``output``; None where there is no readable record (results
    written before records were kept, or no results yet)."""
    import json

    try:
        record = json.loads(model_record_path(output).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("sha256"), str) else None


def write_model_record(output: Path, identity: dict[str, str]) -> None:
    import json

    with atomic_write(model_record_path(output)) as f:
        f.write(json.dumps(identity).encode())
