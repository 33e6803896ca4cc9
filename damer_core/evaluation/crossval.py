"""Grouped k-fold cross-validation inside the train + validation tracks (docs/SPEC.md section 5, model
selection): recipes are compared on the same folds, each fold's tracks by artists that the
fold's training part never heard; the test part is never touched here.

A DAMER recipe's run writes, per fold, the held-out windows' fused-head logits of each network
(``fold<k>.npz``); a finished fold is not run again, so an interrupted run continues where it
stopped. Scores, calibration and stacking are computed from these files (damer_core.evaluation.selection).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from damer_core.contract.errors import InputError
from damer_core.contract.fileutil import atomic_write
from damer_core.datasets.base import FeatureSet
from damer_core.datasets.split import Split
from damer_core.progress import Progress
from damer_core.targets import class_labels

DEFAULT_FOLDS = 5


def grouped_folds(fs: FeatureSet, split: Split, k: int = DEFAULT_FOLDS, seed: int = 0) -> dict[int, int]:
    """{track: fold} for the train + validation tracks: k folds of whole groups (artists, or tracks
    where the data set knows none), stratified by quadrant (scikit-learn's StratifiedGroupKFold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    idx = np.concatenate([split.train, split.val])
    tracks, first = np.unique(fs.track[idx], return_index=True)
    first = idx[first]
    y = class_labels(fs.valence[first], fs.arousal[first], "quadrant")
    groups = fs.group[first] if fs.group is not None else tracks.astype(str)
    if np.unique(groups).size < k:
        raise InputError(f"cross-validation: {np.unique(groups).size} groups cannot fill {k} folds")
    per_quadrant = np.bincount(y, minlength=4)
    if per_quadrant.max() < k:  # scikit-learn's own ValueError, as a line a person can act on
        raise InputError(f"cross-validation: {k} folds need at least {k} tracks of some quadrant in the train + "
                         f"validation part, which holds {tracks.size} tracks (per quadrant {per_quadrant.tolist()}); "
                         "use fewer --folds or more labelled tracks")
    folds = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    fold_of = {}
    for f, (_, held) in enumerate(folds.split(tracks, y, groups)):
        fold_of.update({int(t): f for t in tracks[held]})
    return fold_of


def fold_split(fs: FeatureSet, fold_of: dict[int, int], fold: int) -> Split:
    """Train on the other folds' windows, hold out this fold's; no test part."""
    f = np.array([fold_of.get(int(t), -1) for t in fs.track])
    return Split(np.flatnonzero((f >= 0) & (f != fold)), np.flatnonzero(f == fold), np.zeros(0, np.int64), fs.group is not None)


def run_damer_folds(fs: FeatureSet, split: Split, tcfg, out: Path, k: int = DEFAULT_FOLDS, device: str = "auto",
                    progress: Progress | None = None) -> Path:
    """Train the recipe ``tcfg`` (a fixed number of epochs, the last one kept) on each fold and
    store the held-out windows' logits; returns ``out``."""
    from damer_core.devices import setup, teardown
    from damer_core.models.network.heads import head_logits
    from damer_core.training.trainer import DimensionTrainer

    progress = progress or Progress("none")
    tcfg = replace(tcfg, select_epoch="last")
    out.mkdir(parents=True, exist_ok=True)
    fold_of = grouped_folds(fs, split, k, tcfg.seed)
    recipe = {"train_config": tcfg.to_dict(), "folds": k, "feature_config": fs.feature_config.to_dict(),
              "tracks": int(len(fold_of))}
    if (out / "recipe.json").exists():
        before = json.loads((out / "recipe.json").read_text())
        if before != recipe:
            changed = sorted(k for k in recipe if before.get(k) != recipe[k])
            raise InputError(f"{out}: its folds were made with another recipe ({', '.join(changed)} differ); "
                             "choose another --out")
    _write_json(out / "recipe.json", recipe)
    ctx = setup(device)
    try:
        for fold in range(k):
            target = out / f"fold{fold}.npz"
            if target.exists():
                progress.message(f"fold {fold + 1}/{k}: done before, kept")
                continue
            t0 = time.perf_counter()
            part = fold_split(fs, fold_of, fold)
            held = np.sort(part.val)
            arrays = {"track": fs.track[held], "track_id": fs.track_ids[fs.track[held]] if fs.track_ids is not None
                      else fs.track[held].astype(str), "valence": fs.valence[held], "arousal": fs.arousal[held]}
            for dim in tcfg.dims:
                trainer = DimensionTrainer(fs, dim, tcfg, ctx, part)
                while not trainer.done:
                    record = trainer.train_epoch()
                    v = record["val"]["fuse"]
                    progress.message(f"fold {fold + 1}/{k} {dim} epoch {record['epoch']}/{tcfg.epochs}: "
                                     f"held-out acc {v['acc']:.3f} auc {v['auc']:.3f} ({record['seconds']:.0f} s)")
                arrays[f"logits_{dim}"] = head_logits(trainer.best_model(), fs, held, ctx.device)["fuse"]
            with atomic_write(target) as f:
                np.savez(f, **arrays)
            progress.message(f"fold {fold + 1}/{k}: {np.unique(arrays['track']).size} held-out tracks, "
                             f"{time.perf_counter() - t0:.0f} s")
    finally:
        teardown(ctx)
    return out


def _write_json(path: Path, data: dict) -> None:
    with atomic_write(path) as f:
        f.write(json.dumps(data, indent=2).encode())
