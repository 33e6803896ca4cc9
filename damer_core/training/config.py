"""Training settings: the paper's section V-A values as defaults; config goes defaults -> JSON
file -> command-line flags."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from damer_core.configs import from_checked_dict

ABLATION_MODULES = ("dsaf", "pcl", "saml")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 80
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-4
    grad_clip: float = 5.0
    lambda_cls: float = 1.0
    lambda_pl: float = 0.8
    lambda_cons: float = 0.2
    lambda_cont: float = 0.1
    tau_min: float = 0.7
    tau_max: float = 1.5
    theta_0: float = 0.65
    theta_min: float = 0.35
    queue_size: int = 512
    momentum: float = 0.95
    tau_cont: float = 0.07
    dropout: float = 0.1
    dsaf: bool = True
    pcl: bool = True
    saml: bool = True
    dims: tuple[str, ...] = ("arousal", "valence")
    seed: int = 0
    test_fraction: float = 0.3
    amp: bool = True  # mixed precision, CUDA only

    def to_dict(self) -> dict:
        d = asdict(self)
        d["dims"] = list(self.dims)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        data = dict(data)
        if "dims" in data:
            data["dims"] = tuple(data["dims"])
        return from_checked_dict(cls, data, "training-setting")

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise ValueError(f"{path.name}: not a valid training config ({e})") from None

    def with_ablation(self, off: list[str]) -> "TrainConfig":
        bad = [m for m in off if m not in ABLATION_MODULES]
        if bad:
            raise ValueError(f"unknown module(s) {', '.join(bad)}; choose from {', '.join(ABLATION_MODULES)}")
        return replace(self, **{m: False for m in off})

    @property
    def modules(self) -> str:
        on = [m.upper() for m in ABLATION_MODULES if getattr(self, m)]
        return "+".join(on) if on else "baseline"
