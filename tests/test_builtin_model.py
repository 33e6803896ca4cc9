"""The built-in model shipped in resources/models: it loads safely, says what it is, and predicts
real music through `damer-core predict` and `info` without any --checkpoint."""

import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import DATA, ROOT

from damer_core.contract.builtin import (
    BUILTIN_DAMER_FILE,
    BUILTIN_DAMER_NAME,
    BUILTIN_FILE,
    BUILTIN_NAME,
    builtin_damer_path,
    builtin_model_path,
    builtin_model_paths,
    builtin_name,
    default_checkpoint,
    is_builtin,
    is_default_builtin,
)
from damer_core.models.checkpoint import load_checkpoint


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
    # the recipe chosen by grouped cross-validation: musicnn's embedding, a linear head (docs/MODEL_CARD.md)
    assert b["kind"] == "descriptor-head" and b["format_version"] == 2 and "dimensions" not in b and "model_config" not in b
    assert b["descriptor_head"]["kind"] == "linear" and b["recipe"]["model"] == "descriptor_head"
    assert b["descriptor_head"]["groups"] == ["musicnn"] == b["recipe"]["descriptor_head"]["groups"]
    assert b["feature_config"]["name"] == "context" and b["data"]["format"] == "4q"
    report = b["report"]
    assert report["fit_on"] == {"part": "all", "tracks": 720, "seconds": report["fit_on"]["seconds"]}
    test = report["test"]["descriptor_head"]  # from the train + validation build, scored once
    assert test["n"] == report["test"]["n"] == 216 and np.array(test["confusion"]).sum() == 216
    for metric in ("valence_acc", "arousal_acc", "macro_f1"):
        lo, hi = test["interval"][metric]
        assert lo <= test[metric] <= hi
    assert report["test"]["class_prior"]["macro_f1"] < test["macro_f1"]
    cal = report["calibration"]
    assert 0.05 <= cal["temperature"] == b["descriptor_head"]["temperature"] <= 20
    assert cal["windows"]["ece_after"] <= cal["windows"]["ece_before"] + 1e-9
    assert set(report["cross_validation"]) == {"descriptor_head"}


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
    res = cli("predict", DATA / "vibe_ace.ogg", "--format", "json", "--cache-dir", ROOT / ".cache" / "test-features")
    assert res.returncode == 0, res.stderr
    (pred,) = json.loads(res.stdout)
    assert pred["dimensions"] == ["arousal", "valence"]
    assert -1 <= pred["valence"] <= 1 and -1 <= pred["arousal"] <= 1
    t = np.array(pred["trajectory"]["t"])
    assert np.array_equal(t, np.arange(t.size) * 0.5)
    raw, smooth = np.array(pred["trajectory_raw"]["arousal"]), np.array(pred["trajectory"]["arousal"])
    assert np.abs(np.diff(smooth)).max() <= np.abs(np.diff(raw)).max()
    # calibrated probabilities: never exactly 0 or 1, and the moments differ
    for dim in ("valence", "arousal"):
        values = np.array(pred["trajectory_raw"][dim])
        assert np.abs(values).max() < 0.999 and values.std() > 0.01
    info = cli("info")
    assert info.returncode == 0 and "(the built-in model)" in info.stdout and "test part (216 tracks)" in info.stdout, info.stdout
    assert is_builtin(builtin_on)


def test_a_damaged_descriptor_head_is_refused_in_one_line(builtin_on):
    import torch

    from damer_core.models.checkpoint import BundleError, check_bundle

    def damaged(edit):
        b = load_checkpoint(builtin_on)
        edit(b)
        with pytest.raises(BundleError) as e:
            check_bundle(b, builtin_on)
        assert "\n" not in str(e.value)
        return str(e.value)

    def nan_weight(b):
        b["descriptor_head"]["state_dict"]["coef"][0, 0] = float("nan")
    assert "descriptor_head.state_dict[coef] contains NaN" in damaged(nan_weight)

    def other_descriptors(b):  # a head that reads descriptors, made by another version of them
        b["descriptor_head"]["groups"] = ["dynamics", "musicnn"]
        b["descriptor_head"]["n_descriptors"] = 99
    assert "made by another version of the descriptors" in damaged(other_descriptors)

    def wrong_shape(b):
        b["descriptor_head"]["state_dict"]["mean"] = torch.zeros(3)
    assert "has shape [3]" in damaged(wrong_shape)

    def stray_combination(b):
        b["combination"] = {"temperature": 1.0, "state_dict": {}}
    assert "nothing to combine" in damaged(stray_combination)

    def flipped_bit(b):
        b["descriptor_head"]["state_dict"]["intercept"][0] += 1.0
    assert "do not match their checksum" in damaged(flipped_bit)


def test_the_damer_network_ships_beside_the_default(builtin_on):
    """The best DAMER variant of the grouped cross-validation (DAMER through musicnn: the joint
    quadrant head, its Mel stream musicnn's front and mid-end, the descriptors in its fusion layer)
    is a second built-in model: small, weights-only, scored once on the 216 test tracks, and named
    apart from the default."""
    damer = builtin_damer_path()
    assert damer == ROOT / "resources" / "models" / BUILTIN_DAMER_FILE
    assert builtin_model_paths() == [builtin_on, damer]
    assert damer.stat().st_size < 20 * 1024 * 1024
    b = load_checkpoint(damer)
    assert b["kind"] == "damer" and b["format_version"] == 2 and set(b["dimensions"]) == {"quadrant"}
    assert b["model_config"]["n_descriptors"] > 0 and b["model_config"]["n_mel"] == 192
    assert b["feature_config"]["name"] == "context-musicnn" and b["feature_config"]["mel_path"] == "musicnn"
    assert b["data"]["format"] == "4q" and b["split"] == {"by": "artist", "train": 396, "val": 108, "test": 216}
    test = b["quadrant"]["test"]  # scored once, for the last of its 6 epochs
    assert test["n"] == 216 and 0.25 < test["macro_f1"] <= test["acc"] + 0.05 and b["dimensions"]["quadrant"]["epoch"] == 6
    assert is_builtin(damer) and not is_default_builtin(damer) and is_default_builtin(builtin_on)
    assert builtin_name(damer) == BUILTIN_DAMER_NAME and builtin_name(builtin_on) == BUILTIN_NAME
    assert builtin_name(ROOT / "tests" / "data" / "damer-4q-binary.pt") is None
    assert default_checkpoint(None) == str(builtin_on)  # the default stays the default


def test_an_override_leaves_one_built_in_model(monkeypatch, tmp_path):
    mine = tmp_path / "mine.pt"
    mine.write_bytes(b"x")
    monkeypatch.setenv("DAMER_BUILTIN_MODEL", str(mine))
    assert builtin_model_paths() == [mine] and builtin_damer_path() is None
    monkeypatch.setenv("DAMER_BUILTIN_MODEL", "none")
    assert builtin_model_paths() == [] and not is_builtin(ROOT / "resources" / "models" / BUILTIN_DAMER_FILE)


@pytest.mark.slow
def test_the_damer_network_predicts_real_music(builtin_on):
    damer = builtin_damer_path()
    res = cli("predict", DATA / "hungarian_dance_5.ogg", "--checkpoint", damer, "--format", "json",
              "--cache-dir", ROOT / ".cache" / "test-features")
    assert res.returncode == 0, res.stderr
    (pred,) = json.loads(res.stdout)
    assert -1 <= pred["valence"] <= 1 and -1 <= pred["arousal"] <= 1
    values = np.array(pred["trajectory_raw"]["valence"])
    assert np.abs(values).max() < 0.999 and values.std() > 0.01
    info = cli("info")
    assert info.returncode == 0 and f"Also built in: {damer}" in info.stdout, info.stdout
    info = cli("info", damer)
    assert "(the built-in DAMER network): DAMER network" in info.stdout and "test" in info.stdout, info.stdout


def test_a_chosen_built_in_is_remembered_by_name_not_by_where_it_is_installed(builtin_on, tmp_path):
    from damer_core.contract.builtin import builtin_choice, chosen_path

    damer = builtin_damer_path()
    assert builtin_choice(str(builtin_on)) == "" and builtin_choice("") == ""
    assert builtin_choice(str(damer)) == "builtin:damer-4q-network.pt"
    assert chosen_path("builtin:damer-4q-network.pt") == str(damer)  # the install that runs now, wherever it is
    assert chosen_path("builtin:gone.pt") == ""
    mine = str(tmp_path / "mine.pt")
    assert builtin_choice(mine) == mine == chosen_path(mine)

