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


def model_name(path: str | Path) -> str:
    """How the app names a model: a built-in one by its name, any other as :func:`bundle_name`."""
    from damer_core.contract.builtin import builtin_name

    return builtin_name(path) or bundle_name(path)


class ImportRefused(ValueError):
    """A bundle that cannot be brought into the models folder; ``str()`` is one line naming it."""


def import_problem(src: str | Path) -> str:
    """Why ``src`` cannot be imported as a model bundle ("" when it is a regular file that can be read)."""
    import os
    import stat

    name = shown(str(src), 1000)
    try:
        st = os.stat(src)
    except OSError as e:
        return f"{name}: {'no such file' if isinstance(e, FileNotFoundError) else (e.strerror or e)}"
    if stat.S_ISDIR(st.st_mode):
        return f"{name}: is a folder; choose a model bundle file (.pt)"
    if not stat.S_ISREG(st.st_mode):
        return f"{name}: is not a regular file (a pipe, a socket or a device); choose a model bundle file (.pt)"
    if not os.access(src, os.R_OK):
        return f"{name}: cannot be read (permission denied)"
    return ""


def in_models_folder(src: str | Path) -> bool:
    try:
        return Path(src).resolve().parent == models_dir().resolve()
    except (OSError, RuntimeError):  # a link loop: not one of ours
        return False


def models_path_for(src: str | Path) -> Path:
    """Where the bundle ``src`` is copied to in the models folder (unless another model holds that name)."""
    return models_dir() / f"{bundle_name(src)}.pt"


def _same_bytes(a: Path, b: Path) -> bool:
    import filecmp

    try:
        return b.is_file() and filecmp.cmp(a, b, shallow=False)
    except OSError:
        return False


def copy_into_models(src: str | Path) -> Path:
    """The bundle ``src`` as it lies in the models folder: itself when it is there already, else a
    copy named after it (:func:`models_path_for`) that never overwrites another model (``name-2.pt``...);
    a byte-identical copy already there under that name is reused.
    The copy is atomic (damer_core.contract.fileutil.atomic_write): a full disk leaves nothing
    behind. Problems are one-line :class:`ImportRefused`."""
    from damer_core.contract.fileutil import atomic_write

    src = Path(src)
    problem = import_problem(src)
    if problem:
        raise ImportRefused(problem)
    if in_models_folder(src):
        return src
    same_name = models_path_for(src)
    if _same_bytes(src, same_name):  # brought in before (Set active, then "Use this model"): that copy
        return same_name
    dest = free_path(same_name)
    try:
        with open(src, "rb") as f, atomic_write(dest) as out:
            shutil.copyfileobj(f, out)
    except OSError as e:
        where = e.filename or dest
        raise ImportRefused(f"{shown(str(where), 1000)}: the model could not be copied into the models folder "
                            f"({e.strerror or e}); nothing was changed") from None
    return dest
