"""Scoring a trained bundle on one part of a data set (`damer-core evaluate --checkpoint`, the
model card): per dimension and head accuracy / F1 / AUC with 95 % bootstrap intervals over
tracks, the 4-quadrant accuracy and macro-F1 where both dimensions are predicted, and the
calibration error of the fused head before and after the bundle's temperature."""

from __future__ import annotations

import numpy as np

from damer_core.datasets.base import FeatureSet
from damer_core.datasets.split import MIN_TRACKS, Split, split_tracks
from damer_core.training.calibration import calibration_report
from damer_core.training.metrics import (
    accuracy, binary_report, bootstrap_interval, f1_positive, macro_f1, quadrant_of, roc_auc,
)

PART_NAMES = {"train": "training part", "val": "validation part", "test": "test part", "all": "all labelled tracks"}
_BINARY = {"acc": lambda y, p: accuracy(y, p >= 0.5), "f1": lambda y, p: f1_positive(y, p >= 0.5), "auc": roc_auc}


def bundle_split(fs: FeatureSet, bundle: dict) -> Split:
    """The split the bundle's seed and fractions give on ``fs``."""
    tc = bundle.get("train_config", {})
    return split_tracks(fs, int(tc.get("seed", 0)), float(tc.get("test_fraction", 0.3)),
                        float(tc.get("val_fraction", 0.15)))


def part_indices(fs: FeatureSet, bundle: dict, part: str) -> np.ndarray:
    """Windows of ``part`` ("train", "val", "test" or "all") under the split the bundle was trained
    with (its seed and fractions, applied to ``fs``)."""
    return np.arange(len(fs)) if part == "all" else bundle_split(fs, bundle).part(part)


def split_mismatch(fs: FeatureSet, bundle: dict) -> str:
    """Why the bundle's split cannot be trusted on ``fs`` ("" when it matches the one it was trained
    with): it was trained on other data, with other fractions, or before splits were recorded."""
    from damer_core.training.run import split_summary

    recorded = bundle.get("split")
    name = fs.description.get("name", "this data set")
    if recorded is None:
        return "the bundle records no split (trained by an older damer-core, 70/30 without a validation part)"
    if bundle.get("data", {}).get("name") != fs.description.get("name") or recorded != split_summary(fs, bundle_split(fs, bundle)):
        return f"the bundle was trained on other data or another split than {name}'s"
    return ""


def report_warnings(report: dict) -> list[str]:
    """Plain-language warnings about a scored part: too few tracks, or one class only."""
    out = []
    for dim, d in report["dimensions"].items():
        if d["n_tracks"] < MIN_TRACKS:
            out.append(f"{dim}: only {d['n_tracks']} tracks in this part; the figures are unreliable")
        if not np.isfinite(d["heads"].get("fuse", d["heads"].get("probe", {})).get("auc", np.nan)):
            out.append(f"{dim}: this part holds one class only; AUC is n/a")
    return out


def track_level(fs: FeatureSet, idx: np.ndarray, window_values: np.ndarray) -> np.ndarray:
    """Mean of ``window_values`` (aligned with ``np.sort(idx)``) over each track's windows."""
    _, inverse = np.unique(fs.track[np.sort(idx)], return_inverse=True)
    return np.bincount(inverse, weights=window_values) / np.bincount(inverse)


def with_interval(statistic, arrays, seed: int = 0) -> dict[str, float]:
    lo, hi = bootstrap_interval(statistic, arrays, seed=seed)
    return {"value": float(statistic(*arrays)), "low": lo, "high": hi}


def binary_with_intervals(y: np.ndarray, p: np.ndarray) -> dict:
    """The per-track binary report plus a 95 % bootstrap interval for accuracy, F1 and AUC."""
    return {**binary_report(y, p), **{f"{m}_ci": with_interval(fn, (y, p)) for m, fn in _BINARY.items()}}


def quadrant_with_intervals(v_true, a_true, p_valence, p_arousal) -> dict:
    """4-quadrant accuracy and macro-F1 (with intervals) and the confusion matrix, per track."""
    q_true = quadrant_of(np.asarray(v_true) > 0.5, np.asarray(a_true) > 0.5)
    q_pred = quadrant_of(np.asarray(p_valence) >= 0.5, np.asarray(p_arousal) >= 0.5)
    return {"n_tracks": int(q_true.size), "acc": with_interval(accuracy, (q_true, q_pred)),
            "macro_f1": with_interval(macro_f1, (q_true, q_pred)), "confusion": confusion(q_true, q_pred)}


def add_quadrant(report: dict, per_dim: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> None:
    """``per_dim[dim] = (track ids, truth, P(high))``; adds the quadrant scores over the tracks
    labelled on both dimensions."""
    if not {"arousal", "valence"} <= set(per_dim):
        return
    both = np.intersect1d(per_dim["arousal"][0], per_dim["valence"][0])
    if both.size == 0:
        return
    pick = {d: np.searchsorted(per_dim[d][0], both) for d in ("arousal", "valence")}
    v_true, p_v = per_dim["valence"][1][pick["valence"]], per_dim["valence"][2][pick["valence"]]
    a_true, p_a = per_dim["arousal"][1][pick["arousal"]], per_dim["arousal"][2][pick["arousal"]]
    report["quadrant"] = quadrant_with_intervals(v_true, a_true, p_v, p_a)


def score_bundle(bundle: dict, models: dict, fs: FeatureSet, part: str, device="cpu") -> dict:
    """The report of ``models`` (from :func:`damer_core.checkpoint.build_models`) on ``part``."""
    from damer_core.training.trainer import head_margins

    idx_all = part_indices(fs, bundle, part)
    report: dict = {"part": part, "dimensions": {}}
    per_dim = {}
    for dim, model in models.items():
        idx = np.sort(idx_all[~np.isnan(fs.values(dim)[idx_all])])
        temperature = float(bundle["dimensions"][dim].get("temperature", 1.0))
        margins = head_margins(model, fs, idx, device)
        y_windows = fs.binary(dim)[idx]
        tracks = np.unique(fs.track[idx])
        y = track_level(fs, idx, y_windows.astype(float)).round().astype(int) if idx.size else np.zeros(0, int)
        heads = {}
        for head, margin in margins.items():
            t = temperature if head == "fuse" else 1.0
            p = track_level(fs, idx, 1.0 / (1.0 + np.exp(-margin / t))) if idx.size else np.zeros(0)
            heads[head] = binary_with_intervals(y, p)
            if head == "fuse":
                per_dim[dim] = (tracks, y, p)
        report["dimensions"][dim] = {"heads": heads, "n_tracks": int(y.size), "temperature": temperature,
                                     "calibration": calibration_report(margins["fuse"], y_windows, temperature)}
    add_quadrant(report, per_dim)
    return report


def probe_report(probe: dict) -> dict:
    """:func:`damer_core.baseline.linear_probe` results in the report shape of :func:`score_bundle`."""
    report: dict = {"part": "test", "dimensions": {}}
    for dim, r in probe.items():
        report["dimensions"][dim] = {"heads": {"probe": binary_with_intervals(r["y"], r["p"])},
                                     "n_tracks": int(r["y"].size), "c": r["c"]}
    add_quadrant(report, {d: (r["tracks"], r["y"], r["p"]) for d, r in probe.items()})
    return report


def confusion(q_true: np.ndarray, q_pred: np.ndarray) -> list[list[int]]:
    """4x4 counts, rows the true quadrant Q1..Q4, columns the predicted one."""
    m = np.zeros((4, 4), dtype=int)
    np.add.at(m, (q_true - 1, q_pred - 1), 1)
    return m.tolist()


def _pct(ci: dict) -> str:
    if not np.isfinite(ci["value"]):
        return "n/a".center(20)
    if not np.isfinite(ci["low"]):
        return f"{100 * ci['value']:5.1f}".ljust(20)
    return f"{100 * ci['value']:5.1f} [{100 * ci['low']:4.1f}, {100 * ci['high']:5.1f}]".ljust(20)


HEAD_LABELS = {"fuse": "DAMER (fused)", "mel": "Mel head", "coch": "cochl. head", "probe": "linear probe"}


def format_report(report: dict, title: str) -> str:
    """Plain text: one row per dimension and head, the quadrant row and the calibration lines."""
    from damer_core.training.run import fmt_metric

    lines = [title, f"{'':<22}{'Acc':<20}{'F1':<20}{'AUC':<20}"]
    for dim, d in report["dimensions"].items():
        for head in (h for h in HEAD_LABELS if h in d["heads"]):
            h = d["heads"][head]
            lines.append(f"{dim[:7]:<8}{HEAD_LABELS[head]:<14}" + "".join(_pct(h[f"{m}_ci"]) for m in ("acc", "f1", "auc")))
    q = report.get("quadrant")
    if q:
        lines.append(f"quadrants ({q['n_tracks']} tracks): accuracy {_pct(q['acc']).strip()}, "
                     f"macro-F1 {_pct(q['macro_f1']).strip()}")
    for dim, d in report["dimensions"].items():
        if "calibration" in d:
            c = d["calibration"]
            lines.append(f"{dim} calibration (windows): temperature {d['temperature']:.2f}, "
                         f"ECE {fmt_metric(c['ece_before'])} -> {fmt_metric(c['ece_after'])}")
    lines.append("Values in %, [95 % bootstrap interval over tracks]; n/a = undefined (one class only).")
    return "\n".join(lines)
