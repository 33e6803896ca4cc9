"""Model bundles and resumable checkpoints (SPEC section 6).

A bundle is one file: both dimensions' weights, the feature and model configs, the training
config, the data description and the metrics. It is read with ``torch.load(weights_only=True)``,
so a checkpoint can never run code; writes go to a temporary file that is renamed into place.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

from damer_core.fileutil import atomic_write

FORMAT = "damer-bundle"
FORMAT_VERSION = 1


class BundleError(Exception):
    """A bundle or checkpoint cannot be used; ``str()`` is one line naming the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(path).name}: {reason}")


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` through :func:`atomic_write`: a crash or a full disk leaves the previous file intact."""
    import torch

    try:
        with atomic_write(path) as f:
            torch.save(obj, f)
    except OSError as e:
        raise OSError(e.errno, f"{path}: cannot write the checkpoint ({e.strerror or e}); "
                               "the previous one is unchanged") from e
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load with ``weights_only=True`` and check the bundle's shape; errors are :class:`BundleError`."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise BundleError(path, "file not found")
    if path.stat().st_size == 0:
        raise BundleError(path, "file is empty (0 bytes)")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if "weights only" in first.lower() or "weights_only" in first.lower() or "unsupported global" in str(e).lower():
            raise BundleError(path, "refused: it contains code or Python objects, not just weights "
                                    "(only plain tensors and values are ever loaded)") from None
        raise BundleError(path, f"not a DAMER bundle (corrupt: {first})") from None
    except Exception as e:  # noqa: BLE001 - weights_only means nothing ran; any failure is a bad file
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        with open(path, "rb") as f:
            is_zip = f.read(4) == b"PK\x03\x04"
        if not is_zip or "zip" in msg.lower() or "central directory" in msg.lower() or isinstance(e, EOFError):
            raise BundleError(path, "truncated or corrupt file (not a complete checkpoint)") from None
        raise BundleError(path, f"cannot be read ({msg})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(path, "not a DAMER model bundle (no 'format: damer-bundle' marker)")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise BundleError(path, f"written by a newer damer-core (bundle format {data['format_version']}); update to use it")
    for key in ("feature_config", "model_config", "dimensions"):
        if key not in data:
            raise BundleError(path, f"incomplete bundle: missing '{key}'")
    if not data["dimensions"]:
        raise BundleError(path, "bundle holds no trained dimension")
    return data


def build_models(bundle: dict, path: str | os.PathLike = "<bundle>") -> dict:
    """``{dimension: DAMER}`` in eval mode from a loaded bundle; shape mismatches are BundleErrors."""
    from damer_core.model import DAMER, ModelConfig

    try:
        mcfg = ModelConfig.from_dict(bundle["model_config"])
    except (TypeError, ValueError) as e:
        raise BundleError(path, f"bad model config ({e})") from None
    models = {}
    for dim, entry in bundle["dimensions"].items():
        model = DAMER(mcfg)
        try:
            model.load_state_dict(entry["state_dict"])
        except (KeyError, RuntimeError) as e:
            detail = str(e).strip().splitlines()[0]
            raise BundleError(path, f"weights for {dim} do not fit the model ({detail})") from None
        models[dim] = model.eval()
    return models
