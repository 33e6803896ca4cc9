"""What a prediction is: the windows' probabilities and confidences (:class:`WindowPrediction`),
a track's 0.5 s trajectory (:class:`Trajectory`), its static V-A (:class:`StaticPrediction`) and
both together (:class:`TrackPrediction`), each with its JSON form. numpy only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from damer_core.contract import trajectory
from damer_core.contract.dimensions import DIMENSIONS
from damer_core.targets import dimension_probabilities


@dataclass
class WindowPrediction:
    """Per window and dimension: calibrated P(high) from the fused head and the confidence
    c = r * max p. A dimension the bundle does not predict is NaN: never a made-up value."""

    probability: dict[str, np.ndarray]
    confidence: dict[str, np.ndarray]
    dims: tuple[str, ...] = DIMENSIONS  # the dimensions the bundle really predicts
    # DAMER's own quadrant probabilities [n, 4] and reliability r [n], where it predicts both
    # dimensions: what a bundle's combination with the descriptor head starts from
    quadrant: np.ndarray | None = None
    reliability: np.ndarray | None = None

    def point(self, dim: str) -> np.ndarray:
        return 2.0 * self.probability[dim] - 1.0

    @property
    def valence(self) -> np.ndarray:
        return self.point("valence")

    @property
    def arousal(self) -> np.ndarray:
        return self.point("arousal")

    @property
    def overall_confidence(self) -> np.ndarray:
        return np.mean([self.confidence[d] for d in self.dims], axis=0)

    def take(self, rows: np.ndarray) -> WindowPrediction:
        pick = lambda x: None if x is None else x[rows]  # noqa: E731
        return WindowPrediction({d: v[rows] for d, v in self.probability.items()},
                                {d: v[rows] for d, v in self.confidence.items()}, self.dims,
                                pick(self.quadrant), pick(self.reliability))

    @staticmethod
    def concatenate(parts: list[WindowPrediction]) -> WindowPrediction:
        first = parts[0]
        cat = lambda get: None if get(first) is None else np.concatenate([get(p) for p in parts])  # noqa: E731
        return WindowPrediction({d: np.concatenate([p.probability[d] for p in parts]) for d in first.probability},
                                {d: np.concatenate([p.confidence[d] for p in parts]) for d in first.confidence},
                                first.dims, cat(lambda p: p.quadrant), cat(lambda p: p.reliability))


def dimension_prediction(p_quadrant: np.ndarray, reliability: np.ndarray) -> WindowPrediction:
    """Both dimensions from quadrant probabilities: P(V high) = P(Q1) + P(Q4), P(A high) =
    P(Q1) + P(Q2); a dimension's confidence is r times its more likely side's probability, as for
    a binary network."""
    p_v, p_a = dimension_probabilities(p_quadrant)
    prob = {"arousal": p_a.astype(np.float32), "valence": p_v.astype(np.float32)}
    conf = {d: (reliability * np.maximum(p, 1.0 - p)).astype(np.float32) for d, p in prob.items()}
    return WindowPrediction(prob, conf, DIMENSIONS, np.asarray(p_quadrant), np.asarray(reliability))


def _json_values(x: np.ndarray, digits: int = 4) -> list:
    """Rounded floats for JSON, NaN (not predicted) as null."""
    return [None if not np.isfinite(v) else round(float(v), digits) for v in x]


@dataclass
class Trajectory:
    """One point per 0.5 s (``times``; the window for ``times[i]`` ends there, clamped at the
    edges). ``valence``/``arousal`` in [-1, 1] are the raw window predictions; ``smoothed()`` is
    what the display shows (damer_core.contract.trajectory)."""

    times: np.ndarray
    valence: np.ndarray
    arousal: np.ndarray
    confidence: np.ndarray  # [0, 1]

    def at(self, t: float) -> int:
        """Index of the trajectory point for the moment ``t``."""
        return trajectory.index_at(self.times, t)

    def smoothed(self) -> Trajectory:
        return Trajectory(self.times, trajectory.smooth(self.valence), trajectory.smooth(self.arousal),
                          trajectory.smooth(self.confidence))

    def to_dict(self) -> dict:
        return {"t": self.times.round(3).tolist(), "valence": _json_values(self.valence),
                "arousal": _json_values(self.arousal), "confidence": _json_values(self.confidence)}


@dataclass
class StaticPrediction:
    """The static V-A of a track (the model segment's windows), without its trajectory."""

    path: str
    valence: float  # NaN where the bundle does not predict valence
    arousal: float
    confidence: float
    duration: float
    dims: tuple[str, ...] = DIMENSIONS
    warning: str = ""

    def to_dict(self) -> dict:
        v, a = _json_values(np.array([self.valence, self.arousal]), 6)
        return {"path": self.path, "valence": v, "arousal": a, "confidence": self.confidence,
                "duration": self.duration, "warning": self.warning}


@dataclass
class TrackPrediction:
    path: str
    valence: float  # NaN where the bundle does not predict valence
    arousal: float
    confidence: float
    duration: float
    trajectory: Trajectory  # raw
    dims: tuple[str, ...] = DIMENSIONS
    warning: str = ""  # e.g. near-silent audio: no emotion is claimed (centre, confidence 0)

    def to_dict(self, smoothed: bool = True) -> dict:
        """``trajectory`` is the smoothed one the app shows ({} without ``smoothed``: the analysis
        worker sends the window values only, the app smooths them once); ``trajectory_raw`` the window values."""
        v, a = _json_values(np.array([self.valence, self.arousal]), 6)
        return {"path": self.path, "valence": v, "arousal": a, "confidence": self.confidence,
                "duration": self.duration, "dimensions": list(self.dims), "warning": self.warning,
                "smoothing_sigma_s": trajectory.SMOOTHING_SIGMA_S,
                "trajectory": self.trajectory.smoothed().to_dict() if smoothed else {},
                "trajectory_raw": self.trajectory.to_dict()}
