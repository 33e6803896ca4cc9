"""musicnn's front end inside DAMER, fine-tuned with it (FeatureConfig.mel_path "musicnn-full",
docs/SPEC.md section 5b): the patches of a packed training window (their mel power:
damer_core.features.midend_windows.pack_mel_window) through the front end, its frames gathered
into the packed window the mid-end reads (what pack_window cuts from the frozen front end's frames)."""

from __future__ import annotations

import torch

from damer_core.features.midend_windows import GATHER, MEL_PATCHES, MEL_PLACE, MEL_ROWS, MEL_SOURCE
from damer_core.features.musicnn import FRONT_CHANNELS, N_MELS, PATCH_FRAMES, FrontEnd, log_compress, run_front_end
from damer_core.models.network.midend import CounterlessBatchNorm2d, keep_norms_fixed


class MusicnnFrontEnd(FrontEnd):
    """The keys of ``Musicnn``'s front end (``input_bn``, ``timbral``, ``temporal``): the MSD
    weights load into it as they are. Its batch norms keep the MSD statistics, as the mid-end's."""

    def __init__(self) -> None:
        super().__init__(CounterlessBatchNorm2d)

    def train(self, mode: bool = True) -> MusicnnFrontEnd:
        super().train(mode)
        keep_norms_fixed(self)
        return self

    @staticmethod
    def packed(x: torch.Tensor) -> bool:
        """Whether ``x`` holds packed windows of the patches' mel power."""
        return x.dim() == 3 and x.shape[1] == MEL_ROWS

    def forward(self, packed: torch.Tensor) -> torch.Tensor:
        """``[B, MEL_ROWS, COLUMNS]`` -> ``[B, ROWS, COLUMNS]``, the mid-end's packed windows."""
        b, columns = packed.shape[0], packed.shape[2]
        gather = packed[:, GATHER].round().long()  # [B, C]: a column's patch slot * 187 + frame, -1: padding
        slots = torch.arange(MEL_PATCHES, device=packed.device)
        used = ((gather[:, None, :] >= 0) & (gather[:, None, :] // PATCH_FRAMES == slots[None, :, None])).any(dim=2)
        power = packed[:, :GATHER, :PATCH_FRAMES].reshape(b * MEL_PATCHES, N_MELS, PATCH_FRAMES).transpose(1, 2)
        used = used.flatten()  # a third of windows span three patches, the rest two: the empty slot is skipped
        fronts = packed.new_zeros(b * MEL_PATCHES, FRONT_CHANNELS, PATCH_FRAMES)
        # under autocast the front end answers in half precision: stored as the packed windows' own
        fronts[used] = run_front_end(self, log_compress(power[used]).to(packed.dtype)).to(fronts.dtype)
        fronts = fronts.reshape(b, MEL_PATCHES, FRONT_CHANNELS, PATCH_FRAMES).transpose(1, 2).flatten(2)
        picked = fronts.gather(2, gather.clamp_min(0)[:, None, :].expand(-1, FRONT_CHANNELS, -1))
        picked = picked * (gather >= 0)[:, None, :].to(picked.dtype)
        placing = packed[:, MEL_PLACE:MEL_SOURCE + 1].to(picked.dtype)  # PLACE, REAL, SOURCE, in the mid-end's order
        return torch.cat([picked, placing], dim=1).reshape(b, FRONT_CHANNELS + 3, columns)
