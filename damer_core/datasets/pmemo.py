"""PMEmo (Zhang et al. 2018): ``static_annotations.csv`` with musicId, audio ``chorus/<musicId>.mp3``."""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.annotated import annotation_rows, static_header, tracks_with_audio
from damer_core.datasets.base import DatasetError, DataSetFormat, LabelledTrack, find_file
from damer_core.datasets.tables import read_table


def load_pmemo(root: Path) -> tuple[list[LabelledTrack], dict]:
    """PMEmo: ``static_annotations.csv`` (musicId, Arousal(mean), Valence(mean), 0..1), audio
    ``chorus/<musicId>.mp3``; ``metadata.csv`` must be present."""
    if find_file(root, "metadata.csv") is None:
        raise DatasetError(f"PMEmo folder {root}: missing metadata.csv")
    path = find_file(root, "static_annotations.csv")
    if path is None:
        raise DatasetError(f"PMEmo folder {root}: missing static_annotations.csv")
    table = read_table(path, ["musicId", "Arousal(mean)", "Valence(mean)"])
    rows = [annotation_rows(path, r, "musicId", "Valence(mean)", "Arousal(mean)", "0..1") for r in table]
    tracks, missing = tracks_with_audio(root, rows, "0..1", "PMEmo", "chorus/<musicId>.mp3")
    return tracks, {"name": "PMEmo", "format": "pmemo", "root": str(root), "scale": "0..1", "missing_audio": missing}


FORMAT = DataSetFormat("pmemo", "a PMEmo folder", lambda root: "musicId" in static_header(root),
                       lambda root, scale: load_pmemo(root))
