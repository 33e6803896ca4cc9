"""Library scanning: walk the folders, read tags and durations (mutagen), and bring the SQLite
library up to date: new, changed and removed files. Unreadable files and folders are recorded
with the reason and the scan goes on. The app runs it in a child process (``python -m app.library.scanner``,
see :func:`main`) with its own database connection."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from app.library.db import LibraryDB
from damer_core.contract import events
from damer_core.contract.safe_text import shown
from damer_core.facade import AUDIO_EXTENSIONS

BATCH = 200


@dataclass
class ScanReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unreadable: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    cancelled: bool = False

    @property
    def summary(self) -> str:
        parts = [f"{self.added} new", f"{self.updated} changed", f"{self.removed} removed"]
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} unreadable")
        return ("scan cancelled: " if self.cancelled else "scan finished: ") + ", ".join(parts)


def walk_audio(root: Path, problems: list[tuple[str, str]]) -> dict[str, tuple[int, float]]:
    """path -> (size, mtime) of audio files under ``root``; unreadable folders go to ``problems``."""
    found: dict[str, tuple[int, float]] = {}
    stack = [root]
    while stack:
        d = stack.pop()
        try:
            with os.scandir(d) as it:
                entries = list(it)
        except OSError as e:
            problems.append((str(d), f"folder cannot be read ({e.strerror or e})"))
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif os.path.splitext(entry.name)[1].lower() in AUDIO_EXTENSIONS:
                    st = entry.stat()
                    found[entry.path] = (st.st_size, st.st_mtime)
            except OSError:
                continue  # removed while scanning
    return found


def read_tags(path: str, size: int, mtime: float) -> dict:
    """Title, artist, album, duration. Raises ValueError with a human reason."""
    import mutagen

    if size == 0:
        raise ValueError("file is empty (0 bytes)")
    try:
        audio = mutagen.File(path, easy=True)
    except mutagen.MutagenError as e:
        raise ValueError(f"not a readable audio file ({e})") from None
    except OSError as e:
        raise ValueError(f"cannot be opened ({e.strerror or e})") from None
    except Exception as e:  # noqa: BLE001 - mutagen raises odd types on odd files
        raise ValueError(f"not a readable audio file ({type(e).__name__})") from None
    duration = float(getattr(getattr(audio, "info", None), "length", 0.0) or 0.0) if audio is not None else 0.0
    if audio is None or not math.isfinite(duration) or duration <= 0:
        duration = _soundfile_duration(path)
    tags = audio.tags if audio is not None and audio.tags is not None else {}

    def tag(name: str) -> str:
        try:
            value = tags.get(name)
        except Exception:  # noqa: BLE001
            value = None
        return shown(str(value[0]).strip()) if value else ""  # tags are shown: no control characters, capped

    return {"path": path, "title": tag("title") or shown(Path(path).stem), "artist": tag("artist"), "album": tag("album"),
            "duration": duration, "size": size, "mtime": mtime}


def _soundfile_duration(path: str) -> float:
    import soundfile as sf

    try:
        info = sf.info(os.fsencode(path))  # bytes: any name the OS allows
    except Exception as e:  # noqa: BLE001
        detail = (getattr(e, "error_string", "") or str(e)).strip().rstrip(".")
        raise ValueError(f"not a readable audio file ({detail or 'format not recognised'})") from None
    if info.channels <= 0 or info.samplerate <= 0 or info.frames <= 0:
        raise ValueError("contains no audio")
    return info.frames / info.samplerate


def scan(db: LibraryDB, report: Callable[[int, int, str], None] | None = None,
         cancelled: Callable[[], bool] = lambda: False, workers: int = 4) -> ScanReport:
    """Bring every library folder up to date."""
    result = ScanReport()
    report = report or (lambda *a: None)
    for folder_id, folder in db.folders():
        problems: list[tuple[str, str]] = []
        on_disk = walk_audio(Path(folder), problems)
        result.unreadable += problems
        known = db.known_files(folder_id)
        gone = [p for p in known if p not in on_disk]
        db.remove_paths(gone)
        result.removed += len(gone)
        todo = [(p, s, m) for p, (s, m) in on_disk.items() if known.get(p) != (s, m)]
        total = len(todo)
        report(0, total, folder)
        good: list[dict] = []
        bad: list[dict] = []
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for i, (_item, outcome) in enumerate(zip(todo, pool.map(lambda t: _try_tags(*t), todo)), 1):
                if "gone" not in outcome:
                    (good if "reason" not in outcome else bad).append(outcome)
                if len(good) + len(bad) >= BATCH or i == total:
                    db.upsert_tracks(folder_id, good)
                    db.mark_unreadable(folder_id, bad)
                    result.added += sum(1 for g in good if g["path"] not in known)
                    result.updated += sum(1 for g in good if g["path"] in known)
                    result.unreadable += [(b["path"], b["reason"]) for b in bad]
                    good, bad = [], []
                    report(i, total, folder)
                if cancelled():
                    result.cancelled = True
                    pool.shutdown(wait=False, cancel_futures=True)
                    return result
    return result


def _try_tags(path: str, size: int, mtime: float) -> dict:
    try:
        return read_tags(path, size, mtime)
    except ValueError as e:
        if not os.path.exists(path):
            return {"path": path, "gone": True}  # removed while scanning: not an error
        return {"path": path, "reason": shown(str(e)), "size": size, "mtime": mtime}


def main(argv: list[str] | None = None) -> int:
    """``python -m app.library.scanner DB``: scan in a child process and stream JSON lines (progress, then
    the report), so the GUI's Python never competes for the GIL with tag parsing."""
    import argparse
    import signal

    ap = argparse.ArgumentParser(prog="python -m app.library.scanner")
    ap.add_argument("db")
    args = ap.parse_args(argv)
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *a: stop.update(now=True))

    def emit(event: events.Event) -> None:
        print(event.to_json(), flush=True)

    db = LibraryDB(args.db)
    try:
        report = scan(db, lambda d, t, f: emit(events.Progress(d, t, folder=f)), lambda: stop["now"])
    finally:
        db.close()
    emit(events.Report(report.added, report.updated, report.removed, report.unreadable, report.cancelled))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
