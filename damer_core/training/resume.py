"""``train --resume`` continues the same run, or refuses in one line. A run is named by an id
written to ``run.json`` when it starts and carried by each of its checkpoints, with a fingerprint
of its data set; a ``last.pt`` of another run, or a changed data set, is refused. Flags given with
``--resume`` must match the run's settings, except more epochs, which are applied and said."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np

from damer_core.contract.errors import InputError
from damer_core.contract.fileutil import atomic_write
from damer_core.training.config import TrainConfig

RUN_FILE = "run.json"


class ResumeError(InputError):
    """The checkpoint is not this run's, or the flags given ask for another run."""


def start_run(out: Path, fingerprint: str) -> dict:
    """A new run's identity and its data set's fingerprint, written to ``out/run.json`` before its
    first checkpoint."""
    run = {"id": uuid.uuid4().hex, "data_fingerprint": fingerprint}
    with atomic_write(out / RUN_FILE) as f:
        f.write(json.dumps(run).encode())
    return run


def data_fingerprint(fs) -> str:
    """The data set a run trains on: its tracks, their labels and the features' configuration."""
    h = hashlib.sha256(fs.feature_config.hash.encode())
    for arr in (fs.track, fs.valence, fs.arousal):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def resumed_run(out: Path, state: dict) -> dict:
    """The identity of the run whose ``last.pt`` is ``state``; refuses a checkpoint of another run."""
    stored = state.get("run")
    run: dict = stored if isinstance(stored, dict) else {}
    try:
        folder_run = json.loads((out / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        folder_run = None
    if isinstance(folder_run, dict) and folder_run.get("id") != run.get("id"):
        raise ResumeError(f"{out / 'last.pt'}: belongs to another run than the one in {out} (run.json); "
                          "it cannot be resumed here: start a new run, or put back this run's last.pt")
    if folder_run is None and run:
        raise ResumeError(f"{out}: has no run.json for last.pt's run; it cannot be resumed here")
    return dict(run)


def check_same_data(run: dict, fs, out: Path) -> None:
    expected = run.get("data_fingerprint")
    if expected and expected != data_fingerprint(fs):
        raise ResumeError(f"{out}: the data set changed since this run started ({fs.n_tracks} tracks or their labels "
                          "differ); --resume needs the same data: start a new run to train on the new data")


def resumed_settings(saved: TrainConfig, given: dict, epochs_done: int) -> tuple[TrainConfig, list[str]]:
    """The run's settings with what ``given`` (the settings named on the command line or in
    --config) may change: more epochs, said in a note. Any other difference is refused in one line."""
    conflicts = [f"{k} (this run: {_text(getattr(saved, k))}, given: {_text(v)})" for k, v in given.items()
                 if k != "epochs" and _text(getattr(saved, k)) != _text(v)]
    if conflicts:
        raise ResumeError("--resume continues the same run, which was started with other settings: "
                          + "; ".join(conflicts) + ". Leave them out to resume, or start a new run with another --out")
    notes = []
    epochs = given.get("epochs", saved.epochs)
    if epochs < max(epochs_done, 1):
        raise ResumeError(f"epochs: {epochs} is fewer than the {epochs_done} this run has done already")
    if epochs != saved.epochs:
        notes.append(f"resuming with {epochs} epochs (the run was started with {saved.epochs})")
    return replace(saved, epochs=epochs), notes


def check_data_args(saved: dict, given: dict) -> None:
    """The data options named with --resume must be the run's."""
    conflicts = [f"--{k} (this run: {saved.get(k)}, given: {v})" for k, v in given.items() if saved.get(k) != v]
    if conflicts:
        raise ResumeError("--resume continues the same run, which reads other data: " + "; ".join(conflicts)
                          + ". Leave them out to resume, or start a new run with another --out")


def _text(value) -> str:
    """A setting as the messages show it and compares it: dims in any order are the same dims."""
    return ",".join(sorted(value)) if isinstance(value, (list, tuple)) else repr(value)


def _named(args, flag: str) -> bool:
    """Whether ``flag`` was given on the command line (not only its default)."""
    return any(a == flag or a.startswith(flag + "=") for a in getattr(args, "argv", []))


def given_settings(args) -> dict:
    """The settings named on the command line or in --config (TrainConfig fields; the data
    options under "data"), which a resume must not silently ignore."""
    from damer_core.training.config import ABLATION_MODULES, TrainConfig, flag_settings

    given: dict = {}
    if args.config:
        keys = json.loads(Path(args.config).read_text(encoding="utf-8")).keys()  # read and checked by cli_options.train_config
        given.update({k: v for k, v in TrainConfig.from_file(args.config).to_dict().items() if k in keys})
    given.update(flag_settings(args))
    if args.dims:
        given["dims"] = tuple(d.strip() for d in args.dims.split(",") if d.strip())
    if args.ablation:
        off = {m.strip().lower() for m in args.ablation.split(",")}
        given.update({m: m not in off for m in ABLATION_MODULES})
    for flag, key, value in (("no_amp", "amp", False), ("no_band_embedding", "band_embedding", False),
                             ("descriptors", "descriptors", True)):
        if getattr(args, flag):
            given[key] = value
    data = {"dataset": str(Path(args.dataset).resolve()) if args.dataset else None,
            "format": args.format if _named(args, "--format") else None,
            "scale": args.scale, "preset": args.preset if _named(args, "--preset") else None,
            "unlabelled": str(Path(args.unlabelled).resolve()) if args.unlabelled else None,
            "drop_conflicts": True if args.drop_conflicts else None}
    given["data"] = {k: v for k, v in data.items() if v is not None}
    return given
