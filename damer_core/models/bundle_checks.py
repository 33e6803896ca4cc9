"""The checks :func:`damer_core.models.checkpoint.load_checkpoint` runs on a bundle, which is untrusted
input: every field against sane bounds, each dimension's weights against their sha256 and
against the model the config describes, no NaN or inf. Every problem is one :class:`BundleError`
line naming the file and the field, raised before anything is allocated from the config."""

from __future__ import annotations

import os
import re
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from damer_core.contract.errors import BundleError
from damer_core.models.bundle_fields import CHECKSUM, MISSING, TEMPERATURE, weights_sha256
from damer_core.models.bundle_fields import FieldError as _FieldError
from damer_core.models.bundle_fields import check_dict as _check_dict
from damer_core.models.bundle_fields import check_field as _check
from damer_core.models.bundle_fields import check_numbers as _check_numbers
from damer_core.models.bundle_fields import is_int as _is_int
from damer_core.models.bundle_fields import show_value as _show
from damer_core.models.header import DAMER, DESCRIPTOR_HEAD, KINDS, NETWORK_KINDS, STACK

FORMAT = "damer-bundle"
FORMAT_VERSION = 2  # 2: the kind named at the top level (damer_core.models.header); 1 is still read
MAX_NESTING = 32

# (type, low, high) for every FeatureConfig and ModelConfig field. The ranges hold every preset and
# every bundle trained so far, and keep what a config makes the code allocate small: n_fft 2^28
# would be a 64 GiB spectrum, a sample rate of 1e9 Hz a 12 GB resampled 3 s file.
FEATURE_BOUNDS: dict[str, tuple] = {
    "name": (str, 1, 64),
    "sample_rate": (int, 8000, 48_000),
    "segment_start_s": (float, 0.0, 7200.0),
    "segment_length_s": (float, 0.1, 7200.0),
    "frame_length": (int, 16, 131_072),
    "hop_length": (int, 1, 65_536),
    "n_fft": (int, 16, 131_072),
    "center": (bool,),
    "n_frames": (int, 1, 1024),
    "train_hop_frames": (int, 1, 65_536),
    "trajectory_hop_frames": (int, 1, 65_536),
    "n_mels": (int, 1, 512),
    "n_gammatone": (int, 1, 512),
    "gammatone_fmin": (float, 1.0, 20_000.0),
    "gammatone_bands_per_octave": (int, 1, 96),
    "power_law": (float, 0.01, 10.0),
    "preemphasis": (float, 0.0, 0.99),
    "log_floor": (float, 1e-30, 0.1),
    "mel_path": (str, 1, 16),
    "midend": (str, 0, 16),
}
MODEL_BOUNDS: dict[str, tuple] = {
    "n_frames": (int, 1, 1024),
    "n_mel": (int, 1, 512),
    "n_coch": (int, 1, 512),
    "d_model": (int, 1, 2048),
    "n_layers": (int, 1, 32),
    "n_heads": (int, 1, 64),
    "ffn_mult": (int, 1, 16),
    "dropout": (float, 0.0, 0.99),
    "fusion_dim": (int, 1, 8192),
    "n_classes": (int, 2, 4),  # 2: P(high) of one dimension; 4: the quadrants (3 is refused below)
    "cross_attention": (bool,),
    "band_embedding": (bool,),
    "n_descriptors": (int, 0, 4096),  # 0, or the musical descriptors' count (checked below)
    "musicnn_midend": (bool,),
    "musicnn_front_end": (bool,),
}
MAX_WINDOW_S = 600.0  # one model window; a longer one repeats a short track to fill it
EPOCH = (int, 0, 1_000_000)
COUNT = (int, 0, 10**9)


def _check_config(section: str, raw: Any, bounds: dict[str, tuple], cls: type) -> Any:
    """The dataclass ``cls`` from a bundle's config dict, every field within ``bounds``."""
    key = f"{section}_config"
    if not isinstance(raw, dict):
        raise _FieldError(key, raw, "must be a dict of settings")
    for k, v in raw.items():
        if k not in bounds:
            raise _FieldError(f"{section}.{k}", v, f"unknown {section} setting")
    defaults = cls()
    for f in fields(cls):
        _check(f"{section}.{f.name}", raw.get(f.name, getattr(defaults, f.name)), bounds[f.name])
    return cls(**raw)


def _check_feature_config(raw: Any):
    from damer_core.features.spectra import FeatureConfig

    cfg = _check_config("feature", raw, FEATURE_BOUNDS, FeatureConfig)
    _check_mel_path(cfg)
    if cfg.n_fft < cfg.frame_length:
        raise _FieldError("feature.n_fft", cfg.n_fft, f"must be at least feature.frame_length ({cfg.frame_length})")
    nyquist = cfg.sample_rate / 2
    top = float(cfg.gammatone_centre_freqs[-1])
    if top >= nyquist:
        raise _FieldError("feature.n_gammatone", cfg.n_gammatone,
                          f"its highest band ({top:.0f} Hz) must lie below half the sample rate ({nyquist:.0f} Hz)")
    if cfg.window_seconds > MAX_WINDOW_S:
        raise _FieldError("feature.n_frames", cfg.n_frames, f"one window with this hop_length and sample_rate "
                                                            f"lasts {cfg.window_seconds:.0f} s; at most {MAX_WINDOW_S:.0f} s")
    return cfg


def _check_mel_path(cfg) -> None:
    from damer_core.features.musicnn import MIDEND_CHANNELS
    from damer_core.features.spectra import MEL, MUSICNN_PATHS, TUNED_PATHS

    if cfg.mel_path not in (MEL, *MUSICNN_PATHS):
        raise _FieldError("feature.mel_path", cfg.mel_path, f"must be one of {', '.join((MEL, *MUSICNN_PATHS))}")
    if cfg.mel_path in MUSICNN_PATHS and cfg.n_mels != MIDEND_CHANNELS:
        raise _FieldError("feature.n_mels", cfg.n_mels, f"must be {MIDEND_CHANNELS} (musicnn's mid-end) for the musicnn Mel path")
    if (cfg.mel_path in TUNED_PATHS) != bool(re.fullmatch(r"[0-9a-f]{16}", cfg.midend)):
        raise _FieldError("feature.midend", cfg.midend, f"must name the fine-tuned musicnn layers' weights (16 hex digits) "
                                                        f"where feature.mel_path is {' or '.join(TUNED_PATHS)}, and only there")


def _check_model_config(raw: Any, feature):
    from damer_core.models.network import ModelConfig

    cfg = _check_config("model", raw, MODEL_BOUNDS, ModelConfig)
    if cfg.n_classes not in (2, 4):
        raise _FieldError("model.n_classes", cfg.n_classes, "must be 2 (one dimension) or 4 (the quadrants)")
    if cfg.d_model % cfg.n_heads:
        raise _FieldError("model.n_heads", cfg.n_heads, f"must divide model.d_model ({cfg.d_model})")
    from damer_core.features.descriptors import NAMES

    if cfg.n_descriptors not in (0, len(NAMES)):
        raise _FieldError("model.n_descriptors", cfg.n_descriptors,
                          f"must be 0 or {len(NAMES)} (the musical descriptors this version computes)")
    from damer_core.features.spectra import MUSICNN_FULL, TUNED_PATHS

    if cfg.musicnn_midend != (feature.mel_path in TUNED_PATHS):
        raise _FieldError("model.musicnn_midend", cfg.musicnn_midend,
                          f"must be true exactly where feature.mel_path is {' or '.join(TUNED_PATHS)}")
    if cfg.musicnn_front_end != (feature.mel_path == MUSICNN_FULL):
        raise _FieldError("model.musicnn_front_end", cfg.musicnn_front_end,
                          f"must be true exactly where feature.mel_path is {MUSICNN_FULL}")
    for mine, theirs in (("n_frames", "n_frames"), ("n_mel", "n_mels"), ("n_coch", "n_gammatone")):
        if getattr(cfg, mine) != getattr(feature, theirs):
            raise _FieldError(f"model.{mine}", getattr(cfg, mine),
                              f"must equal feature.{theirs} ({getattr(feature, theirs)})")
    return cfg


def _check_entry(dim: str, entry: Any) -> None:
    field = f"dimensions.{dim}"
    _check_dict(field, entry)
    if "state_dict" not in entry:
        raise _FieldError(f"{field}.state_dict", MISSING, "the weights of this dimension are needed")
    _check_dict(f"{field}.state_dict", entry["state_dict"])
    for key, bound in (("epoch", EPOCH), ("temperature", TEMPERATURE)):
        if key in entry:
            _check(f"{field}.{key}", entry[key], bound)
    for key in ("metrics", "calibration"):
        if key in entry:
            _check_dict(f"{field}.{key}", entry[key])
            _check_numbers(f"{field}.{key}", entry[key])
    if "temperature_source" in entry and not isinstance(entry["temperature_source"], str):
        raise _FieldError(f"{field}.temperature_source", entry["temperature_source"], "must be text")
    digest = entry.get(CHECKSUM)
    if CHECKSUM in entry and not (isinstance(digest, str) and len(digest) == 64
                                  and all(c in "0123456789abcdef" for c in digest)):
        raise _FieldError(f"{field}.{CHECKSUM}", digest, "must be 64 hexadecimal digits")


def _check_metadata(data: dict) -> None:
    """What `info`, the app and resuming read besides the configs and the weights."""
    for key in ("damer_core_version", "created"):
        if key in data and not isinstance(data[key], str):
            raise _FieldError(key, data[key], "must be text")
    for key in ("train_config", "data", "data_args", "resume", "run"):
        if key in data:
            _check_dict(key, data[key])
    if "split" in data:
        split = data["split"]
        _check_dict("split", split)
        if not isinstance(split.get("by"), str):
            raise _FieldError("split.by", split.get("by", MISSING), "must be text")
        for part in ("train", "val", "test"):
            _check(f"split.{part}", split.get(part, MISSING), COUNT)
    if "quadrant" in data:
        _check_dict("quadrant", data["quadrant"])
        for part, q in data["quadrant"].items():
            if part not in ("train", "val", "test"):  # each part is a line of `info`: no more than the three
                raise _FieldError("quadrant key", part, "must be train, val or test")
            _check_dict(f"quadrant.{part}", q)
            _check(f"quadrant.{part}.n", q.get("n", MISSING), COUNT)
            for key in ("acc", "macro_f1"):
                if key not in q:
                    raise _FieldError(f"quadrant.{part}.{key}", MISSING, "must be a number")
            _check_numbers(f"quadrant.{part}", q)


MAX_TEXT = 4096  # characters of any text field (a path is at most PATH_MAX = 4096 bytes)
MAX_ITEMS = 100_000  # entries of any list or dict besides the weights (a data set's missing files, metrics)


def _structure_problem(obj: Any) -> str:
    """Why the bundle's values cannot be shown or checked safely ("" when they can): nesting past
    MAX_NESTING (it would overflow the recursion of the checks and of JSON output), a text longer
    than MAX_TEXT or a list or dict longer than MAX_ITEMS (`info` would print megabytes)."""
    stack = [("", obj, 0)]
    while stack:
        where, item, depth = stack.pop()
        if depth > MAX_NESTING:
            return f"its values nest more than {MAX_NESTING} levels deep"
        if isinstance(item, str) and len(item) > MAX_TEXT:
            return f"field {where or 'name'} is {len(item):,} characters long (at most {MAX_TEXT:,})"
        if isinstance(item, (dict, list, tuple)) and len(item) > MAX_ITEMS and not where.endswith("state_dict"):
            return f"field {where} holds {len(item):,} entries (at most {MAX_ITEMS:,})"
        if isinstance(item, dict):
            for k, v in item.items():
                if isinstance(k, str) and len(k) > MAX_TEXT:
                    return f"a key in {where or 'the bundle'} is {len(k):,} characters long (at most {MAX_TEXT:,})"
                stack.append((f"{where}.{k}" if where else str(k), v, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((f"{where}[{i}]", v, depth + 1) for i, v in enumerate(item))
    return ""


def _expected_weights(mcfg) -> dict:
    """Names and shapes of the model's state_dict, built on the meta device: no memory allocated."""
    import torch

    from damer_core.models.network import DAMER

    with torch.device("meta"):
        shapes = {k: tuple(v.shape) for k, v in DAMER(replace(mcfg, band_embedding=False)).state_dict().items()}
    if mcfg.band_embedding:  # added by hand: normal_ on the meta device costs seconds on its first call
        shapes.update(band_mel=(mcfg.n_mel, mcfg.d_model), band_coch=(mcfg.n_coch, mcfg.d_model))
    return shapes


def _names(keys: list[str]) -> str:
    keys = sorted(keys)
    return ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _check_weights(path: Path, dim: str, entry: dict, expected: dict) -> None:
    import torch

    sd = entry["state_dict"]
    for key, t in sd.items():
        if not (isinstance(key, str) and isinstance(t, torch.Tensor) and t.layout == torch.strided
                and t.is_floating_point()):
            what = f"a {t.dtype} {t.layout} tensor" if isinstance(t, torch.Tensor) else f"not a tensor ({type(t).__name__})"
            raise BundleError(path, f"bundle field dimensions.{dim}.state_dict[{_show(key)}] is {what}: "
                                    "must be a tensor of floats")
    if CHECKSUM in entry and weights_sha256(sd) != entry[CHECKSUM]:
        raise BundleError(path, f"{dim} weights do not match their checksum: the file is damaged")
    missing, unexpected = expected.keys() - sd.keys(), sd.keys() - expected.keys()
    if missing or unexpected:
        detail = "; ".join(f"{what}: {_names(list(keys))}" for what, keys in (("missing", missing), ("unexpected", unexpected))
                           if keys)
        raise BundleError(path, f"weights for {dim} do not fit the model ({detail})")
    for key, shape in expected.items():
        if tuple(sd[key].shape) != shape:
            raise BundleError(path, f"weights for {dim} do not fit the model ({key} has shape "
                                    f"{list(sd[key].shape)}, the model config needs {list(shape)})")
    bad = [k for k, t in sd.items() if not bool(torch.isfinite(t).all())]
    if bad:
        raise BundleError(path, f"{dim} weights contain NaN or inf ({_names(bad)}): the model cannot be used")
    for key in ("mel_std", "coch_std", "desc_std"):
        if key in sd and not bool((sd[key] > 0).all()):
            raise BundleError(path, f"{dim} weights: {key} holds values <= 0 (the feature normalisation would divide by zero)")


def check_bundle(data: Any, path: str | os.PathLike = "<bundle>") -> dict:
    """Every field of a loaded bundle within bounds, its weights intact and fitting the model; the
    configs come back complete (defaults filled in). Problems are one-line :class:`BundleError`s."""
    from damer_core.datasets.base import DIMENSIONS
    from damer_core.models import descriptor_checks
    from damer_core.targets import QUADRANT

    path = Path(path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(path, "not a DAMER model bundle (no 'format: damer-bundle' marker)")
    if "format_version" not in data:
        raise BundleError(path, "incomplete bundle: missing 'format_version'")
    version = data["format_version"]
    if _is_int(version) and version > FORMAT_VERSION:
        raise BundleError(path, f"written by a newer damer-core (bundle format {version}); update to use it")
    try:
        _check("format_version", version, (int, 1, FORMAT_VERSION))
    except _FieldError as e:
        raise BundleError(path, str(e)) from None
    networks = version == 1 or data.get("kind") in NETWORK_KINDS  # version 1 always held a model_config
    for key in ("feature_config",) + (("model_config", "dimensions") if networks else ()) + (("kind",) if version != 1 else ()):
        if key not in data:
            raise BundleError(path, f"incomplete bundle: missing '{key}'")
    problem = _structure_problem(data)
    if problem:
        raise BundleError(path, f"refused: {problem}")
    try:
        if version != 1:
            _check_kind(data)
        feature = _check_feature_config(data["feature_config"])
        model = _check_model_config(data["model_config"], feature) if networks else None
        dims = data["dimensions"] if networks else {}
        if not isinstance(dims, dict):
            raise _FieldError("dimensions", dims, "must be a dict of arousal and/or valence weights")
        if not dims and "descriptor_head" not in data:
            raise BundleError(path, "bundle holds no trained dimension")
        for dim, entry in dims.items():
            if model is not None and model.n_classes == 4 and dim != QUADRANT:
                raise _FieldError("dimensions key", dim, "must be quadrant (the model has the 4-way quadrant head)")
            if model is not None and model.n_classes == 2 and dim not in DIMENSIONS:
                raise _FieldError("dimensions key", dim, f"must be {' or '.join(DIMENSIONS)}")
            _check_entry(dim, entry)
        _check_metadata(data)
        descriptor_checks.check_parts(data, dims)
    except _FieldError as e:
        raise BundleError(path, str(e)) from None
    if model is not None:
        expected = _expected_weights(model)
        for dim, entry in dims.items():
            _check_weights(path, dim, entry, expected)
    descriptor_checks.check_tensors(path, data)
    data["feature_config"] = feature.to_dict()
    if model is not None:
        data["model_config"] = model.to_dict()
    return data


def _check_kind(data: dict) -> None:
    """A version-2 bundle's ``kind`` is one this version knows, and its parts are that kind's."""
    kind = data["kind"]
    if kind not in KINDS:
        raise _FieldError("kind", kind, f"must be one of {', '.join(KINDS)} (a newer damer-core may know it)")
    has_head, has_dims = "descriptor_head" in data, bool(data.get("dimensions"))
    if kind == DESCRIPTOR_HEAD and ("model_config" in data or "dimensions" in data):
        raise _FieldError("kind", kind, "a descriptor-head bundle holds no network (no model_config or dimensions)")
    if kind == DESCRIPTOR_HEAD and not has_head:
        raise _FieldError("descriptor_head", MISSING, "a descriptor-head bundle needs its descriptor head")
    if kind == DAMER and has_head:
        raise _FieldError("kind", kind, "a DAMER bundle holds no descriptor head (that is a stack)")
    if kind == STACK and not (has_head and has_dims and "combination" in data):
        raise _FieldError("kind", kind, "a stack needs DAMER weights, a descriptor head and their combination")

