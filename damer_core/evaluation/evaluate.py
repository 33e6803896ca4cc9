"""Scoring a trained model of any kind on one part of a data set (`damer-core evaluate
--checkpoint`, the model card): per dimension accuracy / F1 / AUC with 95 % bootstrap intervals
over tracks beside the majority class (DAMER networks: each head, and the calibration error of the
fused head before and after the bundle's temperature; a stack: each member), the 4-quadrant
accuracy and macro-F1 where both dimensions are predicted; and the Table II / V
style tables of `damer-core evaluate` without --checkpoint, next to the paper's own figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from damer_core.calibration import calibration_report
from damer_core.datasets.base import DIMENSIONS, FeatureSet
from damer_core.datasets.split import MIN_TRACKS, Split, split_tracks
from damer_core.metrics import (
    accuracy,
    binary_report,
    bootstrap_interval,
    f1_positive,
    roc_auc,
)
from damer_core.models.header import BundleHeader
from damer_core.scoring import calibrated, confusion, part_means, quadrant_scores, softmax
from damer_core.targets import QUADRANT, by_dimension, class_labels, labelled, quadrant_index, quadrant_probabilities

if TYPE_CHECKING:
    from damer_core.models.base import Model
    from damer_core.models.networks import DamerNetworks

PART_NAMES = {"train": "training part", "val": "validation part", "test": "test part", "all": "all labelled tracks"}
_BINARY = {"acc": lambda y, p: accuracy(y, p >= 0.5), "f1": lambda y, p: f1_positive(y, p >= 0.5), "auc": roc_auc}


def header_split(fs: FeatureSet, header: BundleHeader) -> Split:
    """The split the model's seed and fractions give on ``fs``."""
    tc = header.train_config
    return split_tracks(fs, int(tc.get("seed", 0)), float(tc.get("test_fraction", 0.3)), float(tc.get("val_fraction", 0.15)))


def part_indices(fs: FeatureSet, header: BundleHeader, part: str) -> np.ndarray:
    """Windows of ``part`` ("train", "val", "test" or "all") under the split the model was trained
    with (its seed and fractions, applied to ``fs``)."""
    return np.arange(len(fs)) if part == "all" else header_split(fs, header).part(part)


def split_mismatch(fs: FeatureSet, header: BundleHeader) -> str:
    """Why the model's split cannot be trusted on ``fs`` ("" when it matches the one it was trained
    with): it was trained on other data, with other fractions, or before splits were recorded."""
    from damer_core.training.run import split_summary

    name = fs.description.get("name", "this data set")
    if header.split is None:
        return "the bundle records no split (trained by an older damer-core, 70/30 without a validation part)"
    if header.data.get("name") != fs.description.get("name") or header.split != split_summary(fs, header_split(fs, header)):
        return f"the bundle was trained on other data or another split than {name}'s"
    return ""


def report_warnings(report: dict) -> list[str]:
    """Plain-language warnings about a scored part: too few tracks, or one class only."""
    out = []
    for dim, d in report["dimensions"].items():
        if d["n_tracks"] < MIN_TRACKS:
            out.append(f"{dim}: only {d['n_tracks']} tracks in this part; the figures are unreliable")
        main: dict = next((d["heads"][h] for h in ("fuse", "model", "probe") if h in d["heads"]), {})
        if not np.isfinite(main.get("auc", np.nan)):
            out.append(f"{dim}: this part holds one class only; AUC is n/a")
    return out


def with_interval(statistic, arrays, seed: int = 0) -> dict[str, float]:
    lo, hi = bootstrap_interval(statistic, arrays, seed=seed)
    return {"value": float(statistic(*arrays)), "low": lo, "high": hi}


def binary_with_intervals(y: np.ndarray, p: np.ndarray) -> dict:
    """The per-track binary report plus a 95 % bootstrap interval for accuracy, F1 and AUC."""
    return {**binary_report(y, p), **{f"{m}_ci": with_interval(fn, (y, p)) for m, fn in _BINARY.items()}}


def quadrant_with_intervals(v_true, a_true, p_valence, p_arousal, p_quadrant: np.ndarray | None = None) -> dict:
    """4-quadrant accuracy and macro-F1 (with intervals) and the confusion matrix, per track, from
    the model's quadrant probabilities, or those of its two dimensions."""
    y = quadrant_index(np.asarray(v_true) > 0.5, np.asarray(a_true) > 0.5)
    p = quadrant_probabilities(p_valence, p_arousal) if p_quadrant is None else p_quadrant
    return {"n_tracks": int(y.size), "acc": with_interval(lambda yy, pp: quadrant_scores(yy, pp)["quadrant_acc"], (y, p)),
            "macro_f1": with_interval(lambda yy, pp: quadrant_scores(yy, pp)["macro_f1"], (y, p)),
            "confusion": confusion(y, p)}


def add_quadrant(report: dict, per_dim: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                 p_quadrant: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """``per_dim[dim] = (track ids, truth, P(high))``; adds the quadrant scores over the tracks
    labelled on both dimensions, from the model's own quadrant probabilities ``p_quadrant`` =
    (sorted track ids, ``[n, 4]``) where it has them (a quadrant model's argmax is not always the
    quadrant of its two marginals')."""
    if not {"arousal", "valence"} <= set(per_dim):
        return
    both = np.intersect1d(per_dim["arousal"][0], per_dim["valence"][0])
    if both.size == 0:
        return
    pick = {d: np.searchsorted(per_dim[d][0], both) for d in DIMENSIONS}
    v_true, p_v = per_dim["valence"][1][pick["valence"]], per_dim["valence"][2][pick["valence"]]
    a_true, p_a = per_dim["arousal"][1][pick["arousal"]], per_dim["arousal"][2][pick["arousal"]]
    p = None if p_quadrant is None else p_quadrant[1][np.searchsorted(p_quadrant[0], both)]
    report["quadrant"] = quadrant_with_intervals(v_true, a_true, p_v, p_a, p)


def score_model(model: Model, sets: dict[str, FeatureSet], part: str) -> dict:
    """The report of a model of any kind on ``part`` of the labelled data in ``sets`` (its
    evaluation sets, damer_core.models.base.Model.evaluation_sets): per dimension the model's
    per-track figures with intervals beside the majority class of the part; DAMER networks also
    each head and the calibration (a joint quadrant head: its fused head); a stack also each member;
    the quadrants where both are predicted."""
    from damer_core.models.networks import DamerNetworks

    if isinstance(model, DamerNetworks):  # each head of its network(s), and the calibration
        scored = score_joint_network if model.joint else score_networks
        return scored(model, sets[model.evaluation_sets()[0]], part)
    fs = sets[model.evaluation_sets()[0]]
    idx_all = part_indices(fs, model.header, part)
    truth = {dim: track_truth(fs, idx_all, dim) for dim in model.dimensions}
    labelled = np.unique(np.concatenate([ids for ids, _ in truth.values()]))
    p = model.track_probabilities(sets, labelled)
    members = {name: member.track_probabilities(sets, labelled) for name, member in model.members()}
    report: dict = {"part": part, "dimensions": {}}
    per_dim = {}
    for dim, (ids, y) in truth.items():
        rows = np.searchsorted(labelled, ids)
        heads = {"model": binary_with_intervals(y, p[dim][rows])}
        heads.update({name: binary_with_intervals(y, mp[dim][rows]) for name, mp in members.items()})
        heads["majority"] = majority_class(y)
        report["dimensions"][dim] = {"heads": heads, "n_tracks": int(y.size)}
        per_dim[dim] = (ids, y, p[dim][rows])
    add_quadrant(report, per_dim, (labelled, p[QUADRANT]) if QUADRANT in p else None)
    return report


def majority_class(y: np.ndarray) -> dict:
    """The baseline beside every figure: always the part's more common class (AUC 0.5)."""
    return binary_with_intervals(y, np.full(y.size, float(y.mean() >= 0.5) if y.size else 0.5))


def track_truth(fs: FeatureSet, idx_all: np.ndarray, dim: str) -> tuple[np.ndarray, np.ndarray]:
    """(the track ids labelled on ``dim`` among windows ``idx_all``, sorted; each one's 0/1 label)."""
    idx = np.sort(idx_all[~np.isnan(fs.values(dim)[idx_all])])
    if idx.size == 0:
        return np.zeros(0, dtype=fs.ids.dtype), np.zeros(0, int)
    tracks, y = part_means(fs, idx, fs.binary(dim)[idx].astype(float))
    ids = fs.ids[tracks]
    order = np.argsort(ids)
    return ids[order], y[order].round().astype(int)


def score_networks(model: DamerNetworks, fs: FeatureSet, part: str) -> dict:
    """DAMER networks' report on ``part``: each head (Mel, cochleogram, fused) per dimension, the
    fused head's calibration, and the quadrants."""
    from damer_core.models.network.heads import head_margins

    idx_all = part_indices(fs, model.header, part)
    report: dict = {"part": part, "dimensions": {}}
    per_dim = {}
    for dim, network in model.networks.items():
        idx = np.sort(idx_all[~np.isnan(fs.values(dim)[idx_all])])
        temperature = model.temperature[dim]
        margins = head_margins(network, fs, idx, model.device)
        y_windows = fs.binary(dim)[idx]
        tracks = np.unique(fs.track[idx])
        y = part_means(fs, idx, y_windows.astype(float))[1].round().astype(int) if idx.size else np.zeros(0, int)
        heads = {}
        for head, margin in margins.items():
            t = temperature if head == "fuse" else 1.0
            prob = part_means(fs, idx, calibrated(margin, t))[1] if idx.size else np.zeros(0)
            heads[head] = binary_with_intervals(y, prob)
            if head == "fuse":
                per_dim[dim] = (tracks, y, prob)
        heads["majority"] = majority_class(y)
        report["dimensions"][dim] = {"heads": heads, "n_tracks": int(y.size), "temperature": temperature,
                                     "calibration": calibration_report(margins["fuse"], y_windows, temperature)}
    add_quadrant(report, per_dim)
    return report


def score_joint_network(model: DamerNetworks, fs: FeatureSet, part: str) -> dict:
    """A joint quadrant head's report on ``part``: each head (Mel, cochleogram, fused) on each
    dimension from its quadrant probabilities, the fused head's calibration over the quadrants
    (top class), and the quadrants from the fused head's own probabilities."""
    from damer_core.models.network.heads import calibration_figures, head_logits

    network, temperature = model.networks[QUADRANT], model.temperature[QUADRANT]
    idx_all = part_indices(fs, model.header, part)
    idx = np.sort(idx_all[labelled(fs.valence, fs.arousal, QUADRANT)[idx_all]])
    logits = head_logits(network, fs, idx, model.device)
    tracks = np.unique(fs.track[idx])
    truth = {dim: part_means(fs, idx, fs.binary(dim)[idx].astype(float))[1].round().astype(int) for dim in DIMENSIONS}
    report: dict = {"part": part, "dimensions": {dim: {"heads": {}, "n_tracks": int(tracks.size)} for dim in DIMENSIONS}}
    p_fuse = np.zeros((0, 4))
    for head, z in logits.items():
        p = part_means(fs, idx, softmax(z, temperature if head == "fuse" else 1.0))[1] if idx.size else np.zeros((0, 4))
        p_fuse = p if head == "fuse" else p_fuse
        p_high = by_dimension(p)
        for dim in DIMENSIONS:
            report["dimensions"][dim]["heads"][head] = binary_with_intervals(truth[dim], p_high[dim])
    for dim in DIMENSIONS:
        report["dimensions"][dim]["heads"]["majority"] = majority_class(truth[dim])
    y_windows = class_labels(fs.valence, fs.arousal, QUADRANT)[idx]
    report["calibration"] = {"temperature": temperature, **calibration_figures(logits["fuse"], y_windows, temperature)}
    fused = by_dimension(p_fuse)
    add_quadrant(report, {dim: (tracks, truth[dim], fused[dim]) for dim in DIMENSIONS}, (tracks, p_fuse))
    return report


def probe_report(probe: dict) -> dict:
    """:func:`damer_core.evaluation.baseline.linear_probe` results in the report shape of :func:`score_model`."""
    report: dict = {"part": "test", "dimensions": {}}
    for dim, r in probe.items():
        report["dimensions"][dim] = {"heads": {"probe": binary_with_intervals(r["y"], r["p"])},
                                     "n_tracks": int(r["y"].size), "c": r["c"]}
    add_quadrant(report, {d: (r["tracks"], r["y"], r["p"]) for d, r in probe.items()})
    return report


def _pct(ci: dict) -> str:
    if not np.isfinite(ci["value"]):
        return "n/a".center(20)
    if not np.isfinite(ci["low"]):
        return f"{100 * ci['value']:5.1f}".ljust(20)
    return f"{100 * ci['value']:5.1f} [{100 * ci['low']:4.1f}, {100 * ci['high']:5.1f}]".ljust(20)


HEAD_LABELS = {"fuse": "DAMER (fused)", "mel": "Mel head", "coch": "cochl. head", "probe": "linear probe",
               "model": "the model", "DAMER": "member DAMER", "descriptor head": "member head",
               "majority": "majority class"}


def _head_order(head: str) -> int:
    return list(HEAD_LABELS).index(head) if head in HEAD_LABELS else len(HEAD_LABELS)


def format_report(report: dict, title: str) -> str:
    """Plain text: one row per dimension and head, the quadrant row and the calibration lines."""
    from damer_core.contract.safe_text import figure

    lines = [title, f"{'':<22}{'Acc':<20}{'F1':<20}{'AUC':<20}"]
    for dim, d in report["dimensions"].items():
        for head in sorted(d["heads"], key=_head_order):
            h = d["heads"][head]
            cells = "".join(_pct(h[f"{m}_ci"]) for m in ("acc", "f1", "auc"))
            lines.append(f"{dim[:7]:<8}{HEAD_LABELS.get(head, head)[:14]:<14}{cells}")
    q = report.get("quadrant")
    if q:
        lines.append(f"quadrants ({q['n_tracks']} tracks): accuracy {_pct(q['acc']).strip()}, "
                     f"macro-F1 {_pct(q['macro_f1']).strip()}")
    for dim, d in report["dimensions"].items():
        if "calibration" in d:
            c = d["calibration"]
            lines.append(f"{dim} calibration (windows): temperature {d['temperature']:.2f}, "
                         f"ECE {figure(c['ece_before'])} -> {figure(c['ece_after'])}")
    if "calibration" in report:  # a joint quadrant head's
        c = report["calibration"]
        lines.append(f"quadrant calibration (windows, top class): temperature {c['temperature']:.2f}, "
                     f"ECE {figure(c['ece_before'])} -> {figure(c['ece_after'])}")
    lines.append("Values in %, [95 % bootstrap interval over tracks]; n/a = undefined (one class only).")
    return "\n".join(lines)


def learned_from(h: BundleHeader, fs: FeatureSet, part: str) -> list[str]:
    """Warnings where the model may have learned from the tracks of ``part`` of ``fs``."""
    warnings = []
    mismatch = "" if part == "all" else split_mismatch(fs, h)
    if h.data.get("name") == fs.description.get("name") and (part == "all" or h.report.get("fit_on", {}).get("part") == "all"):
        warnings.append(f"the model learned from {h.data_name}'s tracks (fitted on "
                        f"{'all of them' if h.report.get('fit_on', {}).get('part') == 'all' else 'its train part'}): "
                        "these figures are not held-out figures")
    if mismatch:
        warnings.append(f"{mismatch}: its '{part}' part here may hold tracks it learned from "
                        "(use --all to score it on another data set)")
    return warnings


def model_report_text(report: dict, model: Model, fs: FeatureSet, part: str, bundle_name: str, dataset: str) -> str:
    """`evaluate --checkpoint`'s text: the report under its title, the warnings (a split the model
    was not trained with among them) and, on a data set of the paper, the paper's DAMER row."""
    h = model.header
    how = "" if part == "all" else (f", split by {'artist/group' if fs.group is not None else 'track'}, "
                                    f"seed {h.split_seed}")
    name = fs.description.get("name", dataset)
    about = model.describe()
    lines = [format_report(report, f"{bundle_name} ({about.kind_name}) on {name}: {PART_NAMES[part]}{how}")]
    lines += [f"warning: {w}" for w in report_warnings(report) + learned_from(h, fs, part)]
    paper = paper_row(name)
    if paper:
        lines.append(format_table(paper, "For comparison: the paper's DAMER row (its own 70/30 split, %)"))
    return "\n".join(lines)


# -- Table II / V style tables over seeds ---------------------------------------------------
PAPER_RESULTS = {  # Table II-IV, DAMER row: (acc, f1, auc) for arousal, valence
    "memo2496": {"arousal": (82.95, 80.70, 90.21), "valence": (78.34, 84.72, 83.31)},
    "1000 songs": {"arousal": (81.28, 82.32, 89.15), "valence": (70.74, 72.79, 77.28)},
    "pmemo": {"arousal": (85.98, 90.58, 74.33), "valence": (77.61, 85.54, 79.71)},
}


def _mean_std(values: list[float]) -> str:
    vals = [100 * v for v in values if v == v]
    if not vals:
        return "   n/a     "
    if len(vals) == 1:
        return f"{vals[0]:6.2f}     "
    return f"{np.mean(vals):6.2f}±{np.std(vals):4.2f}"


def format_table(rows: list[tuple[str, dict]], title: str) -> str:
    """rows: (label, {dim: {head: {metric: [values]}}}) -> Table II style text."""
    lines = [title, f"{'':<18}{'Arousal':^36}{'Valence':^36}",
             f"{'':<18}" + "".join(f"{m:^12}" for _ in range(2) for m in ("Acc", "F1", "AUC"))]
    for label, res in rows:
        cells = []
        for dim in DIMENSIONS:
            for m in ("acc", "f1", "auc"):
                cells.append(_mean_std(res.get(dim, {}).get(m, [])))
        lines.append(f"{label:<18}" + "".join(f"{c:^12}" for c in cells))
    return "\n".join(lines)


def collect_seeds(results: list[dict], head: str) -> dict:
    """[{dim: {head: {metric: v}}}] over seeds -> {dim: {metric: [v...]}}."""
    out: dict = {}
    for r in results:
        for dim, heads in r.items():
            for m, v in heads[head].items():
                out.setdefault(dim, {}).setdefault(m, []).append(v)
    return out


def paper_row(name: str) -> list[tuple[str, dict]]:
    """The paper's DAMER row for a data set whose name contains one of PAPER_RESULTS' keys, as a
    :func:`format_table` row; [] for any other data set."""
    for key, res in PAPER_RESULTS.items():
        if key in name.lower().replace("_", " "):
            return [("paper (DAMER)", {d: {m: [v / 100] for m, v in zip(("acc", "f1", "auc"), vals)}
                                         for d, vals in res.items()})]
    return []


ABLATION_GRID = [  # Table V rows: modules switched ON
    ("DSAF",), ("PCL",), ("SAML",), ("DSAF", "PCL"), ("PCL", "SAML"), ("DSAF", "SAML"), ("DSAF", "PCL", "SAML"),
]


def ablation_off(on: tuple[str, ...]) -> list[str]:
    """The modules an ABLATION_GRID row switches off, as TrainConfig.with_ablation takes them."""
    return [m.lower() for m in ("DSAF", "PCL", "SAML") if m not in on]


def seeds_table(results: list[dict], name: str, n_seeds: int) -> str:
    """Table II style text: each head's and the fused model's test figures over the seeds'
    ``results`` ({dim: {head: {metric: v}}} each), and the paper's row on a data set of the paper."""
    rows = [(f"{h} head", collect_seeds(results, h)) for h in ("mel", "coch")]
    rows.append(("DAMER (fused)", collect_seeds(results, "fuse")))
    return format_table(rows + paper_row(name), f"DAMER on {name}, test part (epoch chosen on validation), "
                                                f"{n_seeds} seed(s), mean ± std, %")


def ablation_table(rows: list[tuple[str, list[dict]]], name: str, n_seeds: int, always_on: str) -> str:
    """Table V style text: (label, the seeds' results) per ABLATION_GRID row, fused head."""
    table = format_table([(label, collect_seeds(results, "fuse")) for label, results in rows],
                         f"Ablation (Table V style) on {name}, test part, {n_seeds} seed(s), %")
    return f"{table}\nSwitched by the rows: DSAF, PCL, SAML. Always on: {always_on}."
