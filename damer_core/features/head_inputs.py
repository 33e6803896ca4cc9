"""What a descriptor head reads for each window: the window's musical descriptors
(damer_core.features.descriptors) and, when the head was fitted with the ``musicnn`` group, the
musicnn embedding of the 3 s patch whose centre is nearest the window's centre
(damer_core.features.musicnn). One row per window, the descriptors' columns first."""

from __future__ import annotations

import numpy as np

from damer_core.features.descriptors import CLIP_HOP_S, GROUPS, NAMES, WINDOW_S, group_columns
from damer_core.features.musicnn import EMBEDDING_SIZE, nearest_patches

EMBEDDING_GROUP = "musicnn"
INPUT_GROUPS = (*GROUPS, EMBEDDING_GROUP)


def uses_embeddings(groups: tuple[str, ...] | list[str]) -> bool:
    return EMBEDDING_GROUP in groups


def reads_descriptors(groups: tuple[str, ...] | list[str]) -> bool:
    """Whether a head on ``groups`` reads any descriptor column (an embedding head reads none)."""
    return any(g != EMBEDDING_GROUP for g in groups)


def input_columns(groups: tuple[str, ...] | list[str]) -> np.ndarray:
    """Column indices of the named groups in a row: descriptors in :data:`NAMES` order, then the
    embedding's 200 columns."""
    unknown = [g for g in groups if g not in INPUT_GROUPS]
    if unknown:
        raise ValueError(f"unknown input group(s) {', '.join(unknown)}; choose from {', '.join(INPUT_GROUPS)}")
    columns = group_columns([g for g in groups if g != EMBEDDING_GROUP])
    if uses_embeddings(groups):
        columns = np.concatenate([columns, len(NAMES) + np.arange(EMBEDDING_SIZE)])
    return columns


def static_rows(descriptors: np.ndarray, embeddings: dict[str, np.ndarray]) -> np.ndarray:
    """The model segment's descriptor windows ``[W, D]``, each with its nearest patch's embedding."""
    centres = np.arange(len(descriptors)) * CLIP_HOP_S + WINDOW_S / 2  # clip_descriptors' windows
    return _joined(descriptors, embeddings, centres)


def unread_descriptors(n_windows: int) -> np.ndarray:
    """The descriptor columns of ``n_windows`` rows for a head that reads none of them (zeros:
    the rows keep one layout whatever the head reads)."""
    return np.zeros((n_windows, len(NAMES)), np.float32)


def embedding_static_rows(embeddings: dict[str, np.ndarray]) -> np.ndarray:
    """:func:`static_rows` for a head that reads only the embedding: the same windows (their count
    comes with the static embeddings), their descriptors never computed."""
    return static_rows(unread_descriptors(int(embeddings["windows"])), embeddings)


def trajectory_rows(descriptors: np.ndarray, embeddings: dict[str, np.ndarray], times: np.ndarray) -> np.ndarray:
    """The descriptor windows ending at ``times`` (the trajectory's grid), each with its nearest
    patch's embedding; a window near the start is clamped to the track, as its descriptors are."""
    return _joined(descriptors, embeddings, np.maximum(np.asarray(times, np.float64), WINDOW_S) - WINDOW_S / 2)


def _joined(descriptors: np.ndarray, embeddings: dict[str, np.ndarray], centres: np.ndarray) -> np.ndarray:
    rows = embeddings["patches"][nearest_patches(embeddings["centres"], centres)]
    return np.hstack([np.asarray(descriptors, np.float32), rows.astype(np.float32)])
