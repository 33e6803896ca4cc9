"""Every benchmark runs: each script in benchmarks/ has a --quick mode, run here, so a benchmark
that rots (a renamed function, a changed signature) fails CI instead of its next reader. The
figures of a quick run are not the targets; the README's Performance table is from full runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


def test_there_are_benchmarks_to_run():
    assert len(BENCHMARKS) >= 8


@pytest.mark.slow
@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_the_quick_mode_runs_and_prints_figures(script, tmp_path):
    env = dict(os.environ, DAMER_CONFIG_DIR=str(tmp_path / "config"), DAMER_DATA_DIR=str(tmp_path / "data"),
               DAMER_CACHE_DIR=str(tmp_path / "cache"), PYTHONPATH=str(ROOT))
    env.pop("DAMER_BUILTIN_MODEL", None)  # the benchmarks measure the shipped model
    out = subprocess.run([sys.executable, str(script), "--quick"], capture_output=True, text=True, env=env, cwd=tmp_path,
                         timeout=900)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    assert any(ch.isdigit() for ch in out.stdout) and "Traceback" not in out.stderr
