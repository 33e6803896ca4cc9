"""Model kinds by the ``kind`` a bundle names (damer_core.models.header): loading a bundle gives
the object of its kind. A new kind is one class here and one name in header.KINDS."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from damer_core.models.header import DAMER, DESCRIPTOR_HEAD, STACK, BundleHeader

if TYPE_CHECKING:
    from damer_core.models.base import Model


def model_class(kind: str) -> Any:
    from damer_core.models.head_alone import DescriptorHeadModel
    from damer_core.models.networks import DamerNetworks
    from damer_core.models.stack import StackModel

    classes: dict[str, type] = {DAMER: DamerNetworks, DESCRIPTOR_HEAD: DescriptorHeadModel, STACK: StackModel}
    return classes[kind]


def from_bundle(bundle: dict, path: str | os.PathLike = "<bundle>") -> Model:
    """The model of a loaded, checked bundle (damer_core.models.checkpoint.load_checkpoint)."""
    model: Model = model_class(BundleHeader.read(bundle).kind).from_bundle(bundle, path)
    return model


def load_model(path: str | os.PathLike, device: str = "cpu") -> Model:
    """The bundle at ``path`` as its kind's model, on ``device``; problems are BundleErrors."""
    from damer_core.models.checkpoint import load_checkpoint

    return from_bundle(load_checkpoint(path), path).to(device)
