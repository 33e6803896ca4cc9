"""Features for files on disk, through the feature cache: what training, inference and the app's
views call. A file is decoded at most once per call, whatever is missing from the cache.
Errors from decoding surface as :class:`damer_core.audio.decoding.AudioError`."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from damer_core.audio.decoding import (
    MODEL_SAMPLE_RATE,
    AudioError,
    DecodeStream,
    Loudness,
    blocks_for_model,
    check_audio_file,
    samples_for_model,
    segment_span,
    select_segment,
)
from damer_core.contract import display
from damer_core.features.cache import FeatureCache
from damer_core.features.spectra import (
    DISPLAY,
    MUSICNN_PATHS,
    BandEnergies,
    DisplayViews,
    FeatureConfig,
    FrameSequence,
    compress,
    display_views,
    frame_count,
    frame_sequence,
    training_segment,
    training_window_ends,
    views_from_bands,
)

LONG_SECONDS = 20 * 60  # longer files are decoded twice, in blocks, instead of being held in memory


def _frames(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    seq = frame_sequence(y, cfg)
    return {"mel": seq.mel, "coch": seq.coch, "duration": np.array(y.shape[0] / cfg.sample_rate)}


def _train(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    from damer_core.features.midend_windows import training_windows_of  # musicnn and torch only where used

    mel, coch = training_windows_of(y, cfg, path=path)
    return {"mel": mel, "coch": coch, "duration": np.array(y.shape[0] / cfg.sample_rate)}


def _static_segment(y: np.ndarray, cfg: FeatureConfig, path: str) -> np.ndarray:
    """The part of the track a static descriptor-head prediction looks at (at least one 4 s window)."""
    from damer_core.features.descriptors import WINDOW_S

    return select_segment(y, cfg.sample_rate, cfg.segment_start_s, cfg.segment_length_s, path=path,
                          min_length_s=WINDOW_S)


def _descriptors(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    """The model segment's musical descriptors, a 4 s window every second (damer_core.features.descriptors):
    what a descriptor head trains on and a track's static prediction averages."""
    from damer_core.features.descriptors import clip_descriptors

    return {"windows": clip_descriptors(_static_segment(y, cfg, path)), "duration": np.array(y.shape[0] / cfg.sample_rate)}


def _train_descriptors(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    """The descriptors of the 4 s window ending where each "train" window ends: the second input
    of a DAMER whose fusion layer takes the musical descriptors (ModelConfig.n_descriptors)."""
    from damer_core.features.descriptors import descriptors_at, frame_streams

    seg = training_segment(y, cfg, path)
    n_windows = (frame_count(seg.shape[0], cfg) - cfg.n_frames) // cfg.train_hop_frames + 1
    return {"windows": descriptors_at(frame_streams(seg), training_window_ends(n_windows, cfg)),
            "duration": np.array(y.shape[0] / cfg.sample_rate)}


def _trajectory_descriptors(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    """The descriptors of the 4 s window ending at each trajectory point (the 0.5 s grid)."""
    from damer_core.contract.trajectory import grid
    from damer_core.features.descriptors import descriptors_at, frame_streams

    duration = y.shape[0] / cfg.sample_rate
    return {"windows": descriptors_at(frame_streams(y), grid(duration)), "duration": np.array(duration)}


def _segment_bounds(n: int, cfg: FeatureConfig) -> tuple[int, int] | None:
    """Where the static descriptors' segment lies in a track of ``n`` samples (None: repeated)."""
    from damer_core.features.descriptors import WINDOW_S

    return segment_span(n, cfg.sample_rate, cfg.segment_start_s, cfg.segment_length_s, min_length_s=WINDOW_S)


def _static_span(n: int, cfg: FeatureConfig) -> tuple[float, float] | None:
    """:func:`_segment_bounds` in seconds."""
    bounds = _segment_bounds(n, cfg)
    return None if bounds is None else (bounds[0] / cfg.sample_rate, bounds[1] / cfg.sample_rate)


def _static_of(track: dict[str, np.ndarray], n: int, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The static kind from the track's own patches: those whose centre lies in the segment, their
    centres counted from the segment's start (a trajectory and the static prediction share them)."""
    from damer_core.features.musicnn import patches_within

    bounds = _segment_bounds(n, cfg)
    assert bounds is not None, "a repeated segment has no patches of the track's own"
    span = (bounds[0] / cfg.sample_rate, bounds[1] / cfg.sample_rate)
    return {**patches_within(track, span), **_segment_windows(bounds[1] - bounds[0], n, cfg)}


def _segment_windows(segment_samples: int, n: int, cfg: FeatureConfig) -> dict[str, np.ndarray]:
    """The static kind's window count (the static descriptors' windows over the segment, what a
    head that reads only the embedding averages over) and the track's duration."""
    from damer_core.features.descriptors import clip_window_count

    return {"windows": np.array(clip_window_count(segment_samples)), "duration": np.array(n / cfg.sample_rate)}


def _embeddings(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    """musicnn's embedding of the 3 s patches (on the track's own grid) whose centres lie in the
    model segment that the static descriptors look at (damer_core.features.musicnn), with each
    patch's centre in seconds into the segment; a track too short for one segment is repeated."""
    from damer_core.features.musicnn import embed

    span = _static_span(y.shape[0], cfg)
    if span is None:
        segment = _static_segment(y, cfg, path)
        return {**embed(segment, cfg.sample_rate), **_segment_windows(segment.shape[0], y.shape[0], cfg)}
    return _static_of(embed(y, cfg.sample_rate, within=span), y.shape[0], cfg)


def _trajectory_embeddings(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    """musicnn's embedding of each 3 s patch of the whole track, side by side (no overlap: a patch
    costs 40-90 ms on this 2-core CPU, README *Performance*); each trajectory point uses the nearest."""
    from damer_core.features.musicnn import embed

    return {**embed(y, cfg.sample_rate), "duration": np.array(y.shape[0] / cfg.sample_rate)}


def _display(y: np.ndarray, cfg: FeatureConfig, path: str) -> dict[str, np.ndarray]:
    v = display_views(y, MODEL_SAMPLE_RATE)
    return {"mel_db": v.mel_db, "coch_db": v.coch_db, "mel_freqs": v.mel_freqs,
            "coch_freqs": v.coch_freqs, "hop_seconds": np.array(v.hop_seconds)}


KINDS: dict[str, Callable[[np.ndarray, FeatureConfig, str], dict[str, np.ndarray]]] = {
    "frames": _frames, "train": _train, "display": _display, "descriptors": _descriptors,
    "trajectory_descriptors": _trajectory_descriptors, "train_descriptors": _train_descriptors,
    "embeddings": _embeddings, "trajectory_embeddings": _trajectory_embeddings,
}


# The cache key of each kind; a new version where the way a kind is computed changed (train.v2:
# short tracks are no longer repeated to 60 s), so an older entry is never served.
CACHE_KINDS = {"frames": "frames.v2", "train": "train.v3", "display": "display.u8", "descriptors": "descriptors.v2",
               "trajectory_descriptors": "trajectory_descriptors.v2", "train_descriptors": "train_descriptors.v1",
               "embeddings": "embeddings.msd_musicnn.v3", "trajectory_embeddings": "trajectory_embeddings.msd_musicnn.v1"}
# frames.v2 and train.v3: with the loudness (and train.v3 the duration); display.u8: the views' dB in
# 8 bits (0.31 dB steps, a quarter of the disk); embeddings.v3: with the static windows' count


def _pack(kind: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What the cache stores of a kind: the display views' dB in 8 bits (damer_core.contract.display)."""
    return display.pack(arrays) if kind == "display" else arrays


def _unpack(kind: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return display.unpack(arrays) if kind == "display" else arrays


def _as_stored(kind: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays as the cache will give them back (the views in 8 bits): shown the same either way."""
    return _unpack(kind, _pack(kind, arrays))


def track_features(path: str | os.PathLike, cfg: FeatureConfig, kinds: tuple[str, ...],
                   cache: FeatureCache | None = None,
                   store: tuple[str, ...] | None = None,
                   on_display: Callable[[dict[str, np.ndarray]], None] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """``{kind: arrays}`` for each of ``kinds`` ("frames", "train", "display"), from the cache or
    computed from one decode of the file. What is computed is cached, only the kinds in ``store``
    when given (the analysis worker keeps the views, not the model features). ``on_display`` gets
    the display views as soon as they exist, before the model features are computed."""
    cache = cache if cache is not None else FeatureCache()
    cfgs = {k: (DISPLAY if k == "display" else cfg) for k in kinds}
    check_audio_file(path)  # the cache reads the file for its key: a folder or a FIFO must fail here, in words
    try:
        cached = {k: cache.get(path, cfgs[k], CACHE_KINDS[k]) for k in kinds}
    except OSError as e:  # the file went away or changed between the check and the read
        raise AudioError(path, f"cannot be read ({e.strerror or e})") from None
    out = {k: _unpack(k, v) for k, v in cached.items() if v is not None}
    missing = [k for k, v in cached.items() if v is None]
    shown = on_display if on_display is not None else (lambda arrays: None)
    if "display" in kinds and "display" not in missing:
        shown(out["display"])
    if missing:
        stream = DecodeStream(path, cfg.sample_rate, mono=True)
        if stream.expected_frames > LONG_SECONDS * stream.rate:
            loudness = _streamed(stream, cfg, missing, out)
            if "display" in missing:
                out["display"] = _as_stored("display", out["display"])  # shown as stored
                shown(out["display"])
        else:
            y, loudness = samples_for_model(stream)
            # the views first (the window waits for them); the track's patches before the segment's (shared)
            for k in sorted(missing, key=lambda k: (k != "display", k != "trajectory_embeddings")):
                if k == "embeddings" and "trajectory_embeddings" in out and _static_span(y.shape[0], cfg) is not None:
                    out[k] = _static_of(out["trajectory_embeddings"], y.shape[0], cfg)
                    continue
                out[k] = KINDS[k](y, cfgs[k], str(path))
                if k == "display":
                    out[k] = _as_stored(k, out[k])
                    shown(out[k])
        for k in (
            "frames",
            "train",
            "descriptors",
            "trajectory_descriptors",
            "train_descriptors",
            "embeddings",
            "trajectory_embeddings",
        ):  # predictions flag a near-silent track
            if k in missing:
                out[k].update(lufs=np.array(loudness.lufs), audible=np.array(loudness.audible), **stream.faults.shares())
        for k in missing if store is None else [k for k in missing if k in store]:
            try:
                cache.put(path, cfgs[k], CACHE_KINDS[k], _pack(k, out[k]))
            except OSError:
                pass  # a full or read-only cache must not stop the work; the result is still good
    return out


def _streamed(stream: DecodeStream, cfg: FeatureConfig, kinds: list[str], out: dict) -> Loudness:
    """The kinds of a long track into ``out``, from two decoding passes, block by block: peak
    memory is the features, not the track (a 2 h file is 635 MB of samples at 22.05 kHz). Same
    values as the in-memory path (frames computed as their samples arrive; the segment copied)."""
    n, loudness, blocks = blocks_for_model(stream)
    display_cfg = replace(DISPLAY, sample_rate=stream.rate)
    bands = {k: BandEnergies(display_cfg if k == "display" else cfg, n) for k in kinds if k in ("frames", "display")}
    midend = None
    if "frames" in kinds and cfg.mel_path in MUSICNN_PATHS:  # the Mel stream through musicnn (FeatureConfig.mel_path)
        from damer_core.features.musicnn import MidEndFrames
        from damer_core.features.tuned_midend import musicnn_for

        midend = MidEndFrames(cfg.sample_rate, frame_count(n, cfg), cfg.hop_length / cfg.sample_rate,
                              musicnn_for(cfg.midend))
    described = None
    if "trajectory_descriptors" in kinds:
        from damer_core.contract.trajectory import grid
        from damer_core.features.descriptors import BlockDescriptors

        described = BlockDescriptors(grid(n / cfg.sample_rate))
    embedded = None
    if "trajectory_embeddings" in kinds or "embeddings" in kinds:  # one pass over the track's patches for both
        from damer_core.features.musicnn import BlockEmbeddings

        embedded = BlockEmbeddings(stream.rate, within=None if "trajectory_embeddings" in kinds else _static_span(n, cfg))
    bounds = _segment_bounds(n, cfg)
    assert bounds is not None, "a file streamed in blocks is long enough for its segment"
    seg_lo, seg_hi = bounds
    segment = np.zeros(seg_hi - seg_lo, dtype=np.float32)
    pos = 0
    for block in blocks():
        for acc in bands.values():
            acc.feed(block)
        if described is not None:
            described.feed(block)
        if embedded is not None:
            embedded.feed(block)
        if midend is not None:
            midend.feed(block)
        lo, hi = max(pos, seg_lo), min(pos + block.shape[0], seg_lo + segment.shape[0])
        if hi > lo:
            segment[lo - seg_lo:hi - seg_lo] = block[lo - pos:hi - pos]
        pos += block.shape[0]
    if "frames" in bands:
        mel, coch = compress(*bands.pop("frames").finish(), cfg)
        mel = mel if midend is None else midend.finish()
        out["frames"] = {"mel": mel, "coch": coch, "duration": np.array(n / cfg.sample_rate)}
    if "display" in bands:
        v = views_from_bands(*bands.pop("display").finish(), display_cfg)
        out["display"] = {"mel_db": v.mel_db, "coch_db": v.coch_db, "mel_freqs": v.mel_freqs,
                          "coch_freqs": v.coch_freqs, "hop_seconds": np.array(v.hop_seconds)}
    if "train" in kinds:
        out["train"] = {**_train(segment, cfg, str(stream.path)), "duration": np.array(n / cfg.sample_rate)}
    if described is not None:
        out["trajectory_descriptors"] = {"windows": described.finish(), "duration": np.array(n / cfg.sample_rate)}
    if embedded is not None:
        patches = embedded.finish()
        if "trajectory_embeddings" in kinds:
            out["trajectory_embeddings"] = {**patches, "duration": np.array(n / cfg.sample_rate)}
        if "embeddings" in kinds:
            out["embeddings"] = _static_of(patches, n, cfg)
    if "train_descriptors" in kinds:
        out["train_descriptors"] = {
            **_train_descriptors(segment, cfg, str(stream.path)),
            "duration": np.array(n / cfg.sample_rate),
        }
    if "descriptors" in kinds:  # the segment is all the static descriptors look at
        out["descriptors"] = {**_descriptors(segment, replace(cfg, segment_start_s=0.0), str(stream.path)),
                              "duration": np.array(n / cfg.sample_rate)}
    return loudness


def track_frames(path: str | os.PathLike, cfg: FeatureConfig,
                 cache: FeatureCache | None = None) -> tuple[FrameSequence, float]:
    """The whole track's model-feature frame sequence and its duration in seconds."""
    a = track_features(path, cfg, ("frames",), cache)["frames"]
    return FrameSequence(a["mel"], a["coch"]), float(a["duration"])


def track_training_windows(path: str | os.PathLike, cfg: FeatureConfig,
                           cache: FeatureCache | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``[W, 128, T]`` and ``[W, 84, T]`` windows of the track's model segment (docs/SPEC.md sections 3-4)."""
    a = track_features(path, cfg, ("train",), cache)["train"]
    return a["mel"], a["coch"]


def track_descriptor_windows(path: str | os.PathLike, cfg: FeatureConfig,
                             cache: FeatureCache | None = None) -> np.ndarray:
    """``[W, D]`` musical descriptors of the track's model segment (damer_core.features.descriptors)."""
    return track_features(path, cfg, ("descriptors",), cache)["descriptors"]["windows"]


def track_head_rows(path: str | os.PathLike, cfg: FeatureConfig, cache: FeatureCache | None = None) -> np.ndarray:
    """``[W, D + 200]`` the model segment's descriptor windows, each with musicnn's embedding of
    its nearest patch (damer_core.features.head_inputs)."""
    from damer_core.features.head_inputs import static_rows

    f = track_features(path, cfg, ("descriptors", "embeddings"), cache)
    return static_rows(f["descriptors"]["windows"], f["embeddings"])


def track_display_views(path: str | os.PathLike, cache: FeatureCache | None = None) -> DisplayViews:
    return display.as_views(track_features(path, DISPLAY, ("display",), cache)["display"])


def featurise_files(files: list[Path], cfg: FeatureConfig, kinds: tuple[str, ...], cache: FeatureCache,
                    progress_mode: str) -> int:
    """`damer-core features`: each file's ``kinds`` into ``cache``; an unreadable file is skipped
    with its reason. Exit status 1 when every file failed, else 0."""
    from damer_core.progress import Progress

    progress = Progress(progress_mode)
    progress.task(f"features ({cfg.name})", len(files))
    failed = 0
    for path in files:
        try:
            track_features(path, cfg, kinds, cache)
        except AudioError as e:
            failed += 1
            progress.message(f"skipped {e}", file=str(path), error=e.reason)
        progress.advance(file=str(path))
    progress.message(f"{len(files) - failed} of {len(files)} files featurised into {cache.root}")
    return 1 if failed and failed == len(files) else 0
