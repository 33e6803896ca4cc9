"""Every model kind as a type (docs/SPEC.md sections 5-6): DAMER networks, the descriptor head and
a stack of them, each behind one protocol (:class:`~damer_core.models.base.Model`), chosen by the
``kind`` a bundle's header names (:mod:`damer_core.models.registry`)."""

from damer_core.models.header import DAMER, DESCRIPTOR_HEAD, KINDS, STACK, BundleHeader
from damer_core.models.registry import from_bundle, load_model

__all__ = ["DAMER", "DESCRIPTOR_HEAD", "KINDS", "STACK", "BundleHeader", "from_bundle", "load_model"]
