"""The `damer-core` command line: features, train, evaluate and baseline here; cv, select and build in
:mod:`damer_core.cli.selection`; predict, info, devices, warm-up and worker in :mod:`damer_core.cli.model_use`.
Parses the arguments and dispatches; the work is done by damer_core's modules (the tables in
:mod:`damer_core.evaluation.evaluate`)."""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path

from damer_core import __version__
from damer_core.cli.inputs import audio_inputs
from damer_core.cli.options import add_cache, add_progress, add_train_options, feature_cache, feature_presets, train_config
from damer_core.cli.parser import Parser
from damer_core.cli.reports import check_json_out, write_json
from damer_core.cli.streams import RESULTS_ON_STDOUT, usable_streams
from damer_core.contract import events
from damer_core.contract.errors import AudioError, BundleError, UsageError
from damer_core.contract.safe_text import shown

BUILTIN = "builtin"  # `--init` without a file: fine-tune the built-in model


# -- features ---------------------------------------------------------------------------------
def cmd_features(args: argparse.Namespace) -> int:
    from damer_core.features.extract import featurise_files
    from damer_core.features.spectra import preset

    cfg, cache = preset(args.preset), feature_cache(args)
    kinds = ("train", "frames") if args.trajectory else ("train",)
    return featurise_files(audio_inputs(args.inputs), cfg, kinds, cache, args.progress)


# -- train ------------------------------------------------------------------------------------
def _data_args(args):
    from damer_core.training.run import DataArgs

    if not args.dataset:
        return None
    return DataArgs(str(Path(args.dataset).resolve()), args.format, args.scale, args.preset,
                    str(Path(args.unlabelled).resolve()) if args.unlabelled else None,
                    bool(getattr(args, "drop_conflicts", False)))


def _default_out(args) -> Path:
    from damer_core.contract.paths import new_run_dir

    return new_run_dir(Path(args.dataset).stem if args.dataset else "run")


def cmd_train(args: argparse.Namespace) -> int:
    from damer_core.progress import Progress
    from damer_core.training.run import train

    if not args.resume and not args.dataset:
        raise UsageError("train needs --dataset (or --resume with --out of an interrupted run)")
    if args.resume and not args.out:
        raise UsageError("--resume needs --out: the folder of the run to continue")
    from damer_core.contract.builtin import default_checkpoint

    tcfg = train_config(args)
    out = Path(args.out) if args.out else _default_out(args)
    if not args.force:
        from damer_core.training.run_folder import check_run_folder

        check_run_folder(out, args.resume)
    if not args.out:
        print(f"damer-core train: the run goes to {out}", file=sys.stderr)
    from damer_core.training.resume import given_settings

    if args.resume and args.init:
        raise UsageError("--resume continues a run as it was started; --init starts a new fine-tune (another --out)")
    init = default_checkpoint(None if args.init == BUILTIN else args.init) if args.init else None
    train(_data_args(args), tcfg, out, args.device, Progress(args.progress), init=init,
          resume=args.resume, cache=feature_cache(args), given=given_settings(args) if args.resume else None)
    return 0


# -- evaluate ---------------------------------------------------------------------------------
def _evaluate_bundle(args) -> int:
    from damer_core.datasets import load_evaluation_sets
    from damer_core.evaluation.evaluate import model_report_text, score_model
    from damer_core.features.spectra import FeatureConfig
    from damer_core.models import load_model
    from damer_core.progress import Progress

    check_json_out(args.json)

    model = load_model(args.checkpoint)
    cfg = FeatureConfig.from_dict(model.header.feature_config)
    sets = load_evaluation_sets(model.evaluation_sets(), args.dataset, args.format, args.scale, cfg,
                                Progress(args.progress), feature_cache(args))
    part = "all" if args.all else args.part
    report = score_model(model, sets, part)
    fs = sets[model.evaluation_sets()[0]]
    print(model_report_text(report, model, fs, part, Path(args.checkpoint).name, args.dataset))
    if args.against:
        from damer_core.evaluation.paired import against_text, paired_report

        against = load_model(args.against)
        against_cfg = FeatureConfig.from_dict(against.header.feature_config)
        against_sets = sets if against_cfg == cfg else {}  # another preset: the same tracks, featurised its way
        missing = tuple(k for k in against.evaluation_sets() if k not in against_sets)
        against_sets.update(load_evaluation_sets(missing, args.dataset, args.format, args.scale, against_cfg,
                                                 Progress(args.progress), feature_cache(args)))
        report["against"] = paired_report(model, against, sets, part, against_sets=against_sets)
        print()
        print(against_text(report["against"], Path(args.checkpoint), Path(args.against), against.header, fs))
    write_json(args.json, report)
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from damer_core.datasets import load_dataset, split_tracks
    from damer_core.evaluation.baseline import linear_probe
    from damer_core.evaluation.evaluate import format_report, probe_report, report_warnings
    from damer_core.features.spectra import preset
    from damer_core.progress import Progress

    check_json_out(args.json)

    tcfg = train_config(args)
    fs = load_dataset(args.dataset, args.format, args.scale, preset(args.preset), Progress(args.progress), feature_cache(args))
    split = split_tracks(fs, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
    report = probe_report(linear_probe(fs, split, tcfg.dims))
    for w in report_warnings(report):
        print(f"warning: {w}")
    by = "artist/group" if split.by_group else "track"
    name = fs.description.get("name", args.dataset)
    print(format_report(report, f"Linear probe (per-band mean/std + logistic regression, C chosen on validation) "
                                f"on {name}: test part, split by {by}, seed {tcfg.seed}, preset {args.preset}"))
    write_json(args.json, report)
    return 0


def _train_and_score(args, tcfg, out: Path) -> dict:
    from damer_core.models.checkpoint import load_checkpoint
    from damer_core.progress import Progress
    from damer_core.training.run import train

    best = train(_data_args(args), tcfg, out, args.device, Progress(args.progress), cache=feature_cache(args))
    dims = load_checkpoint(best)["dimensions"]
    if any("test" not in e["metrics"] for e in dims.values()):
        raise UsageError("evaluate reports the test part: --test-fraction must be above 0")
    return {d: e["metrics"]["test"] for d, e in dims.items()}


def cmd_evaluate(args: argparse.Namespace) -> int:
    from damer_core.evaluation.evaluate import ABLATION_GRID, ablation_off, ablation_table, seeds_table

    if args.against and not args.checkpoint:
        raise UsageError("evaluate --against compares with the model of --checkpoint: give both")
    if args.checkpoint:
        if not args.dataset:
            raise UsageError("evaluate --checkpoint needs --dataset to evaluate on")
        return _evaluate_bundle(args)
    if not args.dataset:
        raise UsageError("evaluate needs --dataset (and --checkpoint to score a trained bundle)")
    tcfg = train_config(args)
    root = Path(args.out) if args.out else _default_out(args)
    name = Path(args.dataset).name

    def seeds(cfg, prefix: str = "") -> list[dict]:
        return [_train_and_score(args, replace(cfg, seed=tcfg.seed + s), root / f"{prefix}seed{tcfg.seed + s}")
                for s in range(args.seeds)]

    if args.ablation_table:
        rows = [("+".join(on), seeds(tcfg.with_ablation(ablation_off(on)), f"{'+'.join(on)}-")) for on in ABLATION_GRID]
        print(ablation_table(rows, name, args.seeds, tcfg.always_on))
    else:
        print(seeds_table(seeds(tcfg), name, args.seeds))
    return 0


def build_parser() -> Parser:
    from damer_core.cli.model_use import add_model_use_commands
    from damer_core.cli.selection import add_selection_commands
    from damer_core.training.config import FINE_TUNE_DEFAULTS

    parser = Parser(prog="damer-core",
                    description="DAMER music-emotion model: features, training, evaluation, prediction.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("features", help="pre-extract model features for audio files or folders into the cache")
    p.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    p.add_argument("--preset", default="clip", choices=list(feature_presets()))
    p.add_argument("--trajectory", action="store_true", help="also cache the whole-track frame sequence")
    add_cache(p)
    add_progress(p)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("train", help="train or fine-tune DAMER (paper settings by default)")
    add_train_options(p)
    p.add_argument("--out", help="run folder for last.pt, best.pt and metrics.csv (default: <data>-<time> in the "
                                 "user's data folder, the runs the app lists; printed at the start)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--force", action="store_true",
                   help="let --out be a folder that holds other files, or replace an earlier run there")
    p.add_argument("--init", metavar="CHECKPOINT", nargs="?", const=BUILTIN,
                   help="fine-tune from this bundle, or from the built-in model when no file is named; "
                        "fine-tuning defaults to {epochs} epochs at lr {lr:g}".format(**FINE_TUNE_DEFAULTS))
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="Table II style report: score a bundle, or train N seeds; --ablation-table for Table V")
    add_train_options(p)
    p.add_argument("--checkpoint", help="score this bundle on a part of --dataset instead of training")
    p.add_argument("--against", metavar="BUNDLE",
                   help="with --checkpoint: also score this bundle on the same tracks, and the difference with a "
                        "paired bootstrap interval")
    p.add_argument("--part", choices=["test", "val", "train", "all"], default="test",
                   help="with --checkpoint: the part of the bundle's own split to score (default test)")
    p.add_argument("--all", action="store_true", help="with --checkpoint: score on every labelled track (another data set)")
    p.add_argument("--seeds", type=int, default=1, help="train this many seeds and report mean ± std")
    p.add_argument("--ablation-table", action="store_true", help="run the Table V grid of modules")
    p.add_argument("--out", help="folder for the runs' checkpoints")
    p.add_argument("--json", help="with --checkpoint: also write the metrics to this JSON file")
    p.set_defaults(func=cmd_evaluate)

    add_selection_commands(sub)

    p = sub.add_parser("baseline", help="a linear probe on per-band statistics, scored on the test part of the same split")
    add_train_options(p)
    p.add_argument("--json", help="also write the report to this JSON file")
    p.set_defaults(func=cmd_baseline)

    add_model_use_commands(sub)
    return parser


def _stop_on_sigterm() -> None:
    """SIGTERM (the app's Cancel) unwinds like Ctrl+C: checkpoints are atomic, so the last one stays."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def handler(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, handler)


def _user_errors() -> tuple[type[Exception], ...]:
    """What the code raises on purpose for input the user can fix (any other exception, a
    ValueError included, is a bug and keeps its traceback); OSError: a full disk, a read-only folder."""
    from damer_core.contract.errors import UserError

    return UserError, OSError


def _os_message(e: OSError) -> str:
    """A full disk or a read-only folder in words, naming the file that could not be written."""
    if e.filename:
        return f"{e.filename}: {e.strerror or e}"
    return e.strerror or str(e)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_command(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    _stop_on_sigterm()
    try:
        usable_streams(args.command, writes_stdout=args.command in RESULTS_ON_STDOUT and not getattr(args, "output", None))
        return args.func(args)
    except BrokenPipeError:  # `damer-core info ... | head`: the reader had all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # the interpreter's last flush fails quietly
        return 141  # as a program ended by SIGPIPE
    except _user_errors() as e:
        raw = _os_message(e) if isinstance(e, OSError) and not isinstance(e, AudioError) else str(e)
        if isinstance(e, BundleError):  # the path as typed: every run's model is called best.pt
            raw = f"{e.path}: {e.reason}"
        lines = [shown(line, limit=2000) for line in raw.splitlines() or [""]]  # names from files may hold escapes
        message = "; ".join(lines)
        for line in lines:  # one line per problem (a config with several bad settings)
            print(f"damer-core {args.command}: error: {line}", file=sys.stderr)
        if getattr(args, "progress", "") == "jsonl":
            print(events.Error(message).to_json(), flush=True)
        return 2
    except KeyboardInterrupt:
        print(f"damer-core {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
