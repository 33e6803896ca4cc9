"""A musicnn mid-end fine-tuned inside DAMER (FeatureConfig.mel_path "musicnn-tuned", docs/SPEC.md
section 5b): its weights moved between a bundle and the port, named by their digest
(FeatureConfig.midend), and the port with that mid-end for a track's Mel stream once its model is
loaded (damer_core.models.checkpoint.build_models registers it)."""

from __future__ import annotations

import torch
from torch import nn

from damer_core.features.musicnn import Musicnn, load_musicnn


def midend_weights(layers: nn.Module) -> dict[str, torch.Tensor]:
    """A mid-end's weights and batch-norm statistics (not its step counters: a bundle holds floats only)."""
    return {k: v for k, v in layers.state_dict().items() if not k.endswith("num_batches_tracked")}


def load_midend(layers: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """:func:`midend_weights` into a mid-end; anything missing or left over is a ValueError."""
    # a batch norm adds its counter to the state it loads where absent: never a real mismatch
    missing, unexpected = ([k for k in keys if not k.endswith("num_batches_tracked")]
                           for keys in layers.load_state_dict(state, strict=False))
    if missing or unexpected:
        raise ValueError(f"not musicnn's mid-end ({len(missing)} missing, {len(unexpected)} unexpected weights)")


def load_msd_midend(layers: nn.Module) -> None:
    """The MSD weights' own mid-end into ``layers``: where a fine-tune starts from."""
    load_midend(layers, midend_weights(load_musicnn().midend))


_tuned: dict[str, Musicnn] = {}  # FeatureConfig.midend -> the port with that fine-tuned mid-end


def midend_digest(state: dict[str, torch.Tensor]) -> str:
    """What names a fine-tuned mid-end (FeatureConfig.midend): sha256 of its weights, 16 hex digits."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def register_tuned_midend(state: dict[str, torch.Tensor]) -> str:
    """Make the port with this mid-end (a state dict of ``Musicnn.midend``) what
    :func:`musicnn_for` gives for its digest, which it returns."""
    import copy

    digest = midend_digest(state)
    if digest not in _tuned:
        net = copy.deepcopy(load_musicnn())
        load_midend(net.midend, state)
        _tuned[digest] = net.eval()
    return digest


def musicnn_for(midend: str) -> Musicnn:
    """The port whose mid-end FeatureConfig.midend names: the MSD weights' own where empty."""
    if not midend:
        return load_musicnn()
    if midend not in _tuned:
        raise ValueError(f"the fine-tuned musicnn mid-end {midend} is not loaded: open the model that carries it")
    return _tuned[midend]
