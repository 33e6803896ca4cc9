"""`damer-core build` end to end on a small generated 4Q folder (never the real clips): grouped
folds, DAMER's joint head and the descriptor head stacked on out-of-fold predictions, the test
part scored once, a weights-only bundle the Predictor uses."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from test_fourq import fourq_folder

from damer_core.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow  # fits and cross-validates real models

QUADRANTS = ("Q1", "Q2", "Q3", "Q4")
SONGS = [(f"MT{i:03d}", QUADRANTS[i % 4], f"Artist {i // 2}") for i in range(40)]  # two songs per artist


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("build")
    data = fourq_folder(root / "4q", songs=SONGS)
    recipe = root / "recipe.json"
    recipe.write_text(json.dumps({"preset": "context", "folds": 2,
                                  "damer": {"epochs": 2, "batch_size": 8, "dims": ["quadrant"], "seed": 0},
                                  "descriptor_head": {"kind": "kernel", "c": 1.0, "landmarks": 50}}))
    run = lambda *a: subprocess.run([sys.executable, "-m", "damer_core.cli", *a], capture_output=True, text=True)  # noqa: E731
    r = run("build", "--dataset", str(data), "--recipe", str(recipe), "--cv-dir", str(root / "cv"),
            "--out", str(root / "tv"), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    r = run("build", "--dataset", str(data), "--recipe", str(recipe), "--cv-dir", str(root / "cv"),
            "--out", str(root / "all"), "--fit-on", "all", "--report-from", str(root / "tv" / "best.pt"), "--device", "cpu")
    assert r.returncode == 0, r.stderr
    return root, data


@pytest.mark.slow
def test_the_train_val_build_scores_the_test_part_once(built):
    root, _ = built
    bundle = load_checkpoint(root / "tv" / "best.pt")
    assert list(bundle["dimensions"]) == ["quadrant"]
    assert bundle["descriptor_head"]["kind"] == "kernel" and "combination" in bundle
    report = json.loads((root / "tv" / "report.json").read_text())
    test = report["test"]
    assert test["n"] == bundle["split"]["test"] if "split" in bundle else test["n"] > 0
    for part in ("stack", "descriptor_head"):
        t = test[part]
        lo, hi = t["interval"]["valence_acc"]
        assert lo <= t["valence_acc"] <= hi
        assert np.array(t["confusion"]).sum() == test["n"]
    # the audio's harmony and pace decide the quadrant: the descriptors find them on unseen artists
    assert test["descriptor_head"]["arousal_acc"] >= 0.8, test
    cv = report["cross_validation"]
    assert set(cv) == {"stack", "damer", "descriptor_head"}
    assert report["fit_on"] == {"part": "train+val", "tracks": report["fit_on"]["tracks"], "seconds": report["fit_on"]["seconds"]}
    assert 0.05 <= report["calibration"]["temperature"] <= 20
    # the folds of damer-core cv are kept: a second build did not train them again
    assert sorted(p.name for p in (root / "cv").glob("fold*.npz")) == ["fold0.npz", "fold1.npz"]


@pytest.mark.slow
def test_the_shipped_build_uses_every_track_and_keeps_the_test_figures(built):
    root, _ = built
    tv = json.loads((root / "tv" / "report.json").read_text())
    full = json.loads((root / "all" / "report.json").read_text())
    assert full["fit_on"]["part"] == "all" and full["fit_on"]["tracks"] == len(SONGS)
    assert full["test"] == tv["test"]


@pytest.mark.slow
def test_the_predictor_combines_damer_and_descriptors(built):
    from damer_core.cache import NoCache
    from damer_core.inference import Predictor

    root, data = built
    p = Predictor(root / "all" / "best.pt", "cpu", NoCache())
    assert p.model.kind == "stack" and p.dimensions == ["arousal", "valence"]
    song = next((data / "Q1").glob("*.ogg"))
    pred = p.predict_file(song)
    assert len(pred.trajectory.times) == len(pred.trajectory.valence) > 0
    assert np.isfinite(pred.trajectory.valence).all() and np.isfinite([pred.valence, pred.arousal]).all()
    from damer_core.extract import track_features

    feats = track_features(song, p.feature_config, p.kinds(False), NoCache())
    damer = p.model.networks.predict_windows(feats["train"]["mel"], feats["train"]["coch"])
    q = p.model.combination.probabilities(damer.quadrant.mean(axis=0, keepdims=True),
                                          p.model.head.head.probabilities(feats["descriptors"]["windows"]).mean(axis=0, keepdims=True))
    assert pred.valence == pytest.approx(2 * (q[0, 0] + q[0, 3]) - 1, abs=1e-5)
    assert pred.arousal == pytest.approx(2 * (q[0, 0] + q[0, 1]) - 1, abs=1e-5)


def test_a_recipe_with_two_networks_is_refused(tmp_path):
    from damer_core.build import Recipe
    from damer_core.contract.errors import InputError

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"preset": "context", "damer": {"dims": ["arousal", "valence"]}}))
    with pytest.raises(InputError, match="r.json: not a valid recipe .*quadrant"):
        Recipe.from_file(path)
    path.write_text(json.dumps({"preset": "context", "damer": {}, "colour": "blue"}))
    with pytest.raises(InputError, match="unknown fields colour"):
        Recipe.from_file(path)


@pytest.mark.slow
def test_info_and_the_models_dialog_read_a_combined_bundle(built):
    from app.training.registry import auc_figure
    from damer_core.contract import events

    root, _ = built
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "info", str(root / "tv" / "best.pt")],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "descriptor head: kernel" in r.stdout and "test part (" in r.stdout and ", stack:" in r.stdout
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "info", "--jsonl", str(root / "tv" / "best.pt")],
                       capture_output=True, text=True)
    info = events.parse(r.stdout.strip()).bundle
    assert "state_dict" not in info["descriptor_head"] and "state_dict" not in info["combination"]
    report = json.loads((root / "tv" / "report.json").read_text())["test"]["stack"]
    lo, hi = report["interval"]["valence_auc"]
    n = report["n"]
    assert auc_figure(info, "valence") == (f"{report['valence_auc']:.3f} [{lo:.2f}, {hi:.2f}] ({n} tracks)", n)
    assert auc_figure(info, "arousal")[0].startswith(f"{report['arousal_auc']:.3f}")


@pytest.mark.slow
def test_fine_tuning_a_combined_bundle_tunes_both_parts_and_compares_on_held_out_labels(built, tmp_path):
    from damer_core.descriptor_head import DescriptorHead

    root, data = built
    base = load_checkpoint(root / "all" / "best.pt")
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "train", "--dataset", str(data), "--init",
                        str(root / "all" / "best.pt"), "--epochs", "1", "--out", str(tmp_path / "ft"), "--device", "cpu"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    tuned = load_checkpoint(tmp_path / "ft" / "best.pt")
    assert list(tuned["dimensions"]) == ["quadrant"] and tuned["dimensions"]["quadrant"]["temperature"] == 1.0
    before, after = (DescriptorHead.from_state(b["descriptor_head"]) for b in (base, tuned))
    assert not np.allclose(before.coef, after.coef)  # the labels moved it...
    np.testing.assert_array_equal(before.landmarks, after.landmarks)  # ...its kernel map is the base's
    report = tuned["report"]["fine_tune"]
    assert report["n"] > 0 and set(report) == {"before", "after", "n"}
    assert report["after"]["n"] == report["n"] and "interval" in report["after"]
    assert "descriptor head fine-tuned on" in r.stdout + r.stderr


def test_fine_tuning_the_descriptor_head_follows_labels_as_far_as_they_go():
    from damer_core.descriptor_head import fine_tune_descriptor_head, fit_descriptor_head
    from damer_core.descriptors import NAMES

    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, len(NAMES)))
    y = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0)
    base = fit_descriptor_head(x, y, kind="linear", c=1.0)
    shifted = (x[:, 0] > 1.0).astype(int) + 2 * (x[:, 1] > 0)  # a curator who hears the first cue differently
    few = fine_tune_descriptor_head(base, x[:8], shifted[:8])
    many = fine_tune_descriptor_head(base, x[:300], shifted[:300])
    acc = lambda h: (h.probabilities(x[300:]).argmax(1) == shifted[300:]).mean()  # noqa: E731
    assert np.abs(few.coef - base.coef).max() < np.abs(many.coef - base.coef).max()
    assert acc(many) > acc(base) + 0.05
    assert acc(few) >= acc(base) - 0.05


def head_recipe(folder):
    recipe = folder / "head.json"
    recipe.write_text(json.dumps({"preset": "context", "model": "descriptor_head", "folds": 2,
                                  "damer": {"dims": ["quadrant"], "seed": 0},
                                  "descriptor_head": {"kind": "kernel", "c": 1.0, "landmarks": 50}}))
    return recipe


@pytest.mark.slow
def test_a_descriptor_head_alone_builds_calibrates_and_predicts(built, tmp_path):
    from damer_core.cache import NoCache
    from damer_core.inference import Predictor

    root, data = built
    recipe = head_recipe(tmp_path)
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "build", "--dataset", str(data), "--recipe", str(recipe),
                        "--cv-dir", str(tmp_path / "cv"), "--out", str(tmp_path / "head")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not (tmp_path / "cv").exists() or not list((tmp_path / "cv").glob("fold*.npz"))  # no network was trained
    bundle = load_checkpoint(tmp_path / "head" / "best.pt")
    assert bundle["kind"] == "descriptor-head" and "dimensions" not in bundle and "combination" not in bundle
    assert 0.05 <= bundle["descriptor_head"]["temperature"] <= 20
    report = bundle["report"]
    assert report["test"]["descriptor_head"]["n"] == report["test"]["n"] > 0
    stack_build = json.loads((root / "tv" / "report.json").read_text())["test"]
    assert report["test"]["n"] == stack_build["n"]  # the same test part as the stack's build
    p = Predictor(tmp_path / "head" / "best.pt", "cpu", NoCache())
    assert (
        p.model.kind == "descriptor-head" and p.dimensions == ["arousal", "valence"] and p.kinds(True) == ("trajectory_descriptors", "descriptors")
    )
    song = next((data / "Q2").glob("*.ogg"))
    pred = p.predict_file(song)
    assert np.array_equal(pred.trajectory.times, np.arange(len(pred.trajectory.times)) * 0.5)
    assert np.isfinite(pred.trajectory.valence).all() and -1 <= pred.valence <= 1
    static = p.predict_static(song)
    assert (static.valence, static.arousal) == (pytest.approx(pred.valence), pytest.approx(pred.arousal))
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "info", str(tmp_path / "head" / "best.pt")],
                       capture_output=True, text=True)
    assert "alone (no DAMER network)" in r.stdout, r.stdout


@pytest.mark.slow
def test_fine_tuning_a_descriptor_head_alone_trains_no_network_and_reports_before_and_after(built, tmp_path):
    from damer_core.contract import events

    root, data = built
    recipe = head_recipe(tmp_path)
    cli = lambda *a: subprocess.run([sys.executable, "-m", "damer_core.cli", *a], capture_output=True, text=True)  # noqa: E731
    assert cli("build", "--dataset", str(data), "--recipe", str(recipe), "--cv-dir", str(tmp_path / "cv"),
               "--fit-on", "all", "--out", str(tmp_path / "head")).returncode == 0
    r = cli("train", "--dataset", str(data), "--init", str(tmp_path / "head" / "best.pt"), "--out", str(tmp_path / "ft"),
            "--progress", "jsonl")
    assert r.returncode == 0, r.stderr
    evs = [events.parse(line) for line in r.stdout.splitlines() if line.startswith("{")]
    done = next(e for e in evs if isinstance(e, events.Done))
    assert not any(isinstance(e, events.Epoch) for e in evs)  # no network was trained
    tuned = load_checkpoint(done.bundle)
    assert tuned["dimensions"] == {} and tuned["report"]["fine_tune"]["n"] > 0
    assert set(tuned["report"]["fine_tune"]) == {"before", "after", "n"}
    assert done.quadrant["test"]["n"] == tuned["report"]["fine_tune"]["n"]


def test_the_models_dialog_says_which_figure_to_trust():
    from app.training.registry import SMALL_PART, held_out_check

    report = lambda f1, n: {"macro_f1": f1, "n": n, "interval": {"macro_f1": [f1 - 0.1, f1 + 0.1]}}  # noqa: E731
    shipped = {"recipe": {"model": "descriptor_head"}, "report": {"test": {"descriptor_head": report(0.695, 216)}}}
    assert held_out_check(shipped) == ("macro-F1 0.69 [0.59, 0.79] on 216 test tracks", 216)
    tuned = {"report": {"fine_tune": {"before": report(0.6, 12), "after": report(0.7, 12), "n": 12}}}
    text, n = held_out_check(tuned)
    assert n == 12 < SMALL_PART and "on 12 held-out labels: better (too few to tell)" in text
    worse = {"report": {"fine_tune": {"before": report(0.7, 40), "after": report(0.6, 40), "n": 40}}}
    assert held_out_check(worse)[0].endswith("on 40 held-out labels: not better")
    assert held_out_check({}) == ("", 0)


def test_the_models_dialog_says_in_words_whose_figures_to_trust():
    from app.training.registry import auc_figure, support_summary

    tiny = {"dimensions": {"valence": {"metrics": {"test": {"fuse": {"auc": 1.0, "n": 12}}}}}}
    assert auc_figure(tiny, "valence") == ("1.000 (12 tracks)", 12)
    assert auc_figure(tiny, "arousal") == ("not predicted", 0)
    joint = {"dimensions": {"quadrant": {"metrics": {"val": {"fuse": {
        "valence_auc": 0.8, "n": 40, "interval": {"valence_auc": [0.7, 0.9]}}}}}}}
    assert auc_figure(joint, "valence") == ("0.800 [0.70, 0.90] (validation, 40 tracks)", 40)
    text = support_summary([("built-in", 216), ("mine-1", 12), ("old", 0)])
    assert text.startswith("Best supported: built-in (checked on 216 tracks it never saw)")
    assert "mine-1: checked on fewer than 30 tracks, too few to show it is better or worse" in text
    assert "old" not in text
    assert support_summary([("a", 12), ("b", 8)]).startswith("No model here was checked on 30 or more")
    assert "also enough to compare: b (100); where the intervals overlap" in support_summary([("a", 216), ("b", 100)])
    assert support_summary([]) == ""
