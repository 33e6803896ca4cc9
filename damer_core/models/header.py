"""A bundle's header: what kind of model it holds and what is known about it, read once into a
typed object (docs/SPEC.md section 6). Nothing else reads these fields off a bundle dict.

Format version 2 names the kind at the top level (``"kind"``). Version 1, written until
2026-12-06, did not: :func:`upgrade_version_1` is the one place that infers it, so every model a
user has keeps working.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DAMER = "damer"  # DAMER networks: one per dimension, or the joint quadrant head; descriptors in the fusion layer or not
DESCRIPTOR_HEAD = "descriptor-head"  # the descriptor head alone: no network
STACK = "stack"  # DAMER's joint head and the descriptor head, combined by a fitted stack
KINDS = (DAMER, DESCRIPTOR_HEAD, STACK)
KIND_NAMES = {DAMER: "DAMER network", DESCRIPTOR_HEAD: "descriptor head", STACK: "stack of DAMER and the descriptor head"}
NETWORK_KINDS = (DAMER, STACK)  # the kinds that hold DAMER weights (model_config, dimensions)
UPGRADED_FROM = "upgraded_from"  # set on reading an old bundle; never written (checkpoint.with_checksums drops it)


def kind_of_version_1(bundle: dict) -> str:
    """The kind of a version-1 bundle, from the parts it holds: a descriptor head and no DAMER
    weights, both with their combination, or DAMER alone."""
    if "descriptor_head" not in bundle:
        return DAMER
    return STACK if bundle.get("dimensions") else DESCRIPTOR_HEAD


def upgrade_version_1(bundle: dict) -> dict:
    """A checked version-1 bundle as version 2: its kind named, and a descriptor head's dummy
    network fields (an empty ``dimensions`` and an unused ``model_config``) dropped."""
    if bundle.get("format_version") != 1:
        return bundle
    kind = kind_of_version_1(bundle)
    upgraded = {**bundle, "format_version": 2, "kind": kind, UPGRADED_FROM: 1}
    if kind == DESCRIPTOR_HEAD:
        upgraded.pop("model_config", None)
        upgraded.pop("dimensions", None)
    return upgraded


@dataclass(frozen=True)
class BundleHeader:
    """Everything about a bundle except its weights, typed."""

    kind: str
    format_version: int
    created: str = ""
    damer_core_version: str = ""
    feature_config: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)  # a DAMER run's settings, or the split's seed and fractions
    data: dict = field(default_factory=dict)  # name, format, n_tracks, n_samples of the data it learned from
    data_args: dict = field(default_factory=dict)
    split: dict | None = None  # by, train, val, test (track counts)
    recipe: dict = field(default_factory=dict)
    report: dict = field(default_factory=dict)  # a build's or a fine-tune's figures
    quadrant: dict = field(default_factory=dict)  # part -> {acc, macro_f1, n}
    resumable: bool = False
    upgraded_from: int | None = None  # 1: the file is version 1, read through upgrade_version_1

    @classmethod
    def read(cls, bundle: dict) -> BundleHeader:
        """The header of a checked bundle (version 1 bundles are upgraded first)."""
        b = upgrade_version_1(bundle)
        return cls(kind=str(b["kind"]), format_version=int(b["format_version"]), created=str(b.get("created", "")),
                   damer_core_version=str(b.get("damer_core_version", "")),
                   feature_config=dict(b.get("feature_config", {})), train_config=dict(b.get("train_config", {})),
                   data=dict(b.get("data", {})), data_args=dict(b.get("data_args", {})), split=b.get("split"),
                   recipe=dict(b.get("recipe", {})), report=dict(b.get("report", {})),
                   quadrant=dict(b.get("quadrant", {})), resumable="resume" in b, upgraded_from=b.get(UPGRADED_FROM))

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    @property
    def data_name(self) -> str:
        return str(self.data.get("name", "")) or "unknown data"

    @property
    def split_seed(self) -> int:
        return int(self.train_config.get("seed", 0))

    def fields(self) -> dict[str, Any]:
        """The header as a bundle's top-level fields (what a writer stores beside the weights)."""
        out: dict[str, Any] = {"kind": self.kind, "format_version": self.format_version, "created": self.created,
                               "damer_core_version": self.damer_core_version, "feature_config": self.feature_config,
                               "train_config": self.train_config, "data": self.data, "data_args": self.data_args}
        for key in ("split", "recipe", "report", "quadrant"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out
