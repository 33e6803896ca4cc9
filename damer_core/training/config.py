"""Training settings: the paper's section V-A values as defaults; config goes defaults -> JSON
file -> command-line flags."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from damer_core.configs import from_checked_dict
from damer_core.errors import InputError

ABLATION_MODULES = ("dsaf", "pcl", "saml")
# Fine-tuning a trained model on a few dozen labels: a tenth of the paper's learning rate and few
# epochs, so the labels adjust the base model rather than replace it (tested on generated data).
FINE_TUNE_DEFAULTS = {"epochs": 15, "lr": 1e-4}


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
    # Learned per-band embedding [decision beyond the paper, see DAMER]; False = the paper's
    # literal equations. Not an ablation module: it stays on when the modules are switched off.
    band_embedding: bool = True
    # Regularisation beyond the paper (SPEC section 5), off by default: SpecAugment-style masking of
    # training windows (damer_core.training.augment) and label smoothing of the three heads' CE.
    spec_augment: bool = False
    label_smoothing: float = 0.0
    # ("arousal", "valence"): the paper's one network per dimension; ("quadrant",): one network
    # with the joint 4-way quadrant head (SPEC section 5, damer_core.targets).
    dims: tuple[str, ...] = ("arousal", "valence")
    # True: each window's musical descriptors (damer_core.descriptors) join DAMER's fusion input
    # (ModelConfig.n_descriptors; SPEC section 5); the data set is then loaded with them.
    descriptors: bool = False
    # "best": the epoch with the best validation score; "last": the last epoch, for a recipe of a
    # fixed length chosen by cross-validation (damer_core.crossval), which needs no validation part.
    select_epoch: str = "best"
    seed: int = 0
    test_fraction: float = 0.3
    val_fraction: float = 0.15  # of all tracks, carved from the 70 %: chooses the epoch and the calibration
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
        cfg = from_checked_dict(cls, data, "training-setting")
        cfg.check()
        return cfg

    def check(self) -> None:
        """Refuse settings no run can use, in words."""
        dims = tuple(self.dims)
        if not dims or len(set(dims)) != len(dims) or not (set(dims) <= {"arousal", "valence"} or dims == ("quadrant",)):
            raise InputError(f"dims: expected arousal, valence, both, or quadrant alone, got {', '.join(dims) or 'nothing'}")
        if self.select_epoch not in ("best", "last"):
            raise InputError(f"select_epoch: expected best or last, got {self.select_epoch!r}")

    @classmethod
    def from_file(cls, path: str | Path) -> "TrainConfig":
        path = Path(path)
        try:
            return cls.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, TypeError) as e:
            raise InputError(f"{path.name}: not a valid training config ({e})") from None

    def with_ablation(self, off: list[str]) -> "TrainConfig":
        bad = [m for m in off if m not in ABLATION_MODULES]
        if bad:
            raise InputError(f"unknown module(s) {', '.join(bad)}; choose from {', '.join(ABLATION_MODULES)}")
        return replace(self, **{m: False for m in off})

    @property
    def modules(self) -> str:
        on = [m.upper() for m in ABLATION_MODULES if getattr(self, m)]
        return "+".join(on) if on else "baseline"

    @property
    def always_on(self) -> str:
        """What no ablation switches off: the three heads' cross-entropy, the JS consistency term
        (lambda_cons) and, unless band_embedding is False, the per-band embedding."""
        parts = ["3-head CE", f"JS consistency (x{self.lambda_cons:g})"]
        if self.band_embedding:
            parts.append("band embedding")
        return ", ".join(parts)

    @property
    def description(self) -> str:
        """E.g. 'DSAF+PCL+SAML (always on: 3-head CE, JS consistency (x0.2), band embedding)'."""
        return f"{self.modules} (always on: {self.always_on})"
