"""Fine-tuning with the defaults for a few dozen labels adjusts a trained model towards a curator's
labels without losing what it knew (generated data: arousal = tempo, valence = major/minor)."""

import csv

import numpy as np
import pytest
from synthdata import memo_arrays, write_song

from damer_core.cli.main import main as cli_main
from damer_core.datasets import load_dataset
from damer_core.evaluation.evaluate import score_model
from damer_core.inference.predictor import Predictor
from damer_core.models import load_model
from damer_core.models.checkpoint import load_checkpoint
from damer_core.training.config import FINE_TUNE_DEFAULTS

pytestmark = pytest.mark.slow  # real fine-tuning runs

def curator_set(root):
    """24 four-second tracks. The curator hears slow major music as sad: valence low where the
    base model (major = high) says high. Everything else follows the base model's rule."""
    rows, idiosyncratic = [], []
    for i in range(24):
        major, fast = bool(i % 2), bool((i // 2) % 2)
        path = write_song(root / f"t{i:02d}.wav", major, fast, seed=500 + i)
        valence = -0.6 if (major and not fast) else (0.6 if major else -0.6)
        rows.append((path.name, valence, 0.6 if fast else -0.6))
        if major and not fast:
            idiosyncratic.append(path)
    with open(root / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "valence", "arousal"])
        w.writerows(rows)
    return root / "labels.csv", idiosyncratic


def mean_valence(bundle, paths):
    p = Predictor(bundle)
    return float(np.mean([p.predict_file(x).valence for x in paths]))


def accuracy_elsewhere(bundle, fs):
    report = score_model(load_model(bundle), {"model": fs}, "all")
    return {d: report["dimensions"][d]["heads"]["fuse"]["acc"] for d in ("arousal", "valence")}


@pytest.mark.slow
def test_fine_tuning_moves_towards_the_labels_and_keeps_the_rest(trained_bundle, tmp_path, capsys):
    labels, sad_major = curator_set(tmp_path / "curator")
    elsewhere = load_dataset(memo_arrays(tmp_path / "fresh", 120, seed=9))
    before_v = mean_valence(trained_bundle, sad_major)
    before_acc = accuracy_elsewhere(trained_bundle, elsewhere)
    out = tmp_path / "tuned"
    assert cli_main(["train", "--dataset", str(labels), "--init", str(trained_bundle), "--out", str(out),
                     "--progress", "none", "--device", "cpu"]) == 0
    tuned = load_checkpoint(out / "best.pt")
    assert (
        tuned["train_config"]["epochs"] == FINE_TUNE_DEFAULTS["epochs"]
        and tuned["train_config"]["lr"] == FINE_TUNE_DEFAULTS["lr"]
    )
    base = load_checkpoint(trained_bundle)
    for dim in ("arousal", "valence"):  # a handful of validation tracks cannot fit a temperature: the base's is kept
        assert tuned["dimensions"][dim]["temperature"] == base["dimensions"][dim]["temperature"]
        assert tuned["dimensions"][dim]["temperature_source"].startswith("base model")
    after_v = mean_valence(out / "best.pt", sad_major)
    after_acc = accuracy_elsewhere(out / "best.pt", elsewhere)
    print(f"slow-major valence {before_v:+.3f} -> {after_v:+.3f}; elsewhere {before_acc} -> {after_acc}")
    assert after_v < before_v - 0.1  # towards the curator's -0.6
    for dim in ("arousal", "valence"):
        assert after_acc[dim] >= before_acc[dim] - 0.05, (dim, before_acc, after_acc)
