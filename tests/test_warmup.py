"""`damer-core warm-up` (install.sh's last step): the analysis once on generated music fills numba's
cache with every kernel a real track's analysis needs, so a fresh install's first track does not
wait ~20 s for librosa's JIT (a newcomer once waited 25 s for the first marker)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow  # compiles librosa's kernels from nothing (~25 s)


def compiled(cache: Path) -> set[str]:
    """The kernels (index files) and compiled signatures (data files) in a numba cache."""
    return {p.name for p in cache.rglob("*") if p.suffix in (".nbi", ".nbc")}


def test_the_warm_up_compiles_what_a_real_tracks_analysis_needs(tmp_path):
    cache = tmp_path / "numba"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache), "DAMER_CACHE_DIR": str(tmp_path / "features")}
    builtin = str(ROOT / "resources" / "models" / "damer-4q.pt")  # the suite switches the built-in model off
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "warm-up", "--checkpoint", builtin], capture_output=True,
                       text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert "the analysis ran once in" in r.stderr and str(cache) in r.stderr
    warmed = compiled(cache)
    assert {"utils._localmax", "audio._zc_wrapper"} <= {name.split("-")[0] for name in warmed}  # the descriptors' kernels
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "predict", "--progress", "none", "--checkpoint", builtin,
                        str(ROOT / "tests" / "data" / "vibe_ace.ogg")], capture_output=True, text=True, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert compiled(cache) == warmed  # a real recording's analysis compiled nothing more
