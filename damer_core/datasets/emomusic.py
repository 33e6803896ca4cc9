"""1000 Songs (emoMusic, Soleymani et al. 2013): ``static_annotations.csv`` with song_id, 1..9."""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.annotated import annotation_rows, static_header, tracks_with_audio
from damer_core.datasets.base import DatasetError, DataSetFormat, LabelledTrack, find_file
from damer_core.datasets.tables import read_table


def load_emomusic(root: Path) -> tuple[list[LabelledTrack], dict]:
    """1000 Songs: ``static_annotations.csv`` (song_id, mean_arousal, std_arousal, mean_valence,
    std_valence; 1..9, arousal first), ``songs_info.csv`` (stray tabs), audio ``<song_id>.mp3``."""
    path = find_file(root, "static_annotations.csv")
    if path is None:
        raise DatasetError(f"1000 Songs folder {root}: missing static_annotations.csv")
    table = read_table(path, ["song_id", "mean_arousal", "mean_valence"])
    info = find_file(root, "songs_info.csv")
    titles = {}
    if info is not None:
        titles = {r["song_id"]: r.get("Song title", "") for r in read_table(info, ["song_id"], require_rows=False)}
    rows = [annotation_rows(path, r, "song_id", "mean_valence", "mean_arousal", "1..9") for r in table]
    tracks, missing = tracks_with_audio(root, rows, "1..9", "1000 Songs", "clips_45seconds/<song_id>.mp3")
    return tracks, {"name": "1000 Songs", "format": "emomusic", "root": str(root), "scale": "1..9",
                    "missing_audio": missing, "n_titles": len(titles)}


FORMAT = DataSetFormat("emomusic", "a 1000 Songs folder", lambda root: "song_id" in static_header(root),
                       lambda root, scale: load_emomusic(root))
