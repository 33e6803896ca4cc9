"""The music library: a SQLite file (WAL) in the data directory, with a schema version and
migrations. Each thread opens its own :class:`LibraryDB` on the same file."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from app.library.db_file import (  # noqa: F401 - the errors are imported from here too
    LibraryDamaged,
    LibraryLocked,
    LibraryReadOnly,
    check_header,
    column_text,
    fs_param,
    open_error,
)
from app.library.rows import Label, TrackRow
from app.library.schema import MIGRATIONS
from app.paths import data_dir

# A calibration session's labels measure the curator and are kept apart: they are not what a
# track is labelled as (the Labelled column, the map, training), unless the curator exports them.
_ORDINARY = "l.session_id IS NULL"
_LABELLED = f"EXISTS (SELECT 1 FROM labels l WHERE l.track_id = t.id AND l.n_points > 0 AND {_ORDINARY})"


def _mean(values) -> float | None:
    """The mean of a trajectory's points (None where the dimension is not predicted)."""
    known = [v for v in values or [] if v is not None]
    return sum(known) / len(known) if known else None


def folders_listed(path: Path) -> list[str]:
    """The music folders a damaged library still lists, where they can be read from it: from a
    copy of its first 64 MiB, padded with empty pages towards the size its header declares (at most
    64 MiB: the tables' first pages, which the schema points at, were made when the file was
    small), whose header no longer vouches for that size, so SQLite takes the copy's own length. A
    cut-off file is otherwise refused as a whole, though its first pages, the folders table's among
    them, are intact."""
    import tempfile

    try:
        with open(path, "rb") as f:
            data = bytearray(f.read(64 << 20))
    except OSError:
        return []
    if len(data) < 100 or not data.startswith(b"SQLite format 3\0"):
        return []
    page = int.from_bytes(data[16:18], "big")
    declared = int.from_bytes(data[28:32], "big") * (65536 if page == 1 else page)
    data += bytes(max(0, min(declared, 64 << 20) - len(data)))
    data[92:96] = (int.from_bytes(data[24:28], "big") + 1 & 0xFFFFFFFF).to_bytes(4, "big")  # "version-valid-for"
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "damaged.sqlite3"
        copy.write_bytes(bytes(data))
        try:
            conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True, timeout=1)
            conn.text_factory = column_text
            try:
                return [p for p, in conn.execute("SELECT path FROM folders ORDER BY path")]
            finally:
                conn.close()
        except sqlite3.Error:
            return []


def inserted(cursor: sqlite3.Cursor) -> int:
    """The id of the row an INSERT just made."""
    assert cursor.lastrowid is not None, "not an INSERT"
    return cursor.lastrowid


def default_db_path() -> Path:
    return data_dir() / "library.sqlite3"


class LibraryDB:
    def __init__(self, path: str | Path | None = None, busy_timeout: float = 5.0):
        self.path = Path(path) if path is not None else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise LibraryReadOnly(f"{self.path}: the library's folder cannot be reached or made "
                                  f"({e.strerror or e}); set DAMER_DATA_DIR to a folder of yours and start again") from None
        self._busy_ms = int(busy_timeout * 1000)
        check_header(self.path)
        try:
            self.conn = sqlite3.connect(str(self.path), timeout=busy_timeout)
        except sqlite3.DatabaseError as e:
            raise open_error(self.path, e) from None
        self.conn.text_factory = column_text
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA foreign_keys=ON")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._check_writable()
            self._probe()
        except (sqlite3.DatabaseError, LibraryLocked) as e:
            self.conn.close()
            raise (e if isinstance(e, LibraryLocked) else open_error(self.path, e)) from None

    @classmethod
    def reader(cls, path: Path, busy_timeout: float = 5.0) -> LibraryDB:
        """A read-only connection to a library this app has opened already (checked and migrated
        by that opening), for reading in another thread: WAL lets it read while the app writes, it
        takes no write lock, and it reads no table it is not asked for."""
        db = cls.__new__(cls)
        db.path, db._busy_ms = Path(path), int(busy_timeout * 1000)
        try:
            uri = db.path.resolve().as_uri()
        except (ValueError, UnicodeError):
            return cls(path, busy_timeout)  # a name a URI cannot carry: the ordinary opening
        try:
            db.conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=busy_timeout)
        except sqlite3.DatabaseError as e:
            raise open_error(db.path, e) from None
        db.conn.text_factory = column_text
        return db

    def _probe(self) -> None:
        """Read every table's rows once, all but the trajectories' text (milliseconds for 10,000
        tracks): a file cut off or overwritten fails here, at open, with DatabaseError, instead of in
        the middle of a scan or a label. A damaged trajectory is found when it is read."""
        for table, column in (("folders", "path"), ("tracks", "mtime"), ("unreadable", "mtime"), ("predictions", "created"),
                              ("labels", "updated"), ("label_points", "t"), ("calibration_sessions", "started")):
            self.conn.execute(f"SELECT count({column}) FROM {table}").fetchone()

    def _check_writable(self) -> None:
        """Fail at open, with a message, rather than at the first label or scan."""
        version = self.schema_version
        self.conn.execute("BEGIN IMMEDIATE")
        try:  # a real write, rolled back: a read-only file only fails here
            self.conn.execute(f"PRAGMA user_version = {version}")
        finally:
            self.conn.execute("ROLLBACK")

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise LibraryLocked(f"{self.path}: written by a newer DAMER Explorer (schema {version})")
        for i in range(version, len(MIGRATIONS)):
            with self.conn:
                self.conn.executescript(MIGRATIONS[i])
                self.conn.execute(f"PRAGMA user_version = {i + 1}")

    @property
    def schema_version(self) -> int:
        return self.conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.conn.close()

    # -- folders --------------------------------------------------------------------------------
    def add_folder(self, path: str) -> int:
        with self.conn:
            self.conn.execute(
                "INSERT OR IGNORE INTO folders (path, added) VALUES (CAST(? AS TEXT), ?)", (fs_param(path), time.time())
            )
        return self.conn.execute("SELECT id FROM folders WHERE path = CAST(? AS TEXT)", (fs_param(path),)).fetchone()[0]

    def remove_folder(self, path: str) -> None:
        with self.conn:
            self.conn.execute("DELETE FROM folders WHERE path = CAST(? AS TEXT)", (fs_param(path),))

    def folders(self) -> list[tuple[int, str]]:
        return self.conn.execute("SELECT id, path FROM folders ORDER BY path").fetchall()

    # -- tracks ---------------------------------------------------------------------------------
    def known_files(self, folder_id: int) -> dict[str, tuple[int, float]]:
        """path -> (size, mtime) for tracks and unreadable files of a folder."""
        rows = self.conn.execute("SELECT path, size, mtime FROM tracks WHERE folder_id = ? UNION ALL "
                                 "SELECT path, size, mtime FROM unreadable WHERE folder_id = ?", (folder_id, folder_id))
        return {p: (s, m) for p, s, m in rows}

    def upsert_tracks(self, folder_id: int, rows: list[dict]) -> None:
        now = time.time()
        with self.conn:
            for r in rows:
                self.conn.execute("DELETE FROM unreadable WHERE path = CAST(? AS TEXT)", (fs_param(r["path"]),))
                self.conn.execute(
                    "INSERT INTO tracks (path, folder_id, title, artist, album, duration, size, mtime, scanned) "
                    "VALUES (CAST(:path AS TEXT), :folder_id, :title, :artist, :album, :duration, :size, :mtime, :scanned) "
                    "ON CONFLICT(path) DO UPDATE SET title=excluded.title, artist=excluded.artist, album=excluded.album, "
                    "duration=excluded.duration, size=excluded.size, mtime=excluded.mtime, scanned=excluded.scanned",
                    {**r, "path": fs_param(r["path"]), "folder_id": folder_id, "scanned": now})

    def mark_unreadable(self, folder_id: int, rows: list[dict]) -> None:
        with self.conn:
            for r in rows:
                self.conn.execute("DELETE FROM tracks WHERE path = CAST(? AS TEXT)", (fs_param(r["path"]),))
                self.conn.execute("INSERT OR REPLACE INTO unreadable (path, folder_id, reason, size, mtime) "
                                  "VALUES (CAST(:path AS TEXT), :folder_id, :reason, :size, :mtime)",
                                  {**r, "path": fs_param(r["path"]), "folder_id": folder_id})

    def remove_paths(self, paths: list[str]) -> None:
        with self.conn:
            self.conn.executemany("DELETE FROM tracks WHERE path = CAST(? AS TEXT)", [(fs_param(p),) for p in paths])
            self.conn.executemany("DELETE FROM unreadable WHERE path = CAST(? AS TEXT)", [(fs_param(p),) for p in paths])

    def unreadable(self) -> list[tuple[str, str]]:
        return self.conn.execute("SELECT path, reason FROM unreadable ORDER BY path").fetchall()

    @staticmethod
    def _track_sql(previous: bool, whole: bool) -> str:
        """Every track with model ``?``'s static prediction (its whole-track mean where ``whole``
        and there is one); with ``previous``, a track the model has not analysed yet takes the
        ``previous`` model's values (second ``?``), marked as such."""
        value = (lambda p, d: f"COALESCE({p}.whole_{d}, {p}.{d})") if whole else (lambda p, d: f"{p}.{d}")
        is_whole = "p.whole_valence IS NOT NULL OR p.whole_arousal IS NOT NULL" if whole else "0"
        if not previous:
            return (f"SELECT t.id, t.path, t.title, t.artist, t.album, t.duration, {value('p', 'valence')}, "
                    f"{value('p', 'arousal')}, p.confidence, {_LABELLED}, p.track_id IS NOT NULL, 0, {is_whole} "
                    "FROM tracks t LEFT JOIN predictions p ON p.track_id = t.id AND p.model = ? ")
        pick = lambda d: f"CASE WHEN p.track_id IS NULL THEN {value('q', d)} ELSE {value('p', d)} END"  # noqa: E731
        return (f"SELECT t.id, t.path, t.title, t.artist, t.album, t.duration, {pick('valence')}, {pick('arousal')}, "
                f"CASE WHEN p.track_id IS NULL THEN q.confidence ELSE p.confidence END, {_LABELLED}, "
                f"p.track_id IS NOT NULL, p.track_id IS NULL AND q.track_id IS NOT NULL, {is_whole} "
                "FROM tracks t LEFT JOIN predictions p ON p.track_id = t.id AND p.model = ? "
                "LEFT JOIN predictions q ON q.track_id = t.id AND q.model = ? ")

    @staticmethod
    def _row(r) -> TrackRow:
        return TrackRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], labelled=bool(r[9]), analysed=bool(r[10]),
                        previous=bool(r[11]), whole=bool(r[12]))

    def tracks(self, model: str = "", previous: str = "", whole: bool = False) -> list[TrackRow]:
        """Every track with ``model``'s static prediction; where ``previous`` (the model used
        before) is given, a track not analysed by ``model`` yet shows that one's, marked as such.
        ``whole``: the mean of the track's trajectory where it has one, instead of its segment's."""
        use_previous = bool(previous) and previous != model
        args = (model, previous) if use_previous else (model,)
        rows = self.conn.execute(self._track_sql(use_previous, whole) + "ORDER BY t.artist, t.album, t.title", args)
        return [self._row(r) for r in rows]

    def track(self, path: str, model: str = "", previous: str = "", whole: bool = False) -> TrackRow | None:
        """One track's row, as :meth:`tracks` gives it."""
        use_previous = bool(previous) and previous != model
        args = (model, previous, fs_param(path)) if use_previous else (model, fs_param(path))
        row = self.conn.execute(self._track_sql(use_previous, whole) + "WHERE t.path = CAST(? AS TEXT)", args).fetchone()
        return self._row(row) if row else None

    def track_count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM tracks").fetchone()[0]

    def track_id(self, path: str) -> int | None:
        row = self.conn.execute("SELECT id FROM tracks WHERE path = CAST(? AS TEXT)", (fs_param(path),)).fetchone()
        return row[0] if row else None

    def track_ids(self) -> dict[str, int]:
        """Every track's library id by its path (one query, for matching many paths at once)."""
        return {path: track_id for track_id, path in self.conn.execute("SELECT id, path FROM tracks")}

    def track_path(self, track_id: int) -> str:
        row = self.conn.execute("SELECT path FROM tracks WHERE id = ?", (track_id,)).fetchone()
        if row is None:
            raise KeyError(f"no track with id {track_id}")
        return row[0]

    # -- predictions ----------------------------------------------------------------------------
    def store_prediction(self, path: str, model: str, valence: float | None, arousal: float | None, confidence: float,
                         trajectory: dict) -> int | None:
        track_id = self.track_id(path)
        if track_id is None:
            return None
        with self.conn:
            self.conn.execute("INSERT OR REPLACE INTO predictions (track_id, model, valence, arousal, confidence, "
                              "trajectory, created, whole_valence, whole_arousal) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                              (track_id, model, valence, arousal, confidence, json.dumps(trajectory), time.time(),
                               _mean(trajectory.get("valence")), _mean(trajectory.get("arousal"))))
        return track_id

    def store_static(self, path: str, model: str, valence: float | None, arousal: float | None,
                     confidence: float) -> int | None:
        """The static V-A of the library's first pass; a trajectory already stored is kept."""
        track_id = self.track_id(path)
        if track_id is None:
            return None
        with self.conn:
            self.conn.execute(
                "INSERT INTO predictions (track_id, model, valence, arousal, confidence, trajectory, created) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (track_id, model) DO UPDATE "
                "SET valence = excluded.valence, arousal = excluded.arousal, confidence = excluded.confidence",
                (track_id, model, valence, arousal, confidence, time.time()))
        return track_id

    def trajectory(self, track_id: int, model: str) -> dict | None:
        """None: not analysed yet, or only its static V-A so far."""
        row = self.conn.execute("SELECT trajectory FROM predictions WHERE track_id = ? AND model = ?",
                                (track_id, model)).fetchone()
        return json.loads(row[0]) if row and row[0] is not None else None

    def unanalysed(self, model: str) -> list[tuple[int, str]]:
        """Tracks without even a static V-A for ``model``."""
        return self.conn.execute(
            "SELECT t.id, t.path FROM tracks t LEFT JOIN predictions p ON p.track_id = t.id AND p.model = ? "
            "WHERE p.track_id IS NULL ORDER BY t.id", (model,)).fetchall()

    def without_trajectory(self, model: str) -> list[tuple[int, str]]:
        """Tracks whose trajectory for ``model`` is still to compute (with or without a static V-A)."""
        return self.conn.execute(
            "SELECT t.id, t.path FROM tracks t LEFT JOIN predictions p ON p.track_id = t.id AND p.model = ? "
            "WHERE p.trajectory IS NULL ORDER BY t.id", (model,)).fetchall()

    # -- labels ---------------------------------------------------------------------------------
    def add_label(self, track_id: int, curator: str, session_id: int | None = None) -> int:
        """A new label without points yet; returns its id."""
        now = time.time()
        with self.conn:
            return inserted(self.conn.execute("INSERT INTO labels (track_id, curator, created, updated, session_id) "
                                              "VALUES (?, ?, ?, ?, ?)", (track_id, curator, now, now, session_id)))

    def append_label_points(self, label_id: int, points: list[tuple[float, float, float]], valence: float,
                            arousal: float, n_points: int, busy_ms: int) -> None:
        """Add ``points`` to a label and set its static label and point count, waiting at most
        ``busy_ms`` for a locked database; raises sqlite3.OperationalError with nothing written."""
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {int(busy_ms)}")
            with self.conn:  # one transaction: the points and the static label move together
                self.conn.executemany("INSERT INTO label_points (label_id, t, valence, arousal) VALUES (?, ?, ?, ?)",
                                      [(label_id, *p) for p in points])
                self.conn.execute("UPDATE labels SET valence = ?, arousal = ?, n_points = ?, updated = ? WHERE id = ?",
                                  (valence, arousal, n_points, time.time(), label_id))
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {self._busy_ms}")

    def labels(self, track_id: int | None = None, curator: str | None = None, calibration: bool = False) -> list[Label]:
        """Labels with at least one point, oldest first; of one track and / or curator when given.
        The ordinary labels, or with ``calibration`` those drawn in calibration sessions."""
        sql = ("SELECT l.id, l.track_id, t.path, l.curator, l.valence, l.arousal, l.n_points, t.artist, l.session_id "
               "FROM labels l JOIN tracks t ON t.id = l.track_id WHERE l.n_points > 0 AND "
               + ("l.session_id IS NOT NULL" if calibration else _ORDINARY))
        args: list = []
        if track_id is not None:
            sql += " AND l.track_id = ?"
            args.append(track_id)
        if curator is not None:
            sql += " AND l.curator = ?"
            args.append(curator)
        rows = self.conn.execute(sql + " ORDER BY l.id", args).fetchall()
        return [Label(r[0], r[1], r[2], r[3], r[4], r[5], r[6], points=self.label_points(r[0]), artist=r[7] or "",
                      session_id=r[8]) for r in rows]

    def label_points(self, label_id: int) -> list[tuple[float, float, float]]:
        rows = self.conn.execute("SELECT t, valence, arousal FROM label_points WHERE label_id = ? ORDER BY rowid",
                                 (label_id,))
        return [tuple(p) for p in rows]

    def static_labels(self) -> dict[str, tuple[float, float]]:
        """path -> mean of the static labels of every curator who labelled the track."""
        rows = self.conn.execute("SELECT t.path, AVG(l.valence), AVG(l.arousal) FROM labels l "
                                 f"JOIN tracks t ON t.id = l.track_id WHERE l.n_points > 0 AND {_ORDINARY} GROUP BY t.path")
        return {p: (v, a) for p, v, a in rows}

    def labelled_paths(self) -> set[str]:
        """Paths of the tracks with at least one label that has points."""
        rows = self.conn.execute("SELECT DISTINCT t.path FROM labels l JOIN tracks t ON t.id = l.track_id "
                                 f"WHERE l.n_points > 0 AND {_ORDINARY}")
        return {p for p, in rows}

    def label_counts(self) -> tuple[int, int, int]:
        """(ordinary labels, the tracks they label, calibration labels kept apart)."""
        labels, tracks, calibration = self.conn.execute(
            f"SELECT COALESCE(SUM({_ORDINARY}), 0), COUNT(DISTINCT CASE WHEN {_ORDINARY} THEN l.track_id END), "
            "COALESCE(SUM(l.session_id IS NOT NULL), 0) FROM labels l WHERE l.n_points > 0").fetchone()
        return int(labels), int(tracks), int(calibration)

    def delete_labels(self, track_id: int, curator: str) -> int:
        """Remove a curator's labels of a track (not those of a calibration session); returns how many."""
        with self.conn:
            return self.conn.execute("DELETE FROM labels WHERE track_id = ? AND curator = ? AND session_id IS NULL",
                                     (track_id, curator)).rowcount

    # -- calibration sessions -------------------------------------------------------------------
    def start_calibration(self, curator: str, duplicate_track: int) -> int:
        with self.conn:
            return inserted(self.conn.execute("INSERT INTO calibration_sessions (curator, started, duplicate_track) "
                                              "VALUES (?, ?, ?)", (curator, time.time(), duplicate_track)))

    def calibration_session(self, session_id: int) -> tuple[str, int | None]:
        """(curator, duplicated track id) of a session."""
        row = self.conn.execute("SELECT curator, duplicate_track FROM calibration_sessions WHERE id = ?",
                                (session_id,)).fetchone()
        if row is None:
            raise KeyError(f"no calibration session with id {session_id}")
        return row[0], row[1]

    def end_calibration(self, session_id: int, distance: float, passed: bool | None) -> None:
        """Store the end time and the verdict; without one (``passed`` None) no distance is stored."""
        with self.conn:
            self.conn.execute("UPDATE calibration_sessions SET ended = ?, distance = ?, passed = ? WHERE id = ?",
                              (time.time(), None if passed is None else distance,
                               None if passed is None else int(passed), session_id))
