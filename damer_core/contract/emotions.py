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


# Words of feeling and the part of the circle each names (degrees from the positive valence axis,
# counter-clockwise): the four quadrants (each of the 12 words falls in its own), the halves, and
# everyday synonyms. A search for "calm" finds relaxed and peaceful tracks too, "high energy"
# angry and excited ones.
FEELINGS: dict[tuple[float, float], tuple[str, ...]] = {
    (0.0, 90.0): ("happy", "joyful", "joy", "cheerful", "glad", "upbeat", "excited", "exciting", "elated", "fun",
                  "euphoric", "uplifting"),
    (90.0, 180.0): ("angry", "anger", "tense", "tension", "aggressive", "anxious", "anxiety", "fear", "scary",
                    "stressful", "furious", "nervous", "agitated"),
    (180.0, 270.0): ("sad", "sadness", "gloomy", "depressed", "depressing", "melancholy", "melancholic", "tired",
                     "sorrow", "sorrowful", "bored", "blue", "somber"),
    (270.0, 360.0): ("calm", "relaxed", "relaxing", "peaceful", "serene", "chill", "mellow", "soothing", "tranquil",
                     "content", "gentle"),
    (0.0, 180.0): ("energetic", "high energy", "intense", "powerful", "lively", "dynamic", "aroused"),
    (180.0, 360.0): ("low energy", "quiet", "soft", "sleepy", "still"),
    (-90.0, 90.0): ("positive", "pleasant", "bright"),
    (90.0, 270.0): ("negative", "unpleasant", "dark"),
}
FEELING_ARCS = {word: arc for arc, words in FEELINGS.items() for word in words}
NEUTRAL_RADIUS = 0.05  # a point this near the centre reads as no feeling at all


def feeling_arc(query: str) -> tuple[float, float] | None:
    """The part of the circle a search names ("calm" -> the calm quadrant), or None for any other text."""
    return FEELING_ARCS.get(" ".join(query.lower().split()))


def in_arc(valence: float, arousal: float, arc: tuple[float, float]) -> bool:
    """Whether the point (valence, arousal) lies in ``arc`` (and is not at the centre)."""
    if math.hypot(valence, arousal) < NEUTRAL_RADIUS:
        return False
    angle = math.degrees(math.atan2(arousal, valence)) % 360.0
    lo, hi = arc
    return lo <= angle < hi or lo <= angle - 360.0 < hi
