"""Where the app keeps its files (platformdirs), overridable for tests and portable use, and how a
model bundle comes into the models folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from damer_core.contract.fileutil import free_path
from damer_core.contract.paths import APP, config_dir, data_dir  # noqa: F401 - the app's folders are damer-core's
from damer_core.contract.safe_text import shown


def models_dir() -> Path:
    return data_dir() / "models"


def bundle_name(path: str | Path) -> str:
    """The name a bundle gets in the models folder: a run's best.pt / last.pt is named after its run folder."""
    p = Path(path)
    name = p.parent.name if p.stem in ("best", "last") else p.stem
    return shown(name, limit=120).replace("/", "-")  # UTF-8, printable: the path travels as text (Qt, child arguments)


def copy_into_models(src: str | Path) -> Path:
    """The bundle ``src`` as it lies in the models folder: itself when it is there already, else a
    copy named after it (:func:`bundle_name`) that never overwrites another model (``name-2.pt``...)."""
    src = Path(src)
    if src.resolve().parent == models_dir().resolve():
        return src
    dest = free_path(models_dir() / f"{bundle_name(src)}.pt")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest)
    return dest
