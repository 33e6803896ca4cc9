"""Curator labels (docs/SPEC.md section 9): trajectories of (t, valence, arousal) recorded while a track
plays, saved as they are drawn (a killed app loses at most the last second), the static label as
the trajectory mean, export / import in the generic format of docs/SPEC.md section 8, and the
calibration check (mean distance between a covert duplicate's two labels against 0.25)."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.library.db import LibraryDB
from app.library.rows import Label

FLUSH_SECONDS = 0.5  # points reach SQLite at least this often
FLUSH_BUSY_MS = 100  # a flush from the GUI thread waits at most this long for a locked database
CONSISTENCY_THRESHOLD = 0.25


class LabelRecorder:
    """Collects points for one label and commits them to SQLite every ``FLUSH_SECONDS``."""

    def __init__(self, db: LibraryDB, track_id: int, curator: str, session_id: int | None = None,
                 clock=time.monotonic):
        self.db, self.clock = db, clock
        self.label_id = db.add_label(track_id, curator, session_id)
        self.pending: list[tuple[float, float, float]] = []
        self.n = 0
        self._sum = np.zeros(2)
        self._last_flush = clock()
        self.error = ""  # why the last flush failed ("" when everything is saved)

    def add(self, t: float, valence: float, arousal: float) -> None:
        self.pending.append((float(t), float(valence), float(arousal)))
        self.n += 1
        self._sum += (valence, arousal)
        if self.clock() - self._last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self, busy_ms: int = FLUSH_BUSY_MS) -> bool:
        """Commit the pending points. When the database is locked or the disk is full, keep them
        for the next flush, set :attr:`error` and return False."""
        self._last_flush = self.clock()
        if not self.pending:
            return True
        v, a = self._sum / self.n
        try:
            self.db.append_label_points(self.label_id, self.pending, float(v), float(a), self.n, busy_ms)
        except sqlite3.OperationalError as e:
            self.error = f"{len(self.pending)} label points not saved yet: {e}"
            return False
        self.pending = []
        self.error = ""
        return True


def labels_for(db: LibraryDB, track_id: int | None = None, curator: str | None = None,
               calibration: bool = False) -> list[Label]:
    """The ordinary labels, or with ``calibration`` those of calibration sessions (kept apart)."""
    return db.labels(track_id, curator, calibration)


def static_labels(db: LibraryDB) -> dict[str, tuple[float, float]]:
    """path -> mean of the static labels of every curator who labelled the track."""
    return db.static_labels()


def delete_labels(db: LibraryDB, track_id: int, curator: str) -> int:
    return db.delete_labels(track_id, curator)


def trajectory_distance(a: list[tuple[float, float, float]], b: list[tuple[float, float, float]]) -> float:
    """Mean Euclidean V-A distance between two trajectories of the same track, compared at the
    times of the longer-sampled one (each interpolated over its own time axis)."""
    if not a or not b:
        return float("nan")
    pa, pb = np.asarray(a, float), np.asarray(b, float)
    lo, hi = max(pa[0, 0], pb[0, 0]), min(pa[-1, 0], pb[-1, 0])
    if hi <= lo:  # no time in common: compare the static labels
        return float(np.hypot(*(pa[:, 1:].mean(0) - pb[:, 1:].mean(0))))
    t = np.linspace(lo, hi, max(len(pa), len(pb)))
    va = np.stack([np.interp(t, pa[:, 0], pa[:, i]) for i in (1, 2)], axis=1)
    vb = np.stack([np.interp(t, pb[:, 0], pb[:, i]) for i in (1, 2)], axis=1)
    return float(np.hypot(*(va - vb).T).mean())


def export_labels(db: LibraryDB, path: Path, curator: str | None = None, spreadsheet_safe: bool = True,
                  calibration: bool = False) -> int:
    """CSV (``path,valence,arousal,curator,n_points,artist``; static labels in [-1, 1]) or JSON (the
    same plus each trajectory), by the file's extension; both are what `damer-core train --dataset`
    reads (which takes a CSV's apostrophe-guarded cells back: ``spreadsheet_safe``), and its split
    keeps each artist's tracks on one side (untagged tracks go alone)."""
    from app.library.exports import write_csv
    from damer_core.contract.fileutil import atomic_write, check_output_file

    labels = labels_for(db, curator=curator, calibration=calibration)  # a calibration set only when asked for
    path = Path(path)
    session = {"session": lambda lb: lb.session_id} if calibration else {}  # which calibration session drew it
    if path.suffix.lower() == ".json":
        data = {"format": "damer-labels", "scale": "-1..1", **({"set": "calibration"} if calibration else {}),
                "labels": [{"path": lb.path, "valence": lb.valence, "arousal": lb.arousal, "curator": lb.curator,
                            "artist": lb.artist, **{k: f(lb) for k, f in session.items()},
                            "trajectory": {"t": [p[0] for p in lb.points], "valence": [p[1] for p in lb.points],
                                           "arousal": [p[2] for p in lb.points]}} for lb in labels]}
        check_output_file(path, force=True, what="the export")
        with atomic_write(path) as f:
            f.write(json.dumps(data, indent=1).encode())  # ASCII: a name that is not UTF-8 as \udcxx escapes
    else:
        write_csv(path, ["path", "valence", "arousal", "curator", "n_points", "artist", *session],
                  [[lb.path, f"{lb.valence:.4f}", f"{lb.arousal:.4f}", lb.curator, lb.n_points, lb.artist,
                    *(f(lb) for f in session.values())] for lb in labels],
                  {"path", "curator", "artist"}, spreadsheet_safe)
    return len(labels)


@dataclass
class LabelFile:
    """What a labels CSV holds for this library, read once: its tracks found here (library id,
    path, valence, arousal), those it names that are not (counted, the first few named: a file of
    a million strangers costs no more memory than a count), and which found ones have labels."""
    found: list[tuple[int, str, float, float]]
    not_in_library: int = 0
    examples: list[str] = field(default_factory=list)
    labelled: set[str] = field(default_factory=set)
    conflicting: list[str] = field(default_factory=list)  # tracks whose rows disagree: averaged, and said

    def problems(self) -> list[str]:
        said = []
        if self.not_in_library:
            said.append(f"{self.not_in_library} of its rows name tracks that are not in the library "
                        f"(e.g. {_named(self.examples, self.not_in_library)})")
        if self.conflicting:
            said.append(f"{len(self.conflicting)} track(s) have rows with different labels, imported as their "
                        f"average ({_named([Path(p).name for p in self.conflicting[:EXAMPLES]], len(self.conflicting))})")
        return said


def _named(names: list[str], total: int) -> str:
    """The first few of ``total`` named, and how many more there are."""
    return ", ".join(names) + (f" and {total - len(names)} more" if total > len(names) else "")


EXAMPLES = 3
YIELD_EVERY = 200  # rows read between two pauses that let the GUI thread run (1 ms each: 5 s in a million rows)


def read_labels_csv(db: LibraryDB, path: Path, scale: str = "-1..1") -> LabelFile:
    """The tracks of a ``path,valence,arousal`` CSV that are in the library, so the caller can ask
    before mixing them with the labels already there; read in one pass, matched by one query."""
    from damer_core.facade import label_rows

    ids = db.track_ids()
    out = LabelFile([])
    sums: dict[str, list[float]] = {}  # path -> [sum of valence, sum of arousal, rows, first valence, first arousal]
    conflicting: dict[str, None] = {}
    for n, tr in enumerate(label_rows(Path(path), scale)):  # a row at a time; memory grows with tracks, not rows
        if n % YIELD_EVERY == YIELD_EVERY - 1:
            time.sleep(0.001)  # run from a thread: a Python thread reading steadily starves the GUI thread otherwise
        key = str(tr.path)
        if key not in ids:
            out.not_in_library += 1
            if len(out.examples) < EXAMPLES:
                out.examples.append(str(tr.track_id))
            continue
        acc = sums.setdefault(key, [0.0, 0.0, 0, tr.valence, tr.arousal])
        acc[0], acc[1], acc[2] = acc[0] + tr.valence, acc[1] + tr.arousal, acc[2] + 1
        if (tr.valence, tr.arousal) != (acc[3], acc[4]):
            conflicting[key] = None  # several annotators' rows are averaged, as training averages them: said
    out.found = [(ids[key], key, v / k, a / k) for key, (v, a, k, _, _) in sums.items()]
    out.conflicting = list(conflicting)
    labelled = db.labelled_paths()
    out.labelled = {p for _, p, _, _ in out.found if p in labelled}
    return out


IMPORT_MODES = ("add", "replace", "skip")  # beside existing labels (averaged) / replace the curator's / leave those tracks


def import_labels_csv(db: LibraryDB, path: Path, curator: str, scale: str = "-1..1",
                      existing: str = "add") -> tuple[int, list[str]]:
    """Static labels from a ``path,valence,arousal`` CSV for tracks in the library; returns (imported,
    problems). See :func:`write_labels`."""
    return write_labels(db, read_labels_csv(db, path, scale), curator, existing)


def write_labels(db: LibraryDB, file: LabelFile, curator: str, existing: str = "add") -> tuple[int, list[str]]:
    """The tracks of a read labels file as labels by ``curator``; returns (imported, problems).
    Each becomes a one-point label so it trains like a drawn one. ``existing`` says what happens
    on a track that is already labelled (IMPORT_MODES); the problems say what was left out."""
    if existing not in IMPORT_MODES:
        raise ValueError(f"existing must be one of {IMPORT_MODES}, not {existing!r}")
    problems = file.problems()
    imported = kept = 0
    for track_id, path, valence, arousal in file.found:
        if path in file.labelled:
            if existing == "skip":
                kept += 1
                continue
            if existing == "replace":
                delete_labels(db, track_id, curator)
        rec = LabelRecorder(db, track_id, curator)
        rec.add(0.0, valence, arousal)
        rec.flush()
        imported += 1
    if kept:
        problems.append(f"{kept} already labelled, left as they were")
    return imported, problems
