"""Errors a user can fix, each one line: the CLI prints them without a traceback (exit status 2).
Any other exception is a bug and keeps its traceback. The data-set, training and device errors
live next to the code that raises them; these are the ones several modules share."""

from __future__ import annotations

import os
from pathlib import Path


class UserError(Exception):
    """The base of every error a user can act on: its ``str()`` is the one line they see (the CLI
    prints it without a traceback, exit status 2; the app shows it). Anything else is a bug."""


class UsageError(UserError):
    """Bad input the user can fix; printed as one line, exit status 2."""


class InputError(UserError, ValueError):
    """Something the user gave or can change cannot be used: a training config or one of its fields,
    a flag's value, a data set too small to split, a run folder, settings under which training
    diverged. A ValueError, so code that catches ValueError still does."""


class AudioError(UserError):
    """A file could not be turned into usable audio. ``str()`` is one line: ``name: reason``."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(self.path).name}: {reason}")


class UnsupportedFormat(AudioError):
    """The format needs a decoder that is not installed (ffmpeg)."""


class BundleError(UserError):
    """A bundle or checkpoint cannot be used; ``str()`` is one line naming the file."""

    def __init__(self, path: str | os.PathLike, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{Path(path).name}: {reason}")
