"""Style-Anchored Memory Learning (paper section IV-D, Eqns 18-20; docs/SPEC.md section 5)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


class MemoryQueue:
    """K L2-normalised fused features with their labels; a circular pointer replaces the oldest
    (Eqn 18). Kept as tensors so it travels inside a resumable checkpoint."""

    def __init__(self, size: int = 512, dim: int = 256, device: torch.device | str = "cpu", n_classes: int = 2):
        self.size = size
        self.n_classes = n_classes
        self.features = torch.zeros(size, dim, device=device)
        self.labels = torch.full((size,), -1, dtype=torch.long, device=device)
        self.ptr = 0
        self.filled = 0

    def enqueue(self, features: torch.Tensor, labels: torch.Tensor) -> None:
        feats = F.normalize(features.detach().float(), dim=-1)
        labels = labels.detach().long()
        n = feats.shape[0]
        if n >= self.size:
            feats, labels, n = feats[-self.size:], labels[-self.size:], self.size
        idx = (torch.arange(n, device=feats.device) + self.ptr) % self.size
        self.features[idx] = feats
        self.labels[idx] = labels
        self.ptr = (self.ptr + n) % self.size
        self.filled = min(self.size, self.filled + n)

    def keys(self) -> tuple[torch.Tensor, torch.Tensor]:
        valid = self.labels >= 0
        return self.features[valid], self.labels[valid]

    def label_entropy(self) -> float:
        """Entropy of the queue's label distribution in nats (ln 2 = 0.693 when two classes are balanced)."""
        _, labels = self.keys()
        if labels.numel() == 0:
            return 0.0
        p = torch.bincount(labels, minlength=self.n_classes).float() / labels.numel()
        p = p[p > 0]
        return float(-(p * p.log()).sum())

    def class_coverage(self) -> list[float]:
        _, labels = self.keys()
        if labels.numel() == 0:
            return [0.0] * self.n_classes
        return (torch.bincount(labels, minlength=self.n_classes).float() / labels.numel()).tolist()

    def state_dict(self) -> dict:
        return {"features": self.features.cpu(), "labels": self.labels.cpu(),
                "ptr": torch.tensor(self.ptr), "filled": torch.tensor(self.filled)}

    def load_state_dict(self, state: dict) -> None:
        self.features.copy_(state["features"])
        self.labels.copy_(state["labels"])
        self.ptr, self.filled = int(state["ptr"]), int(state["filled"])


def supervised_info_nce(queries: torch.Tensor, labels: torch.Tensor, keys: torch.Tensor,
                        key_labels: torch.Tensor, tau: float = 0.07) -> torch.Tensor:
    """Eqns 19-20 with the per-query sum averaged over its positives (docs/SPEC.md): for each query with at
    least one same-class key, -mean_{j in P(q)} log softmax_j(q . k / tau). 0 without keys."""
    if keys.numel() == 0:
        return queries.sum() * 0.0
    q = F.normalize(queries.float(), dim=-1)
    log_prob = F.log_softmax(q @ keys.t() / tau, dim=-1)  # [B, K]
    positives = (labels[:, None] == key_labels[None, :]).float()
    n_pos = positives.sum(dim=-1)
    has = n_pos > 0
    if not has.any():
        return queries.sum() * 0.0
    per_query = -(positives * log_prob).sum(dim=-1)[has] / n_pos[has]
    return per_query.mean()


class MomentumEncoder:
    """An EMA copy of the network that produces the queue's keys, as in MoCo (docs/SPEC.md decision):
    theta_k <- m theta_k + (1 - m) theta_q after every step."""

    def __init__(self, model: nn.Module, momentum: float = 0.95):
        self.momentum = momentum
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        for k, q in zip(self.model.parameters(), model.parameters()):
            k.mul_(self.momentum).add_(q.detach(), alpha=1.0 - self.momentum)
        for buffer, source in zip(self.model.buffers(), model.buffers()):
            buffer.copy_(source)

    @torch.no_grad()
    def keys(self, mel: torch.Tensor, coch: torch.Tensor, descriptors: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(mel, coch, descriptors).fused
