"""A whole training run: data, one trainer per dimension, checkpoints (``last.pt`` every epoch,
``best.pt`` by validation AUC), ``metrics.csv`` (one row per epoch), resume and fine-tuning."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from damer_core import __version__
from damer_core.contract import events
from damer_core.contract.errors import InputError
from damer_core.contract.fileutil import atomic_write
from damer_core.contract.safe_text import figure
from damer_core.datasets import FeatureSet, load_dataset, load_unlabelled
from damer_core.datasets.split import Split, part_warnings, split_tracks
from damer_core.devices import Context, setup, teardown
from damer_core.features.spectra import FeatureConfig, preset
from damer_core.models.checkpoint import (
    FORMAT,
    FORMAT_VERSION,
    BundleError,
    build_models,
    load_checkpoint,
    save_atomic,
    with_checksums,
)
from damer_core.models.header import DAMER as DAMER_KIND
from damer_core.models.header import DESCRIPTOR_HEAD, STACK, BundleHeader
from damer_core.progress import Progress
from damer_core.scoring import part_means
from damer_core.scoring import quadrant_scores as scored
from damer_core.targets import QUADRANT, quadrant_index
from damer_core.training.config import TrainConfig
from damer_core.training.run_folder import claim_run_folder

LAST, BEST, METRICS = "last.pt", "best.pt", "metrics.csv"


@dataclass
class DataArgs:
    dataset: str
    format: str = "auto"
    scale: str | None = None
    preset: str = "clip"
    unlabelled: str | None = None
    drop_conflicts: bool = False  # leave out tracks listed with different labels (else the load is refused)

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "format": self.format, "scale": self.scale, "preset": self.preset,
                "unlabelled": self.unlabelled, "drop_conflicts": self.drop_conflicts}


def make_bundle(fs: FeatureSet, tcfg: TrainConfig, model_config: dict, dims: dict, data_args: DataArgs,
                kind: str = DAMER_KIND) -> dict:
    """A bundle of ``kind`` (damer_core.models.header.KINDS) with DAMER's ``dims``; a descriptor
    head alone holds no network fields."""
    from damer_core.training.midend_tuning import bundle_feature_config  # torch only where a network is trained

    if kind == DESCRIPTOR_HEAD:
        network: dict = {}
    else:
        network = {"model_config": model_config, "dimensions": dims}
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION, "kind": kind, "damer_core_version": __version__,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "feature_config": bundle_feature_config(fs.feature_config, network.get("dimensions", {})), **network,
        "train_config": tcfg.to_dict(), "data": fs.description, "data_args": data_args.to_dict(),
    }


METRIC_COLUMNS = (
    [
        "dim",
        "epoch",
        "lr",
        "loss_total",
        "loss_cls",
        "loss_pl",
        "loss_cons",
        "loss_cont",
        "tau",
        "theta",
        "confidence",
        "reliability",
        "mask_ratio",
        "pl_strength",
        "queue_entropy",
        "queue_class0",
        "queue_class1",
        "queue_class2",
        "queue_class3",
    ]
    + [f"val_{h}_{m}" for h in ("fuse", "mel", "coch") for m in ("acc", "f1", "auc")]
    + ["best", "seconds"]
)


def metrics_row(r: dict) -> list:
    row = [r["dim"], r["epoch"], r["lr"]] + [r["loss"][k] for k in ("total", "cls", "pl", "cons", "cont")]
    row += [r[k] for k in ("tau", "theta", "confidence", "reliability", "mask_ratio", "pl_strength", "queue_entropy")]
    row += (list(r["queue_coverage"]) + ["", ""])[:4] + [
        r["val"][h][m] for h in ("fuse", "mel", "coch") for m in ("acc", "f1", "auc")
    ]
    return row + [int(r["best"]), round(r["seconds"], 3)]


def write_metrics(path: Path, histories: list[list[dict]]) -> None:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(METRIC_COLUMNS)
    for history in histories:
        for r in history:
            w.writerow([f"{v:.6g}" if isinstance(v, float) else v for v in metrics_row(r)])
    with atomic_write(path) as f:
        f.write(buf.getvalue().encode())


def _barrier(ctx: Context) -> None:
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


def _load_data(args: DataArgs, cfg: FeatureConfig, ctx: Context, progress: Progress, cache,
               descriptors: bool = False) -> tuple[FeatureSet, FeatureSet | None]:
    """Rank 0 featurises (filling the cache) before the others read."""
    if not ctx.is_main:
        _barrier(ctx)
    fs = load_dataset(args.dataset, args.format, args.scale, cfg, progress, cache, descriptors=descriptors,
                      drop_conflicts=args.drop_conflicts)
    pool = (load_unlabelled(args.unlabelled, fs.feature_config, progress, cache, descriptors=descriptors)
            if args.unlabelled else None)
    if ctx.is_main:
        _barrier(ctx)
    return fs, pool


def train(data_args: DataArgs | None, tcfg: TrainConfig, out_dir: str | Path, device: str = "auto",
          progress: Progress | None = None, init: str | None = None, resume: bool = False, cache=None,
          given: dict | None = None) -> Path:
    """Train (or resume, or fine-tune from ``init``) and return the path of ``best.pt``. On
    resume, ``given`` holds the settings the user named (TrainConfig fields, and the data
    options under "data"): they must be the run's, except more epochs (damer_core.training.resume)."""
    from damer_core.training import resume as resuming
    from damer_core.training.midend_tuning import refuse_unfit_dims
    from damer_core.training.trainer import DimensionTrainer

    out = Path(out_dir)
    ctx = setup(device)
    progress = progress or Progress("none")
    if not ctx.is_main:
        progress = Progress("none")
    claim, created, finished = None, not out.exists(), False
    try:
        if ctx.is_main:
            claim = claim_run_folder(out)
        resume_state, run = None, None
        if resume:
            if not (out / LAST).is_file():
                raise BundleError(out / LAST, "nothing to resume: no last.pt in the run folder")
            resume_state = load_checkpoint(out / LAST)
            if "val_fraction" not in resume_state.get("train_config", {}):
                raise BundleError(out / LAST, "written by an older damer-core that had no validation part; "
                                              "it cannot be resumed: start a new run")
            run = resuming.resumed_run(out, resume_state)
            given = dict(given or {})
            resuming.check_data_args(resume_state["data_args"], given.pop("data", {}))
            done = max((int(r.get("epoch", 0)) for r in resume_state.get("resume", {}).values()), default=0)
            tcfg, notes = resuming.resumed_settings(TrainConfig.from_dict(resume_state["train_config"]), given, done)
            for note in notes:
                progress.message(note + "; the learning-rate schedule is stretched to the new end")
            data_args = DataArgs(**resume_state["data_args"])
            init = None
        if data_args is None:
            raise InputError("a data set is needed (--dataset)")
        init_bundle = load_checkpoint(init) if init else None
        init_kind = BundleHeader.read(init_bundle).kind if init_bundle is not None else None
        if init_bundle is not None and init_kind == DESCRIPTOR_HEAD:  # no network to tune: refitted in seconds
            from damer_core.training.head_refit import fine_tune_head_only

            best = fine_tune_head_only(init_bundle, str(init), data_args, tcfg, out, progress, cache)
            finished = True
            return best
        if init_bundle is not None:
            cfg = FeatureConfig.from_dict(init_bundle["feature_config"])
            if cfg.midend:  # refused here if its weights are not the mid-end it names
                build_models(init_bundle, str(init))
            mc = init_bundle["model_config"]
            tcfg = replace(tcfg, dsaf=bool(mc["cross_attention"]), dropout=float(mc["dropout"]),
                           band_embedding=bool(mc.get("band_embedding", True)),
                           descriptors=int(mc.get("n_descriptors", 0)) > 0)
            if QUADRANT in init_bundle["dimensions"]:  # a fine-tune keeps the base model's form
                tcfg = replace(tcfg, dims=(QUADRANT,))
        elif resume_state is not None:
            cfg = FeatureConfig.from_dict(resume_state["feature_config"])
        else:
            cfg = preset(data_args.preset)
        # a tuned mid-end, fine-tuned or resumed, goes on learning from packed windows; the bundle
        # names the mid-end the run leaves (bundle_feature_config)
        cfg = replace(cfg, midend="")
        refuse_unfit_dims(cfg, tcfg.dims)
        fs, pool = _load_data(data_args, cfg, ctx, progress, cache, tcfg.descriptors)
        if run is not None:
            resuming.check_same_data(run, fs, out)
        elif ctx.is_main:
            run = resuming.start_run(out, resuming.data_fingerprint(fs))
        split = split_tracks(fs, tcfg.seed, tcfg.test_fraction, tcfg.val_fraction)
        parts = split_summary(fs, split)
        progress.emit(events.Start(
            dims=list(tcfg.dims), epochs=tcfg.epochs, device=str(ctx.device), world_size=ctx.world_size,
            n_samples=len(fs), n_tracks=fs.n_tracks, feature_preset=fs.feature_config.name,
            modules=tcfg.modules, always_on=tcfg.always_on, out=str(out), split=parts))
        progress.message(f"training {'+'.join(tcfg.dims)} on {fs.description.get('name', 'data')} "
                         f"({fs.n_tracks} tracks, {len(fs)} windows, preset {fs.feature_config.name}) "
                         f"on {ctx.device}, modules {tcfg.description}, {tcfg.epochs} epochs")
        progress.message(f"split by {parts['by']}: {parts['train']} train / {parts['val']} validation / "
                         f"{parts['test']} test tracks (the epoch and calibration are chosen on validation; "
                         "test is scored once at the end)")
        for warning in fs.description.get("warnings", []):
            progress.emit(events.TrainingWarning(warning, dim=""))
        for dim in tcfg.dims:
            for warning in part_warnings(fs, split, dim):
                progress.emit(events.TrainingWarning(warning, dim=dim))
                progress.message(f"warning: {warning}")
        if ctx.is_main:
            out.mkdir(parents=True, exist_ok=True)
        trainers: dict[str, DimensionTrainer] = {}
        for dim in tcfg.dims:
            init_state, base_temperature = None, None
            if init_bundle is not None:
                if dim in init_bundle["dimensions"]:
                    init_state = init_bundle["dimensions"][dim]["state_dict"]
                    base_temperature = init_bundle["dimensions"][dim].get("temperature")
                else:
                    progress.message(f"{Path(str(init)).name} has no {dim} model: training {dim} from scratch")
            t = DimensionTrainer(fs, dim, tcfg, ctx, split, pool, init_state, base_temperature)
            if resume_state is not None and dim in resume_state.get("resume", {}):
                t.load_state_dict(resume_state["resume"][dim])
            trainers[dim] = t
        for dim, t in trainers.items():
            while not t.done:
                def on_step(step: int, n: int, t=t) -> None:
                    if step == 1:
                        progress.task(f"{t.dim} epoch {t.epoch}/{tcfg.epochs}", n)
                    progress.advance()

                record = t.train_epoch(on_step)
                if ctx.is_main:  # saved before it is reported: an epoch the user has seen is never lost
                    _checkpoint(out, fs, tcfg, trainers, data_args, progress, best_changed=record["best"], run=run)
                progress.emit(events.Epoch(**record))
                v = record["val"]["fuse"]
                progress.message(f"{dim} epoch {record['epoch']}/{tcfg.epochs}: loss {record['loss']['total']:.4f}  "
                                 f"validation acc {figure(v['acc'])} f1 {figure(v['f1'])} "
                                 f"auc {figure(v['auc'])}{'  (best)' if record['best'] else ''}")
        best = out / BEST
        for dim, t in trainers.items():
            if t.final is None:
                final = t.finish()
                c = final["calibration"]["val"]
                progress.message(f"{dim}: epoch {t.best_epoch} chosen on validation; temperature "
                                 f"{final['temperature']:.2f} from the {final.get('temperature_source', 'validation part')} "
                                 f"(validation ECE {figure(c['ece_before'])} -> {figure(c['ece_after'])})")
        quadrants = quadrant_scores(fs, split, trainers)
        if ctx.is_main:
            _checkpoint(out, fs, tcfg, trainers, data_args, progress, best_changed=True, split=split,
                        quadrants=quadrants, run=run)
            if init_bundle is not None and init_kind == STACK and QUADRANT in trainers:
                _add_combined_parts(out / BEST, init_bundle, fs, split, trainers[QUADRANT], data_args, tcfg, progress, cache)
            summary = {d: {"epoch": t.best_epoch, "temperature": t.final_report["temperature"], **t.final_report["metrics"]}
                       for d, t in trainers.items()}
            progress.emit(events.Done(bundle=str(best), last=str(out / LAST), metrics=summary, quadrant=quadrants))
            for line in final_report_lines(summary, quadrants):
                progress.message(line)
            progress.message(f"best model: {best}")
        _barrier(ctx)
        finished = True
        return best
    finally:
        if claim is not None:
            claim.close()  # releases the lock
            if created and not finished and {p.name for p in out.iterdir()} <= {".train.lock", "run.json"}:
                for name in (".train.lock", "run.json"):  # a run that failed before its first checkpoint
                    (out / name).unlink(missing_ok=True)  # leaves no folder
                out.rmdir()
        teardown(ctx)


def _add_combined_parts(best: Path, init_bundle: dict, fs: FeatureSet, split: Split, trainer, data_args: DataArgs,
                        tcfg: TrainConfig, progress: Progress, cache) -> None:
    """A fine-tune of a combined bundle keeps being one: its descriptor head fine-tuned, its stack
    (which calibrates DAMER's raw probabilities, so the network's temperature stays 1)."""
    from damer_core.training.combined import fine_tune_parts

    parts = fine_tune_parts(init_bundle, fs, split, trainer.best_state, data_args, tcfg, progress, cache)
    bundle = load_checkpoint(best)
    bundle.update(parts if parts is not None else {k: init_bundle[k] for k in ("descriptor_head", "combination")})
    bundle["kind"] = STACK
    bundle["dimensions"][QUADRANT].update(
        temperature=1.0, temperature_source="none: the combination with the descriptor head is calibrated"
    )
    save_atomic(with_checksums(bundle), best)


def _best_entry(t) -> dict:
    """best.pt's entry for one dimension: the chosen epoch's weights and, once training has
    finished, its temperature, calibration and validation + test reports."""
    entry = {"state_dict": t.best_state, "epoch": t.best_epoch, "metrics": {"val": t.best_val}, "temperature": 1.0}
    if t.final is not None:
        entry.update(temperature=t.final["temperature"], calibration=t.final["calibration"], metrics=t.final["metrics"],
                     temperature_source=t.final.get("temperature_source", "validation part"))
    return entry


def _checkpoint(out: Path, fs: FeatureSet, tcfg: TrainConfig, trainers: dict, data_args: DataArgs,
                progress: Progress, best_changed: bool, split: Split | None = None, quadrants: dict | None = None,
                run: dict | None = None) -> None:
    model_config = next(iter(trainers.values())).mcfg.to_dict()
    last_dims = {d: {"state_dict": t.model.state_dict(), "metrics": {"val": t.history[-1]["val"]} if t.history else {},
                     "epoch": t.epoch} for d, t in trainers.items() if t.epoch > 0}
    last = make_bundle(fs, tcfg, model_config, last_dims, data_args)
    last["resume"] = {d: t.state_dict() for d, t in trainers.items() if t.epoch > 0}
    if run:
        last["run"] = run
    save_atomic(with_checksums(last), out / LAST)
    progress.emit(events.Checkpoint("last", str(out / LAST)))
    if best_changed:
        best_dims = {d: _best_entry(t) for d, t in trainers.items() if t.best_state is not None}
        best = make_bundle(fs, tcfg, model_config, best_dims, data_args)
        if split is not None:
            best["split"] = split_summary(fs, split)
        if quadrants:
            best["quadrant"] = quadrants
        if run:
            best["run"] = run
        save_atomic(with_checksums(best), out / BEST)
        progress.emit(events.Checkpoint("best", str(out / BEST)))
    write_metrics(out / METRICS, [t.history for t in trainers.values()])


def split_summary(fs: FeatureSet, split: Split) -> dict:
    """Tracks per part and what kept them apart (for the bundle, the CLI and the panel)."""
    count = lambda idx: int(np.unique(fs.track[idx]).size)  # noqa: E731
    by = fs.description.get("split_group", "group") if split.by_group else "track"
    return {"by": by, "train": count(split.train), "val": count(split.val), "test": count(split.test)}


def quadrant_scores(fs: FeatureSet, split: Split, trainers: dict) -> dict:
    """4-quadrant accuracy and macro-F1 per part, from the calibrated track probabilities (tracks
    labelled on both dimensions) of the joint head, or of the two dimensions' networks; empty
    when only one dimension was trained."""
    from damer_core.models.network.heads import head_probabilities
    from damer_core.targets import QUADRANT, quadrant_probabilities

    if not ({"arousal", "valence"} <= set(trainers) or QUADRANT in trainers):
        return {}
    scores = {}
    for part in ("val", "test"):
        idx = split.part(part)
        idx = idx[~np.isnan(fs.valence[idx]) & ~np.isnan(fs.arousal[idx])]
        if idx.size == 0:
            continue
        probs = {}
        for dim, t in trainers.items():
            p = head_probabilities(t.best_model(), fs, idx, t.ctx.device, t.final["temperature"])["fuse"]
            probs[dim] = part_means(fs, idx, p)[1]
        p4 = probs[QUADRANT] if QUADRANT in probs else quadrant_probabilities(probs["valence"][:, 1], probs["arousal"][:, 1])
        _, v_true = part_means(fs, idx, fs.binary("valence")[np.sort(idx)].astype(float))
        _, a_true = part_means(fs, idx, fs.binary("arousal")[np.sort(idx)].astype(float))
        s = scored(quadrant_index(v_true > 0.5, a_true > 0.5), p4)
        scores[part] = {"acc": s["quadrant_acc"], "macro_f1": s["macro_f1"], "n": s["n"]}
    return scores


def final_report_lines(summary: dict, quadrants: dict) -> list[str]:
    lines = []
    for dim, s in summary.items():
        for part, what in (("val", "validation"), ("test", "test")):
            if part in s:
                f = s[part]["fuse"]
                lines.append(f"{dim} {what} ({f['n']} tracks, epoch {s['epoch']}): acc {figure(f['acc'])} "
                             f"f1 {figure(f['f1'])} auc {figure(f['auc'])}")
    for part, q in quadrants.items():
        lines.append(f"quadrants {'validation' if part == 'val' else 'test'} ({q['n']} tracks): "
                     f"acc {figure(q['acc'])} macro-F1 {figure(q['macro_f1'])}")
    return lines
