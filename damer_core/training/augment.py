"""SpecAugment-style masking (Park et al. 2019) for training windows: a few random time spans
(shared by both views, which are time-aligned) and a few random bands of each view are replaced
by the band's training mean, which the model's standardisation maps to zero. An extension
beyond the paper (docs/SPEC.md section 5), off unless ``TrainConfig.spec_augment`` is set."""

from __future__ import annotations

import torch


def _span_mask(batch: int, length: int, n_spans: int, max_width: int, device) -> torch.Tensor:
    """[batch, length] True inside ``n_spans`` random spans of 0..max_width cells per sample."""
    pos = torch.arange(length, device=device)[None, :]
    mask = torch.zeros(batch, length, dtype=torch.bool, device=device)
    for _ in range(n_spans):
        width = torch.randint(0, max_width + 1, (batch, 1), device=device)
        start = (torch.rand(batch, 1, device=device) * (length - width + 1)).floor().long()
        mask |= (pos >= start) & (pos < start + width)
    return mask


def spec_augment(mel: torch.Tensor, coch: torch.Tensor, mel_mean: torch.Tensor, coch_mean: torch.Tensor,
                 time_spans: int = 2, time_width: int = 8, band_spans: int = 2,
                 band_fraction: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked copies of ``mel [B, N_mel, T]`` and ``coch [B, N_coch, T]``; means are ``[N, 1]``."""
    b, n_mel, t = mel.shape
    n_coch = coch.shape[1]
    time = _span_mask(b, t, time_spans, time_width, mel.device)[:, None, :]
    mel_bands = _span_mask(b, n_mel, band_spans, max(1, int(band_fraction * n_mel)), mel.device)[:, :, None]
    coch_bands = _span_mask(b, n_coch, band_spans, max(1, int(band_fraction * n_coch)), mel.device)[:, :, None]
    mel = torch.where(time | mel_bands, mel_mean.to(mel.dtype)[None], mel)
    coch = torch.where(time | coch_bands, coch_mean.to(coch.dtype)[None], coch)
    return mel, coch
