"""Two models on the same labelled tracks (`damer-core evaluate --checkpoint A --against B`):
each one's quadrant figures and their difference with a paired bootstrap interval over tracks
(every resample takes the same tracks for both models), so whether A beats B is not read from two
overlapping intervals."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from damer_core.contract.errors import InputError
from damer_core.evaluation.evaluate import PART_NAMES, header_split, learned_from, part_indices, track_truth
from damer_core.metrics import bootstrap_intervals
from damer_core.models.header import BundleHeader
from damer_core.scoring import QUADRANT_METRICS, quadrant_scores
from damer_core.targets import QUADRANT, quadrant_index

if TYPE_CHECKING:
    from damer_core.datasets.base import FeatureSet
    from damer_core.models.base import Model


def quadrant_of(p: dict[str, np.ndarray]) -> np.ndarray:
    """A model's quadrant probabilities ``[n, 4]`` (every kind gives them where it predicts both
    dimensions: Model.track_probabilities)."""
    if QUADRANT not in p:
        raise InputError("the quadrant figures need a model that predicts both valence and arousal")
    return p[QUADRANT]


def paired_report(model: Model, against: Model, sets: dict[str, FeatureSet], part: str, seed: int = 0,
                  against_sets: dict[str, FeatureSet] | None = None) -> dict:
    """``model`` and ``against`` on the tracks of ``model``'s ``part`` labelled on both dimensions:
    each one's figures and ``model`` minus ``against`` with a 95 % paired bootstrap interval.
    ``against_sets``: the same data set's tracks featurised ``against``'s way, where it differs."""
    fs = sets[model.evaluation_sets()[0]]
    idx = part_indices(fs, model.header, part)
    (v_ids, v), (a_ids, a) = (track_truth(fs, idx, d) for d in ("valence", "arousal"))
    ids = np.intersect1d(v_ids, a_ids)
    if ids.size == 0:
        raise InputError(f"no track of the {PART_NAMES[part]} is labelled on both valence and arousal")
    y = quadrant_index(v[np.searchsorted(v_ids, ids)] > 0.5, a[np.searchsorted(a_ids, ids)] > 0.5)
    p_model = quadrant_of(model.track_probabilities(sets, ids))
    p_against = quadrant_of(against.track_probabilities(sets if against_sets is None else against_sets, ids))
    first, second = quadrant_scores(y, p_model), quadrant_scores(y, p_against)

    def differences(yy: np.ndarray, pm: np.ndarray, pa: np.ndarray) -> dict[str, float]:
        one, other = quadrant_scores(yy, pm), quadrant_scores(yy, pa)
        return {m: one[m] - other[m] for m in QUADRANT_METRICS}

    intervals = bootstrap_intervals(differences, (y, p_model, p_against), QUADRANT_METRICS, seed=seed)
    difference = {m: {"value": first[m] - second[m], "low": intervals[m][0], "high": intervals[m][1]}
                  for m in QUADRANT_METRICS}
    return {"part": part, "n_tracks": int(ids.size), "track_ids": ids.tolist(), "model": first, "against": second,
            "difference": difference}


def heard_before(header: BundleHeader, fs: FeatureSet, report: dict) -> list[str]:
    """A warning where ``header``'s model learned from some of the compared tracks (its own split,
    applied to ``fs``, puts them in its train or validation part): its figures are then flattered."""
    if header.report.get("fit_on", {}).get("part") == "all" or header.data.get("name") != fs.description.get("name"):
        return []  # learned_from says so already, or it learned from other data
    split = header_split(fs, header)
    learned = set(fs.ids[np.unique(fs.track[np.concatenate([split.train, split.val])])])
    heard = sum(t in learned for t in report["track_ids"])
    return [f"{heard} of the {report['n_tracks']} compared tracks were in its own train or validation part: "
            "its figures are flattered"] if heard else []


def paired_text(report: dict, name: str, against: str) -> str:
    """The paired report as a table a person reads: percentages, macro-F1 as a fraction."""
    def cell(m: str, v: float) -> str:
        return f"{v:+.3f}" if m == "macro_f1" else f"{100 * v:+.1f}"

    lines = [f"{name} against {against}, on the same {report['n_tracks']} tracks of the {PART_NAMES[report['part']]} "
             "(difference with a 95 % paired bootstrap interval over tracks):",
             f"| figure | {name} | {against} | difference [interval] |", "|---|---|---|---|"]
    for m in QUADRANT_METRICS:
        d = report["difference"][m]
        a, b = report["model"][m], report["against"][m]
        shown = (f"{a:.3f}", f"{b:.3f}") if m == "macro_f1" else (f"{100 * a:.1f}", f"{100 * b:.1f}")
        lines.append(f"| {m.replace('_', ' ')} | {shown[0]} | {shown[1]} | {cell(m, d['value'])} "
                     f"[{cell(m, d['low'])}, {cell(m, d['high'])}] |")
    return "\n".join(lines)


def against_text(report: dict, model_path: Path, against_path: Path, against_header: BundleHeader,
                 fs: FeatureSet) -> str:
    """The paired table under the two bundles' names (their folders too where both are a run's
    best.pt), and the warnings where the second learned from the compared tracks."""
    same = model_path.name == against_path.name
    names = (f"{p.parent.name}/{p.name}" if same else p.name for p in (model_path, against_path))
    warnings = learned_from(against_header, fs, report["part"]) + heard_before(against_header, fs, report)
    return "\n".join([paired_text(report, *names)] + [f"warning: {against_path.name}: {w}" for w in warnings])
