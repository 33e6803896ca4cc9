"""The emotion dimensions the model predicts and the library stores, in the order every table,
bundle and metric uses: arousal first, then valence."""

from __future__ import annotations

DIMENSIONS: tuple[str, ...] = ("arousal", "valence")
QUADRANT = "quadrant"  # the joint head's key: one network for the four quadrants (docs/SPEC.md section 4)
