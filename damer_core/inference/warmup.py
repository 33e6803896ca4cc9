"""``damer-core warm-up``: the analysis worker's whole path (first marker, spectrograms, trajectory)
run once on generated music, so that numba compiles librosa's kernels into its cache
(damer_core.features.numba_env) at install time instead of on a user's first track: a fresh
cache costs about 20 s of compiling, which a newcomer once waited through before the first
marker. packaging/install.sh runs it, and the desktop build's install-desktop-entry.sh."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from damer_core.contract import events

SECONDS = 20.0  # longer than the opening segment, so the trajectory runs too


def warm_up(checkpoint: str | None) -> tuple[float, list[str]]:
    """(seconds taken, the problems the worker reported: empty when every step ran)."""
    import soundfile as sf

    from damer_core.audio.synthetic import chord_music
    from damer_core.features.cache import FeatureCache
    from damer_core.inference.worker import Analysis

    started = time.perf_counter()
    problems: list[str] = []

    def heard(ev: events.Event) -> None:
        if isinstance(ev, (events.Error, events.FileError)):
            problems.append(ev.message)

    with tempfile.TemporaryDirectory(prefix="damer-warm-up-") as tmp:
        song = Path(tmp) / "warm-up.wav"
        sf.write(song, chord_music(SECONDS, major=True, fast=True, sample_rate=22_050), 22_050)
        analysis = Analysis(checkpoint, "cpu", FeatureCache(Path(tmp) / "cache"))
        analysis.run(events.Job("track", str(song), views_npz=str(Path(tmp) / "views.npz")), heard)
    return time.perf_counter() - started, problems

