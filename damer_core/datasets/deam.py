"""DEAM (Aljanaki et al. 2017): the averaged static annotations of songs 1-2000 and 2000-2058, 1..9."""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.annotated import annotation_rows, tracks_with_audio
from damer_core.datasets.base import DatasetError, DataSetFormat, LabelledTrack, find_file
from damer_core.datasets.tables import read_table

DEAM_FILES = ("static_annotations_averaged_songs_1_2000.csv", "static_annotations_averaged_songs_2000_2058.csv")


def load_deam(root: Path) -> tuple[list[LabelledTrack], dict]:
    """DEAM: ``static_annotations_averaged_songs_1_2000.csv`` (``song_id, valence_mean, ...`` with a
    space after each comma, 1..9, valence first) plus the 2000-2058 file with extra columns; audio
    ``MEMD_audio/<song_id>.mp3``."""
    first = find_file(root, DEAM_FILES[0])
    if first is None:
        raise DatasetError(f"DEAM folder {root}: missing {DEAM_FILES[0]}")
    rows = []
    for name in DEAM_FILES:
        path = find_file(root, name)
        if path is None:
            continue
        table = read_table(path, ["song_id", "valence_mean", "arousal_mean"], require_rows=name == DEAM_FILES[0])
        rows += [annotation_rows(path, r, "song_id", "valence_mean", "arousal_mean", "1..9") for r in table]
    tracks, missing = tracks_with_audio(root, rows, "1..9", "DEAM", "MEMD_audio/<song_id>.mp3")
    return tracks, {"name": "DEAM", "format": "deam", "root": str(root), "scale": "1..9", "missing_audio": missing}


FORMAT = DataSetFormat("deam", "a DEAM folder", lambda root: find_file(root, DEAM_FILES[0]) is not None,
                       lambda root, scale: load_deam(root))
