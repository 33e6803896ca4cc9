"""Importing damer_core changes nothing in the process: numba's cache folder is set where librosa
is first imported (damer_core/features/numba_env.py), not when damer_core is."""

import os
import subprocess
import sys
import textwrap

from conftest import ROOT

IMPORTS = """
import os, sys
before = dict(os.environ)
import damer_core, damer_core.cli.main, damer_core.inference.predictor, damer_core.audio.decoding
import damer_core.models.checkpoint, damer_core.features.extract
import damer_core.evaluation.evaluate, damer_core.inference.predict
assert dict(os.environ) == before, set(os.environ.items()) ^ set(before.items())
assert "numba" not in sys.modules and "librosa" not in sys.modules
"""

FEATURES = """
import os, sys
import numpy as np
from damer_core.features.spectra import CLIP, frame_sequence
seq = frame_sequence(np.random.default_rng(0).normal(size=2 * 22050).astype(np.float32), CLIP)
assert np.isfinite(seq.mel).all() and np.isfinite(seq.coch).all()
import numba
print(os.environ["NUMBA_CACHE_DIR"])
print(numba.config.CACHE_DIR)
"""


def run(code: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env,
                          cwd=ROOT)


def test_importing_damer_core_leaves_the_environment_alone(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA")}
    res = run(IMPORTS, {**env, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr


def test_features_put_numba_s_cache_in_the_user_cache_folder(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA")}
    res = run(FEATURES, {**env, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path)})
    assert res.returncode == 0, res.stderr
    expected = str(tmp_path / "damer-explorer" / "numba")
    assert res.stdout.split() == [expected, expected]


def test_numba_set_up_while_another_thread_imports_it():
    """Features are computed in several threads: one may find numba half-imported by another
    (a partially initialised numba.core.config, without reload_config yet). That must not fail."""
    script = textwrap.dedent("""
        import sys, types
        sys.modules["numba.core.config"] = types.ModuleType("numba.core.config")  # half-imported
        from damer_core.features.numba_env import configure_numba_cache
        configure_numba_cache(); configure_numba_cache()
        print("ok")
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert res.returncode == 0 and res.stdout.strip() == "ok", res.stderr[-500:]
