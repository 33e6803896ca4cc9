"""Progressive Confidence Labelling (paper section IV-C, Eqns 9-17, Alg. 1 lines 3-5 and 13-15)."""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from damer_core.models.network.maths import js_divergence


def progress_rho(epoch: int, total_epochs: int) -> float:
    """Alg. 1 line 3: rho = (t - 1) / T for 1-based epoch t."""
    return (epoch - 1) / total_epochs


def temperature(epoch: int, total_epochs: int, tau_min: float = 0.7, tau_max: float = 1.5) -> float:
    """Alg. 1 line 4 (Eqn 9): tau_t = tau_min + (1 - rho)(tau_max - tau_min), 1.5 -> 0.7."""
    return tau_min + (1.0 - progress_rho(epoch, total_epochs)) * (tau_max - tau_min)


def threshold(epoch: int, total_epochs: int, theta_0: float = 0.65, theta_min: float = 0.35) -> float:
    """Eqn 16 with the configured values: theta_t linear from theta_0 towards theta_min (docs/SPEC.md)."""
    return theta_0 - (theta_0 - theta_min) * progress_rho(epoch, total_epochs)


class PCLResult(NamedTuple):
    loss: torch.Tensor  # L_PL (Eqn 17), 0 when nothing is selected
    consistency: torch.Tensor  # mean JS(p_mel, p_coch) (Eqn 23), with gradient
    reliability: torch.Tensor  # r per sample (Eqn 13), detached
    confidence: torch.Tensor  # c per sample (Eqn 15), detached
    mask: torch.Tensor  # selected samples (c >= theta)
    pseudo: torch.Tensor  # pseudo labels argmax p_fuse
    strength: torch.Tensor  # mean max p_fuse over selected samples (Fig. 5 "pseudo-label strength")


def pcl(z_mel: torch.Tensor, z_coch: torch.Tensor, z_fuse: torch.Tensor, tau: float, theta: float) -> PCLResult:
    p_mel = F.softmax(z_mel.float() / tau, dim=-1)  # Eqn 10
    p_coch = F.softmax(z_coch.float() / tau, dim=-1)  # Eqn 11
    js = js_divergence(p_mel, p_coch)
    with torch.no_grad():
        r = torch.exp(-js)  # Eqn 13: r in [0.5, 1]
        p_fuse = 0.5 * (p_mel + p_coch)  # Eqn 14
        top, pseudo = p_fuse.max(dim=-1)
        c = r * top  # Eqn 15
        mask = c >= theta  # selection, Alg. 1 line 15
    if mask.any():
        ce = F.cross_entropy(z_fuse[mask].float(), pseudo[mask], reduction="none")
        loss = (r[mask] * ce).mean()  # Eqn 17
        strength = top[mask].mean()
    else:
        loss = z_fuse.sum() * 0.0
        strength = torch.zeros((), device=z_fuse.device)
    return PCLResult(loss, js.mean(), r, c, mask, pseudo, strength)
