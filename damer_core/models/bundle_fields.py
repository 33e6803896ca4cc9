"""The pieces every bundle check is built from (damer_core.models.bundle_checks for the network,
damer_core.models.descriptor_checks for the descriptor head and its stack): one bad field is a
:class:`FieldError`, which load_checkpoint turns into a BundleError naming the file."""

from __future__ import annotations

import hashlib
import math
from typing import Any

CHECKSUM = "weights_sha256"  # in each dimension's entry: sha256 of its state_dict (weights_sha256())
TEMPERATURE = (float, 0.01, 100.0)  # fitting keeps it in [0.05, 20]


MISSING = object()


class FieldError(Exception):
    """One bad field; load_checkpoint turns it into a BundleError naming the file."""

    def __init__(self, field: str, value: Any, rule: str):
        shown = " is missing" if value is MISSING else f" = {show_value(value)}"
        super().__init__(f"bundle field {field}{shown}: {rule}")


def show_value(value: Any) -> str:
    text = " ".join(repr(value).split())  # one line whatever the value holds
    return text if len(text) <= 60 else text[:57] + "..."


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_field(field: str, value: Any, bound: tuple) -> None:
    """``value`` against ``(type, low, high)``: the rule in words when it fails."""
    kind = bound[0]
    if kind is bool:
        if not isinstance(value, bool):
            raise FieldError(field, value, "must be true or false")
        return
    lo, hi = bound[1], bound[2]
    if kind is str:
        if not (isinstance(value, str) and lo <= len(value) <= hi and value.isprintable()):
            raise FieldError(field, value, f"must be a name of {lo} to {hi} printable characters")
    elif kind is int:
        if not (is_int(value) and lo <= value <= hi):
            raise FieldError(field, value, f"must be {lo}" if lo == hi else f"must be an integer from {lo} to {hi}")
    elif not (is_number(value) and math.isfinite(value) and lo <= value <= hi):
        raise FieldError(field, value, f"must be a number from {lo:g} to {hi:g}")


def check_numbers(field: str, value: Any) -> None:
    """Reports and calibration: dicts and lists of numbers (NaN where a metric is undefined) or null."""
    if isinstance(value, dict):
        for k, v in value.items():
            check_numbers(f"{field}.{k}", v)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_numbers(f"{field}[{i}]", v)
    elif value is not None and not is_number(value):
        raise FieldError(field, value, "must be a number")


def check_dict(field: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise FieldError(field, value, "must be a dict")


def weights_sha256(state_dict: dict) -> str:
    """sha256 over a state_dict's tensors in sorted key order: each key, dtype, shape and bytes."""
    import torch

    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}\0{t.dtype}\0{tuple(t.shape)}\0".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()
