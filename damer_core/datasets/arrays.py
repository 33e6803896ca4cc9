"""The published-array layout (docs/SPEC.md section 8): ``mel_spec.npy`` [N, 128, T], ``cochlegram.npy``
[N, 84, T] (spelled so), ``labels/label_a.npy`` and ``labels/label_v.npy`` [N], one row per
track. Memo2496 ships it under ``memo/``; PMEmo / 1000 Songs / DEAM arrays use the same files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

from damer_core.datasets.base import (
    DatasetError,
    DataSetFormat,
    FeatureSet,
    check_scale,
    first_non_finite,
    label_value,
    one_line,
    show_number,
    to_unit_scale,
)
from damer_core.features.spectra import CLIP, FeatureConfig

FILES = ("mel_spec.npy", "cochlegram.npy", "labels/label_a.npy", "labels/label_v.npy")
# The authors' PMEmo / 1000 Songs arrays: 1 s clips with hop 512 -> 44 frames.
CLIP44 = replace(CLIP, name="clip44", frame_length=1024, hop_length=512, n_fft=2048, n_frames=44,
                 train_hop_frames=43, trajectory_hop_frames=22)


def find_array_folder(root: Path) -> Path | None:
    if (root / "mel_spec.npy").is_file():
        return root
    hits = sorted(p.parent for p in root.glob("*/mel_spec.npy"))
    return hits[0] if hits else None


def config_for_frames(t: int) -> FeatureConfig:
    if t == CLIP.n_frames:
        return CLIP
    if t == CLIP44.n_frames:
        return CLIP44
    raise DatasetError(f"arrays have {t} frames per clip; supported: 87 (hop 256) or 44 (hop 512)")


def _sniff(path: Path, name: str) -> tuple | None:
    """The .npy header's (shape, fortran, dtype), read before any data, or None for a format
    version numpy reads only whole; what is not a .npy file at all is named."""
    with open(path, "rb") as f:
        head = f.read(8)
        if not head:
            raise DatasetError(f"{name}: an empty file, not a .npy array")
        if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise DatasetError(f"{name}: not a .npy array (a .npz archive renamed?)")
        if head[:1] == b"\x80":
            raise DatasetError(f"{name}: not a .npy array (pickled Python data is refused)")
        if not head.startswith(b"\x93NUMPY"):
            raise DatasetError(f"{name}: not a .npy array")
        f.seek(0)
        version = npy_format.read_magic(f)
        readers = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
        return readers[version](f) if version in readers else None


def _check_dtype(name: str, dtype: np.dtype) -> None:
    if dtype.hasobject:
        raise DatasetError(f"{name}: holds Python objects (dtype object); only arrays of numbers are read")
    if dtype.names:
        fields = ", ".join(dtype.names[:5])
        raise DatasetError(f"{name}: a structured dtype (fields {fields}) is not a real number type")
    if dtype.kind not in "fiu":
        raise DatasetError(f"{name}: dtype {dtype} is not a real number type")


def load_npy(folder: Path, name: str, mmap: bool = True) -> np.ndarray:
    """One array file of the layout, never unpickled; a file that is not a plain numeric .npy
    array raises :class:`DatasetError` naming it and the problem."""
    try:
        header = _sniff(folder / name, name)
        if header is not None:
            _check_dtype(name, header[2])
        arr = np.load(folder / name, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (OSError, ValueError, EOFError, SyntaxError, TypeError) as e:
        raise DatasetError(f"{name}: cannot be read as a .npy array ({one_line(e)})") from None
    _check_dtype(name, arr.dtype)
    return arr


def _finite_features(name: str, x: np.ndarray) -> None:
    hit = first_non_finite(x)
    if hit is not None:
        raise DatasetError(f"{name}, index {hit[0]}: holds {show_number(hit[1])}; features must be finite numbers")


def _labels(name: str, dim: str, values: np.ndarray, scale: str, declared: bool) -> np.ndarray:
    """Every label finite and, where the user declared the scale, inside it; the release's own
    arrays are only known to be zero-centred (or 0..1), so a guessed scale checks finiteness."""
    lo, hi = check_scale(scale)
    bad = ~np.isfinite(values)
    if declared:
        bad |= (values < lo - 1e-6 * (hi - lo)) | (values > hi + 1e-6 * (hi - lo))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        label_value(float(values[i]), scale, f"{name}, index {i}", dim)
    return values


def load_arrays(root: Path, scale: str | None = None) -> FeatureSet:
    folder = find_array_folder(root)
    if folder is None:
        raise DatasetError(f"{root}: no mel_spec.npy here or in a sub-folder (expected e.g. memo/mel_spec.npy)")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)}")
    mel, coch = load_npy(folder, FILES[0]), load_npy(folder, FILES[1])
    label_a = load_npy(folder, FILES[2], mmap=False).astype(np.float64).reshape(-1)
    label_v = load_npy(folder, FILES[3], mmap=False).astype(np.float64).reshape(-1)
    if mel.ndim != 3 or mel.shape[1] != 128:
        raise DatasetError(f"mel_spec.npy has shape {mel.shape}; expected [N, 128, T]")
    if mel.shape[0] == 0:
        raise DatasetError(f"mel_spec.npy holds no clips (shape {mel.shape})")
    if coch.ndim != 3 or coch.shape[1] != 84 or coch.shape[2] != mel.shape[2]:
        raise DatasetError(f"cochlegram.npy has shape {coch.shape}; expected [N, 84, {mel.shape[2]}]")
    n = mel.shape[0]
    for name, arr in (("cochlegram.npy", coch), ("labels/label_a.npy", label_a), ("labels/label_v.npy", label_v)):
        if arr.shape[0] != n:
            raise DatasetError(f"{name} has {arr.shape[0]} rows but mel_spec.npy has {n}")
    declared = scale is not None
    if scale is None:  # PMEmo's arrays are 0..1 (binarise at 0.5); the others are zero-centred
        scale = "0..1" if "pmemo" in str(folder).lower() else "-1..1"
    label_a = _labels(FILES[2], "arousal", label_a, scale, declared)
    label_v = _labels(FILES[3], "valence", label_v, scale, declared)
    cfg = config_for_frames(mel.shape[2])
    with np.errstate(over="ignore"):  # an overflow becomes inf, which the check below names
        mel, coch = np.asarray(mel, dtype=np.float32), np.asarray(coch, dtype=np.float32)
    _finite_features(FILES[0], mel)  # after the cast: a float64 value beyond float32 has become inf
    _finite_features(FILES[1], coch)
    desc = {"name": folder.parent.name if folder.name == "memo" else folder.name, "format": "arrays",
            "root": str(folder), "scale": scale, "n_tracks": n, "n_samples": n, "feature_preset": cfg.name}
    return FeatureSet(mel, coch, to_unit_scale(label_v, scale), to_unit_scale(label_a, scale), np.arange(n), cfg, desc)


FORMAT = DataSetFormat("arrays", "Memo2496-style arrays (memo/mel_spec.npy)", lambda root: find_array_folder(root) is not None,
                       None)
