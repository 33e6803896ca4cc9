"""The published-array layout (SPEC section 8): ``mel_spec.npy`` [N, 128, T], ``cochlegram.npy``
[N, 84, T] (spelled so), ``labels/label_a.npy`` and ``labels/label_v.npy`` [N], one row per
track. Memo2496 ships it under ``memo/``; PMEmo / 1000 Songs / DEAM arrays use the same files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from damer_core.datasets.base import DatasetError, FeatureSet, to_unit_scale
from damer_core.features import CLIP, FeatureConfig

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


def load_arrays(root: Path, scale: str | None = None) -> FeatureSet:
    folder = find_array_folder(root)
    if folder is None:
        raise DatasetError(f"{root}: no mel_spec.npy here or in a sub-folder (expected e.g. memo/mel_spec.npy)")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise DatasetError(f"{folder}: missing {', '.join(missing)}")
    try:
        mel = np.load(folder / FILES[0], mmap_mode="r", allow_pickle=False)
        coch = np.load(folder / FILES[1], mmap_mode="r", allow_pickle=False)
        label_a = np.load(folder / FILES[2], allow_pickle=False).astype(np.float64).reshape(-1)
        label_v = np.load(folder / FILES[3], allow_pickle=False).astype(np.float64).reshape(-1)
    except (OSError, ValueError) as e:
        raise DatasetError(f"{folder}: an array file cannot be read ({e})") from None
    if mel.ndim != 3 or mel.shape[1] != 128:
        raise DatasetError(f"mel_spec.npy has shape {mel.shape}; expected [N, 128, T]")
    if coch.ndim != 3 or coch.shape[1] != 84 or coch.shape[2] != mel.shape[2]:
        raise DatasetError(f"cochlegram.npy has shape {coch.shape}; expected [N, 84, {mel.shape[2]}]")
    n = mel.shape[0]
    for name, arr in (("cochlegram.npy", coch), ("labels/label_a.npy", label_a), ("labels/label_v.npy", label_v)):
        if arr.shape[0] != n:
            raise DatasetError(f"{name} has {arr.shape[0]} rows but mel_spec.npy has {n}")
    if scale is None:  # PMEmo's arrays are 0..1 (binarise at 0.5); the others are zero-centred
        scale = "0..1" if "pmemo" in str(folder).lower() else "-1..1"
    cfg = config_for_frames(mel.shape[2])
    desc = {"name": folder.parent.name if folder.name == "memo" else folder.name, "format": "arrays",
            "root": str(folder), "scale": scale, "n_tracks": n, "n_samples": n, "feature_preset": cfg.name}
    return FeatureSet(np.asarray(mel, dtype=np.float32), np.asarray(coch, dtype=np.float32),
                      to_unit_scale(label_v, scale), to_unit_scale(label_a, scale), np.arange(n), cfg, desc)
