"""Model bundles and resumable checkpoints (docs/SPEC.md section 6).

A bundle is one file: both dimensions' weights, the feature and model configs, the training
config, the data description and the metrics. It is read with ``torch.load(weights_only=True)``,
so a checkpoint can never run code; writes go to a temporary file that is renamed into place.

A bundle is untrusted input (the app imports bundles from anywhere), so :func:`load_checkpoint`
checks every field it holds (:mod:`damer_core.models.bundle_checks`, whose public names are importable
from here too): every problem is one :class:`BundleError` line naming the file and the field.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil
import zipfile
from pathlib import Path
from typing import Any

from damer_core.contract.errors import BundleError
from damer_core.contract.fileutil import atomic_write
from damer_core.models.bundle_checks import (  # noqa: F401 - re-exported: callers import them from here
    CHECKSUM,
    COUNT,
    EPOCH,
    FEATURE_BOUNDS,
    FORMAT,
    FORMAT_VERSION,
    MAX_NESTING,
    MAX_WINDOW_S,
    MODEL_BOUNDS,
    TEMPERATURE,
    check_bundle,
    weights_sha256,
)
from damer_core.models.header import UPGRADED_FROM, upgrade_version_1


def with_checksums(bundle: dict) -> dict:
    """``bundle`` with each dimension's ``weights_sha256``, for :func:`load_checkpoint` to verify."""
    dims = {d: {**e, CHECKSUM: weights_sha256(e["state_dict"])} for d, e in bundle.get("dimensions", {}).items()}
    parts = {k: {**bundle[k], CHECKSUM: weights_sha256(bundle[k]["state_dict"])}
             for k in ("descriptor_head", "combination") if k in bundle}
    kept = {k: v for k, v in bundle.items() if k != UPGRADED_FROM}  # what is written is version 2 itself
    return {**kept, **({"dimensions": dims} if "dimensions" in bundle else {}), **parts}


def save_atomic(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save`` through :func:`atomic_write`: a crash or a full disk leaves the previous file intact."""
    import torch

    try:
        with atomic_write(path) as f:
            torch.save(obj, f)
    except OSError as e:
        raise OSError(e.errno, f"{path}: cannot write the checkpoint ({e.strerror or e}); "
                               "the previous one is unchanged") from e
    except RuntimeError as e:  # torch's zip writer reports a failed write (a full disk) as RuntimeError
        if "write" not in str(e).lower():
            raise
        free = shutil.disk_usage(Path(path).parent).free if Path(path).parent.exists() else -1
        why = "the disk is full" if 0 <= free < (1 << 20) else f"the write failed: {str(e).splitlines()[0][:200]}"
        raise OSError(errno.ENOSPC if 0 <= free < (1 << 20) else errno.EIO,
                      f"{path}: cannot write the checkpoint ({why}); the previous one is unchanged") from None
    return Path(path)


def check_file(path: Path) -> None:
    """Refuse what is not a complete, uncompressed torch zip before torch reads it: a compressed
    record could inflate far beyond the file's size."""
    if path.is_dir():
        raise BundleError(path, "is a folder, not a bundle file (choose the .pt file inside it)")
    if not path.exists():
        raise BundleError(path, "file not found")
    if not path.is_file():
        raise BundleError(path, "not a regular file")
    try:
        if path.stat().st_size == 0:
            raise BundleError(path, "file is empty (0 bytes)")
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except BundleError:
        raise
    except OSError as e:
        raise BundleError(path, f"cannot be read ({e.strerror or e})") from None
    except Exception:  # noqa: BLE001 - whatever zipfile trips on, the file is not a complete checkpoint
        raise BundleError(path, "truncated or corrupt file (not a complete checkpoint)") from None
    if any(i.compress_type != zipfile.ZIP_STORED for i in infos):
        raise BundleError(path, "not a DAMER bundle (it holds compressed records, which torch.save never writes)")


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load with ``weights_only=True`` and check every field (:func:`check_bundle`); errors are
    :class:`BundleError`. A version-1 bundle comes back as version 2 (its kind named)."""
    import torch

    path = Path(path)
    check_file(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        if "weights only" in first.lower() or "weights_only" in first.lower() or "unsupported global" in str(e).lower():
            raise BundleError(path, "refused: it contains code or Python objects, not just weights "
                                    "(only plain tensors and values are ever loaded)") from None
        raise BundleError(path, f"not a DAMER bundle (corrupt: {first})") from None
    except OSError as e:
        raise BundleError(path, f"cannot be read ({e.strerror or e})") from None
    except Exception as e:  # noqa: BLE001 - weights_only means nothing ran; any failure is a bad file
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        if "zip" in msg.lower() or "central directory" in msg.lower() or isinstance(e, EOFError):
            raise BundleError(path, "truncated or corrupt file (not a complete checkpoint)") from None
        raise BundleError(path, f"cannot be read ({msg})") from None
    return upgrade_version_1(check_bundle(data, path))


def build_models(bundle: dict, path: str | os.PathLike = "<bundle>") -> dict:
    """``{dimension: DAMER}`` in eval mode from a loaded bundle; shape mismatches are BundleErrors."""
    from damer_core.models.network import DAMER, ModelConfig

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
        if model.midend is not None:
            _register_midend(bundle, model, path)
    return models


MIDEND_PREFIX, FRONT_END_PREFIX = "midend.layers.", "front_end."


def midend_state(state_dict: dict) -> dict:
    """The weights of the musicnn layers a DAMER state dict fine-tuned, keyed as
    :func:`damer_core.features.tuned_midend.tuned_weights` keys them."""
    from damer_core.features.tuned_midend import FRONT_END

    mid = {k[len(MIDEND_PREFIX):]: v for k, v in state_dict.items() if k.startswith(MIDEND_PREFIX)}
    return mid | {FRONT_END + k[len(FRONT_END_PREFIX):]: v for k, v in state_dict.items() if k.startswith(FRONT_END_PREFIX)}


def _register_midend(bundle: dict, model, path: str | os.PathLike) -> None:
    """The model's musicnn layers become what the feature config's ``midend`` names (the Mel stream
    of a track is computed through them), once their weights are shown to be those layers."""
    from damer_core.features.tuned_midend import register_tuned_midend, tuned_weights

    digest = register_tuned_midend(tuned_weights(model.midend.layers, model.front_end))
    named = bundle["feature_config"].get("midend", "")
    if named != digest:
        raise BundleError(path, f"feature.midend: {named!r} does not name its musicnn layers' weights ({digest})")
