"""A model's figures on held-out tracks, read from its header: a build's test part, a
fine-tune's held-out labels, or a training run's quadrant scores (written once for every kind)."""

from __future__ import annotations

from damer_core.contract.dimensions import DIMENSIONS
from damer_core.contract.model_card import Figure, FineTuneCheck, ModelDescription
from damer_core.models.header import BundleHeader


def quadrant_figure(header: BundleHeader) -> Figure | None:
    """The quadrant macro-F1 a run or build recorded: test part first, else validation."""
    for part in ("test", "val"):
        q = header.quadrant.get(part)
        if q:
            return Figure.of(q.get("macro_f1"), (q.get("interval") or {}).get("macro_f1"), q.get("n"), part)
    return None


def built_figures(header: BundleHeader, member: str) -> tuple[dict[str, Figure], Figure | None]:
    """(AUC per dimension, macro-F1) of a build's test part for ``member`` ("stack",
    "descriptor_head"), scored once with bootstrap intervals; ({}, None) where there is none."""
    report = (header.report.get("test") or {}).get(member)
    if not report:
        return {}, None
    n, ci = report.get("n"), report.get("interval") or {}
    auc = {d: Figure.of(report.get(f"{d}_auc"), ci.get(f"{d}_auc"), n) for d in DIMENSIONS if f"{d}_auc" in report}
    return auc, Figure.of(report.get("macro_f1"), ci.get("macro_f1"), n)


def fine_tune_figures(header: BundleHeader) -> tuple[dict[str, Figure], FineTuneCheck | None]:
    """(AUC per dimension after, macro-F1 before and after and their change) on a fine-tune's held-out labels."""
    tune = header.report.get("fine_tune") or {}
    check = FineTuneCheck.of(tune)
    if check is None:
        return {}, None
    a, n = tune.get("after") or {}, check.n
    ci = a.get("interval") or {}
    return {d: Figure.of(a.get(f"{d}_auc"), ci.get(f"{d}_auc"), n, "held-out") for d in DIMENSIONS if f"{d}_auc" in a}, check


def described(header: BundleHeader, kind: str, summary: str, dimensions: tuple[str, ...], settings: tuple[str, ...],
              report_key: str, members: tuple[str, ...] = (), kind_name: str = "") -> ModelDescription:
    """A built or fine-tuned model's description: a fine-tune's held-out figures first, else the
    build's test part for ``report_key``, else the quadrant record of its run. ``kind_name``: what
    it is in words, where its kind's name says less (a head that reads no descriptors)."""
    auc, macro_f1 = built_figures(header, report_key)
    tuned_auc, check = fine_tune_figures(header)
    fit = header.report.get("fit_on") or {}
    return ModelDescription(
        kind=kind, kind_name=kind_name or header.kind_name, summary=summary, data=header.data_name,
        n_tracks=header.data.get("n_tracks"), created=header.created,
        feature_preset=str(header.feature_config.get("name", "")), dimensions=dimensions,
        auc=tuned_auc or auc, macro_f1=macro_f1 or quadrant_figure(header), fine_tune=check, settings=settings,
        members=members, refit_tracks=fit.get("tracks") if fit.get("part") == "all" and check is None else None)
