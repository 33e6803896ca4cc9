"""Fine-tuning musicnn's mid-end inside DAMER (the context-musicnn-tuned preset, docs/SPEC.md
section 5b): which runs may, its own learning rate, and the Mel stream it makes before it learns
(what the network's standardisation is fitted to)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from damer_core.contract.errors import InputError
from damer_core.features.spectra import MUSICNN_TUNED, FeatureConfig
from damer_core.models.network import DAMER
from damer_core.targets import QUADRANT
from damer_core.training.config import TrainConfig


def refuse_unfit_dims(cfg: FeatureConfig, dims: tuple[str, ...]) -> None:
    """A fine-tuned mid-end is one network's (its digest names the bundle's Mel stream,
    FeatureConfig.midend): InputError for networks per dimension, before any data is loaded."""
    if cfg.mel_path == MUSICNN_TUNED and tuple(dims) != (QUADRANT,):
        raise InputError(f"the {cfg.name} preset fine-tunes musicnn's mid-end inside one network: train the joint "
                         "quadrant head (dims [\"quadrant\"]), not one network per dimension")


def mel_stream(midend: torch.nn.Module, packed: np.ndarray, idx: np.ndarray, chunk: int = 64) -> np.ndarray:
    """``[len(idx), 192, T]`` the Mel stream ``midend`` makes of packed windows ``idx``, in order."""
    made = []
    with torch.no_grad():
        for i in range(0, idx.size, chunk):
            made.append(midend.eval()(torch.from_numpy(np.asarray(packed[idx[i:i + chunk]], np.float32))).numpy())
    return np.concatenate(made)


def parameter_groups(model: DAMER, tcfg: TrainConfig) -> list[dict]:
    """Adam's groups: musicnn's mid-end, where DAMER has one, learns at ``tcfg.midend_lr`` (a low
    rate: it starts from trained weights), the rest at ``tcfg.lr``."""
    if model.midend is None:
        return [{"params": list(model.parameters())}]
    tuned = {id(p) for p in model.midend.parameters()}
    return [{"params": [p for p in model.parameters() if id(p) not in tuned]},
            {"params": list(model.midend.parameters()), "lr": tcfg.midend_lr}]


def clip_gradients(optim: torch.optim.Optimizer, max_norm: float) -> None:
    """Each parameter group's gradient norm clipped to ``max_norm`` on its own: the mid-end's
    gradients are hundreds of times DAMER's (its inputs are the front end's large values), and one
    norm over both would shrink every step of the rest of DAMER by as much."""
    for group in optim.param_groups:
        torch.nn.utils.clip_grad_norm_(group["params"], max_norm)


def bundle_feature_config(cfg: FeatureConfig, dims: dict) -> dict:
    """The bundle's feature config: a Mel stream through a mid-end fine-tuned in training names
    that mid-end's weights (FeatureConfig.midend), so a track's features through it are computed
    with them and cached apart from another model's."""
    if cfg.mel_path != MUSICNN_TUNED:
        return cfg.to_dict()
    if not dims:
        raise InputError(f"the {cfg.name} preset tunes a DAMER network's mid-end; a model without one "
                         "takes --preset context-musicnn")
    from damer_core.features.tuned_midend import midend_digest
    from damer_core.models.checkpoint import midend_state

    (entry,) = dims.values()  # one network: the preset trains the joint head only
    return replace(cfg, midend=midend_digest(midend_state(entry["state_dict"]))).to_dict()
