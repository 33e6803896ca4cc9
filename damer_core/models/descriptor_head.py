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



PRIOR_TRACKS = 300.0  # what a base model weighs, in labelled tracks, where it does not say how many it learned from
MIN_PRIOR_TRACKS = 100.0


def prior_tracks(learned_from: object) -> float:
    """What a base model weighs in a fine-tune: the labelled tracks it learned from (at least
    MIN_PRIOR_TRACKS; PRIOR_TRACKS where its bundle does not say)."""
    try:
        n = float(learned_from)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return PRIOR_TRACKS
    return max(MIN_PRIOR_TRACKS, n) if n == n else PRIOR_TRACKS


def fine_tune_descriptor_head(base: DescriptorHead, x: np.ndarray, y: np.ndarray, track: np.ndarray | None = None,
                              prior_tracks: float = PRIOR_TRACKS) -> DescriptorHead:
    """``base`` adjusted to a curator's labelled windows ``x`` (classes ``y``, tracks ``track``)
    in seconds: its standardisation, kernel map and temperature are kept, and the classifier's
    weights move from the base's as far as the evidence carries them. Each track weighs one
    (its windows share it), and the base weighs ``prior_tracks`` tracks: a Gaussian prior centred
    on its weights whose precision is ``prior_tracks`` times the Fisher information of one
    track at the base (a Laplace approximation, a block per class, estimated on these windows: the
    directions the labels can move are the ones it measures). n labels move it about
    n / (n + prior_tracks) of the way to what they alone say: 15 labels barely move a model that
    learned from 720 tracks, and a curator who keeps disagreeing with it wins in the
    end. (Checked on 4Q: a prior of 30 tracks, or the earlier pull of strength 1 per window, let
    15 honest labels cost 10 to 25 points of accuracy on other tracks.)"""
    from scipy.optimize import minimize

    f = base.features(x)
    n_classes = base.coef.shape[0]
    y = np.asarray(y, np.int64)
    track = np.arange(y.size) if track is None else np.asarray(track)
    _, inverse, counts = np.unique(track, return_inverse=True, return_counts=True)
    weight = 1.0 / counts[inverse]  # a track's windows share its one vote
    onehot = np.eye(n_classes)[y]
    w0 = np.hstack([base.coef, base.intercept[:, None]])
    fb = np.hstack([f, np.ones((f.shape[0], 1))])
    p0 = softmax(fb @ w0.T)
    curvature = weight[:, None] * p0 * (1 - p0)  # [n, C]
    fisher = np.stack([(fb * curvature[:, [c]]).T @ fb for c in range(n_classes)]) / counts.size  # one track's: [C, F+1, F+1]
    # Directions these few tracks hardly vary in still vary across music: there, the curvature of
    # standardised inputs (unit variance each) stands in for the population's
    spread = curvature.sum(axis=0) / counts.size  # [C]
    precision = prior_tracks * (fisher + spread[:, None, None] * np.eye(fb.shape[1]))

    def loss(flat: np.ndarray) -> tuple[float, np.ndarray]:
        w = flat.reshape(w0.shape)
        z = fb @ w.T
        z -= z.max(axis=1, keepdims=True)
        log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        pulled = np.matmul(precision, (w - w0)[:, :, None])[:, :, 0]
        value = -(weight[:, None] * onehot * log_p).sum() + 0.5 * ((w - w0) * pulled).sum()
        grad = (weight[:, None] * (np.exp(log_p) - onehot)).T @ fb + pulled
        return float(value), grad.ravel()

    w = minimize(loss, w0.ravel(), jac=True, method="L-BFGS-B").x.reshape(w0.shape)
    return DescriptorHead(base.kind, base.groups, base.mean, base.std, w[:, :-1], w[:, -1], base.landmarks,
                          base.projection, base.gamma, base.temperature)
