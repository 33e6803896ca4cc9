"""The descriptor head kind (docs/SPEC.md sections 4-5): the quadrant from each window's musical
descriptors (damer_core.models.descriptor_head), and musicnn's embedding of the window where the
head was fitted with it (damer_core.features.head_inputs); no DAMER network. A track's static prediction is the mean of
its windows' probabilities; its trajectory one point per 0.5 s from the window around it. There
is no second view to agree or disagree, so the reliability r is 1."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from damer_core.contract import trajectory as grid
from damer_core.contract.dimensions import DIMENSIONS
from damer_core.contract.model_card import ModelDescription
from damer_core.features.head_inputs import embedding_static_rows, static_rows, trajectory_rows, unread_descriptors
from damer_core.models.base import HEAD_SETTINGS, Features, OnPart
from damer_core.models.descriptor_head import DescriptorHead
from damer_core.models.figures import described
from damer_core.models.header import DESCRIPTOR_HEAD as KIND
from damer_core.models.header import BundleHeader
from damer_core.models.predictions import Trajectory, WindowPrediction, dimension_prediction
from damer_core.scoring import means_by_id, windows_of
from damer_core.targets import by_dimension

if TYPE_CHECKING:
    from damer_core.datasets.base import FeatureSet


class DescriptorHeadModel:
    kind: ClassVar[str] = KIND

    def __init__(self, header: BundleHeader, head: DescriptorHead):
        self.header = header
        self.head = head

    @classmethod
    def from_bundle(cls, bundle: dict, path: object = "<bundle>") -> DescriptorHeadModel:
        return cls(BundleHeader.read(bundle), DescriptorHead.from_state(bundle["descriptor_head"]))

    @property
    def dimensions(self) -> tuple[str, ...]:
        return DIMENSIONS

    @property
    def settings(self) -> tuple[str, ...]:
        return HEAD_SETTINGS

    def members(self) -> list:
        return []

    def to(self, device: str) -> DescriptorHeadModel:
        return self  # numpy: nothing to move

    def feature_kinds(self, trajectory: bool) -> tuple[str, ...]:
        """The static descriptors' windows are what a track's prediction averages over, as when the
        head was fitted; the descriptors themselves, static or for a trajectory, only where the head
        reads them (the static embeddings carry the windows' count)."""
        static = (("descriptors",) if self.head.reads_descriptors else ()) + (("embeddings",) if self.head.embedded else ())
        if not trajectory:
            return static
        return ((("trajectory_descriptors",) if self.head.reads_descriptors else ()) + static
                + (("trajectory_embeddings",) if self.head.embedded else ()))

    def static_rows(self, feats: Features) -> np.ndarray:
        """The rows the head reads for the model segment's windows (damer_core.features.head_inputs)."""
        if not self.head.reads_descriptors:
            return embedding_static_rows(feats["embeddings"])
        windows = feats["descriptors"]["windows"]
        return static_rows(windows, feats["embeddings"]) if self.head.embedded else windows

    def quadrant_means(self, rows: np.ndarray) -> np.ndarray:
        """The track's quadrant probabilities ``[1, 4]``: the mean of its windows'."""
        return self.head.probabilities(rows).mean(axis=0, keepdims=True)

    def static(self, feats: Features) -> WindowPrediction:
        return dimension_prediction(self.quadrant_means(self.static_rows(feats)), np.ones(1))

    def trajectory(self, feats: Features, fast: bool = True, should_stop: Callable[[], bool] | None = None,
                   on_part: OnPart | None = None) -> Trajectory:
        if not self.head.reads_descriptors:
            embedded = feats["trajectory_embeddings"]
            times = grid.grid(float(embedded["duration"]))
            rows = trajectory_rows(unread_descriptors(len(times)), embedded, times)
        else:
            described = feats["trajectory_descriptors"]
            times = grid.grid(float(described["duration"]))
            rows = described["windows"]
            if self.head.embedded:
                rows = trajectory_rows(rows, feats["trajectory_embeddings"], times)
        at = dimension_prediction(self.head.probabilities(rows), np.ones(len(times)))
        return Trajectory(times, at.valence, at.arousal, at.overall_confidence)

    def evaluation_sets(self) -> tuple[str, ...]:
        return ("descriptors+embeddings",) if self.head.embedded else ("descriptors",)

    def track_probabilities(self, sets: dict[str, FeatureSet], track_ids: np.ndarray) -> dict[str, np.ndarray]:
        fs = sets[self.evaluation_sets()[0]]
        idx = windows_of(fs, track_ids)
        return by_dimension(means_by_id(fs, idx, self.head.probabilities(fs.window_descriptors[idx]), track_ids))

    def describe(self) -> ModelDescription:
        ears = "; musicnn (MSD) embeddings, ISC licence, Pons & Serra 2019" if self.head.embedded else ""
        summary = f"{self.head.kind}, groups {', '.join(self.head.groups)}{ears}; no DAMER network"
        return described(self.header, self.kind, summary, self.dimensions, self.settings, "descriptor_head",
                         kind_name="" if self.head.reads_descriptors else "musicnn embedding head")

    def bundle_parts(self) -> dict:
        return {"descriptor_head": self.head.to_state()}
