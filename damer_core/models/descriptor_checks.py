"""The checks of a bundle's descriptor head and of its combination with DAMER (see
damer_core.models.bundle_checks, which calls these: every problem is one BundleError line)."""

from __future__ import annotations

from pathlib import Path

from damer_core.contract.errors import BundleError
from damer_core.models.bundle_fields import (
    CHECKSUM,
    MISSING,
    TEMPERATURE,
    FieldError,
    check_dict,
    check_field,
    check_numbers,
    weights_sha256,
)

DESCRIPTOR_HEAD, COMBINATION = "descriptor_head", "combination"
GAMMA = (float, 0.0, 100.0)
# Floors and ceilings a fitted head never comes near, but past which it predicts one constant:
# fit_descriptor_head adds 1e-6 to every std (stored in float32, 1e-6 reads 9.99e-7), its gamma
# is 1/D for at most a few hundred columns, and standardised data and their weights stay small.
STD_FLOOR, GAMMA_FLOOR, MAGNITUDE = 1e-7, 1e-5, 1e6


def check_parts(data: dict, dims: dict) -> None:
    """The descriptor head (damer_core.models.descriptor_head) and the stack that combines it with DAMER
    (damer_core.inference.predictor): their settings; the tensors are checked by _check_descriptor_tensors."""
    from damer_core.features.descriptors import NAMES
    from damer_core.features.head_inputs import EMBEDDING_GROUP, INPUT_GROUPS, reads_descriptors, uses_embeddings
    from damer_core.models.descriptor_head import KINDS

    if COMBINATION in data and DESCRIPTOR_HEAD not in data:
        raise FieldError(COMBINATION, "present", "needs a descriptor_head to combine with")
    if DESCRIPTOR_HEAD not in data:
        return
    if dims and COMBINATION not in data:
        raise FieldError(COMBINATION, MISSING, "a bundle with DAMER and a descriptor_head needs the combination")
    if not dims and COMBINATION in data:
        raise FieldError(COMBINATION, "present", "a descriptor head alone (no DAMER weights) has nothing to combine")
    if dims and not (set(dims) == {"arousal", "valence"} or set(dims) == {"quadrant"}):
        raise FieldError(
            "dimensions", ", ".join(dims), "a descriptor head is combined with both dimensions or the quadrant head"
        )
    head = data[DESCRIPTOR_HEAD]
    check_dict(DESCRIPTOR_HEAD, head)
    for key in ("kind", "groups", "gamma", "temperature", "n_descriptors", "state_dict"):
        if key not in head:
            raise FieldError(f"{DESCRIPTOR_HEAD}.{key}", MISSING, "is needed")
    if head["kind"] not in KINDS:
        raise FieldError(f"{DESCRIPTOR_HEAD}.kind", head["kind"], f"must be {' or '.join(KINDS)}")
    groups = head["groups"]
    if not (isinstance(groups, list) and groups and all(g in INPUT_GROUPS for g in groups)):
        raise FieldError(f"{DESCRIPTOR_HEAD}.groups", groups, f"must be a list of {', '.join(INPUT_GROUPS)}")
    if dims and uses_embeddings(groups):  # DAMER's trajectory hands the stack's head descriptors alone
        raise FieldError(f"{DESCRIPTOR_HEAD}.groups", groups, f"a stack's descriptor head cannot read {EMBEDDING_GROUP}")
    if head["n_descriptors"] != len(NAMES) and reads_descriptors(groups):  # a head on musicnn alone reads none
        raise FieldError(f"{DESCRIPTOR_HEAD}.n_descriptors", head["n_descriptors"],
                          f"must be {len(NAMES)} (made by another version of the descriptors)")
    check_field(f"{DESCRIPTOR_HEAD}.gamma", head["gamma"], GAMMA)
    check_field(f"{DESCRIPTOR_HEAD}.temperature", head["temperature"], TEMPERATURE)
    check_dict(f"{DESCRIPTOR_HEAD}.state_dict", head["state_dict"])
    if "report" in head:
        check_dict(f"{DESCRIPTOR_HEAD}.report", head["report"])
    if COMBINATION not in data:
        return
    comb = data[COMBINATION]
    check_dict(COMBINATION, comb)
    for key in ("temperature", "state_dict"):
        if key not in comb:
            raise FieldError(f"{COMBINATION}.{key}", MISSING, "is needed")
    check_field(f"{COMBINATION}.temperature", comb["temperature"], TEMPERATURE)
    check_dict(f"{COMBINATION}.state_dict", comb["state_dict"])
    for key in ("metrics", "calibration"):
        if key in comb:
            check_numbers(f"{COMBINATION}.{key}", comb[key])


def check_tensors(path: Path, data: dict) -> None:
    """Shapes that fit together, finite floats, and the checksum (nothing to do without a head)."""
    import torch

    if DESCRIPTOR_HEAD not in data:
        return

    from damer_core.features.head_inputs import input_columns

    head = data[DESCRIPTOR_HEAD]
    kernel = head["kind"] == "kernel"
    d = int(input_columns(head["groups"]).size)
    landmarks = head["state_dict"].get("landmarks")
    m = int(landmarks.shape[0]) if kernel and isinstance(landmarks, torch.Tensor) and landmarks.dim() == 2 else 0
    if kernel and m == 0:
        raise BundleError(path, f"bundle field {DESCRIPTOR_HEAD}.state_dict[landmarks] holds no landmark: "
                                "a kernel head needs at least one")
    shapes = {f"{DESCRIPTOR_HEAD}.mean": (d,), f"{DESCRIPTOR_HEAD}.std": (d,), f"{DESCRIPTOR_HEAD}.coef": (4, m if kernel else d),
              f"{DESCRIPTOR_HEAD}.intercept": (4,),
              f"{DESCRIPTOR_HEAD}.landmarks": (m, d) if kernel else None,
              f"{DESCRIPTOR_HEAD}.projection": (m, m) if kernel else None,
              f"{COMBINATION}.coef": (4, 8), f"{COMBINATION}.intercept": (4,)}
    for name, shape in shapes.items():
        section, key = name.split(".")
        if section not in data:
            continue
        t = data[section]["state_dict"].get(key)
        if not (isinstance(t, torch.Tensor) and t.layout == torch.strided and t.is_floating_point()):
            raise BundleError(path, f"bundle field {section}.state_dict[{key}] is missing or not a tensor of floats")
        if shape is not None and tuple(t.shape) != shape:
            raise BundleError(path, f"bundle field {section}.state_dict[{key}] has shape {list(t.shape)}, needs {list(shape)}")
        if not bool(torch.isfinite(t).all()):
            raise BundleError(path, f"bundle field {section}.state_dict[{key}] contains NaN or inf")
        if t.numel() and float(t.abs().max()) > MAGNITUDE:
            raise BundleError(path, f"bundle field {section}.state_dict[{key}] holds a value of {float(t.abs().max()):.3g}: "
                                    f"beyond {MAGNITUDE:.0e}, no fitted model holds such numbers (it would not move)")
    if not bool((head["state_dict"]["std"] >= STD_FLOOR).all()):
        raise BundleError(path, f"bundle field {DESCRIPTOR_HEAD}.state_dict[std] holds values below {STD_FLOOR:g}: "
                                "each input would be multiplied beyond use and every prediction saturate")
    if kernel and float(head["gamma"]) < GAMMA_FLOOR:
        raise BundleError(path, f"bundle field {DESCRIPTOR_HEAD}.gamma is {head['gamma']!r}: a kernel head needs at least "
                                f"{GAMMA_FLOOR:g} (at 0 every track looks the same to it)")
    for section in (s for s in (DESCRIPTOR_HEAD, COMBINATION) if s in data):
        digest = data[section].get(CHECKSUM)
        if digest is not None and weights_sha256(data[section]["state_dict"]) != digest:
            raise BundleError(path, f"{section} weights do not match their checksum: the file is damaged")
