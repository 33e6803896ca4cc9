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
import io
from pathlib import Path
from typing import Callable, Iterable

from damer_core.fileutil import atomic_write

# one row per file, here and in `predict --format csv`; "emotion" is the word the app shows (damer_core.emotions)
COLUMNS = ["path", "valence", "arousal", "confidence", "emotion", "duration", "error", "warning"]


def part_path(output: Path, rank: int) -> Path:
    return output.with_name(f"{output.name}.part{rank}")


def read_rows(path: Path) -> list[dict[str, str]]:
    """The complete rows of a results CSV; a last line cut off by a crash is ignored."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]  # the row being written when the process died
    return [row for row in csv.DictReader(io.StringIO(text)) if row.get("path")]


def finished(rows: Iterable[dict[str, str]]) -> set[str]:
    """Paths predicted without an error (a failed file is tried again on the next run)."""
    return {row["path"] for row in rows if not row.get("error")}


def row_of(result: dict) -> list[str]:
    """A result's CSV row, in :data:`COLUMNS` order."""
    cell = lambda x: "" if x is None else f"{x:.4f}"  # noqa: E731 - empty: not predicted by this bundle
    return ([result["path"]] + [cell(result.get(k)) for k in ("valence", "arousal", "confidence")]
            + [emotion_word(result), cell(result.get("duration")), result.get("error", ""), result.get("warning", "")])


def emotion_word(result: dict) -> str:
    """The circle's word for a result's static V-A ("" for an error, or where a dimension is not
    predicted); near an axis only what is known, e.g. "high energy" (damer_core.emotions.read_point)."""
    from damer_core.emotions import read_point

    v, a = result.get("valence"), result.get("arousal")
    if result.get("error") or v is None or a is None or result.get("warning"):
        return ""
    return read_point(float(v), float(a), _terms()).word


@functools.lru_cache(maxsize=1)
def _terms():
    from damer_core.emotions import load_emotion_terms

    return load_emotion_terms()


def predict_shard(files: list[Path], output: Path, rank: int, world: int,
                  predict_one: Callable[[Path], dict], on_file: Callable[[dict], None] | None = None) -> int:
    """Predict this rank's share of ``files`` not yet done, appending rows to its part file.
    Returns the number of files predicted now."""
    part = part_path(output, rank)
    done = finished(read_rows(output)) | finished(read_rows(part))
    if part.is_file():  # drop a row cut off by a crash before appending after it
        rows = read_rows(part)
        with atomic_write(part) as f:
            f.write(_csv_text(rows).encode())
    todo = [f for i, f in enumerate(files) if i % world == rank and str(f) not in done]
    new = not part.is_file()
    with open(part, "a", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        if new:
            writer.writerow(COLUMNS)
        for path in todo:
            result = predict_one(path)
            writer.writerow(row_of(result))
            out.flush()
            if on_file is not None:
                on_file(result)
    return len(todo)


def merge(files: list[Path], output: Path, world: int) -> int:
    """Rank 0, after every rank finished: ``output`` = its earlier rows + every part, one row per
    path (a later success replaces an earlier error), in the input order; the parts are removed.
    Returns the number of rows."""
    parts = [p for p in output.parent.glob(f"{output.name}.part*") if p.name[len(output.name) + 5:].isdigit()]
    by_path: dict[str, dict[str, str]] = {}
    for source in [output, *sorted(parts)]:
        for row in read_rows(source):
            if row["path"] not in by_path or by_path[row["path"]].get("error"):
                by_path[row["path"]] = row
    order = {str(f): i for i, f in enumerate(files)}
    rows = sorted(by_path.values(), key=lambda r: (order.get(r["path"], len(order)), r["path"]))
    with atomic_write(output) as f:
        f.write(_csv_text(rows).encode())
    for p in parts:
        p.unlink(missing_ok=True)
    return len(rows)


def _csv_text(rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()
