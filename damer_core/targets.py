"""What one DAMER network predicts (docs/SPEC.md section 5): one dimension's high / low, as in the paper,
or the Russell quadrant as one 4-way decision (the joint quadrant head).

Valence depends on arousal (happy vs tense is a timbre question, calm vs sad a tonal one); two
independent binary networks cannot use that, one 4-way softmax can. The marker then reads
P(valence high) = P(Q1) + P(Q4) and P(arousal high) = P(Q1) + P(Q2).
"""

from __future__ import annotations

import numpy as np

from damer_core.contract.dimensions import DIMENSIONS, QUADRANT

TARGETS = (*DIMENSIONS, QUADRANT)
# The joint head's classes, in this order: Q1 V+A+, Q2 V-A+, Q3 V-A-, Q4 V+A-.
QUADRANT_NAMES = ("Q1", "Q2", "Q3", "Q4")
VALENCE_HIGH = np.array([1.0, 0.0, 0.0, 1.0])
AROUSAL_HIGH = np.array([1.0, 1.0, 0.0, 0.0])


def n_classes(target: str) -> int:
    check_target(target)
    return 4 if target == QUADRANT else 2


def check_target(target: str) -> None:
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")


def quadrant_index(valence_high: np.ndarray, arousal_high: np.ndarray) -> np.ndarray:
    """0..3 for Q1..Q4 from the two binary labels."""
    v, a = np.asarray(valence_high).astype(bool), np.asarray(arousal_high).astype(bool)
    return np.where(a, np.where(v, 0, 1), np.where(v, 3, 2)).astype(np.int64)


def labelled(valence: np.ndarray, arousal: np.ndarray, target: str) -> np.ndarray:
    """Where a sample carries a label for ``target`` (the quadrant needs both dimensions)."""
    check_target(target)
    if target == QUADRANT:
        return ~np.isnan(valence) & ~np.isnan(arousal)
    return ~np.isnan(valence if target == "valence" else arousal)


def class_labels(valence: np.ndarray, arousal: np.ndarray, target: str) -> np.ndarray:
    """Class index per sample (labels in [-1, 1], high where > 0); -1 where unlabelled."""
    known = labelled(valence, arousal, target)
    with np.errstate(invalid="ignore"):
        if target == QUADRANT:
            y = quadrant_index(valence > 0, arousal > 0)
        else:
            y = ((valence if target == "valence" else arousal) > 0).astype(np.int64)
    return np.where(known, y, -1)


def dimension_probabilities(p_quadrant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(P(valence high), P(arousal high)) from quadrant probabilities ``[..., 4]``."""
    p = np.asarray(p_quadrant, dtype=np.float64)
    return p @ VALENCE_HIGH, p @ AROUSAL_HIGH


def by_dimension(p_quadrant: np.ndarray) -> dict[str, np.ndarray]:
    """Quadrant probabilities ``[n, 4]`` with each dimension's P(high) beside them, keyed as a
    model's track probabilities are ("quadrant", "valence", "arousal")."""
    p_v, p_a = dimension_probabilities(p_quadrant)
    return {QUADRANT: p_quadrant, "valence": p_v, "arousal": p_a}


def quadrant_probabilities(p_valence: np.ndarray, p_arousal: np.ndarray) -> np.ndarray:
    """``[n, 4]`` quadrant probabilities of two independent binary decisions (the paper's form)."""
    v, a = np.asarray(p_valence, np.float64), np.asarray(p_arousal, np.float64)
    return np.stack([v * a, (1 - v) * a, (1 - v) * (1 - a), v * (1 - a)], axis=-1)
