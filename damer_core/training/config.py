"""Training settings: the paper's section V-A values as defaults; config goes defaults -> JSON
file -> command-line flags."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from damer_core.configs import from_checked_dict
from damer_core.contract.dimensions import DIMENSIONS
from damer_core.contract.errors import InputError

ABLATION_MODULES = ("dsaf", "pcl", "saml")
# Fine-tuning a trained model on a few dozen labels: a tenth of the paper's learning rate and few
# epochs, so the labels adjust the base model rather than replace it (tested on generated data).
# A network with a fine-tuned musicnn mid-end keeps it learning at a tenth of that again.
FINE_TUNE_DEFAULTS: dict[str, Any] = {"epochs": 15, "lr": 1e-4, "midend_lr": 1e-5}
SEED_MAX = 2**32 - 1  # numpy's and torch's seeds: 0 .. 2^32 - 1

# Every number a run takes: its type and the values that make sense, in words for the message.
_unit = (lambda x: 0 <= x < 1, "from 0 up to (not including) 1")
_weight = (lambda x: 0 <= x <= 100, "from 0 to 100")
_positive = (lambda x: 0 < x <= 100, "above 0, at most 100")
RULES: dict[str, tuple[type, Callable[[float], bool], str]] = {
    "epochs": (int, lambda x: 1 <= x <= 100_000, "from 1 to 100000"),
    "batch_size": (int, lambda x: 1 <= x <= 65_536, "from 1 to 65536"),
    "lr": (float, lambda x: 0 < x <= 10, "above 0, at most 10"),
    "midend_lr": (float, lambda x: 0 < x <= 10, "above 0, at most 10"),
    "weight_decay": (float, lambda x: 0 <= x <= 10, "from 0 to 10"),
    "grad_clip": (float, lambda x: 0 < x <= 1e6, "above 0"),
    "lambda_cls": (float, *_weight), "lambda_pl": (float, *_weight), "lambda_cons": (float, *_weight),
    "lambda_cont": (float, *_weight),
    "tau_min": (float, *_positive), "tau_max": (float, *_positive), "tau_cont": (float, *_positive),
    "theta_0": (float, lambda x: 0 <= x <= 1, "from 0 to 1"), "theta_min": (float, lambda x: 0 <= x <= 1, "from 0 to 1"),
    "queue_size": (int, lambda x: 1 <= x <= 1_000_000, "from 1 to 1000000"),
    "momentum": (float, *_unit), "dropout": (float, *_unit), "label_smoothing": (float, *_unit),
    "seed": (int, lambda x: 0 <= x <= SEED_MAX, f"from 0 to {SEED_MAX} (2^32 - 1)"),
    "test_fraction": (float, *_unit), "val_fraction": (float, *_unit),
}


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 80
    batch_size: int = 32
    lr: float = 1e-3
    # musicnn's layers where DAMER fine-tunes them (context-musicnn-tuned: the mid-end;
    # context-musicnn-full: the front end too): a tenth of ``lr``, since they start from trained
    # weights [decision, docs/SPEC.md section 5b]
    midend_lr: float = 1e-4
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
    # Regularisation beyond the paper (docs/SPEC.md section 5), off by default: SpecAugment-style masking of
    # training windows (damer_core.training.augment) and label smoothing of the three heads' CE.
    spec_augment: bool = False
    label_smoothing: float = 0.0
    # ("arousal", "valence"): the paper's one network per dimension; ("quadrant",): one network
    # with the joint 4-way quadrant head (docs/SPEC.md section 5, damer_core.targets).
    dims: tuple[str, ...] = DIMENSIONS
    # True: each window's musical descriptors (damer_core.features.descriptors) join DAMER's fusion input
    # (ModelConfig.n_descriptors; docs/SPEC.md section 5); the data set is then loaded with them.
    descriptors: bool = False
    # "best": the epoch with the best validation score; "last": the last epoch, for a recipe of a
    # fixed length chosen by cross-validation (damer_core.evaluation.crossval), which needs no validation part.
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
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        if isinstance(data.get("dims"), list):
            data["dims"] = tuple(data["dims"])  # anything else is named by check()
        cfg = from_checked_dict(cls, data, "training-setting")
        cfg.check()
        return cfg

    def check(self) -> None:
        """Refuse settings no run can use: one line per problem, each naming the setting. The one
        check for flags, ``--config`` files and the app's training panel, before any work."""
        problems = self.problems()
        if problems:
            raise InputError("\n".join(problems))

    def problems(self) -> list[str]:
        """What is wrong with these settings, one line each (empty: a run can use them)."""
        problems = [p for f in fields(self) if (p := _field_problem(f.name, getattr(self, f.name)))]
        if problems:
            return problems
        if self.tau_min > self.tau_max:
            problems.append(f"tau_min: {self.tau_min:g} is above tau_max {self.tau_max:g}")
        if self.theta_min > self.theta_0:
            problems.append(f"theta_min: {self.theta_min:g} is above theta_0 {self.theta_0:g}")
        if self.test_fraction + self.val_fraction >= 1:
            problems.append(f"test_fraction + val_fraction: {self.test_fraction:g} + {self.val_fraction:g} leaves "
                            "no tracks to train on (their sum must be below 1)")
        return problems

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """A JSON file of settings over the defaults; each bad value is named with the file."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as e:
            raise InputError(f"{path.name}: not a valid training config ({one_line_reason(e)})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path.name}: not a valid training config (expected a JSON object of settings)")
        try:
            return cls.from_dict(data)
        except (InputError, TypeError) as e:
            raise InputError("\n".join(f"{path.name}: {line}" for line in str(e).splitlines())) from None

    def with_ablation(self, off: list[str]) -> TrainConfig:
        bad = [m for m in off if m not in ABLATION_MODULES]
        if bad:
            raise InputError(f"unknown module(s) {', '.join(bad)}; choose from {', '.join(ABLATION_MODULES)}")
        switched_off: dict[str, Any] = {m: False for m in off}
        return replace(self, **switched_off)

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


def one_line_reason(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _field_problem(name: str, value: object) -> str:
    """Why ``value`` cannot be the setting ``name`` ("" when it can)."""
    from damer_core.contract.safe_text import shown

    default = getattr(TrainConfig, name)
    if name == "dims":
        dims = tuple(value) if isinstance(value, (list, tuple)) else ()
        if (not dims or not all(isinstance(d, str) for d in dims) or len(set(dims)) != len(dims)
                or not (set(dims) <= {"arousal", "valence"} or dims == ("quadrant",))):
            return f"dims: expected arousal, valence, both, or quadrant alone, got {shown(value, 80)}"
        return ""
    if name == "select_epoch":
        return "" if value in ("best", "last") else f"select_epoch: expected best or last, got {shown(repr(value), 80)}"
    if isinstance(default, bool):
        return "" if isinstance(value, bool) else f"{name}: expected true or false, got {shown(repr(value), 80)}"
    kind, ok, words = RULES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and not isinstance(value, int)):
        return f"{name}: expected {'a whole number' if kind is int else 'a number'}, got {shown(repr(value), 80)}"
    if not math.isfinite(value):
        return f"{name}: expected a finite number, got {value}"
    return "" if ok(value) else f"{name}: must be {words}, got {value if kind is int else format(value, 'g')}"


NUMBER_FLAGS = ("epochs", "batch_size", "lr", "midend_lr", "seed", "val_fraction", "test_fraction")


def flag_settings(args) -> dict[str, Any]:
    """The TrainConfig numbers the command line named (``--epochs`` ...: argparse's ``args``)."""
    return {k: getattr(args, k) for k in NUMBER_FLAGS if getattr(args, k, None) is not None}
