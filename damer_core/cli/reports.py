"""The ``--json`` reports of evaluate, baseline and select: checked before any work (they may replace
only an earlier report of this program, marked by its first key), written atomically."""

from __future__ import annotations

import json
from pathlib import Path

JSON_MARK = "damer-core report"  # the first key of every --json report: what marks a file as ours to replace


def check_json_out(path: str | None, force: bool = False) -> None:
    """Before any work: --json may replace only an earlier report of this program."""
    if path:
        from damer_core.contract.fileutil import check_output_file

        check_output_file(path, force=force, own=is_report, what="the JSON report",
                          force_hint="choose another --json file")


def is_report(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(data, dict) and data.get("written_by") == JSON_MARK


def write_json(path: str | None, report: dict) -> None:
    if path:
        from damer_core.contract.fileutil import atomic_write

        with atomic_write(path) as f:
            f.write(json.dumps({"written_by": JSON_MARK, **report}, indent=2, default=float).encode())
