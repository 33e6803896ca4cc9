"""The playing track's first marker: its opening, decoded alone and predicted before anything
else, long before the whole trajectory (which replaces it) is done; and the warm-up that spares
the first track played the loading and compiling of the feature code."""

from __future__ import annotations

import os

import numpy as np

from damer_core.contract import trajectory
from damer_core.features.spectra import MUSICNN_PATHS, FeatureConfig
from damer_core.inference.predictor import Predictor
from damer_core.models.predictions import Trajectory

OPENING_S = 8.0


def opening(predictor: Predictor, path: str | os.PathLike, seconds: float = OPENING_S) -> tuple[Trajectory, int] | None:
    """A provisional trajectory of the track's first ``seconds`` (less the last second, where the
    excerpt's edge would differ from the whole track's). The excerpt is brought to -23 LUFS on its
    own, so its level cues may differ a little from the whole track's. Returns (trajectory, points
    of the whole track), or None where the opening would not come sooner (a short track, a length
    the file does not announce) or is near silent."""
    from damer_core.audio.decoding import DecodeStream, gain_to_target, metered

    cfg = predictor.feature_config
    seconds = max(seconds, cfg.window_seconds + 2.0)  # a model window and then some
    stream = DecodeStream(path, cfg.sample_rate, mono=True)
    take = int(seconds * stream.rate)
    if stream.expected_frames < 2 * take:
        return None
    blocks, n = [], 0
    for block in stream:  # stops decoding here: the rest of the file is never read
        blocks.append(block[:, 0])
        n += block.shape[0]
        if n >= take:
            break
    y = np.concatenate(blocks)[:take]
    loudness = metered(y, stream.rate).loudness()
    if y.shape[0] < take or loudness.near_silent:
        return None
    traj = _predicted(predictor, y * gain_to_target(loudness.lufs), seconds, str(path))
    return traj, len(trajectory.grid(stream.expected_frames / stream.rate))


def warm_up(predictor: Predictor) -> None:
    """The opening's feature work once, on generated audio (librosa's numba functions: about a second)."""
    import soxr  # noqa: F401 - the decoder's resampler, loaded now

    cfg = predictor.feature_config
    seconds = max(6.0, cfg.window_seconds + 2.0)
    noise = 0.05 * np.random.default_rng(0).standard_normal(int(seconds * cfg.sample_rate))
    _features(predictor, noise.astype(np.float32), "<warm-up>")


def _features(predictor: Predictor, y: np.ndarray, name: str) -> dict[str, dict[str, np.ndarray]]:
    """The kinds a trajectory needs beyond a static prediction's (frames, descriptors per point)."""
    from damer_core.features.extract import KINDS

    model = predictor.model
    kinds = [k for k in model.feature_kinds(True) if k not in model.feature_kinds(False)]
    return {k: KINDS[k](y, predictor.feature_config, name) for k in kinds}


def trusted_until(cfg: FeatureConfig, seconds: float) -> float:
    """The last point of an excerpt of ``seconds`` that the whole track's trajectory would give:
    a second before its end (the spectra's edge); through musicnn (FeatureConfig.mel_path), also
    a frame before its last whole 3 s patch ends (past it, the excerpt has a patch of its own)."""
    if cfg.mel_path not in MUSICNN_PATHS:
        return seconds - 1.0
    from damer_core.features.musicnn import PATCH_SECONDS

    whole = np.floor(seconds / PATCH_SECONDS) * PATCH_SECONDS
    return min(seconds - 1.0, whole - cfg.hop_length / cfg.sample_rate)


def _predicted(predictor: Predictor, y: np.ndarray, seconds: float, name: str) -> Trajectory:
    traj = predictor.model.trajectory(_features(predictor, y, name), fast=True)
    keep = traj.times <= trusted_until(predictor.feature_config, seconds)
    return Trajectory(traj.times[keep], traj.valence[keep], traj.arousal[keep], traj.confidence[keep])
