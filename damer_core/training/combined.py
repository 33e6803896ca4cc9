"""Fine-tuning a combined bundle (DAMER's joint head + the descriptor head + their stack, see
damer_core.evaluation.build) on a curator's labels: the network as any fine-tune (damer_core.training.run),
the descriptor head in seconds (damer_core.models.descriptor_head.fine_tune_descriptor_head), the stack
kept. Before and after are compared on the labelled tracks held out from the fine-tune (the run's
test part), with the number of tracks, bootstrap intervals and the paired change. A descriptor head
alone is refitted by damer_core.training.head_refit."""

from __future__ import annotations

import numpy as np

from damer_core.datasets.base import DatasetError, FeatureSet
from damer_core.datasets.split import Split, split_tracks
from damer_core.models.combination import Combination
from damer_core.models.descriptor_head import DescriptorHead, fine_tune_descriptor_head
from damer_core.models.header import BundleHeader
from damer_core.progress import Progress
from damer_core.scoring import paired_change, quadrant_report, softmax, track_means
from damer_core.targets import QUADRANT, class_labels
from damer_core.training.head_refit import base_weight


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
    head = fine_tune_descriptor_head(base_head, ds.window_descriptors[fit], y[fit], ds.track[fit], base_weight(init_bundle))
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
    p: dict[str, np.ndarray] = {}
    y_t = y.round().astype(np.int64)
    for when, state, h in (
        ("before", init_bundle["dimensions"][QUADRANT]["state_dict"], base_head),
        ("after", tuned_state, head),
    ):
        model = DAMER(ModelConfig.from_dict(init_bundle["model_config"]))
        model.load_state_dict(state)
        _, p_damer = track_means(fs.track[idx], softmax(head_logits(model, fs, idx, "cpu")["fuse"]))
        _, p_head = track_means(ds.track[didx], h.probabilities(ds.window_descriptors[didx]))
        p[when] = combination.probabilities(p_damer, p_head[rows])
    return {"before": quadrant_report(y_t, p["before"]), "after": quadrant_report(y_t, p["after"]),
            "change": paired_change(y_t, p["before"], p["after"]), "n": int(len(ids))}
