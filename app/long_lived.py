"""Bulk data the app keeps for long, moved out of the cycle collector's reach once made.

Python's full collections traverse every object that can hold references: with a 50,000-track
library (its table rows) and the library pass's 100,000 queued jobs, each one held the GUI thread
for up to 130 ms, and they come every few thousand allocations while a pass is fed. ``gc.freeze``
moves what exists now into the permanent generation, which collections skip. Reference counting
still frees it when it is dropped (a row or a job is in no reference cycle), so nothing leaks by it;
only cyclic garbage that exists at that moment waits, as it would have waited for the next full
collection."""

from __future__ import annotations

import gc


def settle() -> None:
    """Call after making a large batch of long-lived objects, on the GUI thread."""
    gc.freeze()
