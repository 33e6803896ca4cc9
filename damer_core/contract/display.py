"""The display spectrograms as arrays, numpy only: what the analysis worker writes and the GUI
reads (the GUI process never imports librosa, numba or torch). Stored as 8-bit dB over -80..0 dB
(0.31 dB steps, a quarter of float32's disk), the same in the feature cache and in the worker's
.npz files, so a cached and a fresh view look the same."""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

DB_FLOOR = -80.0


class DisplayViews(NamedTuple):
    mel_db: np.ndarray  # [n_mels, F]
    coch_db: np.ndarray  # [n_gammatone, F]
    mel_freqs: np.ndarray  # centre of each Mel band, Hz
    coch_freqs: np.ndarray  # gammatone centre frequencies, Hz
    hop_seconds: float


def pack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The views' dB as 8-bit steps over -80..0 dB (``mel_u8``, ``coch_u8``); the rest as is."""
    packed = {k: v for k, v in arrays.items() if k not in ("mel_db", "coch_db")}
    for name in ("mel_db", "coch_db"):
        steps = np.clip(np.asarray(arrays[name]) / DB_FLOOR, 0.0, 1.0) * 255.0
        packed[name.replace("_db", "_u8")] = np.round(steps).astype(np.uint8)
    return packed


def unpack(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {k: v for k, v in arrays.items() if not k.endswith("_u8")}
    for name in ("mel", "coch"):
        out[f"{name}_db"] = arrays[f"{name}_u8"].astype(np.float32) * np.float32(DB_FLOOR / 255.0)
    return out


def as_views(arrays: dict[str, np.ndarray]) -> DisplayViews:
    return DisplayViews(arrays["mel_db"], arrays["coch_db"], arrays["mel_freqs"], arrays["coch_freqs"],
                        float(arrays["hop_seconds"]))


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """``arrays`` (unpacked views) packed into ``path``, atomically."""
    tmp = f"{path}.part"
    with open(tmp, "wb") as f:
        np.savez(f, **pack(arrays))  # type: ignore[arg-type]  # numpy's stub reads **kwds as allow_pickle
    os.replace(tmp, path)


def read_npz(path: str | os.PathLike) -> DisplayViews:
    with np.load(path, allow_pickle=False) as z:
        return as_views(unpack({k: z[k] for k in z.files}))
