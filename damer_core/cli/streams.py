"""The standard streams as the command finds them: closed by the caller, or with an encoding that
cannot spell a file's name (``PYTHONIOENCODING=ascii``, a C locale). Results never stop half-way
on either: a closed stdout that should carry them is refused before any work, and a name is
written with what cannot be spelt escaped."""

from __future__ import annotations

import codecs
import os
import sys

from damer_core.contract.errors import UsageError

NAMES = "damer-names"
RESULTS_ON_STDOUT = ("predict", "info", "devices", "evaluate", "worker")  # their output is the result


def _escape_names(e: UnicodeError) -> tuple[str, int]:
    """A name that is not UTF-8 goes out as its own bytes (surrogateescape); a character this
    encoding lacks, as a backslash escape (instead of UnicodeEncodeError mid-output)."""
    try:
        return codecs.lookup_error("surrogateescape")(e)  # type: ignore[return-value]
    except UnicodeError:
        return codecs.lookup_error("backslashreplace")(e)  # type: ignore[return-value]


codecs.register_error(NAMES, _escape_names)


def usable_streams(command: str, writes_stdout: bool) -> None:
    """Before any work: a missing stderr goes nowhere, a missing stdout is refused when the
    command's results go there (else nowhere), and stdout spells every name it can."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # nowhere to say anything: the exit status still does
    if sys.stdout is None:
        if writes_stdout:
            raise UsageError("standard output is closed, and the results go there"
                             + ("; give --output FILE to write them to a file" if command == "predict" else ""))
        sys.stdout = open(os.devnull, "w")
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors=NAMES)
