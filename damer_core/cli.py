"""The `damer-core` command line: features, train, evaluate, predict, info."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from damer_core import __version__


class UsageError(Exception):
    """Bad input the user can fix; printed as one line, exit status 2."""


BUILTIN = "builtin"  # `--init` without a file: fine-tune the built-in model


def _add_progress(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", choices=["human", "jsonl", "none"], default="human",
                   help="progress bars on stderr (human), JSON lines on stdout (jsonl, see docs/progress.md), or nothing")


def _add_cache(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cache-dir", help="feature cache folder (default: the user cache directory)")


def _cache(args):
    from damer_core.cache import FeatureCache

    return FeatureCache(args.cache_dir) if getattr(args, "cache_dir", None) else FeatureCache()


def _audio_files(inputs: list[str]) -> list[Path]:
    from damer_core.audio import audio_files

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = audio_files(p)
            if not found:
                print(f"damer-core: {p}: no audio files in this folder", file=sys.stderr)
            files += found
        else:
            files.append(p)
    return files


# -- features ---------------------------------------------------------------------------------
def cmd_features(args: argparse.Namespace) -> int:
    from damer_core.audio import AudioError
    from damer_core.extract import track_features
    from damer_core.features import preset
    from damer_core.progress import Progress

    cfg = preset(args.preset)
    cache = _cache(args)
    files = _audio_files(args.inputs)
    progress = Progress(args.progress)
    progress.task(f"features ({cfg.name})", len(files))
    kinds = ("train", "frames") if args.trajectory else ("train",)
    failed = 0
    for path in files:
        try:
            track_features(path, cfg, kinds, cache)
        except AudioError as e:
            failed += 1
            progress.message(f"skipped {e}", file=str(path), error=e.reason)
        progress.advance(file=str(path))
    progress.message(f"{len(files) - failed} of {len(files)} files featurised into {cache.root}")
    return 1 if failed and failed == len(files) else 0


# -- train ------------------------------------------------------------------------------------
def _train_config(args):
    from damer_core.training.config import FINE_TUNE_DEFAULTS, TrainConfig

    tcfg = TrainConfig.from_file(args.config) if args.config else TrainConfig()
    if getattr(args, "init", None) and not args.config:  # fine-tuning adjusts a model, it does not replace it
        tcfg = replace(tcfg, **FINE_TUNE_DEFAULTS)
    flags = {"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
             "val_fraction": args.val_fraction, "test_fraction": args.test_fraction}
    tcfg = replace(tcfg, **{k: v for k, v in flags.items() if v is not None})
    if args.dims:
        dims = tuple(d.strip() for d in args.dims.split(",") if d.strip())
        bad = [d for d in dims if d not in ("arousal", "valence")]
        if bad or not dims:
            raise UsageError(f"--dims: expected arousal, valence or both, got {args.dims!r}")
        tcfg = replace(tcfg, dims=dims)
    if args.no_amp:
        tcfg = replace(tcfg, amp=False)
    if args.no_band_embedding:
        tcfg = replace(tcfg, band_embedding=False)
    if args.ablation:
        tcfg = tcfg.with_ablation([m.strip().lower() for m in args.ablation.split(",") if m.strip()])
    if tcfg.epochs < 1 or tcfg.batch_size < 1:
        raise UsageError("--epochs and --batch-size must be at least 1")
    return tcfg


def _data_args(args):
    from damer_core.training.run import DataArgs

    if not args.dataset:
        return None
    return DataArgs(str(Path(args.dataset).resolve()), args.format, args.scale, args.preset,
                    str(Path(args.unlabelled).resolve()) if args.unlabelled else None)


def _default_out(args) -> Path:
    name = Path(args.dataset).stem if args.dataset else "run"
    return Path("runs") / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"


def cmd_train(args: argparse.Namespace) -> int:
    from damer_core.progress import Progress
    from damer_core.training.run import train

    if not args.resume and not args.dataset:
        raise UsageError("train needs --dataset (or --resume with --out of an interrupted run)")
    if args.resume and not args.out:
        raise UsageError("--resume needs --out: the folder of the run to continue")
    from damer_core.builtin import default_checkpoint

    out = Path(args.out) if args.out else _default_out(args)
    init = default_checkpoint(None if args.init == BUILTIN else args.init) if args.init else None
    train(_data_args(args), _train_config(args), out, args.device, Progress(args.progress), init=init,
          resume=args.resume, cache=_cache(args))
    return 0


def _add_train_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--dataset", help="Memo2496-style arrays folder, PMEmo / 1000 Songs / DEAM folder, labels .csv or .json")
    g.add_argument("--format", default="auto", choices=["auto", "arrays", "pmemo", "emomusic", "deam", "4q", "csv", "labels-json"])
    g.add_argument("--scale", choices=["-1..1", "1..9", "0..1"], help="label scale of a CSV (default -1..1) or of arrays")
    g.add_argument("--preset", default="clip", choices=["clip", "context", "paper"],
                   help="feature recipe for audio data sets (SPEC section 4)")
    g.add_argument("--unlabelled", help="folder of unlabelled audio for PCL's pseudo-labels (e.g. your library)")
    _add_cache(p)
    g = p.add_argument_group("training (defaults: the paper's settings)")
    g.add_argument("--config", help="JSON file of training settings; flags override it")
    g.add_argument("--epochs", type=int)
    g.add_argument("--batch-size", type=int)
    g.add_argument("--lr", type=float)
    g.add_argument("--seed", type=int)
    g.add_argument("--dims", help="arousal, valence or arousal,valence (default both)")
    g.add_argument("--ablation", help="modules to switch off, comma-separated: dsaf, pcl, saml")
    g.add_argument("--no-amp", action="store_true", help="no mixed precision on CUDA")
    g.add_argument("--no-band-embedding", action="store_true",
                   help="the paper's literal DSAF without the per-band embedding (see SPEC section 5)")
    g.add_argument("--val-fraction", type=float, help="share of the tracks in the validation part (default 0.15)")
    g.add_argument("--test-fraction", type=float, help="share of the tracks in the test part (default 0.3)")
    g.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    _add_progress(p)


# -- evaluate ---------------------------------------------------------------------------------
PAPER_RESULTS = {  # Table II-IV, DAMER row: (acc, f1, auc) for arousal, valence
    "memo2496": {"arousal": (82.95, 80.70, 90.21), "valence": (78.34, 84.72, 83.31)},
    "1000 songs": {"arousal": (81.28, 82.32, 89.15), "valence": (70.74, 72.79, 77.28)},
    "pmemo": {"arousal": (85.98, 90.58, 74.33), "valence": (77.61, 85.54, 79.71)},
}


def _fmt(values: list[float]) -> str:
    import numpy as np

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
        for dim in ("arousal", "valence"):
            for m in ("acc", "f1", "auc"):
                cells.append(_fmt(res.get(dim, {}).get(m, [])))
        lines.append(f"{label:<18}" + "".join(f"{c:^12}" for c in cells))
    return "\n".join(lines)


def _collect(results: list[dict], head: str) -> dict:
    """[{dim: {head: {metric: v}}}] over seeds -> {dim: {metric: [v...]}}."""
    out: dict = {}
    for r in results:
        for dim, heads in r.items():
            for m, v in heads[head].items():
                out.setdefault(dim, {}).setdefault(m, []).append(v)
    return out


def _paper_row(name: str) -> list[tuple[str, dict]]:
    for key, res in PAPER_RESULTS.items():
        if key in name.lower().replace("_", " "):
            return [("paper (DAMER)", {d: {m: [v / 100] for m, v in zip(("acc", "f1", "auc"), vals)}
                                         for d, vals in res.items()})]
    return []


def _evaluate_bundle(args) -> int:
    from damer_core.checkpoint import build_models, load_checkpoint
    from damer_core.datasets import load_dataset
    from damer_core.evaluation import PART_NAMES, format_report, report_warnings, score_bundle, split_mismatch
    from damer_core.features import FeatureConfig
    from damer_core.progress import Progress

    bundle = load_checkpoint(args.checkpoint)
    models = build_models(bundle, args.checkpoint)
    cfg = FeatureConfig.from_dict(bundle["feature_config"])
    fs = load_dataset(args.dataset, args.format, args.scale, cfg, Progress(args.progress), _cache(args))
    part = "all" if args.all else args.part
    report = score_bundle(bundle, models, fs, part)
    tc = bundle.get("train_config", {})
    how = "" if part == "all" else (f", split by {'artist/group' if fs.group is not None else 'track'}, "
                                    f"seed {tc.get('seed', 0)}")
    name = fs.description.get("name", args.dataset)
    print(format_report(report, f"{Path(args.checkpoint).name} on {name}: {PART_NAMES[part]}{how}"))
    warnings = report_warnings(report)
    mismatch = "" if part == "all" else split_mismatch(fs, bundle)
    if mismatch:
        warnings.append(f"{mismatch}: its '{part}' part here may hold tracks it learned from "
                        "(use --all to score it on another data set)")
    for w in warnings:
        print(f"warning: {w}")
    paper = _paper_row(name)
    if paper:
        print(format_table(paper, "For comparison: the paper's DAMER row (its own 70/30 split, %)"))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0


def cmd_baseline(args: argparse.Namespace) -> int:
    from damer_core.baseline import linear_probe
    from damer_core.datasets import load_dataset, split_tracks
    from damer_core.evaluation import format_report, probe_report
    from damer_core.features import preset
    from damer_core.progress import Progress

    tcfg = _train_config(args)
    fs = load_dataset(args.dataset, args.format, args.scale, preset(args.preset), Progress(args.progress), _cache(args))
    split = split_tracks(fs, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
    report = probe_report(linear_probe(fs, split, tcfg.dims))
    for w in report_warnings(report):
        print(f"warning: {w}")
    by = "artist/group" if split.by_group else "track"
    name = fs.description.get("name", args.dataset)
    print(format_report(report, f"Linear probe (per-band mean/std + logistic regression, C chosen on validation) "
                                f"on {name}: test part, split by {by}, seed {tcfg.seed}, preset {args.preset}"))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=float))
    return 0


def _train_and_score(args, tcfg, out: Path) -> dict:
    from damer_core.checkpoint import load_checkpoint
    from damer_core.progress import Progress
    from damer_core.training.run import train

    best = train(_data_args(args), tcfg, out, args.device, Progress(args.progress), cache=_cache(args))
    dims = load_checkpoint(best)["dimensions"]
    if any("test" not in e["metrics"] for e in dims.values()):
        raise UsageError("evaluate reports the test part: --test-fraction must be above 0")
    return {d: e["metrics"]["test"] for d, e in dims.items()}


ABLATION_GRID = [  # Table V rows: modules switched ON
    ("DSAF",), ("PCL",), ("SAML",), ("DSAF", "PCL"), ("PCL", "SAML"), ("DSAF", "SAML"), ("DSAF", "PCL", "SAML"),
]


def cmd_evaluate(args: argparse.Namespace) -> int:
    if args.checkpoint:
        if not args.dataset:
            raise UsageError("evaluate --checkpoint needs --dataset to evaluate on")
        return _evaluate_bundle(args)
    if not args.dataset:
        raise UsageError("evaluate needs --dataset (and --checkpoint to score a trained bundle)")
    tcfg = _train_config(args)
    root = Path(args.out) if args.out else _default_out(args)
    name = Path(args.dataset).name
    if args.ablation_table:
        rows = []
        for on in ABLATION_GRID:
            off = [m.lower() for m in ("DSAF", "PCL", "SAML") if m not in on]
            results = [_train_and_score(args, replace(tcfg.with_ablation(off), seed=tcfg.seed + s),
                                        root / f"{'+'.join(on)}-seed{tcfg.seed + s}") for s in range(args.seeds)]
            rows.append(("+".join(on), _collect(results, "fuse")))
        print(format_table(rows, f"Ablation (Table V style) on {name}, test part, {args.seeds} seed(s), %"))
        print(f"Switched by the rows: DSAF, PCL, SAML. Always on: {tcfg.always_on}.")
        return 0
    results = [_train_and_score(args, replace(tcfg, seed=tcfg.seed + s), root / f"seed{tcfg.seed + s}")
               for s in range(args.seeds)]
    rows = [(f"{h} head", _collect(results, h)) for h in ("mel", "coch")] + [("DAMER (fused)", _collect(results, "fuse"))]
    print(format_table(rows + _paper_row(name), f"DAMER on {name}, test part (epoch chosen on validation), {args.seeds} seed(s), mean ± std, %"))
    return 0


# -- predict / info ---------------------------------------------------------------------------
def cmd_predict(args: argparse.Namespace) -> int:
    from damer_core.builtin import default_checkpoint
    from damer_core.cache import NoCache
    from damer_core.inference import Predictor
    from damer_core.progress import Progress
    from damer_core.training.distributed import resolve_device

    inputs = list(args.files)
    if args.files_from:
        inputs += [line.strip() for line in Path(args.files_from).read_text(encoding="utf-8").splitlines() if line.strip()]
    if not inputs:
        raise UsageError("predict needs audio files (arguments or --files-from)")
    cache = _cache(args) if args.cache else NoCache()  # the predictions are what a library keeps
    if args.output:
        return _predict_to_output(args, _audio_files(inputs), cache)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise UsageError("under torchrun, give --output results.csv: each rank writes its part and rank 0 merges them")
    predictor = Predictor(default_checkpoint(args.checkpoint), str(resolve_device(args.device)), cache)
    files = _audio_files(inputs)
    stream = args.progress == "jsonl"  # one event per file as it is done (the app's analysis)
    progress = Progress(args.progress)
    progress.task("predicting", len(files))
    writer = None if stream else PredictionWriter(sys.stdout, args.format)
    done = failed = 0
    try:
        for path in files:
            result, error = _predict_one(predictor, path)
            if error:
                failed += 1
                if not stream:
                    print(f"damer-core: skipped {error}", file=sys.stderr)
                progress.emit("file_error", path=str(path), message=str(error))
            else:
                progress.emit("prediction", **result)
            if writer is not None:
                writer.write(result)  # written as it is made: an interrupted run keeps what it finished
            done += 1
            progress.advance()
    except KeyboardInterrupt:
        print(f"damer-core: interrupted after {done} of {len(files)} files; their results are kept", file=sys.stderr)
        return 130
    finally:
        if writer is not None:
            writer.close()
    return 1 if failed and failed == done else 0


def _predict_to_output(args: argparse.Namespace, files: list[Path], cache) -> int:
    """Resumable, sharded predict into a CSV file (damer_core.sharded): alone, or one rank of
    ``torchrun``; a rerun skips the files already done."""
    from damer_core.builtin import default_checkpoint
    from damer_core.inference import Predictor
    from damer_core.progress import Progress
    from damer_core.sharded import merge, predict_shard
    from damer_core.training.distributed import setup, teardown

    if args.format != "csv":
        raise UsageError("--output writes --format csv (one row per file, so a rerun can skip what is done)")
    output = Path(args.output).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    ctx = setup(args.device)
    try:
        predictor = Predictor(default_checkpoint(args.checkpoint), str(ctx.device), cache)
        progress = Progress(args.progress if ctx.is_main else "none")
        progress.task(f"predicting (rank {ctx.rank} of {ctx.world_size})", -(-len(files) // ctx.world_size))

        def one(path: Path) -> dict:
            result, error = _predict_one(predictor, path)
            if error:
                print(f"damer-core: skipped {error}", file=sys.stderr)
            progress.advance()
            return result

        try:
            n = predict_shard(files, output, ctx.rank, ctx.world_size, one)
        except KeyboardInterrupt:
            print(f"damer-core: interrupted; what was done is kept in {output.name}.part{ctx.rank} "
                  "(run the same command again to go on)", file=sys.stderr)
            return 130
        if ctx.distributed:
            import torch.distributed as dist

            dist.barrier()
        if ctx.is_main:
            rows = merge(files, output, ctx.world_size)
            print(f"damer-core: {rows} rows in {output} ({n} predicted by rank 0 this run)", file=sys.stderr)
        return 0
    finally:
        teardown(ctx)


def _predict_one(predictor, path: Path) -> tuple[dict, Exception | None]:
    """One file's result, or its one-line error: a bad file never stops the batch."""
    from damer_core.audio import AudioError

    try:
        return predictor.predict_file(path).to_dict(), None
    except AudioError as e:
        return {"path": str(path), "error": e.reason}, e
    except OSError as e:  # a file that changed or went away while it was read
        err = AudioError(path, f"cannot be read ({e.strerror or e})")
        return {"path": str(path), "error": err.reason}, err


class PredictionWriter:
    """Writes ``predict``'s results one file at a time (csv, json, trajectory-csv), flushing each,
    so a run stopped by Ctrl-C or a crash leaves every finished file on disk; ``close`` ends the
    JSON array."""

    def __init__(self, out, fmt: str):
        import csv

        self.out, self.fmt, self.n = out, fmt, 0
        self.csv = csv.writer(out)
        if fmt == "csv":
            self.csv.writerow(["path", "valence", "arousal", "confidence", "duration", "error", "warning"])
        elif fmt == "trajectory-csv":  # raw window values, then the smoothed ones the app shows
            self.csv.writerow(["path", "t", "valence", "arousal", "confidence",
                               "valence_smoothed", "arousal_smoothed", "confidence_smoothed"])
        else:
            out.write("[")
        out.flush()

    @staticmethod
    def _cell(x) -> str:
        return "" if x is None else f"{x:.4f}"  # empty: not predicted by this bundle

    def write(self, r: dict) -> None:
        if self.fmt == "json":
            self.out.write(("," if self.n else "") + "\n" + json.dumps(r, indent=1))
        elif self.fmt == "csv":
            self.csv.writerow([r["path"]] + [self._cell(r.get(k)) for k in ("valence", "arousal", "confidence", "duration")]
                              + [r.get("error", ""), r.get("warning", "")])
        elif r.get("trajectory_raw"):
            raw, sm = r["trajectory_raw"], r["trajectory"]
            for row in zip(raw["t"], raw["valence"], raw["arousal"], raw["confidence"],
                           sm["valence"], sm["arousal"], sm["confidence"]):
                self.csv.writerow([r["path"]] + [self._cell(x) for x in row])
        self.n += 1
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n")
        self.out.flush()


def _bundle_summary(b: dict) -> dict:
    slim = {k: v for k, v in b.items() if k not in ("dimensions", "resume")}
    slim["dimensions"] = {d: {"epoch": e.get("epoch"), "metrics": e.get("metrics")} for d, e in b["dimensions"].items()}
    return slim


def cmd_info(args: argparse.Namespace) -> int:
    from damer_core.builtin import default_checkpoint, is_builtin
    from damer_core.checkpoint import BundleError, load_checkpoint

    paths = args.checkpoint or [default_checkpoint(None)]
    if args.jsonl:  # the app's model registry: every bundle, each a line, bad ones with the reason
        failed = 0
        for path in paths:
            try:
                line = json.dumps({"event": "info", "path": path, "builtin": is_builtin(path),
                                   **_bundle_summary(load_checkpoint(path))}, default=str)
            except BundleError as e:
                failed += 1
                line = json.dumps({"event": "bundle_error", "path": path, "message": str(e)})
            except Exception as e:  # noqa: BLE001 - one bundle's surprise must not hide the ones after it
                failed += 1
                detail = " ".join(str(e).split()) or type(e).__name__
                line = json.dumps({"event": "bundle_error", "path": path,
                                   "message": f"{Path(path).name}: cannot be read ({detail})"})
            print(line, flush=True)
        return 1 if failed else 0
    if len(paths) != 1:
        raise UsageError("info takes one checkpoint (or several with --jsonl)")
    path = paths[0]
    b = load_checkpoint(path)
    if args.json:
        print(json.dumps({"builtin": is_builtin(path), **_bundle_summary(b)}, indent=2, default=str))
        return 0
    print("\n".join(describe_bundle(b, path)))
    return 0


def describe_bundle(b: dict, path: str) -> list[str]:
    """`damer-core info` text: configs, data, split and each dimension's validation and test figures."""
    from damer_core.builtin import is_builtin
    from damer_core.training.run import fmt_metric

    fc, mc, tc, data = b["feature_config"], b["model_config"], b.get("train_config", {}), b.get("data", {})
    lines = [f"{Path(path).name}{' (the built-in model)' if is_builtin(path) else ''}: DAMER bundle "
             f"v{b['format_version']} (damer-core {b.get('damer_core_version', '?')}, created {b.get('created', '?')})",
             f"  features: preset {fc['name']}, {fc['sample_rate']} Hz, frame {fc['frame_length']}, hop {fc['hop_length']}, "
             f"T = {fc['n_frames']}, {fc['n_mels']} Mel / {fc['n_gammatone']} gammatone bands",
             f"  model: D = {mc['d_model']}, L = {mc['n_layers']}, H = {mc['n_heads']}, D_f = {mc['fusion_dim']}, "
             f"cross-attention {'on' if mc['cross_attention'] else 'off'}, "
             f"band embedding {'on' if mc.get('band_embedding', True) else 'off'}"]
    mods = "+".join(m.upper() for m in ("dsaf", "pcl", "saml") if tc.get(m, True)) or "baseline"
    lines.append(f"  training: {tc.get('epochs', '?')} epochs, batch {tc.get('batch_size', '?')}, lr {tc.get('lr', '?')}, "
                 f"seed {tc.get('seed', '?')}, modules {mods}")
    lines.append(f"  data: {data.get('name', '?')} ({data.get('format', '?')}), {data.get('n_tracks', '?')} tracks, "
                 f"{data.get('n_samples', '?')} windows")
    split = b.get("split")
    if split:
        lines.append(f"  split by {split['by']}: {split['train']} train / {split['val']} validation / {split['test']} test tracks")
    for dim, entry in b["dimensions"].items():
        metrics = entry.get("metrics", {})
        if "fuse" in metrics:  # a bundle from before the validation part: one "held-out" report
            metrics = {"held-out": metrics}
        parts = []
        for part, report in metrics.items():
            m = report.get("fuse", {})
            name = {"val": "validation", "test": "test"}.get(part, part)
            parts.append(f"{name} acc {fmt_metric(m.get('acc'))} f1 {fmt_metric(m.get('f1'))} auc {fmt_metric(m.get('auc'))}")
        temp = f", temperature {entry['temperature']:.2f}" if "temperature" in entry else ""
        lines.append(f"  {dim}: epoch {entry.get('epoch', '?')}{temp}; " + "; ".join(parts))
    for part, q in b.get("quadrant", {}).items():
        lines.append(f"  quadrants, {'validation' if part == 'val' else part} ({q['n']} tracks): "
                     f"acc {fmt_metric(q['acc'])} macro-F1 {fmt_metric(q['macro_f1'])}")
    if "resume" in b:
        lines.append("  resumable: yes (a last.pt checkpoint)")
    return lines


def cmd_devices(args: argparse.Namespace) -> int:
    from damer_core.training.distributed import available_devices

    for spec, name in available_devices():  # one JSON object per line, like every other stream
        print(json.dumps({"event": "device", "device": spec, "name": name}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    from damer_core.training.config import FINE_TUNE_DEFAULTS

    parser = argparse.ArgumentParser(prog="damer-core",
                                     description="DAMER music-emotion model: features, training, evaluation, prediction.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("features", help="pre-extract model features for audio files or folders into the cache")
    p.add_argument("inputs", nargs="+", help="audio files or folders (searched recursively)")
    p.add_argument("--preset", default="clip", choices=["clip", "context", "paper"])
    p.add_argument("--trajectory", action="store_true", help="also cache the whole-track frame sequence")
    _add_cache(p)
    _add_progress(p)
    p.set_defaults(func=cmd_features)

    p = sub.add_parser("train", help="train or fine-tune DAMER (paper settings by default)")
    _add_train_options(p)
    p.add_argument("--out", help="run folder for last.pt, best.pt and metrics.csv (default runs/<data>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    p.add_argument("--init", metavar="CHECKPOINT", nargs="?", const=BUILTIN,
                   help="fine-tune from this bundle, or from the built-in model when no file is named; "
                        "fine-tuning defaults to {epochs} epochs at lr {lr:g}".format(**FINE_TUNE_DEFAULTS))
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="Table II style report: score a bundle, or train N seeds; --ablation-table for Table V")
    _add_train_options(p)
    p.add_argument("--checkpoint", help="score this bundle on a part of --dataset instead of training")
    p.add_argument("--part", choices=["test", "val", "train", "all"], default="test",
                   help="with --checkpoint: the part of the bundle's own split to score (default test)")
    p.add_argument("--all", action="store_true", help="with --checkpoint: score on every labelled track (another data set)")
    p.add_argument("--seeds", type=int, default=1, help="train this many seeds and report mean ± std")
    p.add_argument("--ablation-table", action="store_true", help="run the Table V grid of modules")
    p.add_argument("--out", help="folder for the runs' checkpoints")
    p.add_argument("--json", help="with --checkpoint: also write the metrics to this JSON file")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("baseline", help="a linear probe on per-band statistics, scored on the test part of the same split")
    _add_train_options(p)
    p.add_argument("--json", help="also write the report to this JSON file")
    p.set_defaults(func=cmd_baseline)

    p = sub.add_parser("predict", help="static V-A, confidence and trajectory for audio files")
    p.add_argument("files", nargs="*", help="audio files or folders")
    p.add_argument("--files-from", help="a text file listing audio files, one per line")
    p.add_argument("--checkpoint", help="a model bundle (best.pt); default: the built-in model")
    p.add_argument("--format", choices=["json", "csv", "trajectory-csv"], default="json")
    p.add_argument("--device", default="cpu")
    p.add_argument("--progress", choices=["none", "human", "jsonl"], default="none",
                   help="jsonl: stream one 'prediction' event per file instead of printing at the end")
    p.add_argument("--output", help="write CSV rows to this file instead of stdout: resumable (a rerun skips what "
                                    "is done) and sharded under torchrun (each rank a part, rank 0 merges)")
    p.add_argument("--cache", action="store_true",
                   help="also keep the files' model features in the feature cache (off: only the predictions are kept, "
                        "so analysing a library costs no disk)")
    _add_cache(p)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("devices", help="the devices training can use, one JSON line each (CUDA GPUs by name, then the CPU)")
    p.set_defaults(func=cmd_devices)

    p = sub.add_parser("info", help="what a bundle holds: configs, data, metrics (default: the built-in model)")
    p.add_argument("checkpoint", nargs="*")
    p.add_argument("--json", action="store_true")
    p.add_argument("--jsonl", action="store_true", help="one JSON line per bundle; unreadable ones say why")
    p.set_defaults(func=cmd_info)
    return parser


def _stop_on_sigterm() -> None:
    """SIGTERM (the app's Cancel) unwinds like Ctrl+C: checkpoints are atomic, so the last one stays."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        def handler(signum, frame):
            raise KeyboardInterrupt
        signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    from damer_core.audio import AudioError
    from damer_core.checkpoint import BundleError
    from damer_core.datasets import DatasetError
    from damer_core.training.distributed import DeviceError

    args = build_parser().parse_args(argv)
    _stop_on_sigterm()
    try:
        return args.func(args)
    except (UsageError, DatasetError, BundleError, DeviceError, AudioError, ValueError, OSError) as e:
        message = str(e)
        if isinstance(e, OSError) and not isinstance(e, AudioError):  # a full disk, a read-only folder
            message = f"{e.filename}: {e.strerror}" if e.filename else (e.strerror or message)
        print(f"damer-core {args.command}: error: {message}", file=sys.stderr)
        if getattr(args, "progress", "") == "jsonl":
            print(json.dumps({"event": "error", "message": message}), flush=True)
        return 2
    except KeyboardInterrupt:
        print(f"damer-core {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
