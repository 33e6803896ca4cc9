"""`damer-core predict`, `info`, `devices`, `warm-up` and `worker`: the commands that use a model
rather than make one (predict's output in :mod:`damer_core.inference.predict`, `info` text in
:mod:`damer_core.models.bundle_info`, the app's worker in :mod:`damer_core.inference.worker`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from damer_core.cli.inputs import audio_inputs, listed_files
from damer_core.cli.options import add_cache, feature_cache
from damer_core.contract import events
from damer_core.contract.errors import UsageError


def add_model_use_commands(sub: argparse._SubParsersAction) -> None:
    """The subcommands, in the order `damer-core --help` lists them."""
    p = sub.add_parser("predict", help="each audio file's V-A, confidence and emotion word (CSV on stdout); "
                                       "--format json adds the trajectories")
    p.add_argument("files", nargs="*", help="audio files or folders")
    p.add_argument("--files-from", help="a text file listing audio files, one per line")
    p.add_argument("--checkpoint", help="a model bundle (best.pt); default: the built-in model")
    p.add_argument("--format", choices=["csv", "json", "trajectory-csv"], default="csv",
                   help="csv (default): a row per file (path, valence, arousal in -1..1, confidence, emotion word, "
                        "duration, error, warning); json: the same with the smoothed and raw trajectories; "
                        "trajectory-csv: a row per 0.5 s point")
    p.add_argument("--device", default="auto", help="auto (a CUDA GPU when there is one), cpu, cuda or cuda:N")
    p.add_argument("--progress", choices=["none", "human", "jsonl"], default="human",
                   help="human (default): a bar on a terminal, a line every 10 s in a log, on stderr; jsonl: one "
                        "'prediction' event per file on stdout instead of the results; none: quiet")
    p.add_argument("--output", help="write CSV rows to this file instead of stdout: resumable (a rerun skips what "
                                    "is done) and sharded under torchrun (each rank a part, rank 0 merges)")
    p.add_argument("--force", action="store_true",
                   help="let --output replace a file that is not an earlier output of predict")
    p.add_argument("--csv-raw", action="store_true",
                   help="write text cells as they are: by default a cell starting with = + - @ tab or CR gets a "
                        "leading apostrophe, so a spreadsheet shows it as text instead of running it as a formula")
    p.add_argument("--cache", action="store_true",
                   help="also keep the files' model features in the feature cache (off: only the predictions are kept, "
                        "so analysing a library costs no disk)")
    add_cache(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("devices", help="the devices training can use, one JSON line each (CUDA GPUs by name, then the CPU)")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("info", help="what a bundle holds: configs, data, metrics (default: the built-in model)")
    p.add_argument("checkpoint", nargs="*")
    p.add_argument("--json", action="store_true")
    p.add_argument("--jsonl", action="store_true", help="one JSON line per bundle; unreadable ones say why")
    p.add_argument("--check", action="store_true",
                   help="also predict generated sounds: refuse a model that cannot, or that says the same for all")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("warm-up", help="run the analysis once on generated music so that its compiled parts are "
                                       "cached (install does this: a first track then waits seconds, not half a minute)")
    p.add_argument("--checkpoint", default=None, help="the model bundle (default: the built-in model)")
    p.set_defaults(func=cmd_warm_up)

    p = sub.add_parser("worker", help="the app's warm analysis process: jobs (JSON lines) on stdin, events on stdout")
    p.add_argument("--checkpoint", default=None, help="the model bundle (none: spectrogram jobs only)")
    p.add_argument("--device", default="auto", help="auto (a CUDA GPU when there is one), cpu, cuda or cuda:N")
    p.set_defaults(func=cmd_worker)


def cmd_predict(args: argparse.Namespace) -> int:
    from damer_core.contract.builtin import default_checkpoint
    from damer_core.devices import resolve_device
    from damer_core.features.cache import NoCache
    from damer_core.inference.predict import predict_to_output, predict_to_stdout
    from damer_core.inference.predictor import Predictor

    inputs = list(args.files) + (listed_files(args.files_from) if args.files_from else [])
    if not inputs:
        raise UsageError("predict needs audio files (arguments or --files-from)")
    cache = feature_cache(args) if args.cache else NoCache()  # the predictions are what a library keeps
    if args.output:
        files = audio_inputs(inputs)
        if args.format != "csv":
            raise UsageError("--output writes --format csv (one row per file, so a rerun can skip what is done)")
        return predict_to_output(files, Path(args.output), args.checkpoint, args.device, args.progress, cache,
                                 force=args.force, spreadsheet_safe=not args.csv_raw)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("under torchrun, give --output results.csv: each rank writes its part and rank 0 merges them")
    predictor = Predictor(default_checkpoint(args.checkpoint), str(resolve_device(args.device)), cache)
    return predict_to_stdout(predictor, audio_inputs(inputs), args.format, args.progress,
                             spreadsheet_safe=not args.csv_raw)


def cmd_info(args: argparse.Namespace) -> int:
    from damer_core.contract.builtin import default_checkpoint
    from damer_core.models.bundle_info import info_line, info_text

    paths = args.checkpoint or [default_checkpoint(None)]
    from damer_core.inference.vetting import check_predictions

    check = check_predictions if args.check else None  # the app, before a model becomes the one in use
    if args.jsonl:  # the app's model registry: every bundle, each a line, bad ones with the reason
        failed = 0
        for path in paths:
            line, ok = info_line(path, check)
            failed += not ok
            print(line, flush=True)
        return 1 if failed else 0
    if len(paths) != 1:
        raise UsageError("info takes one checkpoint (or several with --jsonl)")
    text = info_text(paths[0], args.json)
    if check is not None:
        check(paths[0])
    print(text)
    if not args.checkpoint and not args.json:
        from damer_core.contract.builtin import builtin_model_paths

        for other in builtin_model_paths()[1:]:
            print(f"\nAlso built in: {other} (damer-core info {other})")
    return 0


def cmd_devices(args: argparse.Namespace) -> int:
    from damer_core.devices import available_devices

    for spec, name in available_devices():  # one JSON object per line, like every other stream
        print(events.Device(spec, name).to_json())
    return 0


def cmd_warm_up(args: argparse.Namespace) -> int:
    from damer_core.contract.builtin import builtin_model_path
    from damer_core.inference.warmup import warm_up

    builtin = builtin_model_path()
    checkpoint = args.checkpoint or (str(builtin) if builtin is not None else None)
    if checkpoint is None:
        print("damer-core warm-up: no model (the built-in one is switched off): the spectrograms only", file=sys.stderr)
    seconds, problems = warm_up(checkpoint)
    for problem in problems:
        print(f"damer-core warm-up: {problem}", file=sys.stderr)
    print(f"damer-core warm-up: the analysis ran once in {seconds:.1f} s; compiled parts cached in "
          f"{os.environ.get('NUMBA_CACHE_DIR', '?')}", file=sys.stderr)
    return 1 if problems else 0


def cmd_worker(args: argparse.Namespace) -> int:
    from damer_core.inference.worker import main as worker_main

    return worker_main(args.checkpoint, args.device)
