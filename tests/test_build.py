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

from damer_core.models.checkpoint import load_checkpoint

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
    from damer_core.features.cache import NoCache
    from damer_core.inference.predictor import Predictor

    root, data = built
    p = Predictor(root / "all" / "best.pt", "cpu", NoCache())
    assert p.model.kind == "stack" and p.dimensions == ["arousal", "valence"]
    song = next((data / "Q1").glob("*.ogg"))
    pred = p.predict_file(song)
    assert len(pred.trajectory.times) == len(pred.trajectory.valence) > 0
    assert np.isfinite(pred.trajectory.valence).all() and np.isfinite([pred.valence, pred.arousal]).all()
    from damer_core.features.extract import track_features

    feats = track_features(song, p.feature_config, p.kinds(False), NoCache())
    damer = p.model.networks.predict_windows(feats["train"]["mel"], feats["train"]["coch"])
    p_head = p.model.head.head.probabilities(feats["descriptors"]["windows"]).mean(axis=0, keepdims=True)
    q = p.model.combination.probabilities(damer.quadrant.mean(axis=0, keepdims=True), p_head)
    assert pred.valence == pytest.approx(2 * (q[0, 0] + q[0, 3]) - 1, abs=1e-5)
    assert pred.arousal == pytest.approx(2 * (q[0, 0] + q[0, 1]) - 1, abs=1e-5)


def test_a_recipe_with_two_networks_is_refused(tmp_path):
    from damer_core.contract.errors import InputError
    from damer_core.evaluation.build import Recipe

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"preset": "context", "damer": {"dims": ["arousal", "valence"]}}))
    with pytest.raises(InputError, match="r.json: not a valid recipe .*quadrant"):
        Recipe.from_file(path)
    path.write_text(json.dumps({"preset": "context", "damer": {}, "colour": "blue"}))
    with pytest.raises(InputError, match="unknown fields colour"):
        Recipe.from_file(path)


@pytest.mark.slow
def test_info_and_the_models_dialog_read_a_combined_bundle(built):
    from damer_core.contract import events
    from damer_core.contract.model_card import ModelDescription

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
    described = ModelDescription.from_dict(info["description"])
    assert described.kind == "stack" and described.members == ("DAMER", "descriptor head")
    assert described.auc_text("valence") == f"{report['valence_auc']:.3f} [{lo:.2f}, {hi:.2f}] ({n} tracks)"
    assert described.auc_text("arousal").startswith(f"{report['arousal_auc']:.3f}")


@pytest.mark.slow
def test_fine_tuning_a_combined_bundle_tunes_both_parts_and_compares_on_held_out_labels(built, tmp_path):
    from damer_core.models.descriptor_head import DescriptorHead

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
    assert report["n"] > 0 and set(report) == {"before", "after", "change", "n"}
    assert report["after"]["n"] == report["n"] and "interval" in report["after"]
    assert "descriptor head fine-tuned on" in r.stdout + r.stderr


def generated_tracks(rng: np.random.Generator, loading: np.ndarray, classes: np.ndarray, windows: int = 30):
    """(rows, classes, track of each row) of ``len(classes)`` tracks: six hidden cues behind every
    descriptor (the inputs move together, like musicnn's embedding), two of them carrying the quadrant."""
    n, d = classes.size, loading.shape[1]
    cues = rng.normal(size=(n, 6))
    cues[:, :2] += np.c_[classes % 2 * 2 - 1, classes // 2 * 2 - 1]
    x = cues @ loading + rng.normal(scale=0.3, size=(n, d))
    rows = np.repeat(x, windows, axis=0) + rng.normal(scale=0.3, size=(n * windows, d))
    return rows, np.repeat(classes, windows), np.repeat(np.arange(n), windows)


def test_fine_tuning_the_descriptor_head_follows_labels_as_far_as_they_go():
    """A curator who hears calm as sad (Q3 and Q4 swapped): 10 labelled tracks move the head a
    little, 300 move it far, until it agrees with them more than the base does."""
    from damer_core.features.descriptors import NAMES
    from damer_core.models.descriptor_head import fine_tune_descriptor_head, fit_descriptor_head
    from damer_core.scoring import track_means

    rng = np.random.default_rng(0)
    loading = rng.normal(size=(6, len(NAMES)))
    x, y, _ = generated_tracks(rng, loading, rng.integers(0, 4, 300))
    base = fit_descriptor_head(x, y, kind="linear", c=0.01)
    swap = np.array([0, 1, 3, 2])
    fit_x, fit_y, fit_track = generated_tracks(rng, loading, rng.integers(0, 4, 300))
    few = fine_tune_descriptor_head(base, fit_x[:300], swap[fit_y[:300]], fit_track[:300], prior_tracks=300)
    many = fine_tune_descriptor_head(base, fit_x, swap[fit_y], fit_track, prior_tracks=300)
    other_x, other_y, other_track = generated_tracks(rng, loading, rng.integers(0, 4, 200))
    agrees = lambda h: (track_means(other_track, h.probabilities(other_x))[1].argmax(1) == swap[other_y[::30]]).mean()  # noqa: E731
    moved = lambda h: np.abs(h.probabilities(other_x) - base.probabilities(other_x)).mean()  # noqa: E731
    assert 0 < moved(few) < moved(many) / 2
    assert agrees(many) > agrees(base) + 0.1
    assert agrees(base) - 0.03 <= agrees(few) < agrees(many)


def test_a_few_labelled_tracks_do_not_wreck_the_descriptor_head():
    """The newcomer's case: 10 tracks of 30 windows each, most of one quadrant, agreeing with the
    base model. Each track is one vote and the base weighs the tracks it learned from, so the
    tuned head predicts other tracks as well as the base does, no surer of itself (a pull of
    strength 1 against 300 windows once turned 42 of 43 tracks into "relaxed", near-certain; here
    it cost 20 points and raised the confidence by 0.2)."""
    from damer_core.features.descriptors import NAMES
    from damer_core.models.descriptor_head import fine_tune_descriptor_head, fit_descriptor_head
    from damer_core.scoring import track_means

    rng = np.random.default_rng(0)
    loading = rng.normal(size=(6, len(NAMES)))
    x, y, _ = generated_tracks(rng, loading, rng.integers(0, 4, 400))
    base = fit_descriptor_head(x, y, kind="linear", c=0.01)
    base.temperature = 1.33
    few_x, few_y, few_track = generated_tracks(rng, loading, np.array([3, 3, 3, 3, 3, 3, 3, 2, 1, 0]))
    tuned = fine_tune_descriptor_head(base, few_x, few_y, few_track, prior_tracks=400)
    other_x, other_y, other_track = generated_tracks(rng, loading, rng.integers(0, 4, 200))
    p_base, p_tuned = (track_means(other_track, h.probabilities(other_x))[1] for h in (base, tuned))
    truth = other_y[::30]
    assert (p_tuned.argmax(1) == truth).mean() >= (p_base.argmax(1) == truth).mean() - 0.03
    assert (p_tuned.argmax(1) == 3).mean() <= (p_base.argmax(1) == 3).mean() + 0.05  # not drawn to the curator's favourite
    assert p_tuned.max(1).mean() <= p_base.max(1).mean() + 0.02  # no surer than the base


def head_recipe(folder):
    recipe = folder / "head.json"
    recipe.write_text(json.dumps({"preset": "context", "model": "descriptor_head", "folds": 2,
                                  "damer": {"dims": ["quadrant"], "seed": 0},
                                  "descriptor_head": {"kind": "kernel", "c": 1.0, "landmarks": 50}}))
    return recipe


@pytest.mark.slow
def test_a_descriptor_head_alone_builds_calibrates_and_predicts(built, tmp_path):
    from damer_core.features.cache import NoCache
    from damer_core.inference.predictor import Predictor

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
        p.model.kind == "descriptor-head" and p.dimensions == ["arousal", "valence"]
        and p.kinds(True) == ("trajectory_descriptors", "descriptors")
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
    assert "descriptor head (kind descriptor-head, bundle format v2" in r.stdout.splitlines()[0]
    ev = subprocess.run([sys.executable, "-m", "damer_core.cli", "evaluate", "--checkpoint", str(tmp_path / "head" / "best.pt"),
                         "--dataset", str(data), "--part", "test", "--json", str(tmp_path / "ev.json")],
                        capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr
    scored = json.loads((tmp_path / "ev.json").read_text())
    # the same test part, the same probabilities: evaluate agrees with the build's own score
    assert scored["quadrant"]["n_tracks"] == report["test"]["n"]
    assert scored["quadrant"]["macro_f1"]["value"] == pytest.approx(report["test"]["descriptor_head"]["macro_f1"])
    assert "the model" in ev.stdout and "majority class" in ev.stdout and "quadrants" in ev.stdout


@pytest.mark.slow
def test_evaluate_scores_a_stack_and_each_member_on_the_builds_test_part(built, tmp_path):
    root, data = built
    bundle = root / "tv" / "best.pt"
    ev = subprocess.run([sys.executable, "-m", "damer_core.cli", "evaluate", "--checkpoint", str(bundle), "--dataset", str(data),
                         "--part", "test", "--json", str(tmp_path / "ev.json")], capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr
    scored = json.loads((tmp_path / "ev.json").read_text())
    built_test = json.loads((root / "tv" / "report.json").read_text())["test"]
    assert scored["quadrant"]["macro_f1"]["value"] == pytest.approx(built_test["stack"]["macro_f1"], abs=1e-9)
    assert set(scored["dimensions"]["valence"]["heads"]) == {"model", "DAMER", "descriptor head", "majority"}
    head_acc = scored["dimensions"]["valence"]["heads"]["descriptor head"]["acc"]
    assert head_acc == pytest.approx(built_test["descriptor_head"]["valence_acc"], abs=1e-9)
    assert "stack of DAMER and the descriptor head" in ev.stdout and "member DAMER" in ev.stdout


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
    # its own events: no DAMER run dressed up (no Start with 0 epochs, no Epoch, no Done with "fuse" metrics)
    assert not any(isinstance(e, (events.Start, events.Epoch, events.Done)) for e in evs)
    start = next(e for e in evs if isinstance(e, events.RefitStart))
    refitted = next(e for e in evs if isinstance(e, events.Refitted))
    # every labelled track refits it and is held out once (k-fold), not a third of them held out for good
    assert start.kind == refitted.kind == "descriptor-head" and start.split["test"] == refitted.n == start.n_tracks
    tuned = load_checkpoint(refitted.bundle)
    assert tuned["kind"] == "descriptor-head" and "dimensions" not in tuned and tuned["report"]["fine_tune"]["n"] > 0
    report = tuned["report"]["fine_tune"]
    assert set(report) == {"before", "after", "change", "n", "folds", "by", "prior_tracks"} and report["folds"] >= 2
    low, high = report["change"]["interval"]["macro_f1"]
    assert low <= report["change"]["macro_f1"] <= high  # a paired change, with its interval
    assert report["change"]["macro_f1"] == pytest.approx(report["after"]["macro_f1"] - report["before"]["macro_f1"])
    assert tuned["created"] > load_checkpoint(tmp_path / "head" / "best.pt")["created"]  # its own time, not the base's
    assert refitted.change["macro_f1"] == report["change"]["macro_f1"]
    assert refitted.after["macro_f1"] == tuned["report"]["fine_tune"]["after"]["macro_f1"]
    assert 0 <= refitted.before["macro_f1"] <= 1 and "interval" in refitted.after


def test_the_models_dialog_says_in_words_whose_figures_to_trust():
    from app.training.registry import support_summary

    text = support_summary([("built-in", 216), ("mine-1", 12), ("old", 0)])
    assert text.startswith("Best supported: built-in (checked on 216 held-out tracks)")
    assert "mine-1: checked on fewer than 30 tracks, too few to show it is better or worse" in text
    assert "old" not in text
    assert support_summary([("a", 12), ("b", 8)]).startswith("No model here was checked on 30 or more")
    assert "also enough to compare: b (100); where the intervals overlap" in support_summary([("a", 216), ("b", 100)])
    assert support_summary([]) == ""


@pytest.mark.slow
def test_evaluate_against_another_model_gives_paired_differences(built, tmp_path):
    root, data = built
    run = lambda *a: subprocess.run([sys.executable, "-m", "damer_core.cli", "evaluate", "--dataset", str(data),  # noqa: E731
                                     "--part", "test", *a], capture_output=True, text=True)
    tv = str(root / "tv" / "best.pt")
    r = run("--checkpoint", tv, "--against", tv, "--json", str(tmp_path / "same.json"))
    assert r.returncode == 0, r.stderr
    same = json.loads((tmp_path / "same.json").read_text())["against"]
    assert same["n_tracks"] > 0 and all(d == {"value": 0.0, "low": 0.0, "high": 0.0} for d in same["difference"].values())
    r = run("--checkpoint", tv, "--against", str(root / "all" / "best.pt"), "--json", str(tmp_path / "other.json"))
    assert r.returncode == 0, r.stderr
    other = json.loads((tmp_path / "other.json").read_text())
    d = other["against"]["difference"]["macro_f1"]
    assert d["value"] == pytest.approx(other["against"]["model"]["macro_f1"] - other["against"]["against"]["macro_f1"])
    assert d["low"] <= d["value"] <= d["high"]
    assert other["against"]["model"]["macro_f1"] == pytest.approx(other["quadrant"]["macro_f1"]["value"])  # one quadrant figure
    assert "tv/best.pt against all/best.pt" in r.stdout and "| macro f1 |" in r.stdout
    assert "warning: best.pt: the model learned from" in r.stdout  # the shipped form learned from the test part
