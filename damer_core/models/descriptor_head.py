"""The descriptor head (docs/SPEC.md sections 4-5): the quadrant from a window's musical descriptors
(damer_core.features.descriptors), as one 4-way softmax.

Two forms, both fitted with scikit-learn and kept as plain tensors, so a bundle stays weights-only
and is evaluated here with numpy, never unpickled:

- ``linear``: standardise, then multinomial logistic regression.
- ``kernel``: standardise, an RBF kernel against ``m`` landmark windows, Nystroem's whitening
  (scikit-learn's ``Nystroem``), then multinomial logistic regression: a kernel machine whose
  size does not grow with the data.

A track's prediction is the mean of its windows' probabilities, as for DAMER.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from damer_core.features.descriptors import NAMES
from damer_core.features.head_inputs import input_columns, reads_descriptors, uses_embeddings
from damer_core.scoring import softmax

KINDS = ("linear", "kernel")


@dataclass
class DescriptorHead:
    kind: str
    groups: tuple[str, ...]
    mean: np.ndarray  # [D] over the chosen groups' columns
    std: np.ndarray
    coef: np.ndarray  # [C, F]
    intercept: np.ndarray  # [C]
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [m, D] standardised (kernel)
    projection: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))  # [m, m] (kernel)
    gamma: float = 0.0
    temperature: float = 1.0

    @property
    def columns(self) -> np.ndarray:
        return input_columns(self.groups)

    @property
    def embedded(self) -> bool:
        """Whether its rows carry musicnn's embedding (damer_core.features.head_inputs)."""
        return uses_embeddings(self.groups)

    @property
    def reads_descriptors(self) -> bool:
        return reads_descriptors(self.groups)

    def features(self, x: np.ndarray) -> np.ndarray:
        """What the logistic regression sees for rows ``x`` (damer_core.features.head_inputs)."""
        return self._expand((np.asarray(x, np.float64)[:, self.columns] - self.mean) / self.std)

    def _expand(self, z: np.ndarray) -> np.ndarray:
        """Standardised descriptors -> the classifier's inputs (themselves, or the kernel map)."""
        if self.kind == "linear":
            return z
        sq = (z**2).sum(axis=1)[:, None] + (self.landmarks**2).sum(axis=1)[None, :] - 2.0 * z @ self.landmarks.T
        return np.exp(-self.gamma * np.maximum(sq, 0.0)) @ self.projection.T

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.features(x) @ self.coef.T + self.intercept

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities ``[n, C]``."""
        return softmax(self.logits(x), self.temperature)

    # -- weights-only storage -------------------------------------------------------------------
    def to_state(self) -> dict:
        import torch

        tensors = {k: torch.from_numpy(np.ascontiguousarray(getattr(self, k), dtype=np.float32))
                   for k in ("mean", "std", "coef", "intercept", "landmarks", "projection")}
        return {"kind": self.kind, "groups": list(self.groups), "gamma": float(self.gamma),
                "temperature": float(self.temperature), "n_descriptors": len(NAMES), "state_dict": tensors}

    @classmethod
    def from_state(cls, state: dict) -> DescriptorHead:
        sd = state["state_dict"]
        arrays = {k: sd[k].detach().cpu().double().numpy() for k in  # float16, bfloat16... as float64
                  ("mean", "std", "coef", "intercept", "landmarks", "projection")}
        return cls(kind=str(state["kind"]), groups=tuple(state["groups"]), gamma=float(state["gamma"]),
                   temperature=float(state["temperature"]), **arrays)


def fit_descriptor_head(x: np.ndarray, y: np.ndarray, kind: str = "kernel", c: float = 1.0,
                        groups: tuple[str, ...] = ("timbre", "tonal", "rhythm", "dynamics"),
                        gamma_scale: float = 1.0, landmarks: int = 400, seed: int = 0,
                        warm: DescriptorHead | None = None) -> DescriptorHead:
    """Fit on rows ``x`` (descriptors, and the embedding when ``groups`` name it) with class labels ``y`` (0..C-1).
    ``gamma_scale`` multiplies the RBF width's default 1 / D. ``warm``: keep that head's
    standardisation and landmarks and refit only the classifier (fine-tuning on a curator's few
    labels, in seconds)."""
    from sklearn.kernel_approximation import Nystroem
    from sklearn.linear_model import LogisticRegression

    if kind not in KINDS:
        raise ValueError(f"unknown descriptor head {kind!r}; choose one of {', '.join(KINDS)}")
    cols = input_columns(groups)
    x = np.asarray(x, np.float64)[:, cols]
    if warm is not None:
        mean, std = warm.mean, warm.std
    else:
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-6
    z = (x - mean) / std
    head = DescriptorHead(kind, tuple(groups), mean, std, np.zeros(0), np.zeros(0))
    if kind == "kernel":
        if warm is not None and warm.kind == "kernel":
            head.landmarks, head.projection, head.gamma = warm.landmarks, warm.projection, warm.gamma
        else:
            gamma = gamma_scale / z.shape[1]
            ny = Nystroem(kernel="rbf", gamma=gamma, n_components=min(landmarks, z.shape[0]), random_state=seed).fit(z)
            head.landmarks, head.projection, head.gamma = ny.components_, ny.normalization_, gamma
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(head._expand(z), y)
    coef, intercept = clf.coef_, clf.intercept_
    if coef.shape[0] == 1:  # scikit-learn keeps one row for two classes
        coef, intercept = np.vstack([-coef / 2, coef / 2]), np.r_[-intercept / 2, intercept / 2]
    head.coef, head.intercept = coef, intercept
    return head



def fine_tune_descriptor_head(base: DescriptorHead, x: np.ndarray, y: np.ndarray, strength: float = 1.0) -> DescriptorHead:
    """``base`` adjusted to a curator's labelled windows in seconds: its standardisation and
    kernel map are kept, and the classifier is refitted with an L2 pull towards the base's
    weights (a Gaussian prior centred on them, ``strength`` = the prior's precision). A dozen
    labels move it a little; hundreds move it as far as they agree."""
    from scipy.optimize import minimize

    f = base.features(x)
    n_classes = base.coef.shape[0]
    y = np.asarray(y, np.int64)
    onehot = np.eye(n_classes)[y]
    w0 = np.hstack([base.coef, base.intercept[:, None]])
    fb = np.hstack([f, np.ones((f.shape[0], 1))])

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(w0.shape)
        z = fb @ w.T
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        d = w - w0
        value = -(onehot * log_p).sum() + 0.5 * strength * (d * d).sum()
        grad = (np.exp(log_p) - onehot).T @ fb + strength * d
        return float(value), grad.ravel()

    w = minimize(loss, w0.ravel(), jac=True, method="L-BFGS-B").x.reshape(w0.shape)
    return DescriptorHead(base.kind, base.groups, base.mean, base.std, w[:, :-1], w[:, -1], base.landmarks,
                          base.projection, base.gamma, base.temperature)
