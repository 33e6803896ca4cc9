"""How a bundle combines DAMER with the descriptor head (docs/SPEC.md section 5): a multinomial logistic
regression on the two models' quadrant log-probabilities (a stack), fitted on out-of-fold
predictions (damer_core.evaluation.selection) and calibrated by one temperature. Stored as tensors."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from damer_core.scoring import softmax

FLOOR = 1e-6  # log-probabilities are taken of probabilities clipped here


def stack_features(*probabilities: np.ndarray) -> np.ndarray:
    """The stack's inputs: each model's quadrant log-probabilities ``[n, 4]``, side by side."""
    return np.hstack([np.log(np.clip(np.asarray(p, np.float64), FLOOR, 1.0)) for p in probabilities])


@dataclass
class Combination:
    coef: np.ndarray  # [4, 8]
    intercept: np.ndarray  # [4]
    temperature: float = 1.0

    def probabilities(self, p_damer: np.ndarray, p_descriptors: np.ndarray) -> np.ndarray:
        """Calibrated quadrant probabilities ``[n, 4]`` from DAMER's and the descriptor head's."""
        x = stack_features(p_damer, p_descriptors)
        return softmax(x @ self.coef.T + self.intercept, self.temperature)

    def to_state(self) -> dict:
        import torch

        return {"temperature": float(self.temperature), "inputs": ["damer", "descriptors"],
                "state_dict": {"coef": torch.from_numpy(np.asarray(self.coef, np.float32)),
                               "intercept": torch.from_numpy(np.asarray(self.intercept, np.float32))}}

    @classmethod
    def from_state(cls, state: dict) -> Combination:
        sd = state["state_dict"]
        return cls(sd["coef"].double().numpy(), sd["intercept"].double().numpy(),  # bfloat16 too
                   float(state["temperature"]))


def fit_combination(x: np.ndarray, y: np.ndarray, c: float = 1.0) -> Combination:
    """A stack fitted on stacked log-probabilities ``x`` (:func:`stack_features`) with quadrant labels."""
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=c, max_iter=2000).fit(x, y)
    return Combination(clf.coef_, clf.intercept_)
