"""The library file's tables, as migrations: entry i brings a file from schema version i to i + 1
(app.library.db applies the missing ones in one transaction and records the version)."""

MIGRATIONS = [
    # 1: folders, tracks, unreadable files, predictions per track and model
    """
    CREATE TABLE folders (id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, added REAL NOT NULL);
    CREATE TABLE tracks (
        id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
        title TEXT NOT NULL, artist TEXT NOT NULL DEFAULT '', album TEXT NOT NULL DEFAULT '',
        duration REAL NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL, scanned REAL NOT NULL);
    CREATE TABLE unreadable (
        path TEXT PRIMARY KEY, folder_id INTEGER REFERENCES folders(id) ON DELETE CASCADE,
        reason TEXT NOT NULL, size INTEGER NOT NULL, mtime REAL NOT NULL);
    CREATE TABLE predictions (
        track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE, model TEXT NOT NULL,
        valence REAL NOT NULL, arousal REAL NOT NULL, confidence REAL NOT NULL,
        trajectory TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (track_id, model));
    """,
    # 2: curator labels (docs/SPEC.md section 9): one row per label, its trajectory points, calibration sessions
    """
    CREATE TABLE labels (
        id INTEGER PRIMARY KEY, track_id INTEGER NOT NULL REFERENCES tracks(id) ON DELETE CASCADE,
        curator TEXT NOT NULL, created REAL NOT NULL, updated REAL NOT NULL,
        valence REAL, arousal REAL, n_points INTEGER NOT NULL DEFAULT 0,
        session_id INTEGER REFERENCES calibration_sessions(id) ON DELETE SET NULL);
    CREATE INDEX labels_track ON labels(track_id, curator);
    CREATE TABLE label_points (
        label_id INTEGER NOT NULL REFERENCES labels(id) ON DELETE CASCADE,
        t REAL NOT NULL, valence REAL NOT NULL, arousal REAL NOT NULL);
    CREATE INDEX label_points_label ON label_points(label_id);
    CREATE TABLE calibration_sessions (
        id INTEGER PRIMARY KEY, curator TEXT NOT NULL, started REAL NOT NULL, ended REAL,
        duplicate_track INTEGER REFERENCES tracks(id) ON DELETE SET NULL,
        distance REAL, passed INTEGER);
    """,
    # 3: a bundle may predict one dimension only: the other is NULL ("not predicted"), never made up.
    # Older rows are dropped, not copied: they stored 0.0 for such a dimension, were uncalibrated and
    # lay on a 0.499 s grid; the library is re-analysed with the active model.
    """
    DROP TABLE predictions;
    CREATE TABLE predictions (
        track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE, model TEXT NOT NULL,
        valence REAL, arousal REAL, confidence REAL NOT NULL,
        trajectory TEXT NOT NULL, created REAL NOT NULL, PRIMARY KEY (track_id, model));
    """,
    # 4: the library's first pass stores the static V-A alone; the trajectory (NULL until then) follows
    """
    DROP TABLE IF EXISTS predictions_new;
    CREATE TABLE predictions_new (
        track_id INTEGER REFERENCES tracks(id) ON DELETE CASCADE, model TEXT NOT NULL,
        valence REAL, arousal REAL, confidence REAL NOT NULL,
        trajectory TEXT, created REAL NOT NULL, PRIMARY KEY (track_id, model));
    INSERT INTO predictions_new SELECT * FROM predictions;
    DROP TABLE predictions;
    ALTER TABLE predictions_new RENAME TO predictions;
    """,
    # 5: each trajectory's mean, for the table's whole-track values (View menu); from the stored ones
    """
    ALTER TABLE predictions ADD COLUMN whole_valence REAL;
    ALTER TABLE predictions ADD COLUMN whole_arousal REAL;
    UPDATE predictions SET
        whole_valence = (SELECT avg(value) FROM json_each(trajectory, '$.valence') WHERE value IS NOT NULL),
        whole_arousal = (SELECT avg(value) FROM json_each(trajectory, '$.arousal') WHERE value IS NOT NULL)
    WHERE trajectory IS NOT NULL;
    """,
]
