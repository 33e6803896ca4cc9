"""The model in use: the one the user chose (Settings.active_model, "" for the built-in model),
else the built-in model; what the V-A circle says when there is none; and its library key."""

from __future__ import annotations

from pathlib import Path

from app.analysis.library_analysis import prediction_key

NO_MODEL = ("No emotion model installed.\nTrain one with `damer-core train`,\n"
            "then Model > Import model bundle...")
MODEL_MISSING = "The active model's file is gone:\n{name}\nChoose another under Model > Models..."


def usable_model(chosen: str) -> str:
    """The model to predict with: ``chosen``, else the built-in model; "" when the chosen one's
    file is gone, or when there is none at all."""
    from damer_core.contract.builtin import builtin_model_path

    if chosen:
        return chosen if Path(chosen).is_file() else ""
    builtin = builtin_model_path()
    return str(builtin) if builtin is not None else ""


def model_key(model: str) -> str:
    """The library's key for ``model``'s predictions (app.analysis.library_analysis.prediction_key); "" for no model."""
    return prediction_key(model) if model else ""


def no_model_message(chosen: str) -> str:
    """Why there is no model to predict with."""
    return MODEL_MISSING.format(name=Path(chosen).name) if chosen and not Path(chosen).is_file() else NO_MODEL


def stored_choice(path: str) -> str:
    """What Settings.active_model keeps for ``path``: "" for the built-in model."""
    from damer_core.contract.builtin import is_builtin

    return "" if path and is_builtin(path) else path
