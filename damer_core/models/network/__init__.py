"""DAMER: Dual-view Adaptive Music Emotion Recogniser (paper section IV)."""

from damer_core.models.network.damer import DAMER, CrossViewLayer, ModelConfig, ModelOutput

__all__ = ["DAMER", "CrossViewLayer", "ModelConfig", "ModelOutput"]
