"""The built-in models (docs/SPEC.md section 5), shipped in ``resources/models/`` with their model
card (docs/MODEL_CARD.md):

- the **default**: the recipe that won the grouped cross-validation on the 4Q audio emotion data
  set (since 2026-12-06 the musicnn embedding head). It is the active model until the user
  chooses another, what `damer-core predict` uses without ``--checkpoint``, and the base that
  fine-tuning starts from;
- the **DAMER network**: the best DAMER variant of the same cross-validation, shipped beside it
  because the default is not a DAMER network (docs/SPEC.md section 5), so the paper's network is
  always one click away in the Models dialog.

``DAMER_BUILTIN_MODEL`` points elsewhere (that file is then the only built-in model), or ``none``
switches both off."""

from __future__ import annotations

import os
from pathlib import Path

from damer_core.contract.errors import InputError
from damer_core.contract.paths import resources_dir

BUILTIN_FILE = "damer-4q.pt"
BUILTIN_NAME = "4Q emotion model (built-in)"
BUILTIN_DAMER_FILE = "damer-4q-network.pt"
BUILTIN_DAMER_NAME = "4Q DAMER network (built-in)"


def _overridden() -> tuple[bool, Path | None]:
    """Whether ``DAMER_BUILTIN_MODEL`` is set, and the one built-in model it leaves (None: switched off)."""
    override = os.environ.get("DAMER_BUILTIN_MODEL")
    if override is None:
        return False, None
    if override.strip().lower() in ("", "none", "off", "0"):
        return True, None
    return True, Path(override) if Path(override).is_file() else None


def _shipped(file: str) -> Path | None:
    try:
        path = resources_dir() / "models" / file
    except FileNotFoundError:
        return None
    return path if path.is_file() else None


def builtin_model_path() -> Path | None:
    """The default built-in bundle's path, or None where it is switched off or missing from this install."""
    overridden, path = _overridden()
    return path if overridden else _shipped(BUILTIN_FILE)


def builtin_damer_path() -> Path | None:
    """The built-in DAMER network's path, or None where the built-ins are overridden, switched off
    or missing from this install."""
    return None if _overridden()[0] else _shipped(BUILTIN_DAMER_FILE)


def builtin_model_paths() -> list[Path]:
    """Every built-in model of this install, the default first."""
    return [p for p in (builtin_model_path(), builtin_damer_path()) if p is not None]


def _same(path: str | os.PathLike, builtin: Path | None) -> bool:
    try:
        return builtin is not None and Path(path).resolve() == builtin.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a link loop (Python < 3.13)
        return False


def is_default_builtin(path: str | os.PathLike) -> bool:
    """Whether ``path`` is the default built-in model (the one an empty choice means)."""
    return _same(path, builtin_model_path())


def is_builtin(path: str | os.PathLike) -> bool:
    """Whether ``path`` is one of the built-in models (never renamed, deleted or checked again)."""
    return any(_same(path, p) for p in builtin_model_paths())


def builtin_name(path: str | os.PathLike) -> str | None:
    """The name a built-in model is shown by, or None for any other file."""
    if is_default_builtin(path):
        return BUILTIN_NAME
    return BUILTIN_DAMER_NAME if _same(path, builtin_damer_path()) else None


CHOICE_PREFIX = "builtin:"  # a remembered choice of a built-in model other than the default, by its file's name


def builtin_choice(path: str) -> str:
    """What a remembered choice keeps for ``path``: "" for the default built-in model,
    ``builtin:<file>`` for another built-in one (found again in whatever install runs next), else
    the path itself."""
    if not path or is_default_builtin(path):
        return ""
    return CHOICE_PREFIX + Path(path).name if is_builtin(path) else path


def chosen_path(choice: str) -> str:
    """The file a remembered choice names ("" where a built-in one is not in this install)."""
    if not choice.startswith(CHOICE_PREFIX):
        return choice
    name = choice[len(CHOICE_PREFIX):]
    return next((str(p) for p in builtin_model_paths() if p.name == name), "")


def default_checkpoint(given: str | None) -> str:
    """``given``, or the default built-in model's path; a clear error when neither exists."""
    if given:
        return given
    path = builtin_model_path()
    if path is None:
        raise InputError("no --checkpoint given and no built-in model in this install "
                         f"(resources/models/{BUILTIN_FILE}); train one with `damer-core train`")
    return str(path)
