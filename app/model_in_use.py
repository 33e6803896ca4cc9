"""The model in use: the one the user chose (Settings.active_model, "" for the built-in model),
else the built-in model; what the V-A circle says when there is none; and its library key."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

NO_MODEL = ("No emotion model installed.\nTrain one with `damer-core train`,\n"
            "then Model > Import model bundle...")
MODEL_MISSING = "The active model's file is gone:\n{name}\nChoose another under Model > Models..."


@dataclass(frozen=True)
class ModelInUse:
    chosen: str  # Settings.active_model: "" for the default built-in model, builtin:<file> for another
    path: str  # the bundle that predicts; "" when there is none
    key: str  # the library's key for its predictions; "" when there is none

    @classmethod
    def of(cls, chosen: str) -> ModelInUse:
        path = usable_model(chosen)
        return cls(chosen, path, prediction_key(path) if path else "")

    @property
    def why_none(self) -> str:
        """Why there is no model to predict with (the circle says it)."""
        if self.chosen and not self.path:
            return MODEL_MISSING.format(name=Path(self.chosen).name)
        return NO_MODEL


def prediction_key(model: str) -> str:
    """The library's key for a model's predictions: its path, size and modification time, so a
    bundle replaced at the same path (an upgraded built-in model, a retrained best.pt) is analysed
    again instead of lending its predecessor's predictions."""
    text = model.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")  # a key SQLite stores as text
    try:
        st = os.stat(model)
    except OSError:
        return text
    return f"{text}|{st.st_size}|{st.st_mtime_ns}"


def usable_model(chosen: str) -> str:
    """The model to predict with: ``chosen`` (a path, or a built-in model other than the default by
    name), else the default built-in model; "" when the chosen one's file is gone, or when there
    is none at all."""
    from damer_core.contract.builtin import builtin_model_path, chosen_path

    if chosen:
        path = chosen_path(chosen)
        return path if path and Path(path).is_file() else ""
    builtin = builtin_model_path()
    return str(builtin) if builtin is not None else ""


def stored_choice(path: str) -> str:
    """What Settings.active_model keeps for ``path``: "" for the default built-in model,
    ``builtin:<file>`` for another built-in one (damer_core.contract.builtin.builtin_choice)."""
    from damer_core.contract.builtin import builtin_choice

    return builtin_choice(path)
