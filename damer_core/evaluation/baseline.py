"""A simple baseline for context (`damer-core baseline`): a linear probe on per-band statistics.

Each track becomes one vector, the mean and standard deviation over time of every band of its
training windows, the Mel stream's and the cochleogram's (424 numbers; with the `context-musicnn`
preset the Mel stream's bands are musicnn's 192 mid-end channels: a probe on what that DAMER
reads), standardised with the training part's
statistics. An L2-regularised logistic regression per dimension is fitted on the training part,
its regularisation strength chosen on the validation part, and scored on the test part of the
same split a DAMER run uses. If DAMER cannot beat this, it has learned nothing a band-energy
summary does not already say."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from damer_core.contract.errors import InputError
from damer_core.datasets.base import DIMENSIONS, FeatureSet
from damer_core.datasets.split import Split
from damer_core.metrics import roc_auc

C_GRID = (0.001, 0.01, 0.1, 1.0)


def track_statistics(fs: FeatureSet) -> tuple[np.ndarray, np.ndarray]:
    """(track ids, [n_tracks, 2 * (n_mels + n_gammatone)]) per-band mean and std over each track's frames."""
    from damer_core.features.spectra import TUNED_PATHS

    if fs.feature_config.mel_path in TUNED_PATHS:  # its windows hold musicnn's front end or log-mel patches, not bands
        raise InputError(f"the baseline reads the Mel stream's bands, which the {fs.feature_config.name} preset makes "
                         "while it trains: use --preset context-musicnn (the same bands before fine-tuning)")
    tracks = np.unique(fs.track)
    rows = []
    for t in tracks:
        idx = np.flatnonzero(fs.track == t)
        x = np.concatenate([np.asarray(fs.mel[idx], np.float64), np.asarray(fs.coch[idx], np.float64)], axis=1)
        x = x.transpose(1, 0, 2).reshape(x.shape[1], -1)  # [bands, all frames of the track]
        rows.append(np.concatenate([x.mean(axis=1), x.std(axis=1)]))
    return tracks, np.array(rows)


def fit_logistic(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    """Weights (bias last) minimising log-loss + ||w||^2 / (2c)."""
    xb = np.hstack([x, np.ones((x.shape[0], 1))])

    def loss(w):
        z = xb @ w
        p = 1.0 / (1.0 + np.exp(-z))
        reg = np.r_[w[:-1], 0.0]
        return np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 / c * reg @ reg, xb.T @ (p - y) + reg / c

    return minimize(loss, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B").x


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.hstack([x, np.ones((x.shape[0], 1))]) @ w)))


def linear_probe(fs: FeatureSet, split: Split, dims=DIMENSIONS) -> dict:
    """Per dimension: the chosen C, and P(high) for each test track (``{dim: (track ids, p)}``)."""
    tracks, stats = track_statistics(fs)
    part_tracks = {p: np.unique(fs.track[split.part(p)]) for p in ("train", "val", "test")}
    rows = {p: np.searchsorted(tracks, t) for p, t in part_tracks.items()}
    mean, std = stats[rows["train"]].mean(axis=0), stats[rows["train"]].std(axis=0) + 1e-9
    z = (stats - mean) / std
    first = np.searchsorted(fs.track, tracks)  # windows of a track are contiguous: its first window
    out = {}
    for dim in dims:
        values = fs.values(dim)[first]
        labelled = {p: r[~np.isnan(values[r])] for p, r in rows.items()}
        y = (values > 0).astype(float)
        best = max(C_GRID, key=lambda c: _val_score(z, y, labelled, c))
        w = fit_logistic(z[labelled["train"]], y[labelled["train"]], best)
        out[dim] = {"c": best, "tracks": tracks[labelled["test"]], "p": predict_logistic(w, z[labelled["test"]]),
                    "y": y[labelled["test"]].astype(int)}
    return out


def _val_score(z, y, rows, c) -> float:
    w = fit_logistic(z[rows["train"]], y[rows["train"]], c)
    auc = roc_auc(y[rows["val"]], predict_logistic(w, z[rows["val"]]))
    return auc if np.isfinite(auc) else -np.inf
