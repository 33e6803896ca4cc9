"""Building a model from a committed recipe (`damer-core build`): DAMER with the joint quadrant
head, the descriptor head, and the stack that combines them (docs/SPEC.md section 5, model selection).

1. The data set's artist-disjoint split (the same as training's) sets the test part apart; the
   train + validation tracks are cut into the recipe's grouped folds (damer_core.evaluation.crossval).
2. Out-of-fold predictions on those folds: DAMER's from ``damer-core cv`` (run here where a fold
   is missing), the descriptor head's fitted here. The stack is fitted on them, and its
   temperature on the stack's own cross-fitted out-of-fold predictions: nothing of the test part.
3. DAMER (the recipe's epochs, the last one kept) and the descriptor head are fitted on the
   chosen tracks: ``train+val`` (then the test part is scored once, with bootstrap intervals) or
   ``all`` (the shipped model; its test figures are those of the ``train+val`` build before it,
   copied with ``--report-from``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from damer_core.calibration import fit_temperature_logits
from damer_core.contract.errors import InputError
from damer_core.datasets.base import FeatureSet
from damer_core.datasets.split import Split, split_tracks
from damer_core.evaluation.crossval import grouped_folds, run_damer_folds
from damer_core.evaluation.selection import (
    OutOfFold,
    check_same_folds,
    damer_out_of_fold,
    descriptor_out_of_fold,
)
from damer_core.features.head_inputs import uses_embeddings
from damer_core.metrics import top_class_ece
from damer_core.models.combination import Combination, fit_combination, stack_features
from damer_core.models.header import DESCRIPTOR_HEAD, STACK
from damer_core.progress import Progress
from damer_core.scoring import means_by_id, quadrant_report, quadrant_scores, softmax, track_means, windows_of
from damer_core.targets import QUADRANT, class_labels
from damer_core.training.config import TrainConfig

FIT_ON = ("train+val", "all")
MODELS = ("stack", "descriptor_head")


@dataclass(frozen=True)
class Recipe:
    """``model`` "stack": DAMER's joint head + the descriptor head, stacked; "descriptor_head":
    the descriptor head alone (``damer`` then only gives the split: seed and fractions)."""

    preset: str
    damer: TrainConfig
    model: str = "stack"
    descriptor_head: dict = field(default_factory=lambda: {"kind": "kernel", "c": 1.0})
    combination_c: float = 1.0
    folds: int = 4

    @classmethod
    def from_file(cls, path: str | Path) -> Recipe:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
            unknown = set(data) - {"preset", "model", "damer", "descriptor_head", "combination_c", "folds", "comment"}
            if unknown:
                raise ValueError(f"unknown fields {', '.join(sorted(unknown))}")
            model = data.get("model", "stack")
            if model not in MODELS:
                raise ValueError(f"model must be {' or '.join(MODELS)}")
            head = dict(data.get("descriptor_head", {"kind": "kernel", "c": 1.0}))
            if model == "stack" and uses_embeddings(head.get("groups", ())):
                raise ValueError("a stack's descriptor head cannot read musicnn (DAMER's trajectory hands it descriptors)")
            damer = TrainConfig.from_dict({**data.get("damer", {"dims": [QUADRANT]}), "select_epoch": "last"})
            if damer.dims != (QUADRANT,):
                raise ValueError("damer.dims must be [\"quadrant\"]: the stack combines quadrant probabilities")
            return cls(data["preset"], damer, model, head,
                       float(data.get("combination_c", 1.0)), int(data.get("folds", 4)))
        except (OSError, ValueError, KeyError, TypeError, InputError) as e:
            raise InputError(f"{path.name}: not a valid recipe ({e})") from None

    def to_dict(self) -> dict:
        return {"preset": self.preset, "model": self.model, "damer": self.damer.to_dict(),
                "descriptor_head": self.descriptor_head, "combination_c": self.combination_c, "folds": self.folds}


@dataclass
class Stack:
    """The combination fitted on out-of-fold predictions, with what it was fitted on."""

    combination: Combination
    oof: OutOfFold  # the stack's own cross-fitted out-of-fold predictions, calibrated
    ece_before: float
    ece_after: float


def fit_stack(damer: OutOfFold, descriptors: OutOfFold, c: float) -> Stack:
    """The stack on all out-of-fold rows; its temperature on its cross-fitted predictions."""
    descriptors = descriptors.aligned(damer.track_ids)
    x = stack_features(damer.p, descriptors.p)
    logits = np.zeros_like(damer.p)
    for k in np.unique(damer.fold):
        held = damer.fold == k
        part = fit_combination(x[~held], damer.y[~held], c)
        logits[held] = x[held] @ part.coef.T + part.intercept
    temperature = fit_temperature_logits(logits, damer.y)
    comb = fit_combination(x, damer.y, c)
    comb.temperature = temperature
    oof = OutOfFold("stack", damer.track_ids, damer.fold, damer.y, softmax(logits, temperature))
    return Stack(comb, oof, top_class_ece(damer.y, softmax(logits)), top_class_ece(damer.y, oof.p))


def build(model_fs: FeatureSet, descriptor_fs: FeatureSet, recipe: Recipe, out: Path, cv_dir: Path,
          fit_on: str = "train+val", device: str = "auto", progress: Progress | None = None,
          report_from: dict | None = None) -> Path:
    """Fit the recipe and write ``out/best.pt`` (see the module docstring); returns its path."""
    from damer_core.models.descriptor_head import fit_descriptor_head

    if fit_on not in FIT_ON:
        raise InputError(f"fit on {fit_on!r}? choose one of {', '.join(FIT_ON)}")
    progress = progress or Progress("none")
    t0 = time.perf_counter()
    split, descriptor_split = (split_tracks(f, recipe.damer.seed, recipe.damer.test_fraction, recipe.damer.val_fraction)
                               for f in (model_fs, descriptor_fs))
    if recipe.model == "descriptor_head":
        return _build_descriptor_head(descriptor_fs, descriptor_split, recipe, out, fit_on, progress, report_from, t0)
    run_damer_folds(model_fs, split, recipe.damer, cv_dir, recipe.folds, device, progress)
    fold_of = grouped_folds(descriptor_fs, descriptor_split, recipe.folds, recipe.damer.seed)
    damer_oof, _, _ = damer_out_of_fold(cv_dir, "DAMER (joint head)")
    check_same_folds(damer_oof, fold_of, descriptor_fs)
    head_oof = descriptor_out_of_fold(descriptor_fs, fold_of, "descriptor head", **recipe.descriptor_head)
    stack = fit_stack(damer_oof, head_oof, recipe.combination_c)
    progress.message(f"stack fitted on {len(stack.oof.y)} out-of-fold tracks: temperature "
                     f"{stack.combination.temperature:.2f}, ECE {stack.ece_before:.3f} -> {stack.ece_after:.3f}")

    fit_idx = np.concatenate([split.train, split.val]) if fit_on == "train+val" else np.arange(len(model_fs))
    test_idx = split.test if fit_on == "train+val" else np.zeros(0, np.int64)
    trainer, test_logits = _train_damer(model_fs, fit_idx, test_idx, recipe.damer, device, progress)
    fit_tracks = set(model_fs.ids[np.unique(model_fs.track[fit_idx])])
    in_fit = np.isin(descriptor_fs.ids[descriptor_fs.track], list(fit_tracks))
    y_desc = class_labels(descriptor_fs.valence, descriptor_fs.arousal, QUADRANT)
    head = fit_descriptor_head(descriptor_fs.window_descriptors[in_fit], y_desc[in_fit], seed=recipe.damer.seed,
                               **recipe.descriptor_head)
    report = dict(report_from or {})
    if test_idx.size:
        report = _score_test(model_fs, descriptor_fs, test_idx, test_logits, head, stack.combination, recipe.damer.seed)
    report["cross_validation"] = {"stack": _cv_summary(stack.oof), "damer": _cv_summary(damer_oof),
                                  "descriptor_head": _cv_summary(head_oof)}
    report["calibration"] = {"temperature": stack.combination.temperature, "ece_before": stack.ece_before,
                             "ece_after": stack.ece_after, "fitted_on": "stack's cross-fitted out-of-fold predictions"}
    report["fit_on"] = {"part": fit_on, "tracks": len(fit_tracks), "seconds": round(time.perf_counter() - t0, 1)}
    return _write_bundle(out, model_fs, split, recipe, report, progress, head, trainer, stack.combination)


def _build_descriptor_head(ds: FeatureSet, split: Split, recipe: Recipe, out: Path, fit_on: str,
                           progress: Progress, report_from: dict | None, t0: float) -> Path:
    """The descriptor head alone: its temperature from its cross-fitted out-of-fold predictions,
    then fitted on the chosen tracks (and the test part scored once for a train+val build)."""
    from damer_core.models.descriptor_head import fit_descriptor_head

    fold_of = grouped_folds(ds, split, recipe.folds, recipe.damer.seed)
    windows: list = []
    oof = descriptor_out_of_fold(ds, fold_of, "descriptor head", windows=windows, **recipe.descriptor_head)
    # the marker shows windows: the temperature makes a window's probability mean what it says
    y_w = np.concatenate([w[0] for w in windows])
    logits_w = np.log(np.clip(np.concatenate([w[1] for w in windows]), 1e-12, 1.0))
    temperature = fit_temperature_logits(logits_w, y_w)
    progress.message(f"descriptor head: temperature {temperature:.2f} from {len(y_w)} out-of-fold windows "
                     f"of {len(oof.y)} tracks")
    tracks, p_cal = track_means(np.concatenate([w[2] for w in windows]), softmax(logits_w, temperature))
    rows = {t: i for i, t in enumerate(ds.ids[tracks])}
    calibrated_oof = OutOfFold(oof.name, oof.track_ids, oof.fold, oof.y, p_cal[[rows[t] for t in oof.track_ids]])
    fit_idx = np.concatenate([split.train, split.val]) if fit_on == "train+val" else np.arange(len(ds))
    y = class_labels(ds.valence, ds.arousal, QUADRANT)
    fit_idx = fit_idx[y[fit_idx] >= 0]
    head = fit_descriptor_head(ds.window_descriptors[fit_idx], y[fit_idx], seed=recipe.damer.seed, **recipe.descriptor_head)
    head.temperature = temperature
    report = dict(report_from or {})
    if fit_on == "train+val":
        idx = np.sort(split.test[y[split.test] >= 0])
        _, p = track_means(ds.track[idx], head.probabilities(ds.window_descriptors[idx]))
        _, y_t = track_means(ds.track[idx], y[idx].astype(float))
        y_t = y_t.round().astype(np.int64)
        prior = np.full((y_t.size, 4), 0.25) + 1e-9 * np.arange(4)
        report["test"] = {"descriptor_head": quadrant_report(y_t, p, recipe.damer.seed),
                          "class_prior": quadrant_scores(y_t, prior), "n": int(y_t.size)}
    report["cross_validation"] = {"descriptor_head": _cv_summary(calibrated_oof)}
    report["calibration"] = {"temperature": temperature,
                             "windows": {"ece_before": top_class_ece(y_w, softmax(logits_w)),
                                         "ece_after": top_class_ece(y_w, softmax(logits_w, temperature)), "n": int(y_w.size)},
                             "tracks": {"ece_before": top_class_ece(oof.y, oof.p),
                                        "ece_after": top_class_ece(calibrated_oof.y, calibrated_oof.p), "n": int(oof.y.size)},
                             "fitted_on": "the head's out-of-fold windows (grouped folds of the train + validation tracks)"}
    report["fit_on"] = {"part": fit_on, "tracks": int(np.unique(ds.track[fit_idx]).size),
                        "seconds": round(time.perf_counter() - t0, 1)}
    return _write_bundle(out, ds, split, recipe, report, progress, head)


def _cv_summary(oof: OutOfFold) -> dict:
    from damer_core.evaluation.selection import fold_scores

    s = fold_scores(oof)
    return {"mean": s["mean"], "std": s["std"], "pooled": s["pooled"]}


def _train_damer(fs: FeatureSet, fit_idx: np.ndarray, test_idx: np.ndarray, tcfg: TrainConfig, device: str,
                 progress: Progress):
    from damer_core.devices import setup
    from damer_core.models.network.heads import head_logits
    from damer_core.training.trainer import DimensionTrainer

    ctx = setup(device)
    part = Split(np.sort(fit_idx), np.zeros(0, np.int64), np.sort(test_idx), fs.group is not None)
    trainer = DimensionTrainer(fs, QUADRANT, tcfg, ctx, part)
    while not trainer.done:
        record = trainer.train_epoch()
        progress.message(f"DAMER epoch {record['epoch']}/{tcfg.epochs} on {np.unique(fs.track[fit_idx]).size} "
                         f"tracks: loss {record['loss']['total']:.4f} ({record['seconds']:.0f} s)")
    logits = head_logits(trainer.best_model(), fs, test_idx, ctx.device)["fuse"] if test_idx.size else None
    return trainer, logits


def _score_test(model_fs, descriptor_fs, test_idx, test_logits, head, combination, seed) -> dict:
    """The test part, scored once: the chosen stack and the runner-up (the descriptor head alone)."""
    idx = np.sort(test_idx)
    tracks, p_damer = track_means(model_fs.track[idx], softmax(test_logits))
    ids = model_fs.ids[tracks]
    _, y = track_means(model_fs.track[idx], class_labels(model_fs.valence[idx], model_fs.arousal[idx], QUADRANT).astype(float))
    y = y.round().astype(np.int64)
    rows = windows_of(descriptor_fs, ids)
    p_head = means_by_id(descriptor_fs, rows, head.probabilities(descriptor_fs.window_descriptors[rows]), ids)
    p_stack = combination.probabilities(p_damer, p_head)
    prior = np.full((y.size, 4), 0.25) + 1e-9 * np.arange(4)
    return {"test": {"stack": quadrant_report(y, p_stack, seed), "descriptor_head": quadrant_report(y, p_head, seed),
                     "class_prior": quadrant_scores(y, prior), "n": int(y.size)}}


def _write_bundle(out: Path, fs: FeatureSet, split: Split, recipe: Recipe, report: dict, progress: Progress, head,
                  trainer=None, combination: Combination | None = None) -> Path:
    """best.pt: DAMER's joint head, the descriptor head and their stack, or the descriptor head
    alone (no DAMER weights); the build's report travels in it, and beside it as report.json. The
    data set's split is recorded (what `evaluate` checks its parts against; a fit on all the
    tracks says so in its report)."""
    from damer_core.models.checkpoint import save_atomic, with_checksums
    from damer_core.training.run import DataArgs, make_bundle, split_summary

    data_args = DataArgs(str(fs.description.get("root", "")), preset=recipe.preset)
    if trainer is not None and combination is not None:
        entry = {"state_dict": trainer.best_state, "epoch": trainer.best_epoch, "temperature": 1.0,
                 "temperature_source": "none: the combination is calibrated (its temperature)", "metrics": {}}
        bundle = make_bundle(fs, recipe.damer, trainer.mcfg.to_dict(), {QUADRANT: entry}, data_args, STACK)
        bundle["combination"] = combination.to_state()
    else:
        bundle = make_bundle(fs, recipe.damer, {}, {}, data_args, DESCRIPTOR_HEAD)
    bundle.update(descriptor_head=head.to_state(), recipe=recipe.to_dict(), report=report, split=split_summary(fs, split))
    if "test" in report:
        t = report["test"][recipe.model]
        bundle["quadrant"] = {"test": {"acc": t["quadrant_acc"], "macro_f1": t["macro_f1"], "n": t["n"]}}
    out.mkdir(parents=True, exist_ok=True)
    path = save_atomic(with_checksums(bundle), out / "best.pt")
    (out / "report.json").write_text(json.dumps(report, indent=2, default=float))
    progress.message(f"model: {path}")
    return path
