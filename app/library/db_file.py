"""The library file's side of the database: its errors in words (locked, read-only, damaged),
the header check that keeps SQLite from writing over a file that is not a database, and how a
path travels into SQL losslessly. Runs no SQL (app.library.db does)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from damer_core.contract.errors import UserError


def fs_param(path: str) -> str | bytes:
    """A path as a query parameter, bound as ``CAST(? AS TEXT)``: a name whose bytes are not UTF-8
    (surrogate escapes, as the OS gives it) is bound as those bytes, so the column holds exactly the
    file system's name and :func:`column_text` gives the same string back."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return path.encode("utf-8", "surrogateescape")


def column_text(raw: bytes) -> str:
    """Every text column read: UTF-8, with a stored name's other bytes as surrogate escapes."""
    return raw.decode("utf-8", "surrogateescape")


class LibraryLocked(UserError):
    """The database is locked by another process (a second instance) or read-only."""


class LibraryReadOnly(LibraryLocked):
    """The database file (or its folder) cannot be written."""


class LibraryDamaged(UserError):
    """The database file is not a readable SQLite library (random bytes, cut off, a text file);
    app.library.recovery moves it aside and starts a new one."""

    def __init__(self, path: Path, reason: str):
        self.path, self.reason = path, reason
        super().__init__(f"{path}: the library database is damaged ({reason})")


def open_error(path: Path, e: sqlite3.Error) -> LibraryLocked | LibraryDamaged:
    text = str(e)
    if any(words in text for words in DAMAGE_WORDS):
        return LibraryDamaged(path, text)
    if "readonly" in text or "read-only" in text:
        return LibraryReadOnly(f"{path}: the library database is read-only; make it writable "
                               "(or set DAMER_DATA_DIR to a writable folder) and start again")
    if "unable to open" in text and not os.access(path.parent, os.W_OK | os.X_OK):
        return LibraryReadOnly(f"{path}: the library's folder cannot be reached or written by this user; set "
                               "DAMER_DATA_DIR to a folder of yours and start again")
    if "locked" in text:
        return LibraryLocked(f"{path}: the library database is locked by another program; close it and start again")
    return LibraryLocked(f"{path}: cannot open the library database ({text})")


# what SQLite says of a file that is not (or no longer) a database it can read
DAMAGE_WORDS = ("not a database", "malformed", "corrupt", "file is encrypted", "disk image")


def check_header(path: Path) -> None:
    """A file that is there but does not start as an SQLite database is damaged: SQLite would take
    one shorter than its header for an empty database and write over it."""
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except FileNotFoundError:
        return
    except OSError:
        return  # unreadable: connect() says so in its own words (locked, read-only)
    if head and head != b"SQLite format 3\0":
        raise LibraryDamaged(path, "not an SQLite database")
