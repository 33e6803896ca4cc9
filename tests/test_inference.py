"""Inference API and the predict / info / evaluate commands, on a model trained in this session."""

import csv
import io
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from synthdata import write_song

from damer_core.contract.emotions import load_emotion_terms, read_point
from damer_core.features.extract import track_training_windows
from damer_core.inference.predictor import Predictor
from damer_core.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # trains and predicts through the CLI in child processes

def cli(*args):
    return subprocess.run([sys.executable, "-m", "damer_core.cli", *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_trajectory_of_a_real_recording(trained_bundle, real_tracks):
    p = Predictor(trained_bundle)
    track = [t for t in real_tracks if t.name == "vibe_ace.ogg"][0]
    pred = p.predict_file(track)
    traj = pred.trajectory
    assert pred.duration == pytest.approx(61.46, abs=0.05)
    assert len(traj.times) == int(pred.duration / 0.5) + 1 and traj.times[0] == 0.0
    assert np.array_equal(traj.times, np.arange(len(traj.times)) * 0.5)  # an exact 0.5 s grid
    for arr in (traj.valence, traj.arousal):
        assert arr.shape == traj.times.shape and np.all(np.abs(arr) <= 1)
    assert np.all((traj.confidence >= 0) & (traj.confidence <= 1))
    assert traj.valence[0] == traj.valence[1]  # before 1 s: the first full window
    mel, coch = track_training_windows(track, p.feature_config)
    static = p.model.predict_windows(mel, coch)
    assert pred.valence == pytest.approx(float(static.valence.mean()), abs=1e-6)
    assert traj.at(10.2) == 20


@pytest.mark.slow
def test_predictions_follow_the_sound(trained_bundle, tmp_path):
    p = Predictor(trained_bundle)
    happy = p.predict_file(write_song(tmp_path / "happy.wav", major=True, fast=True, seconds=20, seed=77))
    sad = p.predict_file(write_song(tmp_path / "sad.wav", major=False, fast=False, seconds=20, seed=78))
    assert happy.arousal > 0 > sad.arousal
    assert happy.valence > 0 > sad.valence


@pytest.mark.slow
def test_predict_command_json_and_csv(trained_bundle, tmp_path):
    good = write_song(tmp_path / "song.ogg", True, True, seconds=12, seed=5)
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"garbage" * 50)
    res = cli("predict", good, bad, "--checkpoint", trained_bundle, "--format", "json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out[0]["path"].endswith("song.ogg") and -1 <= out[0]["valence"] <= 1
    assert len(out[0]["trajectory"]["t"]) == len(out[0]["trajectory"]["arousal"]) == 25
    assert out[0]["trajectory_raw"]["t"] == out[0]["trajectory"]["t"] and out[0]["smoothing_sigma_s"] == 1.5
    assert out[1]["error"] and "bad.mp3: " in res.stderr
    default = cli("predict", good, bad, "--checkpoint", trained_bundle)  # a row per file, as the README shows
    rows = list(csv.DictReader(io.StringIO(default.stdout)))
    assert default.stdout == cli("predict", good, bad, "--checkpoint", trained_bundle, "--format", "csv").stdout
    assert rows[0]["valence"] == f"{out[0]['valence']:.4f}"
    terms = load_emotion_terms()
    assert rows[0]["emotion"] == read_point(out[0]["valence"], out[0]["arousal"], terms).word
    assert rows[1]["error"] and rows[1]["emotion"] == "" and rows[1]["valence"] == ""
    assert [o["emotion"] for o in out] == [r["emotion"] for r in rows]  # json has every field csv has
    assert set(rows[0]) - {"error", "warning"} <= set(out[0])  # a good file has no error to say
    assert list(out[0]).index("emotion") < list(out[0]).index("trajectory")
    traj = cli("predict", good, "--checkpoint", trained_bundle, "--format", "trajectory-csv").stdout.splitlines()
    assert traj[0] == "path,t,valence,arousal,confidence,valence_smoothed,arousal_smoothed,confidence_smoothed"
    assert len(traj) == 26
    raw = [float(line.split(",")[3]) for line in traj[1:]]
    assert raw == [pytest.approx(x, abs=1e-4) for x in out[0]["trajectory_raw"]["arousal"]]  # raw values stay available


@pytest.mark.slow
def test_info_and_evaluate_commands(trained_bundle, synth_memo, tiny_memo):
    info = cli("info", trained_bundle)
    assert info.returncode == 0 and "preset clip" in info.stdout and "arousal: epoch" in info.stdout
    assert "validation acc" in info.stdout and "; test acc" in info.stdout and "split by track" in info.stdout
    ev = cli("evaluate", "--checkpoint", trained_bundle, "--dataset", synth_memo, "--progress", "none")
    assert ev.returncode == 0, ev.stderr
    lines = ev.stdout.splitlines()
    assert "test part, split by track, seed 0" in lines[0]
    fused = {line.split()[0]: [float(x) for x in re.findall(r"\d+\.\d", line)] for line in lines if "DAMER (fused)" in line}
    for dim in ("arousal", "valence"):
        acc, lo, hi = fused[dim][:3]
        assert acc >= 85 and lo <= acc <= hi  # the test part, with its 95 % interval
        bundle_test = load_checkpoint(trained_bundle)["dimensions"][dim]["metrics"]["test"]["fuse"]["acc"]
        assert acc == pytest.approx(100 * bundle_test, abs=0.06)  # the same part as training scored
    assert "quadrants (" in ev.stdout and "calibration (windows): temperature" in ev.stdout
    majority = {line.split()[0]: float(re.findall(r"\d+\.\d", line)[0]) for line in lines if "majority class" in line}
    assert set(majority) == {"arousal", "valence"} and all(majority[d] < fused[d][0] for d in majority)  # the baseline beside it
    assert "warning" not in ev.stdout  # the split it was trained with: nothing to warn about
    other = cli("evaluate", "--checkpoint", trained_bundle, "--dataset", tiny_memo, "--progress", "none")
    assert other.returncode == 0 and "warning: the bundle was trained on other data or another split" in other.stdout
    scored_elsewhere = cli("evaluate", "--checkpoint", trained_bundle, "--dataset", tiny_memo, "--all", "--progress", "none")
    assert "all labelled tracks" in scored_elsewhere.stdout and "trained on other data" not in scored_elsewhere.stdout


def test_evaluate_ablation_table_runs_the_grid(tiny_memo, tmp_path):
    res = cli("evaluate", "--dataset", tiny_memo, "--ablation-table", "--epochs", 1, "--batch-size", 16,
              "--dims", "arousal", "--progress", "none", "--out", tmp_path)
    assert res.returncode == 0, res.stderr
    rows = [line.split()[0] for line in res.stdout.splitlines()[3:10]]
    assert rows == ["DSAF", "PCL", "SAML", "DSAF+PCL", "PCL+SAML", "DSAF+SAML", "DSAF+PCL+SAML"]
    assert "Always on: 3-head CE, JS consistency (x0.2), band embedding" in res.stdout
    assert len(list(tmp_path.glob("*/best.pt"))) == 7


def test_train_jsonl_progress_schema(tiny_memo, tmp_path):
    res = cli("train", "--dataset", tiny_memo, "--epochs", 2, "--batch-size", 16, "--dims", "valence",
              "--out", tmp_path / "r", "--progress", "jsonl")
    assert res.returncode == 0, res.stderr
    events = [json.loads(line) for line in res.stdout.splitlines()]
    epochs = [e for e in events if e["event"] == "epoch"]
    assert len(epochs) == 2
    e = epochs[0]
    for key in ("dim", "epoch", "epochs", "lr", "loss", "tau", "theta", "confidence", "reliability", "mask_ratio",
                "pl_strength", "queue_entropy", "queue_coverage", "val", "best", "seconds"):
        assert key in e, key
    assert set(e["loss"]) == {"total", "cls", "pl", "cons", "cont"}
    assert set(e["val"]) == {"fuse", "mel", "coch"} and set(e["val"]["fuse"]) == {"acc", "f1", "auc", "nll", "n"}
    assert e["tau"] == 1.5 and e["theta"] == 0.65
    done = [e for e in events if e["event"] == "done"]
    assert len(done) == 1 and done[0]["bundle"].endswith("best.pt") and "valence" in done[0]["metrics"]


def test_bad_inputs_give_one_line_errors(tmp_path):
    res = cli("train", "--dataset", tmp_path / "nope", "--out", tmp_path / "o")
    assert res.returncode == 2 and "no such file or folder" in res.stderr and res.stderr.count("\n") == 1
    (tmp_path / "junk.pt").write_bytes(b"junk")
    res = cli("info", tmp_path / "junk.pt")
    assert res.returncode == 2 and "junk.pt: truncated or corrupt" in res.stderr
    res = cli("train", "--dataset", tmp_path, "--ablation", "dsaf,foo", "--out", tmp_path / "o")
    assert res.returncode == 2 and "unknown module(s) foo" in res.stderr
