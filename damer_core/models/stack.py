"""The stack kind (docs/SPEC.md section 5, model selection): DAMER's networks and the descriptor
head, their quadrant probabilities combined by a multinomial logistic regression fitted on
out-of-fold predictions (damer_core.models.combination). The stack is calibrated itself, so DAMER's
probabilities enter it raw, as they did when it was fitted."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from damer_core.contract.dimensions import DIMENSIONS
from damer_core.contract.model_card import ModelDescription
from damer_core.models.base import Features, OnPart
from damer_core.models.combination import Combination
from damer_core.models.figures import described
from damer_core.models.head_alone import DescriptorHeadModel
from damer_core.models.header import STACK as KIND
from damer_core.models.header import BundleHeader
from damer_core.models.networks import DamerNetworks
from damer_core.models.predictions import Trajectory, WindowPrediction, dimension_prediction
from damer_core.targets import QUADRANT, by_dimension

if TYPE_CHECKING:
    from damer_core.datasets.base import FeatureSet


class StackModel:
    kind: ClassVar[str] = KIND

    def __init__(self, header: BundleHeader, networks: DamerNetworks, head: DescriptorHeadModel,
                 combination: Combination):
        self.header, self.networks, self.head, self.combination = header, networks, head, combination

    @classmethod
    def from_bundle(cls, bundle: dict, path: object = "<bundle>") -> StackModel:
        head = DescriptorHeadModel.from_bundle(bundle)  # never one that reads musicnn (descriptor_checks refuses it)
        return cls(BundleHeader.read(bundle), DamerNetworks.from_bundle(bundle, str(path)), head,
                   Combination.from_state(bundle["combination"]))

    @property
    def dimensions(self) -> tuple[str, ...]:
        return DIMENSIONS

    @property
    def settings(self) -> tuple[str, ...]:
        return self.networks.settings  # the network is fine-tuned; the head and the stack are refitted after it

    def members(self) -> list:
        return [("DAMER", self.networks), ("descriptor head", self.head)]

    def to(self, device: str) -> StackModel:
        self.networks.to(device)
        return self

    def feature_kinds(self, trajectory: bool) -> tuple[str, ...]:
        kinds = self.networks.feature_kinds(trajectory) + self.head.feature_kinds(trajectory)
        return tuple(dict.fromkeys(kinds))  # each once, in order

    def combine(self, damer: WindowPrediction, descriptors: np.ndarray | None) -> WindowPrediction:
        """DAMER's windows combined with the descriptor head's on the matching descriptor windows."""
        if descriptors is None or damer.quadrant is None:
            raise ValueError("this model combines DAMER with musical descriptors: both are needed")
        p = self.combination.probabilities(damer.quadrant, self.head.head.probabilities(descriptors))
        return dimension_prediction(p, np.asarray(damer.reliability))

    def static(self, feats: Features) -> WindowPrediction:
        """The stack was fitted on tracks' mean probabilities: DAMER's windows averaged, then combined."""
        damer = self.networks.static(feats)
        p_damer = np.asarray(damer.quadrant).mean(axis=0, keepdims=True)
        p = self.combination.probabilities(p_damer, self.head.quadrant_means(self.head.static_rows(feats)))
        return dimension_prediction(p, np.array([np.mean(np.asarray(damer.reliability))]))

    def trajectory(self, feats: Features, fast: bool = True, should_stop: Callable[[], bool] | None = None,
                   on_part: OnPart | None = None) -> Trajectory:
        return self.networks.trajectory(feats, fast, should_stop, on_part, combine=self.combine)

    def evaluation_sets(self) -> tuple[str, ...]:
        return self.networks.evaluation_sets() + self.head.evaluation_sets()

    def track_probabilities(self, sets: dict[str, FeatureSet], track_ids: np.ndarray) -> dict[str, np.ndarray]:
        p_damer = self.networks.track_probabilities(sets, track_ids, calibrated=False)[QUADRANT]
        p_head = self.head.track_probabilities(sets, track_ids)[QUADRANT]
        return by_dimension(self.combination.probabilities(p_damer, p_head))

    def describe(self) -> ModelDescription:
        summary = f"DAMER with {self.networks.describe().summary}, stacked with a {self.head.head.kind} descriptor head"
        return described(self.header, self.kind, summary, self.dimensions, self.settings, "stack",
                         tuple(name for name, _ in self.members()))

    def bundle_parts(self) -> dict:
        return {**self.networks.bundle_parts(), **self.head.bundle_parts(), "combination": self.combination.to_state()}
