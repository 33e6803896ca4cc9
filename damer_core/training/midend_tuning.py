"""Fine-tuning musicnn's layers inside DAMER (the context-musicnn-tuned preset: its mid-end;
context-musicnn-full: its front end too; docs/SPEC.md section 5b): which runs may, their own
learning rate, and the Mel stream they make before they learn (what the network's
standardisation is fitted to)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from damer_core.contract.errors import InputError
from damer_core.features.spectra import TUNED_PATHS, FeatureConfig
from damer_core.models.network import DAMER
from damer_core.targets import QUADRANT
from damer_core.training.config import TrainConfig


def refuse_unfit_dims(cfg: FeatureConfig, dims: tuple[str, ...]) -> None:
    """Fine-tuned musicnn layers are one network's (their digest names the bundle's Mel stream,
    FeatureConfig.midend): InputError for networks per dimension, before any data is loaded."""
    if cfg.mel_path in TUNED_PATHS and tuple(dims) != (QUADRANT,):
        raise InputError(f"the {cfg.name} preset fine-tunes musicnn inside one network: train the joint "
                         "quadrant head (--dims quadrant), not one network per dimension")


def mel_stream(model: DAMER, packed: np.ndarray, idx: np.ndarray, device: torch.device | str = "cpu") -> np.ndarray:
    """``[len(idx), 192, T]`` the Mel stream ``model``'s musicnn layers (on ``device``) make of
    packed windows ``idx``, in order."""
    from damer_core.models.network.heads import windows_at_once

    made = []
    model.eval()
    chunk = windows_at_once(model, 64)
    with torch.no_grad():
        for i in range(0, idx.size, chunk):
            windows = torch.from_numpy(np.asarray(packed[idx[i:i + chunk]], np.float32)).to(device)
            made.append(model.unpack(windows).cpu().numpy())
    return np.concatenate(made)


def parameter_groups(model: DAMER, tcfg: TrainConfig) -> list[dict]:
    """Adam's groups: musicnn's layers, where DAMER has them, learn at ``tcfg.midend_lr`` (a low
    rate: they start from trained weights), the rest at ``tcfg.lr``."""
    musicnn = [m for m in (model.front_end, model.midend) if m is not None]
    if not musicnn:
        return [{"params": list(model.parameters())}]
    tuned = [p for m in musicnn for p in m.parameters()]
    ids = {id(p) for p in tuned}
    return [{"params": [p for p in model.parameters() if id(p) not in ids]},
            {"params": tuned, "lr": tcfg.midend_lr}]


def clip_gradients(optim: torch.optim.Optimizer, max_norm: float) -> None:
    """Each parameter group's gradient norm clipped to ``max_norm`` on its own: musicnn's
    gradients are hundreds of times DAMER's (its inputs are the front end's large values), and one
    norm over both would shrink every step of the rest of DAMER by as much."""
    for group in optim.param_groups:
        torch.nn.utils.clip_grad_norm_(group["params"], max_norm)


def bundle_feature_config(cfg: FeatureConfig, dims: dict) -> dict:
    """The bundle's feature config: a Mel stream through musicnn layers fine-tuned in training
    names their weights (FeatureConfig.midend), so a track's features through them are computed
    with them and cached apart from another model's."""
    if cfg.mel_path not in TUNED_PATHS:
        return cfg.to_dict()
    if not dims:
        raise InputError(f"the {cfg.name} preset tunes musicnn inside a DAMER network; a model without one "
                         "takes --preset context-musicnn")
    from damer_core.features.tuned_midend import midend_digest
    from damer_core.models.checkpoint import midend_state

    (entry,) = dims.values()  # one network: the preset trains the joint head only
    return replace(cfg, midend=midend_digest(midend_state(entry["state_dict"]))).to_dict()
