"""Fine-tuning a combined bundle (DAMER's joint head + the descriptor head + their stack, see
damer_core.evaluation.build) on a curator's labels: the network as any fine-tune (damer_core.training.run),
the descriptor head in seconds (damer_core.models.descriptor_head.fine_tune_descriptor_head), the stack
kept. Before and after are compared on the labelled tracks held out from the fine-tune (the run's
test part), with the number of tracks and bootstrap intervals."""

from __future__ import annotations

from typing import Any

import numpy as np

from damer_core.contract import events
from damer_core.datasets.base import DatasetError, FeatureSet
from damer_core.datasets.split import Split, split_tracks
from damer_core.models.combination import Combination
from damer_core.models.descriptor_head import DescriptorHead, fine_tune_descriptor_head
from damer_core.models.header import DESCRIPTOR_HEAD as DESCRIPTOR_HEAD_KIND
from damer_core.models.header import BundleHeader
from damer_core.progress import Progress
from damer_core.scoring import quadrant_report, softmax, track_means
from damer_core.targets import QUADRANT, class_labels


def fine_tune_parts(init_bundle: dict, fs: FeatureSet, split: Split, tuned_state: dict, data_args, tcfg,
                    progress: Progress, cache=None) -> dict | None:
    """The fine-tuned bundle's ``descriptor_head`` and ``combination`` (with a ``fine_tune``
    before/after report); None, with a message, where the labels cannot tune the descriptor head
    (array data sets hold no audio; labels without both dimensions name no quadrant)."""
    from damer_core.datasets import load_descriptor_set

    base_head = DescriptorHead.from_state(init_bundle["descriptor_head"])
    combination = Combination.from_state(init_bundle["combination"])
    try:
        ds = load_descriptor_set(data_args.dataset, data_args.format, data_args.scale, fs.feature_config, progress, cache,
                                 embeddings=base_head.embedded)
    except DatasetError as e:
        progress.message(f"the descriptor head is kept as it was ({e})")
        return None
    y = class_labels(ds.valence, ds.arousal, QUADRANT)
    dsplit = split_tracks(ds, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
    fit = np.concatenate([dsplit.train, dsplit.val])
    fit = fit[y[fit] >= 0]
    if fit.size == 0:
        progress.message("the descriptor head is kept as it was (no track has both valence and arousal labels)")
        return None
    head = fine_tune_descriptor_head(base_head, ds.window_descriptors[fit], y[fit])
    progress.message(f"descriptor head fine-tuned on {np.unique(ds.track[fit]).size} tracks")
    report = _before_after(init_bundle, fs, split, tuned_state, ds, dsplit, base_head, head, combination)
    return {"descriptor_head": head.to_state(),
            "combination": combination.to_state(), "report": {**BundleHeader.read(init_bundle).report, "fine_tune": report}}


def _before_after(init_bundle, fs, split, tuned_state, ds, dsplit, base_head, head, combination) -> dict:
    """The base model and the fine-tuned one on the labelled tracks held out from the fine-tune."""
    from damer_core.models.network import DAMER, ModelConfig
    from damer_core.models.network.heads import head_logits

    idx = split.test[class_labels(fs.valence[split.test], fs.arousal[split.test], QUADRANT) >= 0]
    didx = dsplit.test[class_labels(ds.valence[dsplit.test], ds.arousal[dsplit.test], QUADRANT) >= 0]
    if idx.size == 0 or didx.size == 0:
        return {"n": 0}
    idx, didx = np.sort(idx), np.sort(didx)
    tracks, y = track_means(fs.track[idx], class_labels(fs.valence[idx], fs.arousal[idx], QUADRANT).astype(float))
    ids = fs.ids[tracks]
    d_tracks = ds.ids[np.unique(ds.track[didx])]
    if set(d_tracks) != set(ids):
        return {"n": 0}
    order = {t: i for i, t in enumerate(d_tracks)}
    rows = [order[t] for t in ids]
    out: dict[str, Any] = {}
    for when, state, h in (
        ("before", init_bundle["dimensions"][QUADRANT]["state_dict"], base_head),
        ("after", tuned_state, head),
    ):
        model = DAMER(ModelConfig.from_dict(init_bundle["model_config"]))
        model.load_state_dict(state)
        _, p_damer = track_means(fs.track[idx], softmax(head_logits(model, fs, idx, "cpu")["fuse"]))
        _, p_head = track_means(ds.track[didx], h.probabilities(ds.window_descriptors[didx]))
        out[when] = quadrant_report(y.round().astype(np.int64), combination.probabilities(p_damer, p_head[rows]))
    out["n"] = int(len(ids))
    return out


def fine_tune_head_only(init_bundle: dict, init_path: str, data_args, tcfg, out, progress: Progress, cache=None):
    """Fine-tuning a bundle that is a descriptor head alone: seconds, no network. The labels'
    split is the run's (seed and fractions); the train and validation tracks tune the head, the
    test part compares the base with the tuned head. Writes ``out/best.pt``; returns its path."""
    from pathlib import Path

    from damer_core.datasets import load_descriptor_set
    from damer_core.models.checkpoint import save_atomic, with_checksums

    base = DescriptorHead.from_state(init_bundle["descriptor_head"])
    cfg = init_bundle["feature_config"]
    from damer_core.features.spectra import FeatureConfig

    ds = load_descriptor_set(data_args.dataset, data_args.format, data_args.scale, FeatureConfig.from_dict(cfg), progress,
                             cache, embeddings=base.embedded)  # musicnn stays frozen: only the head is refitted
    y = class_labels(ds.valence, ds.arousal, QUADRANT)
    split = split_tracks(ds, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
    count = lambda idx: int(np.unique(ds.track[idx]).size)  # noqa: E731
    progress.emit(events.RefitStart(kind=DESCRIPTOR_HEAD_KIND, n_tracks=ds.n_tracks, split={
        "by": ds.description.get("split_group", "track"), "train": count(split.train), "val": count(split.val),
        "test": count(split.test)}))
    fit = np.concatenate([split.train, split.val])
    fit = fit[y[fit] >= 0]
    if fit.size == 0:
        raise DatasetError("no labelled track has both valence and arousal: the descriptor head learns quadrants")
    head = fine_tune_descriptor_head(base, ds.window_descriptors[fit], y[fit])
    progress.message(f"descriptor head refitted on {count(fit)} labelled tracks, pulled towards the base model "
                     "(seconds: it has no network to train)")
    test = np.sort(split.test[y[split.test] >= 0])
    report: dict[str, Any] = {"n": 0}
    if test.size:
        _, y_t = track_means(ds.track[test], y[test].astype(float))
        y_t = y_t.round().astype(np.int64)
        for when, h in (("before", base), ("after", head)):
            report[when] = quadrant_report(y_t, track_means(ds.track[test], h.probabilities(ds.window_descriptors[test]))[1])
        report["n"] = int(y_t.size)
        progress.message(f"{report['n']} held-out tracks: quadrant macro-F1 {report['before']['macro_f1']:.3f} before, "
                         f"{report['after']['macro_f1']:.3f} after")
    bundle = {k: v for k, v in init_bundle.items() if k not in ("descriptor_head", "report", "quadrant", "split")}
    bundle.update(descriptor_head=head.to_state(), report={"fine_tune": report, "base": str(init_path)},
                  data=ds.description, data_args=data_args.to_dict(), train_config=tcfg.to_dict())
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    best = save_atomic(with_checksums(bundle), out / "best.pt")
    progress.emit(events.Refitted(bundle=str(best), kind=DESCRIPTOR_HEAD_KIND, n=report["n"],
                                  before=report.get("before", {}), after=report.get("after", {})))
    return best
