"""musicnn's mid-end inside DAMER, fine-tuned with it (FeatureConfig.mel_path "musicnn-tuned",
docs/SPEC.md section 5b): the Mel stream's 192 channels made from the front end's frames of a
packed training window (damer_core.features.midend_windows), then averaged onto the window's T
frames as :class:`damer_core.features.musicnn.MidEndFrames` averages them."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from damer_core.features.midend_windows import PLACE, REAL, ROWS, SOURCE
from damer_core.features.musicnn import FRONT_CHANNELS, MidEndLayer, run_midend


class CounterlessBatchNorm1d(nn.BatchNorm1d):
    """A batch norm without its step counter, which eval mode never reads: a bundle holds floats
    only, and a state dict without the counter loads as it is (torch would add one)."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__(num_features, eps=eps)
        self.register_buffer("num_batches_tracked", None)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        nn.Module._load_from_state_dict(self, *args, **kwargs)


class CounterlessBatchNorm2d(nn.BatchNorm2d):
    """:class:`CounterlessBatchNorm1d` for the front end's 2-d batch norms."""

    def __init__(self, num_features: int, eps: float = 1e-5):
        super().__init__(num_features, eps=eps)
        self.register_buffer("num_batches_tracked", None)

    def _load_from_state_dict(self, *args, **kwargs) -> None:
        nn.Module._load_from_state_dict(self, *args, **kwargs)


def keep_norms_fixed(module: nn.Module) -> None:
    """Every batch norm in ``module`` back in eval mode: musicnn's layers keep the MSD running
    statistics while DAMER trains them (a fine-tune at a low rate moves the weights, not what the
    next layer was trained to expect)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


class MusicnnMidEnd(nn.Module):
    """``layers`` has the keys of ``Musicnn.midend``: the MSD weights load into it as they are.
    Its batch norms keep the MSD running statistics (they stay in eval mode while DAMER trains):
    a fine-tune at a low rate moves the weights, not what the next layer was trained to expect."""

    def __init__(self, n_frames: int):
        super().__init__()
        self.n_frames = n_frames
        norm = CounterlessBatchNorm1d
        self.layers = nn.ModuleList([MidEndLayer(FRONT_CHANNELS, 64, norm), MidEndLayer(64, 64, norm),
                                     MidEndLayer(64, 64, norm)])

    def train(self, mode: bool = True) -> MusicnnMidEnd:
        super().train(mode)
        keep_norms_fixed(self)
        return self

    @staticmethod
    def packed(x: torch.Tensor) -> bool:
        """Whether ``x`` holds packed windows (not Mel-stream windows already through a mid-end)."""
        return x.dim() == 3 and x.shape[1] == ROWS

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        """``[B, ROWS, COLUMNS]`` packed windows -> ``[B, 192, T]``."""
        out = run_midend(self.layers, packed[:, :FRONT_CHANNELS], packed[:, REAL:REAL + 1])  # [B, 192, C]
        place = packed[:, PLACE].round().long() + 1  # 0: counts nowhere
        weights = F.one_hot(place.clamp(0, self.n_frames), self.n_frames + 1)[..., 1:].to(out.dtype)  # [B, C, T]
        means = (out @ weights) / weights.sum(dim=1, keepdim=True).clamp_min(1.0)
        source = packed[:, SOURCE, :self.n_frames].round().long()
        return means.gather(2, source[:, None, :].expand(-1, means.shape[1], -1))
