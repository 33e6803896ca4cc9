"""What the audio + annotation folders of PMEmo, 1000 Songs (emoMusic) and DEAM share
(docs/SPEC.md section 8; each has its own module: pmemo, emomusic, deam).

Only the static (per-song) annotations are used for training; each loader checks its folder
and names the missing file or column. Audio is found by song id anywhere under the root, as the
releases nest their audio folders differently (``chorus/``, ``clips_45seconds/``, ``MEMD_audio/``).
"""

from __future__ import annotations

from pathlib import Path

from damer_core.datasets.base import DatasetError, LabelledTrack, audio_index, find_file, label_value, to_unit_scale
from damer_core.datasets.tables import Row


def annotation_rows(path: Path, r: Row, id_column: str, valence: str, arousal: str, scale: str) -> tuple[str, float, float]:
    """(song id, valence, arousal) of one annotation row, each label checked against the scale."""
    where = f"{path.name}, row {r.line}"
    return r[id_column], label_value(r[valence], scale, where, valence), label_value(r[arousal], scale, where, arousal)


def tracks_with_audio(root: Path, rows: list[tuple[str, float, float]], scale: str, name: str,
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


def static_header(root: Path) -> str:
    """The header line of the folder's ``static_annotations.csv`` ("" without one): PMEmo's and
    1000 Songs' files share the name and differ in their columns."""
    static = find_file(root, "static_annotations.csv")
    if static is None:
        return ""
    with open(static, encoding="utf-8-sig", errors="replace") as f:
        return f.readline(4096)  # a header line, not a garbage file's one endless line
