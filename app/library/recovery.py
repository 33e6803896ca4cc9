"""A damaged library database or settings file never stops the app: the file is moved aside (kept,
renamed with the date), a new one is started, and the user is told which file, what was done with
it and, for the library, offered a rescan of the folders it listed. Qt-free but for :func:`tell_user`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass
class Recovery:
    """One damaged file: where it was, where it is now, why, and (a library) the folders it listed."""
    what: str  # "library database", "settings file"
    path: Path
    moved_to: Path | None
    reason: str
    folders: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        kept = (f"It was moved aside to {self.moved_to} (kept, not deleted)" if self.moved_to is not None
                else "It could not be moved aside and was left where it is")
        fresh = "a new, empty library was started" if self.what == "library database" else "the settings start from defaults"
        return f"The {self.what} {self.path} is damaged ({self.reason}). {kept}; {fresh}."


def set_aside(path: Path) -> Path | None:
    """Rename ``path`` (and a database's -wal and -shm files) to ``<name>.damaged-<date-time>``;
    None when it cannot be renamed (a read-only folder)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    k = 2
    while target.exists():
        target = path.with_name(f"{path.name}.damaged-{stamp}-{k}")
        k += 1
    try:
        path.rename(target)
    except OSError as e:
        log.error("%s: cannot move the damaged file aside (%s)", path, e.strerror or e)
        return None
    for suffix in ("-wal", "-shm"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            try:
                side.rename(target.with_name(target.name + suffix))
            except OSError:
                pass
    return target


def recover_library(path: Path, reason: str) -> Recovery:
    """Move a damaged library aside, keeping what can be read of its folder list."""
    from app.library.db import folders_listed

    folders = folders_listed(path)
    moved = set_aside(path)
    log.error("library database %s damaged (%s): moved aside to %s; %d folder(s) can be rescanned",
              path, reason, moved, len(folders))
    return Recovery("library database", path, moved, reason, folders)


def recover_settings(path: Path, reason: str) -> Recovery:
    moved = set_aside(path)
    log.error("settings file %s damaged (%s): moved aside to %s", path, reason, moved)
    return Recovery("settings file", path, moved, reason)


def settings_problem(path: Path) -> str:
    """Why the settings file cannot be read as settings ("" when it can, or is absent or unreadable:
    a permission problem is not damage, and the file is left alone)."""
    import json

    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return ""
    except OSError:
        return ""
    except UnicodeDecodeError:
        return "not UTF-8 text"
    except (ValueError, RecursionError) as e:
        return f"not valid JSON: {' '.join(str(e).split())[:120]}"
    return "" if isinstance(data, dict) else "not a JSON object of settings"


def damaged_files(db_path: Path, settings_path: Path) -> list[Recovery]:
    """Check the library database and the settings file before the window opens; each damaged one
    is moved aside (so the window starts with a new one) and listed for :func:`tell_user`."""
    from app.library.db import LibraryDamaged, LibraryDB, LibraryLocked

    found = []
    reason = settings_problem(settings_path)
    if reason:
        found.append(recover_settings(settings_path, reason))
    try:
        LibraryDB(db_path).close()
    except LibraryDamaged as e:
        found.append(recover_library(db_path, e.reason))
    except LibraryLocked:
        pass  # locked or read-only is not damage: the window's own open reports it
    return found


def tell_user(parent, recoveries: list[Recovery]) -> list[str]:
    """One dialog naming every damaged file and what was done; returns the folders to rescan
    (empty when the user chose not to, or there are none)."""
    from PySide6.QtWidgets import QMessageBox

    folders = [f for r in recoveries for f in r.folders]
    from damer_core.contract.safe_text import shown, shown_path

    box = QMessageBox(QMessageBox.Icon.Warning, "DAMER Explorer: damaged files",
                      "\n\n".join(shown(r.text, 2000) for r in recoveries), parent=parent)
    rescan = None
    if folders:
        some = "1 music folder" if len(folders) == 1 else f"{len(folders)} music folders"
        box.setInformativeText(f"The damaged library listed {some}. Scan {'it' if len(folders) == 1 else 'them'} into "
                               "the new library? (Its labels and predictions stay in the damaged file.)")
        box.setDetailedText("\n".join(shown_path(f) for f in folders))
        rescan = box.addButton("Rescan the folder" if len(folders) == 1 else f"Rescan {len(folders)} folders",
                               QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Start empty", QMessageBox.ButtonRole.RejectRole)
    else:
        box.addButton(QMessageBox.StandardButton.Ok)
    box.exec()
    return folders if rescan is not None and box.clickedButton() is rescan else []
