"""The emotion words around the valence-arousal circle (resources/emotion_terms.json)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from damer_core.contract.paths import resources_dir


@dataclass(frozen=True)
class EmotionTerm:
    word: str
    angle: float  # degrees from the positive valence axis, counter-clockwise

    @property
    def valence(self) -> float:
        return math.cos(math.radians(self.angle))

    @property
    def arousal(self) -> float:
        return math.sin(math.radians(self.angle))


def load_emotion_terms(path: str | os.PathLike | None = None) -> list[EmotionTerm]:
    path = Path(path) if path is not None else resources_dir() / "emotion_terms.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        terms = [EmotionTerm(str(t["word"]), float(t["angle"])) for t in data["terms"]]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"{path.name}: not a valid emotion-terms file ({e})") from None
    if not terms:
        raise ValueError(f"{path.name}: lists no emotion terms")
    return terms


def nearest_term(valence: float, arousal: float, terms: list[EmotionTerm]) -> EmotionTerm:
    """The word whose direction is closest to the point's angle on the circle."""
    angle = math.degrees(math.atan2(arousal, valence))
    return min(terms, key=lambda t: abs((angle - t.angle + 180.0) % 360.0 - 180.0))


# A dimension whose point is within this of the axis (P(high) within 0.4..0.6, calibrated) is a
# coin toss: no emotion word that claims a side of it.
UNSURE = 0.2


@dataclass(frozen=True)
class Reading:
    """What a V-A point says in words: an emotion word where both dimensions are known, else only
    what is known ("high energy", "negative", ...) or "uncertain"."""

    word: str
    term: EmotionTerm | None  # the word on the circle; None where a dimension is a coin toss
    unsure: str = ""  # "valence", "arousal" or "valence and arousal"

    @property
    def certain(self) -> bool:
        return self.term is not None


def read_point(valence: float, arousal: float, terms: list[EmotionTerm]) -> Reading:
    """The :class:`Reading` of a point (a coordinate is 2 P(high) - 1)."""
    v_known, a_known = abs(valence) >= UNSURE, abs(arousal) >= UNSURE
    if v_known and a_known:
        term = nearest_term(valence, arousal, terms)
        return Reading(term.word, term)
    if a_known:
        return Reading("high energy" if arousal > 0 else "low energy", None, "valence")
    if v_known:
        return Reading("positive" if valence > 0 else "negative", None, "arousal")
    return Reading("uncertain", None, "valence and arousal")
