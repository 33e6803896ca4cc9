"""Training windows for a DAMER that fine-tunes musicnn's mid-end (FeatureConfig.mel_path
"musicnn-tuned", docs/SPEC.md section 5b): each window holds the front end's frames (fixed, so
they can be cached) that its Mel stream needs, and the network puts them through its own mid-end
(damer_core.models.network.midend). The mid-end then gives exactly what
:class:`damer_core.features.musicnn.MidEndFrames` gives with the same weights. Where the front
end trains too ("musicnn-full") a window holds the patches' mel power instead, and the network's
front end (damer_core.models.network.front_end) makes the first kind of window of them.

A packed window is ``[ROWS, COLUMNS]``: the columns are pieces of musicnn patches (16 ms frames),
each piece the patch's frames that count towards the window's ``T`` frames with the mid-end's
reach (9 frames: three layers of kernel 7) on either side inside its patch, pieces apart by
``GAP`` columns of zero padding (what the original sees at a patch's edges), zero padding after
the last. Rows:

- ``0 .. 560``: the front end's channels;
- ``PLACE``: the window frame (0 .. T-1) a column's frame is averaged into, -1 for a column that
  is only there as reach or padding;
- ``REAL``: 1 for a patch's frame, 0 for padding (the mid-end makes padding zero after each layer);
- ``SOURCE``: in columns 0 .. T-1, the window frame whose mean frame j takes (j itself, except at
  a track's edge where no musicnn frame fell in frame j).
"""

from __future__ import annotations

import numpy as np
import torch

from damer_core.features.musicnn import FRONT_CHANNELS, N_MELS, PATCH_FRAMES, MidEndFrames, Musicnn, mel_power
from damer_core.features.spectra import (
    MUSICNN_FULL,
    TUNED_PATHS,
    FeatureConfig,
    band_energies,
    compress,
    sliding_windows,
    training_segment,
)

REACH = 9  # frames on either side that the mid-end's three kernel-7 convolutions see
GAP = 3  # zero columns between two pieces: the kernel's half width
PLACE, REAL, SOURCE = FRONT_CHANNELS, FRONT_CHANNELS + 1, FRONT_CHANNELS + 2
ROWS = FRONT_CHANNELS + 3
# A packed window for a front end in training: up to MEL_PATCHES patches' mel power (96 bands x 187
# frames each, as rows of bands), the column each packed column takes from them, and the rows above.
MEL_PATCHES = 3
GATHER = MEL_PATCHES * N_MELS
MEL_PLACE, MEL_REAL, MEL_SOURCE = GATHER + 1, GATHER + 2, GATHER + 3
MEL_ROWS = GATHER + 4
# A 4 s window (87 frames of 46 ms) gathers at most 253 counted frames from at most 3 patches:
# 253 + 3 x 2 x 9 reach + 2 x 3 gap = 313 columns.
COLUMNS = 320
STORED = np.float16  # the front end's values to 3 significant digits: half the disk and memory


def _pieces(places: np.ndarray, start: int, n_frames: int):
    """``(patch, lo, hi, column)`` for each patch with frames counted in grid frames ``start ..
    start + n_frames - 1``: its frames ``lo .. hi - 1`` (the counted ones and their reach) go to
    columns ``column ..`` of the packed window."""
    column = 0
    for patch, place in enumerate(places):
        counted = np.flatnonzero((place >= start) & (place < start + n_frames))
        if counted.size == 0:
            continue
        lo, hi = max(counted[0] - REACH, 0), min(counted[-1] + REACH + 1, PATCH_FRAMES)
        column += GAP if column else 0
        if column + hi - lo > COLUMNS:
            raise ValueError(f"frames {start}..{start + n_frames - 1} need more than {COLUMNS} musicnn frames")
        yield patch, lo, hi, column
        column += hi - lo


def _placing_rows(out: np.ndarray, patches: np.ndarray, places: np.ndarray, source: np.ndarray, start: int,
                  n_frames: int, rows: tuple[int, int, int]) -> list[tuple[int, int, int, int]]:
    """Fill the PLACE, REAL and SOURCE ``rows`` of a packed window; its pieces (:func:`_pieces`)."""
    place_row, real_row, source_row = rows
    if len(patches) != len(places):
        raise ValueError(f"{len(patches)} patches but {len(places)} rows of their frames' places")
    window_source = source[start:start + n_frames] - start
    if window_source.min() < 0 or window_source.max() >= n_frames:
        raise ValueError(f"frames {start}..{start + n_frames - 1} take values from outside the window")
    out[place_row] = -1
    out[source_row, :n_frames] = window_source
    pieces = list(_pieces(places, start, n_frames))
    for patch, lo, hi, column in pieces:
        piece = slice(column, column + hi - lo)
        out[real_row, piece] = 1
        inside = (places[patch, lo:hi] >= start) & (places[patch, lo:hi] < start + n_frames)
        out[place_row, piece] = np.where(inside, places[patch, lo:hi] - start, -1)
    return pieces


def pack_window(fronts: np.ndarray, places: np.ndarray, source: np.ndarray, start: int, n_frames: int) -> np.ndarray:
    """The packed window of grid frames ``start .. start + n_frames - 1`` from a track's patches
    (:meth:`damer_core.features.musicnn.FrontEndPatches.finish_patches`)."""
    out = np.zeros((ROWS, COLUMNS), np.float32)
    for patch, lo, hi, column in _placing_rows(out, fronts, places, source, start, n_frames, (PLACE, REAL, SOURCE)):
        out[:FRONT_CHANNELS, column:column + hi - lo] = fronts[patch][:, lo:hi]
    return out.astype(STORED)


def pack_mel_window(mels: np.ndarray, places: np.ndarray, source: np.ndarray, start: int, n_frames: int) -> np.ndarray:
    """:func:`pack_window` for a front end in training (``"musicnn-full"``): the mel power of the
    patches ``mels [P, 187, 96]`` (:meth:`MelPatches.finish_patches`) the window's pieces come
    from, which the network's front end turns into a packed window (damer_core.models.network.front_end)."""
    out = np.zeros((MEL_ROWS, COLUMNS), np.float32)
    out[GATHER] = -1
    slots: dict[int, int] = {}
    for patch, lo, hi, column in _placing_rows(out, mels, places, source, start, n_frames,
                                               (MEL_PLACE, MEL_REAL, MEL_SOURCE)):
        if patch not in slots:
            if len(slots) == MEL_PATCHES:
                raise ValueError(f"frames {start}..{start + n_frames - 1} need more than {MEL_PATCHES} musicnn patches")
            slots[patch] = len(slots)
            out[slots[patch] * N_MELS:(slots[patch] + 1) * N_MELS, :PATCH_FRAMES] = mels[patch].T
        out[GATHER, column:column + hi - lo] = slots[patch] * PATCH_FRAMES + np.arange(lo, hi)
    return out.astype(STORED)


class FrontEndPatches(MidEndFrames):
    """The front end's 561 channels of the patches :class:`MidEndFrames` puts through the mid-end,
    each frame with its place on the track's grid: what the packed windows are cut from. Holds
    every patch (561 x 187 numbers each; :class:`MelPatches` holds their mel power instead)."""

    def __init__(self, rate: int, n_frames: int, hop_s: float, net: Musicnn | None = None):
        super().__init__(rate, n_frames, hop_s, net)
        self.fronts: list[np.ndarray] = []
        self.places: list[np.ndarray] = []

    def _use(self, mel: torch.Tensor, places: list) -> None:
        for (first, counts_from), front in zip(places, self._kept(mel), strict=True):
            bins, keep = self._placed(first, counts_from)
            self.fronts.append(front)
            self.places.append(np.where(keep, bins, -1))

    def _kept(self, mel: torch.Tensor) -> np.ndarray:
        """What is held of a batch of patches: the front end's frames."""
        return self.net.front_end(mel).numpy()

    def finish_patches(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``fronts [P, 561, 187]``, ``places [P, 187]`` (each frame's grid frame, -1 where it does
        not count) and ``source [n_frames]`` (:meth:`MidEndFrames._flush`)."""
        source = self._flush()
        return np.stack(self.fronts), np.stack(self.places), source


class MelPatches(FrontEndPatches):
    """The patches' mel power (float16, as the original has it before its log: stored in half
    precision exactly), for a front end in training; nothing goes through musicnn."""

    def _network_input(self, patches: np.ndarray) -> np.ndarray:
        return mel_power(patches)

    def _kept(self, mel: torch.Tensor) -> np.ndarray:
        return mel.numpy()


def packed_training_windows(segment: np.ndarray, cfg: FeatureConfig) -> tuple[np.ndarray, np.ndarray]:
    """:func:`damer_core.features.spectra.training_windows` of a model segment for musicnn's layers
    in training: ``[W, ROWS, COLUMNS]`` packed windows (``[W, MEL_ROWS, COLUMNS]`` where the front
    end trains too) and the cochleogram's ``[W, 84, T]``."""
    coch = compress(*band_energies(segment, cfg), cfg)[1]
    coch_windows = np.ascontiguousarray(sliding_windows(coch, cfg.n_frames, cfg.train_hop_frames))
    full = cfg.mel_path == MUSICNN_FULL
    acc = (MelPatches if full else FrontEndPatches)(cfg.sample_rate, coch.shape[1], cfg.hop_length / cfg.sample_rate)
    acc.feed(segment)
    patches, places, source = acc.finish_patches()
    pack = pack_mel_window if full else pack_window
    starts = np.arange(coch_windows.shape[0]) * cfg.train_hop_frames
    return np.stack([pack(patches, places, source, int(s), cfg.n_frames) for s in starts]), coch_windows


def packs(cfg: FeatureConfig) -> bool:
    """Whether ``cfg``'s training windows are packed: musicnn's layers in training (none named
    yet; a trained model's windows are its Mel stream, through the layers ``cfg.midend`` names)."""
    return cfg.mel_path in TUNED_PATHS and not cfg.midend


def training_windows_of(track: np.ndarray, cfg: FeatureConfig, path: str = "<audio>") -> tuple[np.ndarray, np.ndarray]:
    """:func:`damer_core.features.spectra.training_windows`, packed where :func:`packs`."""
    from damer_core.features.spectra import training_windows

    if packs(cfg):
        return packed_training_windows(training_segment(track, cfg, path), cfg)
    return training_windows(track, cfg, path=path)
