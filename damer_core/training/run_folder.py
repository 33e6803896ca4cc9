"""The run folder (``--out``): a new or empty folder, or one an earlier training wrote; held by a
lock for the whole run, so two trainings never write the same checkpoints."""

from __future__ import annotations

import json
import os
from pathlib import Path

from damer_core.contract.errors import InputError
from damer_core.contract.fileutil import LockHeld, hold_lock


class RunFolderError(InputError):
    """The run folder cannot be written, or another training is writing to it."""


def check_run_folder(out: Path, resume: bool = False) -> None:
    """``--out`` must be a new or empty folder, or a run folder (one a training wrote) that
    ``resume`` continues or that holds no checkpoint yet: a folder holding other files is the
    user's, and the run would mix its checkpoints into it or replace a file there called
    best.pt; an earlier run's model is the user's too (--force replaces it)."""
    if out.exists() and not out.is_dir():
        raise RunFolderError(f"{out}: is a file, not a folder; choose a folder for --out")
    run = _is_run_folder(out)
    if not resume and run:
        kept = [name for name in ("best.pt", "last.pt") if (out / name).exists()]
        if kept:
            raise RunFolderError(f"{out}: holds an earlier run ({kept[0]}); --resume continues it, --force replaces "
                                 "it, or choose a new --out")
    if out.is_dir() and not run:
        try:
            others = next(os.scandir(out), None)
        except OSError as e:
            raise RunFolderError(f"{out}: the run folder cannot be read ({e.strerror or e})") from None
        if others is not None:
            raise RunFolderError(f"{out}: holds other files and no earlier run; choose a new or empty folder "
                                 "for --out (or add --force to write the run there)")


def _is_run_folder(out: Path) -> bool:
    """A folder a training wrote: its lock file, or a run.json that names a run (an id and the data
    set's fingerprint); a stray file of that name does not make a folder a run's."""
    if (out / ".train.lock").exists():
        return True
    try:
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(run, dict) and isinstance(run.get("id"), str) and isinstance(run.get("data_fingerprint"), str)


def claim_run_folder(out: Path):
    """Create ``out`` and hold an exclusive lock on it for the run, before any data is read: two
    runs with the same --out would overwrite each other's checkpoints, and a folder that cannot be
    written should fail now, not after an epoch. Returns the open lock file (close it to release)."""
    busy = lambda holder: (f"{out}: another damer-core train ({holder}) is writing to this run folder; "  # noqa: E731
                           "wait for it to finish or choose another --out")
    try:
        out.mkdir(parents=True, exist_ok=True)
        return hold_lock(out / ".train.lock", busy)
    except LockHeld as e:
        raise RunFolderError(str(e)) from None
    except OSError as e:
        raise RunFolderError(f"{out}: cannot write the run folder ({e.strerror or e}); choose another --out") from None
