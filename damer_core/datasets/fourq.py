"""The 4Q audio emotion data set (Panda, Malheiro & Paiva, IEEE TAFFC 2018; docs/SPEC.md section 8).

Folders ``Q1``..``Q4`` hold the clips (``<Song>.mp3`` in the release, any audio extension here),
``panda_dataset_taffc_annotations.csv`` gives ``Song,Quadrant`` and
``panda_dataset_taffc_metadata.csv`` gives ``Song,Artist,...``. A quadrant is a pair of binary
labels: valence high for Q1/Q4, arousal high for Q1/Q2. The artist is the split group, so no
artist is heard on both sides of a split.
"""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.base import DatasetError, DataSetFormat, LabelledTrack, audio_index, find_file
from damer_core.datasets.tables import read_table

ANNOTATIONS = "panda_dataset_taffc_annotations.csv"
METADATA = "panda_dataset_taffc_metadata.csv"
# A quadrant says which half of each axis a clip is in, not how far: +-0.5 marks the half.
QUADRANT_VA = {"Q1": (0.5, 0.5), "Q2": (-0.5, 0.5), "Q3": (-0.5, -0.5), "Q4": (0.5, -0.5)}


def _artists(root: Path) -> dict[str, str]:
    meta = find_file(root, METADATA)
    if meta is None:
        return {}
    return {r["Song"]: r["Artist"] for r in read_table(meta, ["Song", "Artist"], require_rows=False) if r.get("Artist")}


def load_4q(root: Path) -> tuple[list[LabelledTrack], dict]:
    """Labelled tracks of a 4Q folder; songs without audio are listed in ``missing_audio``."""
    path = find_file(root, ANNOTATIONS)
    if path is None:
        raise DatasetError(f"4Q folder {root}: missing {ANNOTATIONS}")
    artists = _artists(root)
    audio = audio_index(root)
    tracks, missing = [], []
    for row in read_table(path, ["Song", "Quadrant"]):
        song, quadrant = row["Song"], row["Quadrant"].upper()
        if quadrant not in QUADRANT_VA:
            raise DatasetError(f"{path.name}, row {row.line}: quadrant {row['Quadrant']!r} "
                               "is not one of Q1, Q2, Q3, Q4")
        if song not in audio:
            missing.append(song)
            continue
        valence, arousal = QUADRANT_VA[quadrant]
        tracks.append(LabelledTrack(audio[song], valence, arousal, song, artists.get(song),
                                    f"{path.name}, row {row.line}: {quadrant}"))
    if not tracks:
        raise DatasetError(f"4Q folder {root}: no audio found for the annotated songs (expected Q1/<Song>.mp3 ... Q4/)")
    desc = {"name": "4Q", "format": "4q", "root": str(root), "scale": "quadrant", "missing_audio": missing,
            "split_group": "artist" if artists else "track"}
    if not artists:
        desc["note"] = f"no {METADATA}: the split goes by track, not by artist"
    return tracks, desc


FORMAT = DataSetFormat("4q", "a 4Q folder", lambda root: find_file(root, ANNOTATIONS) is not None,
                       lambda root, scale: load_4q(root))
