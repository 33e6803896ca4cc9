"""The built-in model shipped in resources/models: it loads safely, says what it is, and predicts
real music through `damer-core predict` and `info` without any --checkpoint."""

import json
import subprocess
import sys

import numpy as np
import pytest

from damer_core.builtin import BUILTIN_FILE, builtin_model_path, default_checkpoint, is_builtin
from damer_core.checkpoint import load_checkpoint
from conftest import DATA, ROOT


@pytest.fixture
def builtin_on(monkeypatch):
    monkeypatch.delenv("DAMER_BUILTIN_MODEL", raising=False)
    path = builtin_model_path()
    assert path == ROOT / "resources" / "models" / BUILTIN_FILE
    return path


def cli(*args):
    return subprocess.run([sys.executable, "-m", "damer_core.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_the_bundle_is_small_safe_and_calibrated(builtin_on):
    assert builtin_on.stat().st_size < 20 * 1024 * 1024
    b = load_checkpoint(builtin_on)  # weights_only: a checkpoint can never run code
    assert set(b["dimensions"]) == {"arousal", "valence"}
    assert b["feature_config"]["name"] == "context" and b["data"]["format"] == "4q"
    assert b["split"]["by"] == "artist"
    for dim, entry in b["dimensions"].items():
        assert 0.05 <= entry["temperature"] <= 20
        assert set(entry["metrics"]) == {"val", "test"}, dim
        cal = entry["calibration"]["val"]
        assert cal["ece_after"] <= cal["ece_before"] + 1e-9
    assert set(b["quadrant"]) == {"val", "test"}


def test_switched_off_or_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("DAMER_BUILTIN_MODEL", "none")
    assert builtin_model_path() is None
    with pytest.raises(ValueError, match="no built-in model"):
        default_checkpoint(None)
    monkeypatch.setenv("DAMER_BUILTIN_MODEL", str(tmp_path / "gone.pt"))
    assert builtin_model_path() is None
    assert default_checkpoint("mine.pt") == "mine.pt"


@pytest.mark.slow
def test_predict_and_info_use_it_by_default(builtin_on):
    res = cli("predict", DATA / "vibe_ace.ogg", "--cache-dir", ROOT / ".cache" / "test-features")
    assert res.returncode == 0, res.stderr
    (pred,) = json.loads(res.stdout)
    assert pred["dimensions"] == ["arousal", "valence"]
    assert -1 <= pred["valence"] <= 1 and -1 <= pred["arousal"] <= 1
    t = np.array(pred["trajectory"]["t"])
    assert np.array_equal(t, np.arange(t.size) * 0.5)
    raw, smooth = np.array(pred["trajectory_raw"]["arousal"]), np.array(pred["trajectory"]["arousal"])
    assert np.abs(np.diff(smooth)).max() <= np.abs(np.diff(raw)).max()
    # calibrated: the model is not sure of every moment (points inside the circle, not on the rim)
    assert np.median(np.hypot(raw, np.array(pred["trajectory_raw"]["valence"]))) < 0.99
    info = cli("info")
    assert info.returncode == 0 and "(the built-in model)" in info.stdout and "test acc" in info.stdout, info.stdout
    assert is_builtin(builtin_on)
