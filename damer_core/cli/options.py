"""The options several `damer-core` commands share (train, evaluate, baseline, cv, select, build)
and the training settings they give: defaults, then ``--config``, then the flags."""

from __future__ import annotations

import argparse
from dataclasses import replace

from damer_core.contract.errors import InputError, UsageError


def add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", choices=["human", "jsonl", "none"], default="human",
                   help="progress bars on stderr (human), JSON lines on stdout (jsonl, see docs/events.md), or nothing")


def add_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="feature cache folder (default: the user cache directory)")


def feature_cache(args):
    from damer_core.features.cache import FeatureCache

    return FeatureCache(args.cache_dir) if getattr(args, "cache_dir", None) else FeatureCache()


def train_config(args):
    from damer_core.training.config import FINE_TUNE_DEFAULTS, TrainConfig, flag_settings

    tcfg = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    if getattr(args, "init", None) and not args.config:  # fine-tuning adjusts a model, it does not replace it
        tcfg = replace(tcfg, **FINE_TUNE_DEFAULTS)
    tcfg = replace(tcfg, **flag_settings(args))
    if args.dims:
        dims = tuple(d.strip() for d in args.dims.split(",") if d.strip())
        tcfg = replace(tcfg, dims=dims)
        try:
            tcfg.check()
        except InputError:
            raise UsageError(
                f"--dims: expected arousal, valence, both, or quadrant (one joint network), got {args.dims!r}"
            ) from None
    if args.no_amp:
        tcfg = replace(tcfg, amp=False)
    if args.no_band_embedding:
        tcfg = replace(tcfg, band_embedding=False)
    if args.descriptors:
        tcfg = replace(tcfg, descriptors=True)
    if args.ablation:
        tcfg = tcfg.with_ablation([m.strip().lower() for m in args.ablation.split(",") if m.strip()])
    tcfg.check()  # every setting, from the defaults, --config and the flags, before any work
    return tcfg


def data_formats() -> tuple[str, ...]:
    """The data-set formats `--format` takes: the loaders' own list (damer_core.datasets.FORMATS)."""
    from damer_core.datasets import FORMATS

    return FORMATS


def feature_presets() -> tuple[str, ...]:
    """The feature presets `--preset` takes: damer_core.features.spectra.PRESETS."""
    from damer_core.features.spectra import PRESETS

    return tuple(PRESETS)


def add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="Memo2496-style arrays folder, PMEmo / 1000 Songs / DEAM / 4Q folder, "
                                     "labels .csv or .json")
    g.add_argument(
        "--format", default="auto", choices=list(data_formats())
    )
    g.add_argument("--scale", choices=["-1..1", "1..9", "0..1"], help="label scale of a CSV (default -1..1) or of arrays")
    g.add_argument("--preset", default="clip", choices=list(feature_presets()),
                   help="feature recipe for audio data sets (docs/SPEC.md section 4)")
    g.add_argument("--drop-conflicts", action="store_true",
                   help="leave out tracks the data set lists more than once with different labels (named in a "
                        "warning); without it such a data set is refused")
    g.add_argument("--unlabelled", help="folder of unlabelled audio for PCL's pseudo-labels (e.g. your library)")
    add_cache(p)
    g = p.add_argument_group("training (defaults: the paper's settings)")
    g.add_argument("--config", help="JSON file of training settings; flags override it")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--midend-lr", type=float, help="learning rate of musicnn's layers where DAMER fine-tunes them: "
                                                   "the mid-end (context-musicnn-tuned), the front end too "
                                                   "(context-musicnn-full); default 1e-4")
    g.add_argument("--seed", type=int)
    g.add_argument("--dims", help="arousal, valence or arousal,valence (default both: one network each, as the paper), "
                                  "or quadrant: one network with the joint 4-way quadrant head")
    g.add_argument("--ablation", help="modules to switch off, comma-separated: dsaf, pcl, saml")
    g.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    g.add_argument("--no-band-embedding", action="store_true",
                   help="the paper's literal DSAF without the per-band embedding (see docs/SPEC.md section 5)")
    g.add_argument("--descriptors", action="store_true",
                   help="feed each window's musical descriptors to DAMER's fusion layer (audio data sets only)")
    g.add_argument("--val-fraction", type=float, help="share of the tracks in the validation part (default 0.15)")
    g.add_argument("--test-fraction", type=float, help="share of the tracks in the test part (default 0.3)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    add_progress(p)
