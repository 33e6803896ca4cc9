"""Strings from files (tags, file names, bundle fields, data sets) on their way to a person: on a
terminal, in the GUI or in a spreadsheet. Nothing here changes what is stored; it changes what is
shown, so a hostile string cannot set a terminal's title, forge lines, flood the screen or run as a
spreadsheet formula. Standard library only (the GUI imports it)."""

from __future__ import annotations

import math
import os
import re

# C0 and C1 controls, DEL, and the Unicode controls that reorder or break what follows
# (bidirectional overrides and isolates, line and paragraph separators, BOM-like marks).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]")
SHOWN_LIMIT = 300  # characters of one string shown; the rest is counted, not printed


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def shown(text: object, limit: int = SHOWN_LIMIT) -> str:
    """``text`` fit to show a person: bytes the OS gave that are not UTF-8 (surrogate escapes)
    become U+FFFD, control characters become visible escapes (``\\x1b``, ``\\n``), and past
    ``limit`` characters the rest is replaced by a count."""
    s = str(text)
    if not s.isascii():
        s = s.encode("utf-8", "surrogateescape" if _escapable(s) else "surrogatepass").decode("utf-8", "replace")
    s = _CONTROL.sub(_escape, s)
    if len(s) > limit:
        s = f"{s[:limit]}… ({len(s) - limit:,} more characters)"
    return s


def _escapable(s: str) -> bool:
    try:
        s.encode("utf-8", "surrogateescape")
        return True
    except UnicodeEncodeError:
        return False


def shown_name(path: str | os.PathLike) -> str:
    """A file's name as :func:`shown` shows it."""
    return shown(os.path.basename(os.fspath(path)) or os.fspath(path))


def shown_path(path: str | os.PathLike) -> str:
    """A whole path as :func:`shown` shows it (a longer limit: paths are long)."""
    return shown(os.fspath(path), limit=1000)


# A cell starting with one of these is run as a formula by spreadsheets (OWASP's CSV injection list).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: a leading apostrophe before a formula character.
    A value that already starts with an apostrophe followed by one of them (or by an apostrophe)
    gets one more, so :func:`from_spreadsheet_cell` gives every value back exactly."""
    if value.startswith(FORMULA_START) or (value.startswith("'") and value[1:2] in (*FORMULA_START, "'")):
        return "'" + value
    return value


def from_spreadsheet_cell(value: str) -> str:
    """The inverse of :func:`spreadsheet_cell` (a CSV written without it reads the same, except a
    value starting with an apostrophe followed by a formula character or an apostrophe)."""
    if value.startswith("'") and value[1:2] in (*FORMULA_START, "'"):
        return value[1:]
    return value


def figure(value: float | None) -> str:
    """A metric for people: three decimals; n/a where it is undefined (a one-class part), never nan."""
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"
