"""Shared helper for the frozen config dataclasses (features, model, training)."""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

from damer_core.contract.errors import InputError

T = TypeVar("T", bound="DataclassInstance")


def from_checked_dict(cls: type[T], data: dict[str, Any], what: str) -> T:
    """``cls(**data)``, refusing keys the dataclass does not have (a typo must not pass silently)."""
    unknown = set(data) - {f.name for f in fields(cls)}
    if unknown:
        raise InputError(f"unknown {what} fields: {', '.join(sorted(unknown))}")
    return cls(**data)
