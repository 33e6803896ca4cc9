"""The library pass's queued jobs, kept out of the cycle collector's full passes while it runs.

Python's full collections walk every object that can hold references: with the pass of a
50,000-track library (100,000 queued jobs) each one held the GUI thread for up to 130 ms, and they
came every few thousand allocations while the pass was fed. ``gc.freeze`` moves what exists now
into the permanent generation, which collections skip. Reference counting still frees a frozen
object that is dropped (a job is in no reference cycle: a cancelled or finished pass frees its
jobs at once), but a frozen reference cycle that becomes garbage is not collected while frozen; so
the freeze lasts only as long as the pass, and its end hands everything back to the collector."""

from __future__ import annotations

import gc


def settle() -> None:
    """After queueing a large batch of jobs, on the GUI thread."""
    gc.freeze()


def release() -> None:
    """The pass is over: what was frozen is the collector's again (its next full pass walks it once)."""
    gc.unfreeze()
