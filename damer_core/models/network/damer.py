"""DAMER for one emotion dimension (paper section IV-B, docs/SPEC.md section 5).

Read next to the paper: Eqns 1-2 are the per-token projections, 3-5 the bidirectional
multi-head cross-attention, 6-7 residual + LayerNorm, 8 the GELU feed-forward network; Alg. 1
lines 10-12 are mean-pooling, the FusionMLP and the three classifier heads.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import nn

from damer_core.configs import from_checked_dict
from damer_core.models.network.front_end import MusicnnFrontEnd
from damer_core.models.network.midend import MusicnnMidEnd


@dataclass(frozen=True)
class ModelConfig:
    n_frames: int = 87  # T: each token is one band's T-frame time vector (read from the FeatureConfig)
    n_mel: int = 128  # N_Mel tokens
    n_coch: int = 84  # N_Coch tokens
    d_model: int = 128  # D
    n_layers: int = 2  # L
    n_heads: int = 4  # H
    ffn_mult: int = 4
    dropout: float = 0.1
    fusion_dim: int = 256  # D_f
    n_classes: int = 2
    cross_attention: bool = True  # DSAF; off: each stream attends only to itself (ablation)
    band_embedding: bool = True  # learned per-band (token-position) embedding; see DAMER docstring
    n_descriptors: int = 0  # D_d > 0: the window's musical descriptors join the fusion input; see DAMER docstring
    musicnn_midend: bool = False  # the Mel stream's input is musicnn's front end, its mid-end is part of DAMER
    musicnn_front_end: bool = False  # with musicnn_midend: the front end is part of DAMER too (mel power input)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        return from_checked_dict(cls, data, "model-config")


class ModelOutput(NamedTuple):
    z_mel: torch.Tensor  # [B, 2] logits of the Mel head
    z_coch: torch.Tensor  # [B, 2] logits of the cochleogram head
    z_fuse: torch.Tensor  # [B, 2] logits of the fused head
    fused: torch.Tensor  # [B, D_f] fused representation (SAML's query)


class FeedForward(nn.Module):
    """Eqn 8: FFN(x) = Linear_2(GELU(Linear_1(x))), expansion x4."""

    def __init__(self, d: int, mult: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, d * mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(d * mult, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class StreamBlock(nn.Module):
    """One stream's half of a cross-view layer: Eqn 6 then Eqn 7."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn = nn.MultiheadAttention(cfg.d_model, cfg.n_heads, dropout=cfg.dropout, batch_first=True)
        self.norm1 = nn.LayerNorm(cfg.d_model)
        self.ffn = FeedForward(cfg.d_model, cfg.ffn_mult, cfg.dropout)
        self.norm2 = nn.LayerNorm(cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)

    def forward(self, h: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        attended, _ = self.attn(h, context, context, need_weights=False)  # Eqns 3-5: Q = h, K = V = context
        h = self.norm1(h + self.drop(attended))  # Eqn 6
        return self.norm2(h + self.drop(self.ffn(h)))  # Eqn 7


class CrossViewLayer(nn.Module):
    """Mel <- Coch and Coch <- Mel attention (Eqns 3 and 4), both from the layer's inputs."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cross = cfg.cross_attention
        self.mel = StreamBlock(cfg)
        self.coch = StreamBlock(cfg)

    def forward(self, h_mel: torch.Tensor, h_coch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.cross:
            return self.mel(h_mel, h_coch), self.coch(h_coch, h_mel)
        return self.mel(h_mel, h_mel), self.coch(h_coch, h_coch)


class DAMER(nn.Module):
    """Input: Mel ``[B, N_Mel, T]`` and cochleogram ``[B, N_Coch, T]`` as computed by
    :mod:`damer_core.features.spectra`; per-band standardisation (train-set statistics, kept as buffers so
    they travel inside the checkpoint) is applied first.

    Band embedding [decision, beyond the paper]: attention and mean-pooling are blind to token
    order, so without a position signal the model could not tell which frequency band a token is
    (a pitch shift would look like a permutation). A learned embedding per band, added after the
    projection as in standard Transformers, restores it; ``band_embedding=False`` gives the
    paper's literal equations.

    Musical descriptors [decision, beyond the paper, docs/SPEC.md section 5]: with ``n_descriptors`` > 0 the
    FusionMLP's input is [z_m || z_c || d], d the window's standardised musical descriptors
    (damer_core.features.descriptors, statistics kept as buffers), so the fused head (and SAML's query) sees
    the tonal and rhythmic cues the spectrogram streams miss; the Mel and cochleogram heads, and
    with them PCL's agreement, stay as in the paper.

    musicnn's mid-end [decision, docs/SPEC.md section 5b]: with ``musicnn_midend`` the Mel input
    may be packed front-end windows (damer_core.features.midend_windows), which ``midend`` turns
    into the Mel stream's ``[B, 192, T]``; a Mel-stream window through the same mid-end is taken
    as it is (a trajectory's windows, cut from a track's frames). With ``musicnn_front_end`` the
    packed windows may hold the patches' mel power, which ``front_end`` first turns into the former."""

    # the per-band standardisation, registered as buffers (they travel inside the checkpoint)
    mel_mean: torch.Tensor
    mel_std: torch.Tensor
    coch_mean: torch.Tensor
    coch_std: torch.Tensor
    desc_mean: torch.Tensor
    desc_std: torch.Tensor

    def __init__(self, cfg: ModelConfig = ModelConfig()):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("mel_mean", torch.zeros(cfg.n_mel, 1))
        self.register_buffer("mel_std", torch.ones(cfg.n_mel, 1))
        self.register_buffer("coch_mean", torch.zeros(cfg.n_coch, 1))
        self.register_buffer("coch_std", torch.ones(cfg.n_coch, 1))
        self.front_end = MusicnnFrontEnd() if cfg.musicnn_front_end else None
        self.midend = MusicnnMidEnd(cfg.n_frames) if cfg.musicnn_midend else None
        self.proj_mel = nn.Linear(cfg.n_frames, cfg.d_model)  # Eqn 1: h_i = W_Mel x_i + b_Mel
        self.proj_coch = nn.Linear(cfg.n_frames, cfg.d_model)  # Eqn 2
        if cfg.band_embedding:
            self.band_mel = nn.Parameter(torch.zeros(cfg.n_mel, cfg.d_model))
            self.band_coch = nn.Parameter(torch.zeros(cfg.n_coch, cfg.d_model))
            nn.init.normal_(self.band_mel, std=1.0)
            nn.init.normal_(self.band_coch, std=1.0)
        self.layers = nn.ModuleList(CrossViewLayer(cfg) for _ in range(cfg.n_layers))
        if cfg.n_descriptors:
            self.register_buffer("desc_mean", torch.zeros(cfg.n_descriptors))
            self.register_buffer("desc_std", torch.ones(cfg.n_descriptors))
        self.fusion = nn.Sequential(  # FusionMLP([z_m || z_c (|| d)]) -> D_f
            nn.Linear(2 * cfg.d_model + cfg.n_descriptors, cfg.fusion_dim), nn.GELU(), nn.Dropout(cfg.dropout),
            nn.Linear(cfg.fusion_dim, cfg.fusion_dim),
        )
        self.head_mel = nn.Linear(cfg.d_model, cfg.n_classes)
        self.head_coch = nn.Linear(cfg.d_model, cfg.n_classes)
        self.head_fuse = nn.Linear(cfg.fusion_dim, cfg.n_classes)

    def set_normalisation(self, mel_mean, mel_std, coch_mean, coch_std) -> None:
        for name, value in (("mel_mean", mel_mean), ("mel_std", mel_std), ("coch_mean", coch_mean), ("coch_std", coch_std)):
            t = torch.as_tensor(value, dtype=torch.float32).reshape(-1, 1)
            if name.endswith("std"):
                t = t.clamp_min(1e-6)
            getattr(self, name).copy_(t)

    def set_descriptor_normalisation(self, mean, std) -> None:
        self.desc_mean.copy_(torch.as_tensor(mean, dtype=torch.float32).reshape(-1))
        self.desc_std.copy_(torch.as_tensor(std, dtype=torch.float32).reshape(-1).clamp_min(1e-6))

    def unpack(self, mel: torch.Tensor) -> torch.Tensor:
        """The Mel stream of packed training windows, through the musicnn layers DAMER trains;
        a Mel-stream window as it is."""
        if self.front_end is not None and self.front_end.packed(mel):
            mel = self.front_end(mel)
        if self.midend is not None and self.midend.packed(mel):
            mel = self.midend(mel)
        return mel

    def forward(self, mel: torch.Tensor, coch: torch.Tensor, descriptors: torch.Tensor | None = None) -> ModelOutput:
        if (descriptors is None) != (self.cfg.n_descriptors == 0) or (
                descriptors is not None and descriptors.shape[1:] != (self.cfg.n_descriptors,)):
            got = "none" if descriptors is None else f"{tuple(descriptors.shape)}"
            raise ValueError(f"expected musical descriptors [B, {self.cfg.n_descriptors}] (none when 0), got {got}")
        mel = self.unpack(mel)
        if mel.shape[1:] != (self.cfg.n_mel, self.cfg.n_frames) or coch.shape[1:] != (self.cfg.n_coch, self.cfg.n_frames):
            raise ValueError(
                f"expected Mel [B, {self.cfg.n_mel}, {self.cfg.n_frames}] and cochleogram [B, {self.cfg.n_coch}, "
                f"{self.cfg.n_frames}], got {tuple(mel.shape)} and {tuple(coch.shape)}")
        h_mel = self.proj_mel((mel - self.mel_mean) / self.mel_std)
        h_coch = self.proj_coch((coch - self.coch_mean) / self.coch_std)
        if self.cfg.band_embedding:
            h_mel, h_coch = h_mel + self.band_mel, h_coch + self.band_coch
        for layer in self.layers:  # stacked L times
            h_mel, h_coch = layer(h_mel, h_coch)
        z_m, z_c = h_mel.mean(dim=1), h_coch.mean(dim=1)  # AvgPool over tokens
        parts = [z_m, z_c]
        if descriptors is not None:
            # clamped: one descriptor far outside the training range (odd audio) cannot swamp the fusion
            parts.append(((descriptors - self.desc_mean) / self.desc_std).clamp(-6.0, 6.0))
        fused = self.fusion(torch.cat(parts, dim=-1))
        return ModelOutput(self.head_mel(z_m), self.head_coch(z_c), self.head_fuse(fused), fused)
