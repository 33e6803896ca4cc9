"""DAMER: Dual-view Adaptive Music Emotion Recogniser (paper section IV)."""

from damer_core.model.damer import DAMER, CrossViewLayer, ModelConfig, ModelOutput

__all__ = ["DAMER", "CrossViewLayer", "ModelConfig", "ModelOutput"]
