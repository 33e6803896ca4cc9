"""`damer-core cv`, `select` and `build`: choosing a model by cross-validation grouped by artist
and building it from a recipe (damer_core.evaluation.crossval, damer_core.evaluation.selection, damer_core.evaluation.build)."""

from __future__ import annotations

import argparse
from pathlib import Path

from damer_core.cli.options import add_cache, add_progress, add_train_options, feature_cache, train_config
from damer_core.cli.reports import check_json_out, write_json
from damer_core.contract.errors import UsageError


def cmd_cv(args: argparse.Namespace) -> int:
    from damer_core.datasets import load_dataset, split_tracks
    from damer_core.evaluation.crossval import run_damer_folds
    from damer_core.features.spectra import preset
    from damer_core.progress import Progress
    from damer_core.training.midend_tuning import refuse_unfit_dims

    if not args.dataset:
        raise UsageError("cv needs --dataset")
    tcfg = train_config(args)
    refuse_unfit_dims(preset(args.preset), tcfg.dims)
    progress = Progress(args.progress)
    fs = load_dataset(args.dataset, args.format, args.scale, preset(args.preset), progress, feature_cache(args),
                      descriptors=tcfg.descriptors)
    split = split_tracks(fs, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
    run_damer_folds(fs, split, tcfg, Path(args.out), args.folds, args.device, progress)
    return 0


def cmd_select(args: argparse.Namespace) -> int:
    from damer_core.datasets import load_descriptor_set, split_tracks
    from damer_core.evaluation.crossval import grouped_folds
    from damer_core.evaluation.selection import chosen, compare, fold_scores, level_with_best, score_table
    from damer_core.features.spectra import preset
    from damer_core.progress import Progress

    check_json_out(args.json)

    tcfg = train_config(args)
    progress = Progress(args.progress)
    damer_dirs = {}
    for item in args.damer or []:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            raise UsageError(f"--damer: expected NAME=FOLDER, got {item!r}")
        damer_dirs[name] = Path(folder)
    ds = load_descriptor_set(args.dataset, args.format, args.scale, preset(args.preset), progress, feature_cache(args),
                             embeddings=not args.no_embeddings)
    split = split_tracks(ds, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
    fold_of = grouped_folds(ds, split, args.folds, tcfg.seed)
    candidates, groups = compare(ds, fold_of, damer_dirs, progress)
    print(f"Grouped {args.folds}-fold cross-validation by artist inside the {len(fold_of)} train + validation tracks "
          "(the test part is not used); per fold mean ± std, and pooled:")
    print(score_table(candidates))
    winner = chosen(candidates)
    level = ", ".join(c.name for c in level_with_best(candidates))
    print(f"\nLevel with the best (within one fold standard deviation of its macro-F1): {level}.\n"
          f"Chosen (docs/SPEC.md section 5: of those, pretrained ears first, then the fewest fitted numbers): "
          f"{winner.name}")
    print("\nDescriptor groups (kernel head):")
    print(score_table(list(groups.values())))
    write_json(args.json, {"chosen": winner.name, **{c.name: fold_scores(c) for c in candidates + list(groups.values())}})
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from damer_core.datasets import load_dataset, load_descriptor_set
    from damer_core.evaluation.build import Recipe, build
    from damer_core.features.head_inputs import uses_embeddings
    from damer_core.features.spectra import preset
    from damer_core.models.checkpoint import load_checkpoint
    from damer_core.progress import Progress

    recipe = Recipe.from_file(args.recipe)
    progress = Progress(args.progress)
    report_from = None
    if args.report_from:
        report_from = {k: v for k, v in load_checkpoint(args.report_from).get("report", {}).items() if k == "test"}
    cfg = preset(recipe.preset)
    descriptor_fs = load_descriptor_set(args.dataset, args.format, args.scale, cfg, progress, feature_cache(args),
                                        embeddings=uses_embeddings(recipe.descriptor_head.get("groups", ())))
    model_fs = descriptor_fs if recipe.model == "descriptor_head" else load_dataset(  # a head needs no DAMER windows
        args.dataset, args.format, args.scale, cfg, progress, feature_cache(args), descriptors=recipe.damer.descriptors)
    build(model_fs, descriptor_fs, recipe, Path(args.out), Path(args.cv_dir), args.fit_on, args.device, progress,
          report_from)
    return 0



def add_selection_commands(sub) -> None:
    p = sub.add_parser("cv", help="grouped k-fold cross-validation of a DAMER recipe inside the train + validation "
                                  "tracks (the test part is never used): held-out logits per fold for model selection")
    add_train_options(p)
    p.add_argument("--folds", type=int, default=5, help="number of folds, whole artists each (default 5)")
    p.add_argument("--out", required=True, help="folder for fold<k>.npz; a rerun skips the folds already there")
    p.set_defaults(func=cmd_cv)

    p = sub.add_parser("select", help="compare every candidate (class prior, descriptor heads, DAMER recipes from "
                                      "damer-core cv, their stacks) on the same grouped folds; the test part is not used")
    add_train_options(p)
    p.add_argument("--folds", type=int, default=5, help="the folds damer-core cv used (default 5)")
    p.add_argument("--damer", action="append", metavar="NAME=FOLDER", help="a DAMER recipe's damer-core cv folder")
    p.add_argument("--json", help="also write every candidate's per-fold figures to this JSON file")
    p.add_argument("--no-embeddings", action="store_true",
                   help="leave out the candidates that read musicnn's embedding (no network runs on the audio)")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("build", help="build a model from a recipe: DAMER's joint head, the descriptor head and their "
                                     "stack fitted on out-of-fold predictions; --fit-on train+val scores the test part once")
    p.add_argument("--dataset", required=True)
    p.add_argument("--format", default="auto", choices=["auto", "pmemo", "emomusic", "deam", "4q", "csv", "labels-json"])
    p.add_argument("--scale", choices=["-1..1", "1..9", "0..1"])
    p.add_argument("--recipe", required=True, help="recipe JSON (resources/models/damer-4q.recipe.json)")
    p.add_argument("--cv-dir", required=True, help="the recipe's damer-core cv folder (missing folds are run here)")
    p.add_argument("--fit-on", default="train+val", choices=["train+val", "all"])
    p.add_argument("--report-from", help="with --fit-on all: the train+val build whose test figures the model card gives")
    p.add_argument("--out", required=True, help="folder for best.pt and report.json")
    p.add_argument("--device", default="auto")
    add_cache(p)
    add_progress(p)
    p.set_defaults(func=cmd_build)

