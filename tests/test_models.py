"""damer_core.models: every kind is a type named by its bundle (format version 2), version-1
bundles of every kind are read as the kind they are, a bundle whose parts contradict its kind is
refused in one line, and each kind describes itself truthfully."""

import numpy as np
import pytest
import torch
from test_bundle_checks import TINY, refused, tiny_bundle, tiny_entry, write

from damer_core.features.descriptors import NAMES
from damer_core.models import DAMER, DESCRIPTOR_HEAD, STACK, BundleHeader, from_bundle, load_model
from damer_core.models.checkpoint import load_checkpoint
from damer_core.models.combination import Combination
from damer_core.models.descriptor_head import fit_descriptor_head
from damer_core.models.header import kind_of_version_1, upgrade_version_1


def head_state() -> dict:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, len(NAMES)))
    y = np.arange(80) % 4
    x[:, 0] += 3 * y  # learnable
    return fit_descriptor_head(x, y, kind="kernel", landmarks=20).to_state()


def combination_state() -> dict:
    return Combination(np.eye(4, 8), np.zeros(4), 1.3).to_state()


def v1_head_bundle() -> dict:
    """A descriptor head alone as version 1 wrote it: an empty dimensions dict and a dummy model config."""
    b = tiny_bundle()
    b["dimensions"] = {}
    b["descriptor_head"] = head_state()
    b["report"] = {"test": {"descriptor_head": {"macro_f1": 0.61, "valence_auc": 0.8, "arousal_auc": 0.9, "n": 40,
                                                 "interval": {"macro_f1": [0.5, 0.7], "valence_auc": [0.7, 0.9]}}}}
    return b


def v1_stack_bundle() -> dict:
    b = tiny_bundle()
    b["model_config"] = {**TINY.to_dict(), "n_classes": 4}
    torch.manual_seed(0)
    from damer_core.models.network import DAMER as Network
    from damer_core.models.network import ModelConfig

    b["dimensions"] = {"quadrant": {**tiny_entry(), "state_dict": Network(ModelConfig(**b["model_config"])).state_dict()}}
    b["descriptor_head"], b["combination"] = head_state(), combination_state()
    return b


@pytest.mark.parametrize("make,kind", [(tiny_bundle, DAMER), (v1_head_bundle, DESCRIPTOR_HEAD), (v1_stack_bundle, STACK)])
def test_a_version_1_bundle_of_each_kind_is_read_as_that_kind(tmp_path, make, kind):
    original = make()
    assert kind_of_version_1(original) == kind
    b = load_checkpoint(write(tmp_path / "old.pt", original))
    assert b["format_version"] == 2 and b["kind"] == kind
    assert ("model_config" in b) == (kind != DESCRIPTOR_HEAD)  # a head's dummy network fields are dropped
    model = from_bundle(b)
    assert model.kind == kind and model.dimensions == ("arousal", "valence")
    assert BundleHeader.read(b).kind == kind


def test_an_upgraded_bundle_saved_again_loads_as_version_2(tmp_path):
    b = load_checkpoint(write(tmp_path / "old.pt", v1_head_bundle()))
    again = load_checkpoint(write(tmp_path / "new.pt", b))
    assert b["upgraded_from"] == 1 and "upgraded_from" not in again  # what is written is version 2 itself
    assert again == upgrade_version_1(again) and again["kind"] == DESCRIPTOR_HEAD


@pytest.mark.parametrize("kind,edit,words", [
    ("nonsense", lambda b: None, "must be one of damer, descriptor-head, stack"),
    (DAMER, lambda b: b.update(descriptor_head=head_state()), "a DAMER bundle holds no descriptor head"),
    (STACK, lambda b: None, "a stack needs DAMER weights, a descriptor head and their combination"),
    (DESCRIPTOR_HEAD, lambda b: b.update(descriptor_head=head_state()), "holds no network"),
])
def test_a_kind_that_contradicts_the_parts_is_refused_in_one_line(tmp_path, kind, edit, words):
    b = {**tiny_bundle(), "format_version": 2, "kind": kind}
    edit(b)
    refused(write(tmp_path / "model.pt", b), f"bundle field kind = '{kind}'" if kind != DESCRIPTOR_HEAD else "kind", words)


def test_a_version_2_bundle_without_its_kind_is_incomplete(tmp_path):
    refused(write(tmp_path / "model.pt", {**tiny_bundle(), "format_version": 2}), "incomplete bundle: missing 'kind'")


def test_each_kind_describes_itself_with_the_figures_it_has(tmp_path):
    head = load_model(write(tmp_path / "head.pt", v1_head_bundle()))
    d = head.describe()
    assert d.kind == DESCRIPTOR_HEAD and "no DAMER network" in d.summary and d.settings == ("seed",)
    assert d.auc["valence"].text() == "0.800 [0.70, 0.90] (40 tracks)" and d.auc_text("arousal").startswith("0.900")
    assert d.held_out_text() == ("macro-F1 0.61 [0.50, 0.70] on 40 test tracks", 40)
    from dataclasses import replace

    assert replace(d, refit_tracks=200).held_out_text()[0].endswith(  # the weights learned from the test part since
        "on 40 test tracks (scored before its refit on all 200 tracks)")
    assert type(d).from_dict(replace(d, refit_tracks=200).to_dict()).refit_tracks == 200  # it crosses to the app
    net = load_model(write(tmp_path / "net.pt", tiny_bundle()))
    n = net.describe()
    assert n.kind == DAMER and n.title == "DAMER network (one network per dimension: arousal, valence)" and "epochs" in n.settings
    assert n.auc["arousal"].text() == "n/a (validation, 40 tracks)"  # a one-class validation part: AUC undefined
    stack = load_model(write(tmp_path / "stack.pt", v1_stack_bundle())).describe()
    assert stack.kind == STACK and stack.members == ("DAMER", "descriptor head") and "joint quadrant head" in stack.summary
    from damer_core.contract.model_card import ModelDescription

    assert ModelDescription.from_dict(stack.to_dict()) == stack  # what crosses to the app comes back the same


def test_a_fine_tunes_verdict_never_contradicts_itself():
    from damer_core.contract.model_card import Figure, FineTuneCheck, fine_tune_verdict

    def check(before, after, lo, hi, n):
        return FineTuneCheck(Figure(before, n=n, part="held-out"), Figure(after, lo, hi, n, "held-out"))

    assert fine_tune_verdict(check(0.6, 0.7, 0.6, 0.8, 12)) == "too few held-out labels to tell"  # never "better (too few)"
    assert fine_tune_verdict(check(0.5, 0.7, 0.6, 0.8, 40)) == "better"
    assert fine_tune_verdict(check(0.7, 0.6, 0.5, 0.7, 40)).startswith("no clear change")
    assert fine_tune_verdict(check(0.8, 0.6, 0.5, 0.7, 40)) == "worse"


def test_a_fine_tunes_verdict_reads_the_paired_change_and_thin_evidence_is_named():
    """Both models scored on the same tracks: the paired change's interval decides, not whether
    the after figure's own interval covers the before figure; what "Use this model" asks about."""
    from damer_core.contract.model_card import FineTuneCheck, ModelDescription, fine_tune_verdict, thin_evidence

    def check(n, change, interval):
        return FineTuneCheck.of({"n": n, "before": {"macro_f1": 0.60, "interval": {"macro_f1": [0.45, 0.75]}},
                                 "after": {"macro_f1": 0.60 + change, "interval": {"macro_f1": [0.5, 0.8]}},
                                 "change": {"macro_f1": change, "interval": {"macro_f1": interval}}})

    assert FineTuneCheck.of({"n": 0}) is None and "no labelled track was held out" in thin_evidence(None)
    assert fine_tune_verdict(check(60, 0.05, [0.01, 0.09])) == "better"  # the after interval alone covers 0.60
    assert thin_evidence(check(60, 0.05, [0.01, 0.09])) == ""
    assert fine_tune_verdict(check(60, 0.05, [-0.02, 0.12])).startswith("no clear change")
    assert "not shown to be better" in thin_evidence(check(60, 0.05, [-0.02, 0.12]))
    assert fine_tune_verdict(check(60, -0.06, [-0.1, -0.02])) == "worse"
    few = check(15, 0.12, [0.0, 0.34])
    assert fine_tune_verdict(few) == "too few held-out labels to tell" and "fewer than 30" in thin_evidence(few)
    text, n = ModelDescription("descriptor-head", "descriptor head", "", "", 15, "", "", ("arousal", "valence"),
                               fine_tune=few).held_out_text()
    assert n == 15 and "0.60 before, 0.72 after (change +0.12 [+0.00, +0.34]), on 15 held-out labels" in text
    unmoved = check(15, 0.0, [0.0, 0.0])  # a [+0.00, +0.00] interval read as certainty: said in words
    assert "(change +0.00, no held-out track's quadrant changed), on 15" in ModelDescription(
        "descriptor-head", "descriptor head", "", "", 15, "", "", ("arousal", "valence"), fine_tune=unmoved).held_out_text()[0]


def test_only_the_dimensions_a_model_predicts_have_figures(tmp_path):
    one = tiny_bundle()
    del one["dimensions"]["arousal"]
    one["dimensions"]["valence"]["metrics"] = {"test": {"fuse": {"auc": 1.0, "n": 12}}}
    d = load_model(write(tmp_path / "v.pt", one)).describe()
    assert d.dimensions == ("valence",) and d.auc_text("valence") == "1.000 (12 tracks)"
    assert d.auc_text("arousal") == "not predicted" and d.macro_f1 is None  # no quadrants from one dimension


def test_a_stack_whose_head_reads_musicnn_is_refused_in_one_line(tmp_path):
    """DAMER's trajectory hands a stack's head descriptors alone: such a bundle would load and then
    fail on the first track, so it is refused where bundles are checked, and so is its recipe."""
    from damer_core.contract.errors import InputError
    from damer_core.evaluation.build import Recipe

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, len(NAMES) + 200))
    b = v1_stack_bundle()
    b["descriptor_head"] = fit_descriptor_head(x, np.arange(40) % 4, kind="linear", groups=("timbre", "musicnn")).to_state()
    refused(write(tmp_path / "stack.pt", b), "descriptor_head.groups", "cannot read musicnn")
    recipe = tmp_path / "stack.json"
    recipe.write_text('{"preset": "context", "descriptor_head": {"kind": "linear", "groups": ["timbre", "musicnn"]}}')
    with pytest.raises(InputError, match="stack.json: not a valid recipe .*cannot read musicnn"):
        Recipe.from_file(recipe)
