"""Test configuration. Qt needs a platform before it starts: offscreen, so no display is needed."""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# A persistent numba cache: librosa's JIT is paid once per machine, not once per test run.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "numba"))

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own feature cache and never touches the user's."""
    monkeypatch.setenv("DAMER_CACHE_DIR", str(tmp_path / "feature-cache"))
    yield


@pytest.fixture
def real_tracks():
    return sorted(DATA.glob("*.ogg"))
