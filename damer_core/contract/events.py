"""The events that cross process boundaries: one JSON object per line on a child's stdout
(``--progress jsonl``, ``info --jsonl``, ``devices``, the library scanner, the analysis worker).

Every writer builds one of these frozen dataclasses and every reader parses a line once into one
(:func:`parse`), so a field renamed on one side fails a test instead of a user's session.
docs/events.md is generated from this module (``python -m damer_core.contract.events > docs/events.md``;
a test fails when they differ). Stdlib only: the GUI imports it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
import sys
from dataclasses import dataclass, field
from typing import Any, ClassVar

SCHEMA_VERSION = 1  # raise when a field changes meaning or goes away; adding an optional field keeps it


class EventError(ValueError):
    """A line that is not a valid event of this schema (or of a newer one)."""


def doc(text: str, default: Any = dataclasses.MISSING) -> Any:
    """A field with its documentation (and a default when it is optional)."""
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": text})
    return field(default=default, metadata={"doc": text})


EVENTS: dict[str, type[Event]] = {}


def event(kind: str, about: str):
    """Registers an event class under its ``event`` name."""
    def register(cls):
        cls.KIND, cls.ABOUT = kind, about
        EVENTS[kind] = cls
        return cls
    return register


# What a field's declared type takes: numbers from numpy too, and null for a float (JSON's NaN).
_ACCEPTS: dict[str, tuple[type, ...]] = {"str": (str,), "int": (numbers.Integral,), "bool": (bool,),
                                         "float": (numbers.Real, type(None)), "list": (list, tuple),
                                         "dict": (dict,), "None": (type(None),)}


@dataclass(frozen=True)
class Event:
    KIND: ClassVar[str] = ""
    ABOUT: ClassVar[str] = ""

    def __post_init__(self) -> None:
        """Every field of its declared type: a writer's mistake fails where the event is made, a
        reader's line that breaks the schema fails as an EventError."""
        for name, declared, accepted in _field_types(type(self)):
            value = getattr(self, name)
            if not isinstance(value, accepted):
                raise EventError(f"'{self.KIND}' event: {name} must be {declared}, not {type(value).__name__}")

    def to_dict(self) -> dict:
        data = {f.name: _clean(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {"event": self.KIND, "v": SCHEMA_VERSION, **data}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), default=str)

    @classmethod
    def from_dict(cls, data: dict) -> Event:
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})  # unknown keys: a newer minor writer
        except TypeError as e:
            raise EventError(f"'{cls.KIND}' event without a required field ({e})") from None


_FIELD_TYPES: dict[type, tuple[tuple[str, str, tuple[type, ...]], ...]] = {}


def _field_types(cls: type) -> tuple[tuple[str, str, tuple[type, ...]], ...]:
    """(name, declared type, the types it accepts) of each field, read once per class: the app
    makes 100,000 jobs for a large library's pass, on the GUI thread."""
    if cls not in _FIELD_TYPES:
        _FIELD_TYPES[cls] = tuple((f.name, str(f.type), tuple(t for part in str(f.type).split("|")
                                                               for t in _ACCEPTS[part.strip()]))
                                  for f in dataclasses.fields(cls))
    return _FIELD_TYPES[cls]


def _clean(value: Any) -> Any:
    """JSON-safe: non-finite floats become null, numpy / torch scalars plain numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        return _clean(value.item())
    return value


def parse(line: str | bytes) -> Event:
    """One line from a child. Raises :class:`EventError` for a line that is not an event, an
    unknown event, or one from a newer damer-core than this reader."""
    try:
        data = json.loads(line)
    except ValueError:
        raise EventError(f"not a JSON line: {_short(line)}") from None
    if not isinstance(data, dict) or "event" not in data:
        raise EventError(f"not an event: {_short(line)}")
    version = data.get("v", 1)
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise EventError(f"damer-core writes event schema {version} but this DAMER Explorer reads up to "
                         f"{SCHEMA_VERSION}: install the same version of both")
    cls = EVENTS.get(data["event"])
    if cls is None:
        raise EventError(f"unknown event '{data['event']}'")
    return cls.from_dict(data)


def _short(line: str | bytes) -> str:
    text = line.decode(errors="replace") if isinstance(line, bytes) else line
    return text.strip()[:80]


# -- progress of any long command ---------------------------------------------------------------
@event("task", "a counted task starts")
@dataclass(frozen=True)
class Task(Event):
    name: str = doc('e.g. "arousal epoch 3/80", "featurising", "predicting"')
    total: int = doc("steps")


@event("progress", "a task moved")
@dataclass(frozen=True)
class Progress(Event):
    done: int = doc("steps done")
    total: int = doc("steps in all")
    name: str = doc("the task", "")
    file: str | None = doc("the file just done", None)
    folder: str | None = doc("the folder being scanned (library scanner)", None)


@event("message", "a line for the person (also on stderr in human mode)")
@dataclass(frozen=True)
class Message(Event):
    text: str = doc("the line")
    file: str | None = doc("the file it is about", None)
    error: str | None = doc("why a file was skipped", None)


@event("error", "the command failed; it exits with status 2")
@dataclass(frozen=True)
class Error(Event):
    message: str = doc("one line a person can act on")


# -- training ---------------------------------------------------------------------------------
@event("start", "a training run starts")
@dataclass(frozen=True)
class Start(Event):
    dims: list = doc('["valence", "arousal"] or one of them')
    epochs: int = doc("epochs per dimension")
    device: str = doc('"cpu", "cuda", "cuda:1"')
    world_size: int = doc("processes (torchrun)")
    n_samples: int = doc("training windows")
    n_tracks: int = doc("tracks")
    feature_preset: str = doc("clip, context, paper, context-musicnn, context-musicnn-tuned or context-musicnn-full")
    modules: str = doc('which of DSAF, PCL, SAML are on: "DSAF+PCL+SAML", "baseline"; "descriptor head" for its stack')
    always_on: str = doc("what no ablation switches off")
    out: str = doc("the run folder")
    split: dict = doc('{by: "artist"|"group"|"track", train, val, test} track counts')


@event("warning", "a validation or test part with fewer than 10 tracks or one class only, or data-set rows "
                  "used once or left out (dim empty)")
@dataclass(frozen=True)
class TrainingWarning(Event):
    text: str = doc("the warning")
    dim: str = doc("the dimension; empty for the data set as a whole")


@event("epoch", "once per epoch and dimension: the quantities of the paper's Figs. 5 and 6")
@dataclass(frozen=True)
class Epoch(Event):
    dim: str = doc("valence or arousal")
    epoch: int = doc("1-based")
    epochs: int = doc("epochs in all")
    lr: float = doc("learning rate")
    loss: dict = doc("epoch means of total (Eqn 21), cls (22), pl (17), cons (23), cont (19-20)")
    tau: float = doc("PCL temperature this epoch (Eqn 9)")
    theta: float = doc("PCL confidence threshold (Eqn 16)")
    confidence: float = doc("mean c (Eqn 15)")
    reliability: float = doc("mean r = exp(-JS) (Eqn 13)")
    mask_ratio: float = doc("share of samples with c >= theta")
    pl_strength: float = doc("mean max fused probability of the selected")
    queue_entropy: float = doc("entropy of the SAML queue's labels (nats; ln 2 when balanced)")
    queue_coverage: list = doc("share of class 0 and class 1 in the queue")
    val: dict = doc("{fuse, mel, coch: {acc, f1, auc, nll, n}} on the validation part")
    best: bool = doc("the best epoch so far on validation")
    seconds: float = doc("wall time of the epoch")


@event("checkpoint", "a checkpoint was written (atomically)")
@dataclass(frozen=True)
class Checkpoint(Event):
    kind: str = doc("last or best")
    path: str = doc("the file")


@event("done", "training finished")
@dataclass(frozen=True)
class Done(Event):
    bundle: str = doc("best.pt")
    last: str = doc("last.pt")
    metrics: dict = doc("{dim: {epoch, temperature, val: {fuse, mel, coch}, test: {...}}} for the chosen epoch")
    quadrant: dict = doc("{val, test: {acc, macro_f1, n}} when both dimensions were trained", {})


@event("refit_start", "a model without a network (a descriptor head) is refitted on labels: seconds, no epochs")
@dataclass(frozen=True)
class RefitStart(Event):
    kind: str = doc("the model's kind (damer_core.models.header.KINDS)")
    n_tracks: int = doc("labelled tracks in the data")
    split: dict = doc("{by, train, val, test, folds}: tracks per part; train + validation refit it, test compares "
                      "(with folds: every track refits it and each is held out once, by k-fold cross-validation)")


@event("refitted", "a refit finished: the base model and the refitted one on the held-out labels")
@dataclass(frozen=True)
class Refitted(Event):
    bundle: str = doc("best.pt")
    kind: str = doc("the model's kind")
    n: int = doc("held-out labelled tracks both are scored on (0: none held out)")
    before: dict = doc("the base model's quadrant figures on them: macro_f1, valence_acc, arousal_acc, interval, ...")
    after: dict = doc("the refitted model's, the same figures")
    change: dict = doc("after - before on the same tracks: macro_f1, quadrant_acc, valence_acc, arousal_acc and "
                       "their paired bootstrap interval", {})


# -- analysis ---------------------------------------------------------------------------------
@event("prediction", "one file's static V-A and trajectory (predict, the analysis worker)")
@dataclass(frozen=True)
class Prediction(Event):
    path: str = doc("the file")
    valence: float | None = doc("static, -1..1 (null: not predicted by the bundle)")
    arousal: float | None = doc("static, -1..1")
    confidence: float = doc("0..1")
    duration: float = doc("seconds")
    dimensions: list = doc("what the bundle predicts")
    warning: str = doc("e.g. near-silent audio: no emotion claimed", "")
    smoothing_sigma_s: float = doc("Gaussian smoothing of the shown trajectory", 0.0)
    trajectory: dict = doc("smoothed {t, valence, arousal, confidence}, 0.5 s grid (predict's output; the worker "
                           "sends {}: the app smooths the window values itself)", {})
    trajectory_raw: dict = doc("the window values {t, valence, arousal, confidence}", {})


@event("trajectory_part", "the first part of the playing track's trajectory, while the rest is computed")
@dataclass(frozen=True)
class TrajectoryPart(Event):
    path: str = doc("the file")
    trajectory: dict = doc("the window values {t, valence, arousal, confidence} from 0 s to as far as computed "
                           "(the app smooths them, as it does the whole trajectory)")
    points: int = doc("points on the whole track's 0.5 s grid")


@event("static", "one file's static V-A only (the model segment's windows): the library's first pass")
@dataclass(frozen=True)
class Static(Event):
    path: str = doc("the file")
    valence: float | None = doc("-1..1 (null: not predicted)")
    arousal: float | None = doc("-1..1")
    confidence: float = doc("0..1")
    duration: float = doc("seconds")
    warning: str = doc("e.g. near-silent audio", "")


@event("views", "the display spectrograms of a file, written to an .npz file by the analysis worker")
@dataclass(frozen=True)
class Views(Event):
    path: str = doc("the audio file")
    npz: str = doc("mel_u8, coch_u8 (0..255 over 0..-80 dB), mel_freqs, coch_freqs, hop_seconds; the reader deletes it")


@event("file_error", "one file could not be analysed; the batch goes on")
@dataclass(frozen=True)
class FileError(Event):
    path: str = doc("the file")
    message: str = doc("one line: the file and the problem")


@event("ready", "the analysis worker has its model loaded and waits for the next job")
@dataclass(frozen=True)
class Ready(Event):
    checkpoint: str = doc("the bundle in use")
    device: str = doc("cpu or cuda")
    seconds: float = doc("how long the last job (or loading the model) took", 0.0)


@event("job", "to the analysis worker (its stdin): one job; it answers with its events, then ready")
@dataclass(frozen=True)
class Job(Event):
    op: str = doc('"static" (the model segment only), "track" (static, trajectory and, with views_npz, the '
                  'spectrograms: one decode) or "views" (spectrograms only)')
    path: str = doc("the audio file")
    views_npz: str = doc("where to write the spectrograms (empty: none)", "")
    preemptible: bool = doc("an `interrupt` for its path stops its trajectory between batches", False)


@event("interrupt", "to the analysis worker: stop the preemptible job on this file (the playing track needs the worker)")
@dataclass(frozen=True)
class Interrupt(Event):
    path: str = doc("the file whose job to stop")


@event("interrupted", "the worker stopped a preemptible job; the app queues it again")
@dataclass(frozen=True)
class Interrupted(Event):
    path: str = doc("the file")


# -- models, devices, the library -----------------------------------------------------------------
@event("info", "info --jsonl: one bundle")
@dataclass(frozen=True)
class Info(Event):
    path: str = doc("the bundle")
    builtin: bool = doc("the built-in model")
    bundle: dict = doc("the bundle's fields without weights (feature_config, dimensions with metrics, ...)")
    description: dict = doc("what the model says about itself: damer_core.contract.model_card.ModelDescription", {})


@event("bundle_error", "info --jsonl: a bundle that cannot be used")
@dataclass(frozen=True)
class BundleError(Event):
    path: str = doc("the bundle")
    message: str = doc("why")


@event("device", "devices: one device training and analysis can use")
@dataclass(frozen=True)
class Device(Event):
    device: str = doc('"cpu", "cuda:0", ...')
    name: str = doc("for people")


@event("report", "the library scanner finished")
@dataclass(frozen=True)
class Report(Event):
    added: int = doc("new tracks")
    updated: int = doc("changed tracks")
    removed: int = doc("tracks gone")
    unreadable: list = doc("[path, reason] pairs")
    cancelled: bool = doc("stopped before the end")


def markdown() -> str:
    """docs/events.md."""
    lines = [
        "# Events between the processes",
        "",
        "<!-- generated by `python -m damer_core.contract.events > docs/events.md`; edit damer_core/contract/events.py -->",
        "",
        "`damer-core ... --progress jsonl`, `damer-core info --jsonl`, `damer-core devices`, the library",
        "scanner and the analysis worker (`damer-core worker`) write one JSON object per line on stdout;",
        "human messages go to stderr. Every object has `event` (its kind) and `v` (the schema version,",
        f"now {SCHEMA_VERSION}); a reader refuses a newer version with a message. Non-finite numbers are",
        "written as `null`. Optional fields show their default.",
        "",
    ]
    for kind, cls in EVENTS.items():
        lines += [
            f"## `{kind}`",
            "",
            cls.ABOUT[0].upper() + cls.ABOUT[1:] + ".",
            "",
            "| field | type | meaning |",
            "|---|---|---|",
        ]
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else \
                f.default_factory() if callable(f.default_factory) else dataclasses.MISSING
            optional = "" if default is dataclasses.MISSING else f" (default `{json.dumps(default)}`)"
            kind = str(f.type).replace(" | ", " or ")
            lines.append(f"| `{f.name}` | {kind} | {f.metadata['doc'].replace('|', chr(92) + '|')}{optional} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(markdown())
