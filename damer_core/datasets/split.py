"""Train / validation / test parts of a data set (docs/SPEC.md section 5).

Tracks, never windows, are assigned; when the data set knows a group (the artist), whole groups
are assigned, so no artist is heard on both sides. The parts are stratified by the track's class
on every labelled dimension together (the quadrant, for V-A data), so that one split serves
both dimensions and the 4-quadrant scores are computed on one test part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from damer_core.contract.errors import InputError
from damer_core.datasets.base import DIMENSIONS, FeatureSet
from damer_core.targets import QUADRANT, class_labels, labelled

PARTS = ("train", "val", "test")
MIN_TRACKS = 10  # a validation or test part smaller than this gets a warning


@dataclass(frozen=True)
class Split:
    """Window indices of each part (sorted)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    by_group: bool  # True when whole groups (artists) were assigned, False when tracks were

    def part(self, name: str) -> np.ndarray:
        if name not in PARTS:
            raise ValueError(f"unknown part {name!r}; choose one of {', '.join(PARTS)}")
        return getattr(self, name)

    def for_dimension(self, fs: FeatureSet, dim: str, name: str) -> np.ndarray:
        """The part's windows that carry a label for ``dim`` (a target of damer_core.targets: the
        quadrant needs both dimensions)."""
        idx = self.part(name)
        return idx[labelled(fs.valence[idx], fs.arousal[idx], dim)]


def _track_classes(fs: FeatureSet, tracks: np.ndarray, first: np.ndarray) -> np.ndarray:
    """One class code per track from the sign of every dimension (-1 = unlabelled there)."""
    code = np.zeros(tracks.size, dtype=np.int64)
    for dim in DIMENSIONS:
        v = fs.values(dim)[first]
        state = np.where(np.isnan(v), 2, (v > 0).astype(int))  # 0 low, 1 high, 2 unknown
        code = code * 3 + state
    return code


def split_tracks(fs: FeatureSet, seed: int = 0, test_fraction: float = 0.3, val_fraction: float = 0.15) -> Split:
    """Assign whole groups (or tracks) to train / validation / test with fractions of about
    ``1 - test - val``, ``val``, ``test`` of the tracks in every class. Greedy: groups in a
    seeded random order, larger first, each to the part whose class counts fall furthest below
    their targets. Deterministic for a given ``seed``."""
    if not (0 <= test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise InputError(f"bad split fractions: test {test_fraction}, validation {val_fraction}")
    tracks, first = np.unique(fs.track, return_index=True)
    classes = _track_classes(fs, tracks, first)
    by_group = fs.group is not None
    track_group = fs.group[first] if fs.group is not None else tracks.astype(str)
    groups, group_of_track = np.unique(track_group, return_inverse=True)
    class_ids, class_of_track = np.unique(classes, return_inverse=True)
    counts = np.zeros((groups.size, class_ids.size))
    np.add.at(counts, (group_of_track, class_of_track), 1)

    fractions = np.array([1.0 - test_fraction - val_fraction, val_fraction, test_fraction])
    targets = fractions[:, None] * counts.sum(axis=0)[None, :]
    filled = np.zeros_like(targets)
    rng = np.random.default_rng(seed)
    order = rng.permutation(groups.size)
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    part_of_group = np.empty(groups.size, dtype=np.int64)
    for g in order:
        need = ((targets - filled) * counts[g][None, :]).sum(axis=1)
        need[fractions == 0] = -np.inf
        p = int(np.argmax(need))
        part_of_group[g] = p
        filled[p] += counts[g]
    _fill_empty_parts(part_of_group, counts, fractions, order)
    part_of_track = part_of_group[group_of_track]
    part_of_window = part_of_track[np.searchsorted(tracks, fs.track)]
    train, val, test = (np.flatnonzero(part_of_window == p) for p in range(3))
    return Split(train, val, test, by_group=by_group)


def _fill_empty_parts(part_of_group: np.ndarray, counts: np.ndarray, fractions: np.ndarray, order: np.ndarray) -> None:
    """A tiny data set (a curator's first dozen labels) can leave the validation or test part
    empty; each such part takes the smallest group from the training part, as long as the
    training part keeps at least one."""
    for p in (1, 2):
        if fractions[p] == 0 or (part_of_group == p).any():
            continue
        train = [g for g in order[::-1] if part_of_group[g] == 0]
        if len(train) < 2:
            return
        part_of_group[min(train, key=lambda g: counts[g].sum())] = p


def part_warnings(fs: FeatureSet, split: Split, dim: str) -> list[str]:
    """Plain-language warnings about a validation or test part too small or one-sided to trust."""
    out = []
    labels = class_labels(fs.valence, fs.arousal, dim)
    train_classes = np.unique(labels[split.for_dimension(fs, dim, "train")])
    if dim != QUADRANT and train_classes.size == 1:
        side = "high" if train_classes[0] == 1 else "low"
        out.append(f"{dim}: every training track is {side} {dim}; the model cannot learn to tell {dim} apart")
    elif dim == QUADRANT and 0 < train_classes.size < 4:
        out.append(f"{dim}: the training part holds only {train_classes.size} of the 4 quadrants; the model "
                   "cannot learn the others")
    for name, what in (("val", "validation"), ("test", "test")):
        idx = split.for_dimension(fs, dim, name)
        tracks = np.unique(fs.track[idx])
        classes = np.unique(labels[idx])
        if tracks.size == 0:
            out.append(f"{dim}: the {what} part is empty; its figures are n/a")
            continue
        if tracks.size < MIN_TRACKS:
            out.append(f"{dim}: the {what} part has only {tracks.size} tracks (fewer than {MIN_TRACKS}); "
                       "its figures are unreliable")
        if classes.size < 2 and dim != QUADRANT:
            side = "high" if classes[0] == 1 else "low"
            out.append(f"{dim}: the {what} part holds only {side} tracks; AUC is n/a there")
        elif dim == QUADRANT and classes.size < 4:
            out.append(f"{dim}: the {what} part holds only {classes.size} of the 4 quadrants")
    return out
