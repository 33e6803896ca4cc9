"""damer_core.inference.vetting and the head checks it backs: a bundle whose fields pass but whose
weights crash, mean nothing or make the model constant is refused in one line naming the file,
for every head form (linear, kernel) and input (descriptors, musicnn's embedding). Generated
bundles: each mutation is one of a class, made from heads fitted on generated rows."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from damer_core.contract.errors import BundleError
from damer_core.inference.vetting import check_predictions, generated_sounds
from damer_core.models.bundle_fields import CHECKSUM
from damer_core.models.checkpoint import load_checkpoint, save_atomic
from damer_core.models.descriptor_head import fit_descriptor_head

ROOT = Path(__file__).resolve().parent.parent
BUILTIN = ROOT / "resources" / "models" / "damer-4q.pt"
HEADS = {  # (form, input groups)
    "linear descriptors": ("linear", ("timbre", "tonal", "rhythm", "dynamics")),
    "kernel descriptors": ("kernel", ("timbre", "tonal", "rhythm", "dynamics")),
    "linear musicnn": ("linear", ("musicnn",)),
    "kernel musicnn": ("kernel", ("musicnn",)),
}


@pytest.fixture(scope="module")
def rows_and_classes():
    """The rows a head reads (descriptors and musicnn's embedding per trajectory point) of the
    generated sounds at two levels, each sound its own class: a head fitted on them tells them apart."""
    from damer_core.audio.decoding import gain_to_target, metered
    from damer_core.contract import trajectory as grid
    from damer_core.features.extract import KINDS
    from damer_core.features.head_inputs import trajectory_rows
    from damer_core.features.spectra import CLIP

    xs, ys = [], []
    for c, sound in enumerate(generated_sounds(CLIP.sample_rate).values()):
        for level in (0.5, 2.0):
            y = sound * np.float32(level * gain_to_target(metered(sound, CLIP.sample_rate).loudness().lufs))
            described = KINDS["trajectory_descriptors"](y, CLIP, "<generated>")
            embedded = KINDS["trajectory_embeddings"](y, CLIP, "<generated>")
            rows = trajectory_rows(described["windows"], embedded, grid.grid(float(described["duration"])))
            xs.append(rows)
            ys.append(np.full(len(rows), c))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.fixture
def head_bundle(tmp_path, rows_and_classes):
    def make(head: str, edit=None, name: str = "head.pt") -> Path:
        """The built-in bundle with a head of form and inputs ``head`` fitted on the generated rows,
        then ``edit(state)`` applied; saved without checksums, as a hand-edited file would be."""
        form, groups = HEADS[head]
        state = fit_descriptor_head(*rows_and_classes, kind=form, groups=groups, landmarks=30).to_state()
        if edit is not None:
            edit(state)
        bundle = load_checkpoint(BUILTIN)
        bundle["descriptor_head"] = state
        bundle["descriptor_head"].pop(CHECKSUM, None)
        return save_atomic(bundle, tmp_path / name)
    return make


def set_tensor(key: str, value):
    def edit(state):
        state["state_dict"][key] = value(state["state_dict"][key])
    return edit


def set_field(key: str, value):
    def edit(state):
        state[key] = value
    return edit


def bfloat16(state):
    state["state_dict"] = {k: t.to(torch.bfloat16) for k, t in state["state_dict"].items()}


def no_landmarks(state):
    sd = state["state_dict"]
    sd["landmarks"] = torch.zeros(0, sd["landmarks"].shape[1])
    sd["coef"] = torch.zeros(4, 0)


REFUSED_AT_LOAD = {  # mutation, the heads it applies to, words of the refusal
    "no landmarks": (no_landmarks, ("kernel descriptors", "kernel musicnn"), "holds no landmark"),
    "mis-shaped projection": (set_tensor("projection", lambda t: torch.ones(t.shape[0] + 1, t.shape[0] + 1)),
                              ("kernel descriptors", "kernel musicnn"), "has shape"),
    "gamma 0": (set_field("gamma", 0.0), ("kernel descriptors", "kernel musicnn"), "gamma is 0.0"),
    "tiny std": (set_tensor("std", lambda t: torch.full_like(t, 1e-30)), tuple(HEADS), "std] holds values below"),
    "huge landmarks": (set_tensor("landmarks", lambda t: torch.full_like(t, 3e38)), ("kernel descriptors", "kernel musicnn"),
                       "holds a value of 3e+38"),
    "huge coef": (set_tensor("coef", lambda t: t * 1e9), tuple(HEADS), "holds a value of"),
    "huge mean": (set_tensor("mean", lambda t: t + 1e12), tuple(HEADS), "holds a value of"),
}
CASES = [(m, h) for m, (_, heads, _) in REFUSED_AT_LOAD.items() for h in heads]


@pytest.mark.parametrize("mutation,head", CASES)
def test_a_head_whose_fields_would_crash_or_mean_nothing_is_refused_when_loaded(head_bundle, mutation, head):
    edit, _, words = REFUSED_AT_LOAD[mutation]
    path = head_bundle(head, edit)
    with pytest.raises(BundleError) as e:
        load_checkpoint(path)
    message = str(e.value)
    assert message.startswith("head.pt: ") and words in message and "\n" not in message


@pytest.mark.parametrize("head", list(HEADS))
def test_a_working_head_of_every_form_passes_the_prediction_check(head_bundle, head):
    means = check_predictions(head_bundle(head))
    assert set(means) == set(generated_sounds(16000, 1.0))
    spread = np.ptp([m[0] for m in means.values()]) + np.ptp([m[1] for m in means.values()])
    assert spread > 0.05


@pytest.mark.parametrize("head", ["linear descriptors", "linear musicnn"])
def test_bfloat16_weights_are_read_as_the_numbers_they_hold(head_bundle, head):
    plain = check_predictions(head_bundle(head, name="plain.pt"))
    halved = check_predictions(head_bundle(head, bfloat16, name="bf16.pt"))
    for sound in plain:  # bfloat16 keeps 8 bits of mantissa: the marker moves by hundredths at most
        assert np.allclose(plain[sound], halved[sound], atol=0.05)


@pytest.mark.parametrize("head", list(HEADS))
def test_a_constant_head_that_passes_the_field_checks_is_caught_by_its_predictions(head_bundle, head):
    """Zero weights: every field is in bounds, and the model says the intercept's quadrant for any sound."""
    path = head_bundle(head, set_tensor("coef", torch.zeros_like))
    load_checkpoint(path)  # the field checks pass
    with pytest.raises(BundleError) as e:
        check_predictions(path)
    assert str(e.value).startswith("head.pt: predicts the same valence (") and "constant" in str(e.value)


def test_the_built_in_model_passes_the_check_and_moves_between_the_sounds():
    means = check_predictions(BUILTIN)
    valences = [m[0] for m in means.values()]
    arousals = [m[1] for m in means.values()]
    assert np.ptp(valences) > 0.3 and np.ptp(arousals) > 0.3


def test_info_check_refuses_a_constant_model_in_one_line_and_passes_the_built_in(head_bundle):
    bad = head_bundle("linear descriptors", set_tensor("coef", torch.zeros_like))
    r = subprocess.run([sys.executable, "-m", "damer_core.cli", "info", "--jsonl", "--check", str(BUILTIN), str(bad)],
                       capture_output=True, text=True, timeout=600)
    lines = r.stdout.splitlines()
    assert r.returncode == 1 and len(lines) == 2, r.stderr
    assert '"event": "info"' in lines[0] and '"event": "bundle_error"' in lines[1] and "predicts the same" in lines[1]


def one_dead_dimension(state):
    """Valence's two sides given the same weights: arousal still moves, valence never does."""
    sd = state["state_dict"]
    sd["coef"][1], sd["coef"][2] = sd["coef"][0].clone(), sd["coef"][3].clone()  # Q2 = Q1, Q3 = Q4
    sd["intercept"][1], sd["intercept"][2] = sd["intercept"][0], sd["intercept"][3]


def pinned_to_a_corner(state):
    state["state_dict"]["intercept"][0] += 12.0  # "excited" at near-certainty whatever it hears


@pytest.mark.parametrize("head", ["linear descriptors", "linear musicnn"])
def test_a_model_dead_in_one_dimension_is_refused(head_bundle, head):
    """Reviewer's retry: it passed a check that asked only for some movement in some dimension."""
    with pytest.raises(BundleError) as e:
        check_predictions(head_bundle(head, one_dead_dimension))
    assert "predicts the same valence (" in str(e.value) and "constant" in str(e.value)


@pytest.mark.parametrize("edit", [pinned_to_a_corner, one_dead_dimension])
def test_the_built_in_model_pinned_to_a_corner_or_dead_in_one_dimension_is_refused(tmp_path, edit):
    """Reviewer's retry on the shipped model: every track "excited" at 0.99 passed (spread 0.001)."""
    bundle = load_checkpoint(BUILTIN)
    edit(bundle["descriptor_head"])
    bundle["descriptor_head"].pop(CHECKSUM, None)
    with pytest.raises(BundleError) as e:
        check_predictions(save_atomic(bundle, tmp_path / "edited.pt"))
    assert "predicts the same " in str(e.value) and "constant" in str(e.value)


def valence_is_arousal(state):
    """Two quadrants made impossible: the model can only say "happy" or "sad", never one without the other."""
    state["state_dict"]["intercept"][1] = -1e4
    state["state_dict"]["intercept"][3] = -1e4


def test_a_model_whose_valence_always_equals_its_arousal_is_refused(tmp_path):
    """Second retry: both dimensions moved, but always together: one thing, not two."""
    bundle = load_checkpoint(BUILTIN)
    valence_is_arousal(bundle["descriptor_head"])
    bundle["descriptor_head"].pop(CHECKSUM, None)
    with pytest.raises(BundleError, match="predicts valence equal to arousal for every sound"):
        check_predictions(save_atomic(bundle, tmp_path / "diagonal.pt"))
