"""Maths on the model's outputs shared by training and inference: the Jensen-Shannon divergence
between the two views' class distributions (PCL's reliability in training, the confidence of a
prediction in inference)."""

from __future__ import annotations

import math

import torch

LN2 = math.log(2.0)


def js_divergence(p: torch.Tensor, q: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Eqn 12, per sample, in nats: 0.5 KL(p||M) + 0.5 KL(q||M), M = (p + q) / 2; in [0, ln 2]."""
    m = 0.5 * (p + q)
    kl_pm = (p * (torch.log(p + eps) - torch.log(m + eps))).sum(dim=-1)
    kl_qm = (q * (torch.log(q + eps) - torch.log(m + eps))).sum(dim=-1)
    return (0.5 * kl_pm + 0.5 * kl_qm).clamp(0.0, LN2)


def cuda_amp_dtype() -> torch.dtype:
    """Mixed precision on a GPU, as the paper trains: bfloat16 where the GPU has it (no loss
    scaling needed), float16 elsewhere."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
