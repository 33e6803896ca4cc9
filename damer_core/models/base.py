"""What every model kind does (docs/SPEC.md sections 5 and 6), whatever is inside it: the
feature kinds it needs, a track's static and trajectory prediction from those features, a
description of itself, and its weights-only state in a bundle. Scoring on a labelled data set is
damer_core.models.scoring's, through :meth:`Model.track_probabilities`; fine-tuning is
damer_core.training's, through the kind's :attr:`Model.settings`."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

import numpy as np

from damer_core.contract.model_card import ModelDescription
from damer_core.models.header import BundleHeader

if TYPE_CHECKING:
    from damer_core.datasets.base import FeatureSet
    from damer_core.models.predictions import Trajectory, WindowPrediction

Features = dict[str, dict[str, np.ndarray]]  # damer_core.features.extract's kinds -> their arrays
OnPart = Callable[["Trajectory", int], None]

# The training settings a kind's fine-tune takes (the training panel shows only these).
NETWORK_SETTINGS = ("epochs", "batch_size", "lr", "seed", "modules", "pool", "device")
HEAD_SETTINGS = ("seed",)  # the labels' split; the head is refitted in seconds with a pull towards the base


class Model(Protocol):
    kind: ClassVar[str]
    header: BundleHeader

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimensions it predicts (a quadrant model predicts both)."""
        ...

    @property
    def settings(self) -> tuple[str, ...]:
        """The training settings that apply to fine-tuning it."""
        ...

    def to(self, device: str) -> Model: ...

    def feature_kinds(self, trajectory: bool) -> tuple[str, ...]:
        """damer_core.features.extract's kinds a static prediction (``trajectory`` False) or a whole one needs."""
        ...

    def static(self, feats: Features) -> WindowPrediction:
        """Rows whose mean is the track's static prediction (the model segment's windows, or one row)."""
        ...

    def trajectory(self, feats: Features, fast: bool = True, should_stop: Callable[[], bool] | None = None,
                   on_part: OnPart | None = None) -> Trajectory:
        """The whole track's 0.5 s trajectory; ``should_stop`` is asked between batches (True:
        damer_core.models.networks.Interrupted), ``on_part`` gets the trajectory so far."""
        ...

    def evaluation_sets(self) -> tuple[str, ...]:
        """The FeatureSets it is scored on: "model" (DAMER windows), "model+descriptors", "descriptors"."""
        ...

    def track_probabilities(self, sets: dict[str, FeatureSet], track_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Per track of ``track_ids``: P(high) of each predicted dimension, and "quadrant" [n, 4]
        where it predicts the quadrants, from the windows of ``sets``."""
        ...

    def members(self) -> list[tuple[str, Model]]:
        """(name, model) of each member of a stack; [] for a single model."""
        ...

    def describe(self) -> ModelDescription: ...

    def bundle_parts(self) -> dict:
        """Its weights-only state, as a bundle's fields besides the header."""
        ...
