"""musicnn's layers fine-tuned inside DAMER (FeatureConfig.mel_path "musicnn-tuned": the mid-end;
"musicnn-full": the front end too; docs/SPEC.md section 5b): their weights moved between a bundle
and the port, named by their digest (FeatureConfig.midend), and the port with those layers for a
track's Mel stream once its model is loaded (damer_core.models.checkpoint.build_models registers it)."""

from __future__ import annotations

import functools

import torch
from torch import nn

from damer_core.features.musicnn import FrontEnd, Musicnn, load_musicnn

FRONT_END = "front_end."  # the front end's weights among musicnn's tuned layers ("musicnn-full")


def midend_weights(layers: nn.Module) -> dict[str, torch.Tensor]:
    """A mid-end's (or front end's) weights and batch-norm statistics (not its step counters: a
    bundle holds floats only)."""
    return {k: v for k, v in layers.state_dict().items() if not k.endswith("num_batches_tracked")}


@functools.cache
def _front_end_keys() -> frozenset[str]:
    return frozenset(midend_weights(FrontEnd()))


def front_end_weights(net: nn.Module) -> dict[str, torch.Tensor]:
    """The front end's weights of a :class:`FrontEnd` (a whole ``Musicnn`` too), keyed as its own."""
    return {k: v for k, v in midend_weights(net).items() if k in _front_end_keys()}


def tuned_weights(midend: nn.Module, front_end: nn.Module | None = None) -> dict[str, torch.Tensor]:
    """The weights of musicnn's layers a DAMER trains: its mid-end's (keyed as ``Musicnn.midend``'s)
    and, where it trains the front end too, the front end's (keyed as ``Musicnn``'s, after FRONT_END)."""
    front = {} if front_end is None else {FRONT_END + k: v for k, v in front_end_weights(front_end).items()}
    return midend_weights(midend) | front


def load_tuned(midend: nn.Module, front_end: nn.Module | None, state: dict[str, torch.Tensor]) -> None:
    """:func:`tuned_weights` into a mid-end and (where given) a front end (a whole ``Musicnn``'s
    will do); anything missing or left over is a ValueError."""
    front = {k[len(FRONT_END):]: v for k, v in state.items() if k.startswith(FRONT_END)}
    if front and front_end is None:
        raise ValueError(f"not musicnn's mid-end ({len(front)} front-end weights besides)")
    if front_end is not None and set(front) != _front_end_keys():
        raise ValueError(f"not musicnn's front end ({len(set(front) & _front_end_keys())} of its "
                         f"{len(_front_end_keys())} weights)")
    # a batch norm adds its counter to the state it loads where absent: never a real mismatch
    missing, unexpected = ([k for k in keys if not k.endswith("num_batches_tracked")]
                           for keys in midend.load_state_dict({k: v for k, v in state.items() if not k.startswith(FRONT_END)},
                                                              strict=False))
    if missing or unexpected:
        raise ValueError(f"not musicnn's mid-end ({len(missing)} missing, {len(unexpected)} unexpected weights)")
    if front_end is not None:
        front_end.load_state_dict(front, strict=False)  # every front-end key is there: checked above


def load_msd_layers(midend: nn.Module, front_end: nn.Module | None = None) -> None:
    """The MSD weights' own mid-end (and front end) into a DAMER's: where a fine-tune starts from."""
    msd = load_musicnn()
    load_tuned(midend, front_end, tuned_weights(msd.midend, None if front_end is None else msd))


_tuned: dict[str, Musicnn] = {}  # FeatureConfig.midend -> the port with those fine-tuned layers


def midend_digest(state: dict[str, torch.Tensor]) -> str:
    """What names musicnn's fine-tuned layers (FeatureConfig.midend): sha256 of their weights
    (:func:`tuned_weights`), 16 hex digits."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(state):
        h.update(name.encode())
        h.update(state[name].detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def register_tuned_midend(state: dict[str, torch.Tensor]) -> str:
    """Make the port with these layers (:func:`tuned_weights`) what :func:`musicnn_for` gives for
    their digest, which it returns."""
    import copy

    digest = midend_digest(state)
    if digest not in _tuned:
        net = copy.deepcopy(load_musicnn())
        load_tuned(net.midend, net if any(k.startswith(FRONT_END) for k in state) else None, state)
        _tuned[digest] = net.eval()
    return digest


def musicnn_for(midend: str) -> Musicnn:
    """The port with the fine-tuned layers FeatureConfig.midend names: the MSD weights' own where empty."""
    if not midend:
        return load_musicnn()
    if midend not in _tuned:
        raise ValueError(f"the fine-tuned musicnn layers {midend} are not loaded: open the model that carries them")
    return _tuned[midend]
