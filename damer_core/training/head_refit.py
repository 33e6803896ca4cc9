"""Fine-tuning a bundle that is a descriptor head alone (the built-in model): seconds, no network
(musicnn, where the head reads it, stays frozen). Every labelled track tunes the final head, and
every one is also held out once: a grouped k-fold cross-validation of the same fine-tune (by
artist where the labels name one) compares the base model with the tuned one on all the labels,
not on the few a single split would hold out. The change is paired: both are scored on the same
tracks in every bootstrap resample."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from damer_core.contract import events
from damer_core.datasets.base import DatasetError, FeatureSet
from damer_core.models.descriptor_head import DescriptorHead, fine_tune_descriptor_head, prior_tracks
from damer_core.models.header import DESCRIPTOR_HEAD, BundleHeader
from damer_core.progress import Progress
from damer_core.scoring import paired_change, quadrant_report, track_means
from damer_core.targets import QUADRANT, class_labels

FOLDS = 5


def base_weight(init_bundle: dict) -> float:
    """What the base model weighs in a fine-tune, in labelled tracks (descriptor_head.prior_tracks)."""
    return prior_tracks(BundleHeader.read(init_bundle).data.get("n_tracks"))


def held_out_groups(ds: FeatureSet, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(the tracks of ``rows``, each row's index into them, each track's first row, each track's
    group: its artist where the labels name one, else itself)."""
    tracks, inverse = np.unique(ds.track[rows], return_inverse=True)
    first = np.unique(inverse, return_index=True)[1]
    groups = ds.group[rows][first] if ds.group is not None else tracks.astype(str)
    return tracks, inverse, first, groups


def fold_count(groups: np.ndarray, folds: int = FOLDS) -> int:
    """The folds the check runs: ``folds``, fewer where there are fewer groups; 0 under two groups."""
    k = min(folds, np.unique(groups).size)
    return k if k >= 2 else 0


def cross_validated_check(base: DescriptorHead, ds: FeatureSet, rows: np.ndarray, prior: float,
                          folds: int = FOLDS) -> dict[str, Any]:
    """The base model and the fine-tune of it on ``rows`` (labelled windows), each track scored by a
    fine-tune that never saw its group: {n, folds, by, before, after, change}; {"n": 0} when the
    labels have fewer than two groups to hold out in turn."""
    from sklearn.model_selection import GroupKFold

    y = class_labels(ds.valence[rows], ds.arousal[rows], QUADRANT)
    tracks, inverse, first, groups = held_out_groups(ds, rows)
    k = fold_count(groups, folds)
    if not k:
        return {"n": 0}
    x = ds.window_descriptors[rows]
    p_after = np.zeros((tracks.size, base.coef.shape[0]))
    for fit_t, held_t in GroupKFold(n_splits=k).split(tracks, groups=groups):
        fit, held = np.isin(inverse, fit_t), np.isin(inverse, held_t)
        tuned = fine_tune_descriptor_head(base, x[fit], y[fit], inverse[fit], prior)
        p_after[held_t] = track_means(inverse[held], tuned.probabilities(x[held]))[1]
    p_before = track_means(inverse, base.probabilities(x))[1]
    y_t = y[first]
    return {"n": int(tracks.size), "folds": int(k), "by": "group" if ds.group is not None else "track",
            "before": quadrant_report(y_t, p_before), "after": quadrant_report(y_t, p_after),
            "change": paired_change(y_t, p_before, p_after)}


def fine_tune_head_only(init_bundle: dict, init_path: str, data_args, tcfg, out, progress: Progress, cache=None):
    """Refit the head on every labelled track, after checking the same refit by cross-validation;
    writes ``out/best.pt`` (created now, its report the check) and returns its path."""
    from damer_core.datasets import load_descriptor_set
    from damer_core.features.spectra import FeatureConfig
    from damer_core.models.checkpoint import save_atomic, with_checksums

    base = DescriptorHead.from_state(init_bundle["descriptor_head"])
    ds = load_descriptor_set(data_args.dataset, data_args.format, data_args.scale,
                             FeatureConfig.from_dict(init_bundle["feature_config"]), progress, cache,
                             embeddings=base.embedded)
    y = class_labels(ds.valence, ds.arousal, QUADRANT)
    rows = np.flatnonzero(y >= 0)
    if rows.size == 0:
        raise DatasetError("no labelled track has both valence and arousal: the descriptor head learns quadrants")
    tracks, _, _, groups = held_out_groups(ds, rows)
    n_tracks, k = int(tracks.size), fold_count(groups)
    by = ds.description.get("split_group", "track") if ds.group is not None else "track"
    progress.emit(events.RefitStart(kind=DESCRIPTOR_HEAD, n_tracks=ds.n_tracks, split={
        "by": by, "train": n_tracks, "val": 0, "test": n_tracks if k else 0, "folds": k}))
    prior = base_weight(init_bundle)
    report = cross_validated_check(base, ds, rows, prior)
    head = fine_tune_descriptor_head(base, ds.window_descriptors[rows], y[rows], ds.track[rows], prior)
    progress.message(f"descriptor head refitted on {n_tracks} labelled tracks, pulled towards the base model, "
                     f"which weighs as much as {prior:.0f} labelled tracks (seconds: it has no network to train)")
    if report["n"]:
        progress.message(f"each of {report['n']} tracks held out once ({report['folds']}-fold cross-validation): "
                         f"quadrant macro-F1 {report['before']['macro_f1']:.3f} before, "
                         f"{report['after']['macro_f1']:.3f} after")
    bundle = {k: v for k, v in init_bundle.items() if k not in ("descriptor_head", "report", "quadrant", "split")}
    tune = {**report, "prior_tracks": prior}
    bundle.update(descriptor_head=head.to_state(), report={"fine_tune": tune, "base": str(init_path)},
                  created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  data=ds.description, data_args=data_args.to_dict(), train_config=tcfg.to_dict())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    best = save_atomic(with_checksums(bundle), out / "best.pt")
    progress.emit(events.Refitted(bundle=str(best), kind=DESCRIPTOR_HEAD, n=report["n"],
                                  before=report.get("before", {}), after=report.get("after", {}),
                                  change=report.get("change", {})))
    return best
