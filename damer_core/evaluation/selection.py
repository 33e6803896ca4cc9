"""Choosing a recipe by cross-validation grouped by artist (docs/SPEC.md section 5, model selection).

Every candidate gives out-of-fold quadrant probabilities for the same train + validation tracks
on the same folds (damer_core.evaluation.crossval): DAMER recipes from their ``fold<k>.npz`` logits, the
descriptor heads fitted here in seconds, and a stacked combination fitted on the other candidates'
out-of-fold predictions (cross-fitted, so its own figures are out-of-fold too). Each candidate is
scored per fold (mean and spread) and pooled; the test part is never read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from damer_core.datasets.base import FeatureSet
from damer_core.features.descriptors import GROUPS, NAMES
from damer_core.features.head_inputs import EMBEDDING_GROUP, input_columns, uses_embeddings
from damer_core.models.combination import fit_combination, stack_features
from damer_core.scoring import quadrant_scores, softmax, track_means
from damer_core.targets import QUADRANT, class_labels, quadrant_probabilities

METRICS = ("valence_acc", "arousal_acc", "quadrant_acc", "macro_f1", "valence_auc")


@dataclass
class OutOfFold:
    """One candidate's out-of-fold predictions, a row per track."""

    name: str
    track_ids: np.ndarray  # [n] str
    fold: np.ndarray  # [n] int
    y: np.ndarray  # [n] quadrant 0..3
    p: np.ndarray  # [n, 4]

    def aligned(self, track_ids: np.ndarray) -> OutOfFold:
        order = {t: i for i, t in enumerate(self.track_ids)}
        missing = [t for t in track_ids if t not in order]
        if missing:
            raise ValueError(f"{self.name}: no out-of-fold prediction for {len(missing)} track(s), e.g. {missing[0]}")
        rows = np.array([order[t] for t in track_ids])
        return OutOfFold(self.name, self.track_ids[rows], self.fold[rows], self.y[rows], self.p[rows])


def fold_scores(oof: OutOfFold) -> dict:
    """Per-fold figures, their mean and standard deviation, and the pooled figures."""
    folds = [quadrant_scores(oof.y[oof.fold == f], oof.p[oof.fold == f]) for f in np.unique(oof.fold)]
    return {"folds": folds, "mean": {m: float(np.mean([f[m] for f in folds])) for m in METRICS},
            "std": {m: float(np.std([f[m] for f in folds], ddof=1)) if len(folds) > 1 else 0.0 for m in METRICS},
            "pooled": quadrant_scores(oof.y, oof.p)}


# -- DAMER candidates, from crossval's files ---------------------------------------------------------
def damer_out_of_fold(cv_dir: Path, name: str | None = None) -> tuple[OutOfFold, np.ndarray, np.ndarray]:
    """(track-level out-of-fold predictions, window logits ``[n, C]`` or the two dimensions' margins,
    window quadrant labels) of a DAMER recipe's cross-validation folder. A track's probabilities are
    the mean of its windows' (temperature 1: calibration is fitted later, on these)."""
    files = sorted(Path(cv_dir).glob("fold*.npz"))
    if not files:
        raise FileNotFoundError(f"{cv_dir}: no fold*.npz (run damer-core cv first)")
    ids, folds, ys, ps, window_logits, window_y = [], [], [], [], [], []
    for path in files:
        with np.load(path) as z:
            data = {k: z[k] for k in z.files}
        fold = int(path.stem[4:])
        y_w = class_labels(data["valence"], data["arousal"], QUADRANT)
        if f"logits_{QUADRANT}" in data:
            logits = data[f"logits_{QUADRANT}"]
            p_w = softmax(logits)
        else:
            logits = np.stack([data["logits_valence"], data["logits_arousal"]], axis=1)  # [n, 2 dims, 2]
            p_w = quadrant_probabilities(softmax(data["logits_valence"])[:, 1], softmax(data["logits_arousal"])[:, 1])
        tracks, p_t = track_means(data["track_id"], p_w)
        y_t = track_means(data["track_id"], y_w.astype(np.float64))[1].round().astype(np.int64)
        ids.append(tracks)
        folds.append(np.full(tracks.size, fold))
        ys.append(y_t)
        ps.append(p_t)
        window_logits.append(logits)
        window_y.append(y_w)
    oof = OutOfFold(name or Path(cv_dir).name, np.concatenate(ids), np.concatenate(folds), np.concatenate(ys),
                    np.concatenate(ps))
    return oof, np.concatenate(window_logits), np.concatenate(window_y)


# -- descriptor heads ---------------------------------------------------------------------------------


def descriptor_out_of_fold(ds: FeatureSet, fold_of: dict[int, int], name: str, windows: list | None = None,
                           **head_args) -> OutOfFold:
    """A descriptor head recipe fitted on each fold's training windows and applied to its held-out
    windows; a track's probabilities are its windows' mean. ``windows``: a list that receives
    each fold's held-out (window labels, window probabilities, window tracks), for calibrating windows."""
    from damer_core.models.descriptor_head import fit_descriptor_head

    fold = np.array([fold_of.get(int(t), -1) for t in ds.track])
    y = class_labels(ds.valence, ds.arousal, QUADRANT)
    ids, folds, ys, ps = [], [], [], []
    for k in sorted(set(fold_of.values())):
        train, held = (fold >= 0) & (fold != k), fold == k
        head = fit_descriptor_head(ds.window_descriptors[train], y[train], **head_args)
        p_windows = head.probabilities(ds.window_descriptors[held])
        if windows is not None:
            windows.append((y[held], p_windows, ds.track[held]))
        tracks, p = track_means(ds.track[held], p_windows)
        _, y_t = track_means(ds.track[held], y[held].astype(np.float64))
        ids.append(ds.ids[tracks])
        folds.append(np.full(tracks.size, k))
        ys.append(y_t.round().astype(np.int64))
        ps.append(p)
    return OutOfFold(name, np.concatenate(ids), np.concatenate(folds), np.concatenate(ys), np.concatenate(ps))


# -- stacking ---------------------------------------------------------------------------------------
def stacked_out_of_fold(parts: list[OutOfFold], name: str, c: float = 1.0) -> OutOfFold:
    """Cross-fitted: the stacker for fold k is fitted on the parts' predictions of the other folds
    (themselves out-of-fold), so fold k's figures come from nothing fitted on fold k."""
    ref = parts[0]
    parts = [ref] + [p.aligned(ref.track_ids) for p in parts[1:]]
    x = stack_features(*(p.p for p in parts))
    p = np.zeros_like(ref.p)
    for k in np.unique(ref.fold):
        held = ref.fold == k
        comb = fit_combination(x[~held], ref.y[~held], c)
        p[held] = softmax(x[held] @ comb.coef.T + comb.intercept)
    return OutOfFold(name, ref.track_ids, ref.fold, ref.y, p)


def prior_out_of_fold(ref: OutOfFold) -> OutOfFold:
    """The simplest baseline: every track gets its training folds' class shares."""
    p = np.zeros_like(ref.p)
    for k in np.unique(ref.fold):
        held = ref.fold == k
        shares = np.bincount(ref.y[~held], minlength=4) / (~held).sum()
        p[held] = shares + 1e-9 * np.arange(4)  # ties broken the same way every time
    return OutOfFold("class prior (baseline)", ref.track_ids, ref.fold, ref.y, p)


def score_table(candidates: list[OutOfFold]) -> str:
    """Mean ± std over folds (and pooled) per candidate, as a Markdown table."""
    head = ("| candidate | valence acc | arousal acc | quadrant acc | macro-F1 | valence AUC | pooled macro-F1 |\n"
            "|---|---|---|---|---|---|---|")
    rows = []
    for c in candidates:
        s = fold_scores(c)
        cells = [f"{100 * s['mean'][m]:.1f} ± {100 * s['std'][m]:.1f}" if m != "macro_f1"
                 else f"{s['mean'][m]:.3f} ± {s['std'][m]:.3f}" for m in METRICS]
        rows.append(f"| {c.name} | " + " | ".join(cells) + f" | {s['pooled']['macro_f1']:.3f} |")
    return "\n".join([head] + rows)


# -- the comparison `damer-core select` prints -------------------------------------------------------
DESCRIPTORS = tuple(GROUPS)
WITH_EMBEDDING = (*DESCRIPTORS, EMBEDDING_GROUP)
DESCRIPTOR_CANDIDATES: dict[str, dict[str, Any]] = {  # name: fit_descriptor_head arguments
    "descriptor head, linear (C 0.01)": {"kind": "linear", "c": 0.01},
    "descriptor head, kernel (C 1)": {"kind": "kernel", "c": 1.0},
    "descriptor head, kernel (C 3)": {"kind": "kernel", "c": 3.0},
}
# Heads that read musicnn's embedding of each window (damer_core.features.head_inputs); the same folds.
EMBEDDING_CANDIDATES: dict[str, dict[str, Any]] = {
    "musicnn embedding alone, linear (C 0.01)": {"kind": "linear", "c": 0.01, "groups": (EMBEDDING_GROUP,)},
    "musicnn embedding alone, kernel (C 1)": {"kind": "kernel", "c": 1.0, "groups": (EMBEDDING_GROUP,)},
    "descriptors + musicnn, linear (C 0.01)": {"kind": "linear", "c": 0.01, "groups": WITH_EMBEDDING},
    "descriptors + musicnn, kernel (C 1)": {"kind": "kernel", "c": 1.0, "groups": WITH_EMBEDDING},
    "descriptors + musicnn, kernel (C 3)": {"kind": "kernel", "c": 3.0, "groups": WITH_EMBEDDING},
}
STACKED_HEAD = "descriptor head, kernel (C 1)"  # what each DAMER recipe is stacked with
LATE_FUSION = ("descriptor head, kernel (C 1)", "musicnn embedding alone, kernel (C 1)")
# The rule (docs/SPEC.md section 5, model selection): among the candidates that ship as a head
# reading windows (SHIPPABLE), those whose mean fold macro-F1 is within one fold standard deviation
# of the best are level; of those, the one that generalises by construction is chosen: pretrained
# ears first, then the fewest fitted numbers. The others (late fusion, clip-level concatenation,
# stacks) are reported beside it, to say whether building their kind would pay.
SHIPPABLE = (*DESCRIPTOR_CANDIDATES, *EMBEDDING_CANDIDATES)


def clip_level_out_of_fold(ds: FeatureSet, fold_of: dict[int, int], name: str, c: float = 1.0) -> OutOfFold:
    """One row per track: the mean and standard deviation of its windows' rows (descriptors and
    embedding), standardised, into an RBF support vector machine (scikit-learn's SVC, its
    probabilities by Platt's sigmoid, cross-validated inside the training folds) fitted on the
    other folds' tracks."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    y_w = class_labels(ds.valence, ds.arousal, QUADRANT)
    tracks = np.array(sorted(fold_of))
    rows = [ds.track == t for t in tracks]
    x = np.stack([np.hstack([ds.window_descriptors[r].mean(0), ds.window_descriptors[r].std(0)]) for r in rows])
    y = np.array([int(np.round(y_w[r].mean())) for r in rows])
    fold = np.array([fold_of[t] for t in tracks])
    p = np.zeros((tracks.size, 4))
    for k in np.unique(fold):
        inner = int(np.clip(np.bincount(y[fold != k], minlength=4).min(), 2, 5))  # Platt's folds, as many as fit
        model = make_pipeline(StandardScaler(), CalibratedClassifierCV(SVC(C=c, random_state=0), cv=inner, ensemble=False))
        model.fit(x[fold != k], y[fold != k])
        p[fold == k] = model.predict_proba(x[fold == k])
    return OutOfFold(name, ds.ids[tracks], fold, y, p)


def compare(ds: FeatureSet, fold_of: dict[int, int], damer_dirs: dict[str, Path],
            progress=None) -> tuple[list[OutOfFold], dict[str, OutOfFold]]:
    """Every candidate's out-of-fold predictions on the same folds: the class prior, the
    descriptor heads, the heads that read musicnn's embedding (when ``ds``'s rows carry it), late
    fusion and clip-level concatenation, each DAMER recipe alone and stacked with the kernel
    descriptor head. Returns (candidates in table order, descriptor-group ablations of the kernel head)."""
    say = progress.message if progress is not None else (lambda text: None)
    embedded = ds.window_descriptors.shape[1] > len(NAMES)
    heads = {}
    for name, args in {**DESCRIPTOR_CANDIDATES, **(EMBEDDING_CANDIDATES if embedded else {})}.items():
        say(f"cross-validating {name}")
        heads[name] = descriptor_out_of_fold(ds, fold_of, name, **args)
    ref = heads[STACKED_HEAD]
    out = [prior_out_of_fold(ref), *heads.values()]
    if embedded:
        say("cross-validating late fusion and clip-level concatenation")
        out.append(stacked_out_of_fold([heads[n] for n in LATE_FUSION], "late fusion: descriptor head + musicnn head "
                                                                         "(stacked)"))
        out.append(clip_level_out_of_fold(ds, fold_of, "clip-level concatenation, RBF SVM (C 1)").aligned(ref.track_ids))
    for name, folder in damer_dirs.items():
        damer, _, _ = damer_out_of_fold(folder, name)
        check_same_folds(damer, fold_of, ds)
        out.append(damer.aligned(ref.track_ids))
        out.append(stacked_out_of_fold([out[-1], ref], f"{name} + descriptor head (stacked)"))
    groups = {}
    for g in GROUPS:
        say(f"cross-validating the kernel head on {g} only, and without {g}")
        groups[f"{g} only"] = descriptor_out_of_fold(ds, fold_of, f"{g} only", kind="kernel", c=1.0, groups=(g,))
        rest = tuple(x for x in GROUPS if x != g)
        groups[f"all but {g}"] = descriptor_out_of_fold(ds, fold_of, f"all but {g}", kind="kernel", c=1.0, groups=rest)
    return out, groups


def fitted_numbers(args: dict[str, Any], landmarks: int = 400) -> int:
    """How many numbers a head recipe fits (musicnn's frozen weights not counted): a linear head's
    weights, or a kernel head's landmarks, whitening and weights."""
    d = int(input_columns(args.get("groups", DESCRIPTORS)).size)
    m = args.get("landmarks", landmarks)
    return 4 * (d + 1) if args["kind"] == "linear" else m * d + m * m + 4 * (m + 1)


def level_with_best(candidates: list[OutOfFold]) -> list[OutOfFold]:
    """The shippable candidates within one fold standard deviation of the best mean macro-F1."""
    shippable = [c for c in candidates if c.name in SHIPPABLE]
    scores = {c.name: fold_scores(c) for c in shippable}
    best = max(shippable, key=lambda c: scores[c.name]["mean"]["macro_f1"])
    floor = scores[best.name]["mean"]["macro_f1"] - scores[best.name]["std"]["macro_f1"]
    return [c for c in shippable if scores[c.name]["mean"]["macro_f1"] >= floor]


def chosen(candidates: list[OutOfFold]) -> OutOfFold:
    """The rule above."""
    args = {**DESCRIPTOR_CANDIDATES, **EMBEDDING_CANDIDATES}
    return min(level_with_best(candidates), key=lambda c: (not uses_embeddings(args[c.name].get("groups", ())),
                                                            fitted_numbers(args[c.name])))


def check_same_folds(damer: OutOfFold, fold_of: dict[int, int], ds: FeatureSet) -> None:
    """A DAMER folder made on other folds (another seed, k or data) cannot be compared."""
    fold_by_id = {str(ds.ids[t]): f for t, f in fold_of.items()}
    wrong = [t for t, f in zip(damer.track_ids, damer.fold) if fold_by_id.get(str(t)) != f]
    if wrong or len(damer.track_ids) != len(fold_by_id):
        raise ValueError(f"{damer.name}: its folds are not this comparison's ({len(wrong)} tracks differ, "
                         f"{len(damer.track_ids)} of {len(fold_by_id)} present): rerun damer-core cv with the same "
                         "data, --folds and seed")
