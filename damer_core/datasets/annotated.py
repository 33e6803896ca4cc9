"""Audio + annotation folders of PMEmo, 1000 Songs (emoMusic) and DEAM (docs/SPEC.md section 8).

Only the static (per-song) annotations are used for training; each loader checks its folder
and names the missing file or column. Audio is found by song id anywhere under the root, as the
releases nest their audio folders differently (``chorus/``, ``clips_45seconds/``, ``MEMD_audio/``).
"""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.base import DatasetError, LabelledTrack, audio_index, find_file, label_value, to_unit_scale
from damer_core.datasets.tables import Row, read_table


def _row(path: Path, r: Row, id_column: str, valence: str, arousal: str, scale: str) -> tuple[str, float, float]:
    """(song id, valence, arousal) of one annotation row, each label checked against the scale."""
    where = f"{path.name}, row {r.line}"
    return r[id_column], label_value(r[valence], scale, where, valence), label_value(r[arousal], scale, where, arousal)


def _tracks(root: Path, rows: list[tuple[str, float, float]], scale: str, name: str,
            audio_hint: str) -> tuple[list[LabelledTrack], list[str]]:
    audio = audio_index(root)
    tracks, missing = [], []
    for song_id, valence, arousal in rows:
        path = audio.get(song_id)
        if path is None:
            missing.append(song_id)
            continue
        v, a = to_unit_scale([valence, arousal], scale)
        tracks.append(LabelledTrack(path, float(v), float(a), song_id))
    if not tracks:
        raise DatasetError(f"{name} folder {root}: no audio found for the {len(rows)} annotated songs "
                           f"(expected {audio_hint})")
    return tracks, missing


def load_pmemo(root: Path) -> tuple[list[LabelledTrack], dict]:
    """PMEmo: ``static_annotations.csv`` (musicId, Arousal(mean), Valence(mean), 0..1), audio
    ``chorus/<musicId>.mp3``; ``metadata.csv`` must be present."""
    for required in ("metadata.csv", "static_annotations.csv"):
        if find_file(root, required) is None:
            raise DatasetError(f"PMEmo folder {root}: missing {required}")
    path = find_file(root, "static_annotations.csv")
    table = read_table(path, ["musicId", "Arousal(mean)", "Valence(mean)"])
    rows = [_row(path, r, "musicId", "Valence(mean)", "Arousal(mean)", "0..1") for r in table]
    tracks, missing = _tracks(root, rows, "0..1", "PMEmo", "chorus/<musicId>.mp3")
    return tracks, {"name": "PMEmo", "format": "pmemo", "root": str(root), "scale": "0..1", "missing_audio": missing}


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
    rows = [_row(path, r, "song_id", "mean_valence", "mean_arousal", "1..9") for r in table]
    tracks, missing = _tracks(root, rows, "1..9", "1000 Songs", "clips_45seconds/<song_id>.mp3")
    return tracks, {"name": "1000 Songs", "format": "emomusic", "root": str(root), "scale": "1..9",
                    "missing_audio": missing, "n_titles": len(titles)}


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
        rows += [_row(path, r, "song_id", "valence_mean", "arousal_mean", "1..9") for r in table]
    tracks, missing = _tracks(root, rows, "1..9", "DEAM", "MEMD_audio/<song_id>.mp3")
    return tracks, {"name": "DEAM", "format": "deam", "root": str(root), "scale": "1..9", "missing_audio": missing}
