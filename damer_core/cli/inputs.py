"""The files a command is given: audio files and folders (walked, each folder that cannot be
listed said in one line, reason first), and a ``--files-from`` list."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from damer_core.contract.errors import UsageError


def audio_inputs(inputs: list[str]) -> list[Path]:
    """The audio files named or found under the folders named, each once, in the order given."""
    from damer_core.audio.decoding import audio_files
    from damer_core.contract.safe_text import shown_path

    files: list[Path] = []
    for item in inputs:
        p = Path(item)
        try:
            is_dir = p.is_dir()
        except OSError:  # a path over PATH_MAX: predicted as a file, it gets its row and its reason
            is_dir = False
        if not is_dir:
            files.append(p)
            continue
        unlisted: list[Path] = []
        found = audio_files(p, functools.partial(_say_unreadable, unlisted))
        if not found and not unlisted:
            print(f"damer-core: {shown_path(p)}: no audio files in this folder", file=sys.stderr)
        files += found
    unique = list(dict.fromkeys(files))
    if len(unique) < len(files):
        print(f"damer-core: {len(files) - len(unique)} repeated file(s) left out: each file is predicted once",
              file=sys.stderr)
    return unique


def listed_files(path: str) -> list[str]:
    """The lines of a ``--files-from`` list, as the OS gives names: bytes that are not UTF-8
    travel as surrogate escapes (os.fsdecode), so any file name the file system allows works, one
    per line, nothing stripped but a CRLF's \r (a name may begin or end with spaces)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"--files-from {path}: {e.strerror or e}") from None
    lines = (raw[:-1] if raw.endswith(b"\r") else raw for raw in data.split(b"\n"))  # a CRLF list too
    return [os.fsdecode(line) for line in lines if line.strip()]  # names kept whole: spaces and \r inside


def _say_unreadable(unlisted: list[Path], folder: Path, reason: str) -> None:
    """One line per folder that cannot be listed, like a file that cannot be read; the reason
    before the path, so a long path cut short never hides it."""
    from damer_core.contract.safe_text import shown_path

    unlisted.append(folder)
    print(f"damer-core: skipped a folder ({reason.lower()}): {shown_path(folder)}", file=sys.stderr)
