"""`damer-core predict`'s output: each file's result written as soon as it is made (json, csv,
trajectory-csv on stdout, or JSON-line events for the app), or a resumable, sharded CSV file
(:mod:`damer_core.inference.sharded`). A bad file is one line on stderr and one row; it never stops a batch."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TextIO

from damer_core.contract import events
from damer_core.contract.errors import AudioError
from damer_core.contract.safe_text import shown, spreadsheet_cell
from damer_core.inference.sharded import COLUMNS, emotion_word, row_of, safe_row


def predict_one(predictor, path: Path) -> tuple[dict, AudioError | None]:
    """One file's result, or its one-line error: a bad file never stops the batch."""
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

    def __init__(self, out: TextIO, fmt: str, spreadsheet_safe: bool = True):
        import csv

        self.out, self.fmt, self.n, self.safe = out, fmt, 0, spreadsheet_safe
        self.csv = csv.writer(out)
        if fmt == "csv":
            self.csv.writerow(COLUMNS)
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
        if self.fmt == "json":  # the fields CSV has (its emotion word too), then the trajectories
            r = {**{k: v for k, v in r.items() if not k.startswith("trajectory")}, "emotion": emotion_word(r),
                 **{k: v for k, v in r.items() if k.startswith("trajectory")}}
            self.out.write(("," if self.n else "") + "\n" + json.dumps(r, indent=1))
        elif self.fmt == "csv":
            self.csv.writerow(safe_row(row_of(r), self.safe))
        elif r.get("trajectory_raw"):
            raw, sm = r["trajectory_raw"], r["trajectory"]
            for row in zip(raw["t"], raw["valence"], raw["arousal"], raw["confidence"],
                           sm["valence"], sm["arousal"], sm["confidence"]):
                path = spreadsheet_cell(r["path"]) if self.safe else r["path"]
                self.csv.writerow([path] + [self._cell(x) for x in row])
        self.n += 1
        self.out.flush()

    def close(self) -> None:
        if self.fmt == "json":
            self.out.write("\n]\n")
        self.out.flush()


def predict_to_stdout(predictor, files: list[Path], fmt: str, progress_mode: str, spreadsheet_safe: bool = True) -> int:
    """Every file in turn, its result on stdout in ``fmt`` as it is made; with ``progress_mode``
    jsonl, one 'prediction' or 'file_error' event per file instead (for programs that read events). Exit status:
    1 when every file failed, 130 when interrupted, else 0."""
    from damer_core.progress import Progress

    stream = progress_mode == "jsonl"
    progress = Progress(progress_mode)
    progress.task("predicting", len(files))
    try:
        writer = None if stream else PredictionWriter(sys.stdout, fmt, spreadsheet_safe)
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), "standard output") from None
    done = failed = 0
    try:
        for path in files:
            result, error = predict_one(predictor, path)
            if error:
                failed += 1
                if not stream:
                    print(f"damer-core: skipped {shown(str(error))}", file=sys.stderr)
                progress.emit(events.FileError(str(path), str(error)))
            else:
                progress.emit(events.Prediction(**result))
            if writer is not None:
                try:
                    writer.write(result)  # written as it is made: an interrupted run keeps what it finished
                except OSError as e:  # a full disk or a closed pipe: say where the output went
                    raise OSError(e.errno, e.strerror or str(e), "standard output") from None
            done += 1
            progress.advance()
    except KeyboardInterrupt:
        print(f"damer-core: interrupted after {done} of {len(files)} files; their results are kept", file=sys.stderr)
        return 130
    finally:
        if writer is not None:
            try:
                writer.close()
            except OSError:
                pass  # already reported: the error that stopped the run names the output
    return 1 if failed and failed == done else 0


def predict_to_output(files: list[Path], output: Path, checkpoint: str | None, device: str, progress_mode: str,
                      cache, force: bool = False, spreadsheet_safe: bool = True) -> int:
    """Resumable, sharded predict into the CSV file ``output``: alone, or one rank of ``torchrun``;
    a rerun skips the files already done. Exit status 130 when interrupted, else 0."""
    from damer_core.contract.builtin import default_checkpoint
    from damer_core.contract.fileutil import check_output_file
    from damer_core.devices import setup, teardown
    from damer_core.inference.predictor import Predictor
    from damer_core.inference.sharded import (
        is_empty_file,
        is_results_file,
        merge,
        model_identity,
        part_files,
        predict_shard,
    )
    from damer_core.progress import Progress

    check_output_file(output, force=force, own=is_results_file, inputs=files, what="the results CSV")
    for part in part_files(output):  # the parts a merge reads and removes
        check_output_file(part, own=lambda p: is_results_file(p) or is_empty_file(p), what="a part of the results CSV",
                          force_hint="move it away (it is not a part this command wrote)")
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = default_checkpoint(checkpoint)
    ctx = setup(device)
    lock = None
    try:
        identity = model_identity(checkpoint) if ctx.is_main else {}  # the bundle read and hashed once, by rank 0
        lock = _claim_output(output, ctx, identity, force)
        keep = not output.exists() or is_results_file(output)  # else --force: replaced once the run is done
        predictor = Predictor(checkpoint, str(ctx.device), cache)
        progress = Progress(progress_mode if ctx.is_main else "none")
        progress.task(f"predicting (process {ctx.rank + 1} of {ctx.world_size})" if ctx.distributed else "predicting",
                      -(-len(files) // ctx.world_size))

        def one(path: Path) -> dict:
            result, error = predict_one(predictor, path)
            if error:
                print(f"damer-core: skipped {shown(str(error))}", file=sys.stderr)
            progress.advance()
            return result

        try:
            n = predict_shard(files, output, ctx.rank, ctx.world_size, one, spreadsheet_safe=spreadsheet_safe, keep_output=keep)
        except KeyboardInterrupt:
            print(f"damer-core: interrupted; what was done is kept in {shown(output.name)}.part{ctx.rank} "
                  "(run the same command again to go on)", file=sys.stderr)
            return 130
        if ctx.distributed:
            import torch.distributed as dist

            dist.barrier()
        if ctx.is_main:
            rows = merge(files, output, ctx.world_size, spreadsheet_safe, keep)
            now = (f"{n} predicted now by the first of {ctx.world_size} processes" if ctx.distributed
                   else f"{n} predicted now, {rows - n} kept from before" if rows > n else f"{n} predicted now")
            print(f"damer-core: {rows} rows in {shown(str(output), 1000)} ({now})", file=sys.stderr)
        return 0
    finally:
        if lock is not None:
            lock.close()
        teardown(ctx)


def lock_path(output: Path) -> Path:
    """Held by the run writing ``output`` (all its ranks, through rank 0), from its first part row to the merge."""
    return output.with_name(f".{output.name}.lock")


def _claim_output(output: Path, ctx, identity: dict[str, str], force: bool):
    """Rank 0 locks ``output`` for the whole run, before any part is read or written: a second
    ``predict`` into the same file would rewrite a part that this run then merges and deletes.
    Under the lock it checks which model wrote the rows there (:func:`_same_model`). Every rank
    of a refused run stops with the same message."""
    from damer_core.contract.fileutil import LockHeld, hold_lock

    lock, refusal = None, ""
    if ctx.is_main:
        try:
            lock = hold_lock(lock_path(output), remove=True, busy=lambda holder: (
                f"{shown(str(output), 1000)}: another damer-core predict ({holder}) is writing these results; "
                "wait for it to finish (then run this command again to add what it lacks) or choose another --output"))
            refusal = _same_model(output, identity, force)
        except LockHeld as e:
            refusal = str(e)
        except OSError as e:
            refusal = f"{shown(str(output), 1000)}: cannot write next to the results ({e.strerror or e}); choose another --output"
    if ctx.distributed:
        import torch.distributed as dist

        shared = [refusal]
        dist.broadcast_object_list(shared, src=0)
        refusal = shared[0]
    if refusal:
        if lock is not None:
            lock.close()
        from damer_core.contract.errors import InputError

        raise InputError(refusal)
    return lock


def _same_model(output: Path, identity: dict[str, str], force: bool) -> str:
    """"" when the rows already in ``output`` (and its parts) come from the model of this run, or
    there are none, and the record is then this model's; else the refusal. With ``force`` the
    other model's rows are removed instead, so the rerun predicts every file with this one (a
    results file written before records were kept is taken as this model's)."""
    from damer_core.inference.sharded import part_files, recorded_model, write_model_record

    recorded = recorded_model(output)
    rows_there = output.exists() or bool(part_files(output))
    if rows_there and recorded is not None and recorded["sha256"] != identity["sha256"]:
        if not force:
            return (f"{shown(str(output), 1000)}: its rows were predicted by another model ({shown(recorded.get('name', '?'))}); "
                    f"this run uses {shown(identity['name'])}: choose another --output, or add --force to predict every "
                    "file again with this model")
        for stale in [output, *part_files(output)]:
            stale.unlink(missing_ok=True)
    write_model_record(output, identity)
    return ""
