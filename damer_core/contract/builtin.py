"""The built-in model (docs/SPEC.md section 5): the recipe that won the grouped cross-validation on the 4Q
audio emotion data set (since 2026-12-02 the descriptor head, docs/MODEL_CARD.md), shipped in
``resources/models/`` with its model card (docs/MODEL_CARD.md). It is the active model until the
user chooses another, what `damer-core predict` uses without ``--checkpoint``, and the base that
fine-tuning starts from. ``DAMER_BUILTIN_MODEL`` points elsewhere, or ``none`` switches it off."""

from __future__ import annotations

import os
from pathlib import Path

from damer_core.contract.errors import InputError
from damer_core.contract.paths import resources_dir

BUILTIN_FILE = "damer-4q.pt"
BUILTIN_NAME = "4Q emotion model (built-in)"


def builtin_model_path() -> Path | None:
    """The built-in bundle's path, or None where it is switched off or missing from this install."""
    override = os.environ.get("DAMER_BUILTIN_MODEL")
    if override is not None:
        if override.strip().lower() in ("", "none", "off", "0"):
            return None
        return Path(override) if Path(override).is_file() else None
    try:
        path = resources_dir() / "models" / BUILTIN_FILE
    except FileNotFoundError:
        return None
    return path if path.is_file() else None


def is_builtin(path: str | os.PathLike) -> bool:
    builtin = builtin_model_path()
    try:
        return builtin is not None and Path(path).resolve() == builtin.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        return False


def default_checkpoint(given: str | None) -> str:
    """``given``, or the built-in model's path; a clear error when neither exists."""
    if given:
        return given
    path = builtin_model_path()
    if path is None:
        raise InputError("no --checkpoint given and no built-in model in this install "
                         f"(resources/models/{BUILTIN_FILE}); train one with `damer-core train`")
    return str(path)
