"""What every loader produces: a :class:`FeatureSet` of model windows with V-A labels in [-1, 1],
and the by-track stratified split (clips of one track never cross it)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from damer_core.contract.dimensions import DIMENSIONS
from damer_core.contract.errors import UserError
from damer_core.features.spectra import FeatureConfig
from damer_core.progress import Progress

SCALES = {
    "-1..1": lambda x: x,
    "1..9": lambda x: (x - 5.0) / 4.0,
    "0..1": lambda x: 2.0 * x - 1.0,
}


class DatasetError(UserError):
    """A data-set folder or file is missing something; the message names the file or column."""


# A tolerance for rounding noise at the ends (a label drawn on the rim, written with 4 decimals).
SCALE_RANGES = {"-1..1": (-1.0, 1.0), "1..9": (1.0, 9.0), "0..1": (0.0, 1.0)}
_SLACK = 1e-6


def clip(text: str, n: int = 40) -> str:
    """``text`` cut to ``n`` characters, so garbage cannot flood a one-line message."""
    return text if len(text) <= n else text[:n] + "..."


def printable(text: str) -> str:
    """``text`` with control characters (a newline in garbage) shown as ``?``: messages stay one line."""
    return "".join(c if c.isprintable() else "?" for c in text)


def one_line(e: BaseException) -> str:
    return (str(e).splitlines() or [type(e).__name__])[0]


def show_number(x: float) -> str:
    return "NaN" if math.isnan(x) else f"{x:g}"


def check_scale(scale: str) -> tuple[float, float]:
    try:
        return SCALE_RANGES[scale]
    except KeyError:
        raise DatasetError(f"unknown label scale {scale!r}; choose one of {', '.join(SCALES)}") from None


def label_value(raw: object, scale: str, where: str, column: str) -> float:
    """One rule for every label, from a CSV cell, a JSON value or an array element: a finite number
    inside the declared scale. ``where`` names the file and the row (``labels.csv, row 3``,
    ``labels.json, labels[2]``, ``labels/label_a.npy, index 7``)."""
    lo, hi = check_scale(scale)
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float, np.number)):
        raise DatasetError(f"{where}: {column} is not a number ({clip(repr(raw))})")
    try:
        x = float(raw)
    except (ValueError, OverflowError):
        raise DatasetError(f"{where}: {column} is not a number ({clip(str(raw))!r})") from None
    if not math.isfinite(x):
        raise DatasetError(f"{where}: {column} is {show_number(x)}; labels must be finite numbers")
    slack = _SLACK * (hi - lo)
    if not lo - slack <= x <= hi + slack:
        raise DatasetError(f"{where}: {column} {x:g} is outside the declared scale {scale}")
    return x


def first_non_finite(x: np.ndarray, chunk: int = 256) -> tuple[int, float] | None:
    """(row, value) of the first NaN or infinity in ``x`` along its first axis, in chunks so a
    memory-mapped array is never copied whole."""
    for start in range(0, x.shape[0], chunk):
        part = np.asarray(x[start:start + chunk])
        bad = ~np.isfinite(part)
        if bad.any():
            flat = int(np.flatnonzero(bad)[0])
            row = flat // max(1, part[0].size)
            return start + row, float(part.reshape(-1)[flat])
    return None


def to_unit_scale(values, scale: str) -> np.ndarray:
    try:
        return SCALES[scale](np.asarray(values, dtype=np.float64))
    except KeyError:
        raise DatasetError(f"unknown label scale {scale!r}; choose one of {', '.join(SCALES)}") from None


@dataclass
class LabelledTrack:
    path: Path
    valence: float  # [-1, 1]; NaN when unknown
    arousal: float
    track_id: str
    group: str | None = None  # the artist where the data set knows it: splits keep a group together
    where: str = ""  # where the label came from ("labels.csv, row 6"): named when its file fails


@dataclass(frozen=True)
class DataSetFormat:
    """One data-set format, declared beside its loader (damer_core.datasets.registry lists them)."""
    name: str  # what --format takes
    about: str  # for people: "a PMEmo folder"
    detect: Callable[[Path], bool]  # is this folder (or file) one of this format?
    load: Callable[[Path, str | None], tuple[list[LabelledTrack], dict]] | None  # (path, scale); None: not audio
    suffix: str = ""  # a label file's suffix; "" for a folder


def _same_label(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


class Skipped:
    """Rows or files left out, counted by reason with the first few of each named: a file of a
    million bad rows costs a few counters, not a million messages."""

    EXAMPLES = 3

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.named: dict[str, list[str]] = {}

    def add(self, reason: str, name: str) -> bool:
        """Count one; True while it is among the first few of its reason (worth a line of its own)."""
        self.counts[reason] = self.counts.get(reason, 0) + 1
        names = self.named.setdefault(reason, [])
        if len(names) < self.EXAMPLES:
            names.append(name)
            return True
        return False

    @classmethod
    def of(cls, description: dict) -> Skipped:
        """What an earlier stage (a labels file's loader) left out, to go on counting from."""
        out = cls()
        out.counts = dict(description.get("skipped_counts", {}))
        out.named = {reason: list(description.get("skipped_named", {}).get(reason, [])) for reason in out.counts}
        return out

    def describe(self) -> dict:
        """The description's fields for it, read back by :meth:`of`."""
        return {"skipped_counts": self.counts, "skipped_named": self.named}

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def summary(self) -> str:
        """``"1000 file not found (a.wav, b.wav, c.wav and 997 more); 2 cannot be decoded (x, y)"``."""
        parts = []
        for reason, n in sorted(self.counts.items(), key=lambda kv: -kv[1]):
            names = self.named[reason]
            more = f" and {n - len(names)} more" if n > len(names) else ""
            parts.append(f"{n} {reason} ({', '.join(names)}{more})")
        return "; ".join(parts)

    def refuse_if_most(self, what: str, total: int, used: int) -> None:
        """Training on the few rows that are left would look like success: stop when more than half are unusable."""
        if self.total and self.total > used:
            raise DatasetError(f"{what}: {self.total} of {total} tracks cannot be used ({self.summary()}); "
                               "fix the paths or the files (relative paths are read from the labels file's folder)")


def merge_duplicates(tracks: list[LabelledTrack], what: str, average: bool = False,
                     drop_conflicts: bool = False) -> tuple[list[LabelledTrack], list[str], int]:
    """The one rule for rows that name the same track (its id, or its file for a labels file):
    exact duplicates are merged with a warning; rows with different labels are averaged where
    ``average`` (a labels file's rows are annotations, averaged as Memo2496 averages its annotators),
    else refused naming the ids, or left out with a warning under ``drop_conflicts`` (--drop-conflicts).
    Returns the tracks (first-seen order), the warnings and how many tracks were averaged."""
    groups: dict[str, list[LabelledTrack]] = {}
    for t in tracks:
        groups.setdefault(os.path.realpath(t.path) if average else t.track_id, []).append(t)  # a/../b.ogg is b.ogg
    kept, exact, conflicts, averaged = [], [], [], 0
    for group in groups.values():
        first = group[0]
        if len(group) == 1:
            kept.append(first)
        elif all(_same_label(t.valence, first.valence) and _same_label(t.arousal, first.arousal) for t in group):
            exact.append(first.track_id)
            kept.append(first)
        elif average:
            averaged += 1
            kept.append(_averaged(group))
        else:
            conflicts.append(f"{first.track_id} ({'; '.join(t.where or show_label(t) for t in group)})")
    warnings = []
    if exact:
        warnings.append(f"{what}: {len(exact)} track(s) listed more than once with the same label, used once: "
                        f"{_listed(exact)}")
    if conflicts and not drop_conflicts:
        raise DatasetError(f"{what}: {len(conflicts)} track(s) listed more than once with different labels: "
                           f"{_listed(conflicts)}; correct the file, or train with --drop-conflicts to leave them out")
    if conflicts:
        warnings.append(f"{what}: left out {len(conflicts)} track(s) listed with different labels (--drop-conflicts): "
                        f"{_listed(conflicts)}")
    return kept, warnings, averaged


def show_label(t: LabelledTrack) -> str:
    return f"valence {show_number(t.valence)}, arousal {show_number(t.arousal)}"


def _listed(items: list[str], n: int = 5) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _averaged(group: list[LabelledTrack]) -> LabelledTrack:
    v = [t.valence for t in group if math.isfinite(t.valence)]
    a = [t.arousal for t in group if math.isfinite(t.arousal)]
    split_group = next((t.group for t in group if t.group), None)
    return LabelledTrack(group[0].path, sum(v) / len(v) if v else math.nan, sum(a) / len(a) if a else math.nan,
                         group[0].track_id, split_group, ", ".join(t.where for t in group if t.where))


@dataclass
class FeatureSet:
    mel: np.ndarray  # [N, n_mels, T] float32
    coch: np.ndarray  # [N, n_gammatone, T]
    valence: np.ndarray  # [N] in [-1, 1], NaN = unlabelled
    arousal: np.ndarray
    track: np.ndarray  # [N] int: windows of one track share it
    feature_config: FeatureConfig
    description: dict = field(default_factory=dict)
    group: np.ndarray | None = None  # [N] str: the split group (artist) of each window's track, if known
    track_ids: np.ndarray | None = None  # [n_tracks] str: the data set's id of track i (e.g. the 4Q song), if known
    descriptors: np.ndarray | None = None  # [N, D] musical descriptors of each window (features.descriptors), if computed

    def __post_init__(self) -> None:
        n = self.mel.shape[0]
        extra = tuple(name for name in ("group", "descriptors") if getattr(self, name) is not None)
        for name in ("coch", "valence", "arousal", "track") + extra:
            if getattr(self, name).shape[0] != n:
                raise DatasetError(f"{name} has {getattr(self, name).shape[0]} rows, mel has {n}")

    def __len__(self) -> int:
        return self.mel.shape[0]

    @property
    def track_labels(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(track ids, valence, arousal) per track, from each track's first window."""
        tracks, first = np.unique(self.track, return_index=True)
        return tracks, self.valence[first], self.arousal[first]

    @property
    def ids(self) -> np.ndarray:
        """The data set's id of track i (its index as text where the data set names none)."""
        if self.track_ids is not None:
            return self.track_ids
        return np.arange(int(self.track.max()) + 1 if self.track.size else 0).astype(str)

    @property
    def window_descriptors(self) -> np.ndarray:
        """The musical descriptors of each window; DatasetError where they were not computed."""
        if self.descriptors is None:
            raise DatasetError(f"{self.description.get('name', 'this data set')}: loaded without its musical descriptors")
        return self.descriptors

    @property
    def n_tracks(self) -> int:
        return int(np.unique(self.track).size)

    def values(self, dim: str) -> np.ndarray:
        if dim not in DIMENSIONS:
            raise ValueError(f"unknown dimension {dim!r}")
        return getattr(self, dim)

    def binary(self, dim: str) -> np.ndarray:
        """Labels binarised at the scale's midpoint: 1 where the value is > 0."""
        return (self.values(dim) > 0).astype(np.int64)


FEATURISE_KINDS = ("model", "model+descriptors", "descriptors", "descriptors+embeddings")


def featurise(tracks: list[LabelledTrack], cfg: FeatureConfig, description: dict,
              progress: Progress | None = None, cache=None, workers: int | None = None,
              kind: str = "model") -> FeatureSet:
    """Model windows (``kind`` "model"), model windows with the musical descriptors of each
    ("model+descriptors", for a DAMER whose fusion layer takes them) or musical-descriptor windows
    alone ("descriptors": ``mel`` and ``coch`` are then empty ``[N, 0, 0]`` arrays; with musicnn's
    embedding of each window, "descriptors+embeddings") for every track
    through the feature cache; unreadable tracks are skipped and reported (their names go into
    ``description['skipped']``)."""
    from damer_core.audio.decoding import AudioError
    from damer_core.features.extract import (
        track_descriptor_windows,
        track_features,
        track_head_rows,
        track_training_windows,
    )

    if kind not in FEATURISE_KINDS:
        raise ValueError(f"unknown kind {kind!r}")

    def windows_of(path):
        if kind in ("descriptors", "descriptors+embeddings"):
            d = (track_head_rows if kind == "descriptors+embeddings" else track_descriptor_windows)(path, cfg, cache)
            return np.zeros((d.shape[0], 0, 0), np.float32), np.zeros((d.shape[0], 0, 0), np.float32), d
        if kind == "model+descriptors":
            f = track_features(path, cfg, ("train", "train_descriptors"), cache)
            return f["train"]["mel"], f["train"]["coch"], f["train_descriptors"]["windows"]
        return track_training_windows(path, cfg, cache)

    progress = progress or Progress("none")
    progress.task("featurising", len(tracks))
    results: list[tuple[np.ndarray, ...] | None] = [None] * len(tracks)  # (mel, coch[, descriptors]) of a track
    skipped, examples = Skipped.of(description), list(description.get("skipped", []))  # the loader's too (files not found)

    def one(i: int):
        try:
            windows = windows_of(tracks[i].path)
        except AudioError as e:
            return i, None, e.reason, f"{tracks[i].where}: {e}" if tracks[i].where else str(e)
        if not all(np.isfinite(w).all() for w in windows):
            return i, None, "features not finite", f"{tracks[i].path.name}: its features are not finite numbers"
        return i, windows, "", None

    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        for i, windows, reason, error in pool.map(one, range(len(tracks))):
            if error and skipped.add(reason, tracks[i].path.name):  # the first few each a line, the rest counted
                examples.append(error)
                progress.message(f"skipped {error}", error=error)
            results[i] = windows
            progress.advance()
    keep = [i for i, r in enumerate(results) if r is not None]
    kept = [r for r in results if r is not None]
    name = description.get("name", "data set")
    if not keep:
        raise DatasetError(f"{name}: none of the {len(tracks)} audio files could be read"
                           + (f" ({skipped.summary()})" if skipped.total else ""))
    skipped.refuse_if_most(name, len(keep) + skipped.total, len(keep))
    if skipped.total > len(examples):
        progress.message(f"skipped {skipped.total} tracks in all: {skipped.summary()}")
    mel = np.concatenate([r[0] for r in kept])
    coch = np.concatenate([r[1] for r in kept])
    counts = [r[0].shape[0] for r in kept]
    rep = lambda attr: np.repeat([getattr(tracks[i], attr) for i in keep], counts)  # noqa: E731
    desc = {**description, "n_tracks": len(keep), "n_samples": int(mel.shape[0]), "skipped": examples,
            **skipped.describe(), "feature_preset": cfg.name}
    groups = None
    if any(tracks[i].group for i in keep):  # a track without a group is a group of its own
        groups = np.repeat([tracks[i].group or f"\0track:{tracks[i].track_id}" for i in keep], counts).astype(str)
        desc["split_group"] = description.get("split_group", "group")
    descriptors = np.concatenate([r[2] for r in kept]) if kind != "model" else None
    return FeatureSet(mel, coch, rep("valence").astype(np.float64), rep("arousal").astype(np.float64),
                      np.repeat(np.arange(len(keep)), counts), cfg, desc, groups,
                      np.array([tracks[i].track_id for i in keep], dtype=str), descriptors)


def find_file(root: Path, name: str) -> Path | None:
    """``name`` directly under ``root`` or anywhere below it (real releases nest differently)."""
    direct = root / name
    if direct.is_file():
        return direct
    return next(iter(sorted(root.rglob(name))), None)


def audio_index(root: Path) -> dict[str, Path]:
    from damer_core.audio.decoding import audio_files

    return {p.stem: p for p in audio_files(root)}
