"""What the library's queries hand out: a track as the table shows it, and a curator's label."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrackRow:
    id: int
    path: str
    title: str
    artist: str
    album: str
    duration: float
    valence: float | None = None  # None: not analysed, or not predicted by the model (see analysed)
    arousal: float | None = None
    confidence: float | None = None
    labelled: bool = False
    analysed: bool = False  # the model has a prediction for this track
    previous: bool = False  # the values are the previous model's, until the active one has analysed it
    whole: bool = False  # the values are the mean of the whole track's trajectory, not its segment's


@dataclass
class Label:
    """One curator's label of a track: the static label (the mean of its points) and its trajectory."""
    id: int
    track_id: int
    path: str
    curator: str
    valence: float | None
    arousal: float | None
    n_points: int
    points: list[tuple[float, float, float]]
    artist: str = ""  # the track's artist tag: the training split keeps an artist's tracks together
    session_id: int | None = None  # the calibration session it was drawn in, if any
