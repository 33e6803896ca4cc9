"""The joint quadrant head (docs/SPEC.md section 5): one DAMER network, a 4-way softmax over the
quadrants, P(valence high) = P(Q1) + P(Q4), P(arousal high) = P(Q1) + P(Q2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from damer_core.calibration import fit_temperature, fit_temperature_logits, multiclass_log_loss
from damer_core.contract.errors import InputError
from damer_core.models.checkpoint import BundleError, check_bundle, load_checkpoint
from damer_core.scoring import softmax
from damer_core.targets import class_labels, dimension_probabilities, quadrant_index, quadrant_probabilities
from damer_core.training.config import TrainConfig
from damer_core.training.run import DataArgs, train

pytestmark = pytest.mark.slow  # trains the joint quadrant network

def test_quadrant_classes_and_dimension_probabilities():
    v = np.array([0.5, -0.5, -0.5, 0.5, np.nan])
    a = np.array([0.5, 0.5, -0.5, -0.5, 0.5])
    np.testing.assert_array_equal(class_labels(v, a, "quadrant"), [0, 1, 2, 3, -1])
    np.testing.assert_array_equal(class_labels(v, a, "arousal"), [1, 1, 0, 0, 1])
    np.testing.assert_array_equal(quadrant_index([1, 0, 0, 1], [1, 1, 0, 0]), [0, 1, 2, 3])
    p = np.array([[0.5, 0.2, 0.1, 0.2], [0.0, 0.0, 1.0, 0.0]])
    p_v, p_a = dimension_probabilities(p)
    np.testing.assert_allclose(p_v, [0.7, 0.0])
    np.testing.assert_allclose(p_a, [0.7, 0.0])
    # two independent decisions: the product form gives back the same two marginals
    rng = np.random.default_rng(0)
    pv, pa = rng.uniform(size=50), rng.uniform(size=50)
    q = quadrant_probabilities(pv, pa)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    np.testing.assert_allclose(dimension_probabilities(q), (pv, pa))
    # and its most likely quadrant is the one the two thresholds give
    np.testing.assert_array_equal(q.argmax(axis=1), quadrant_index(pv >= 0.5, pa >= 0.5))


def test_multiclass_temperature_tames_an_over_confident_head():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 400)
    logits = rng.normal(0, 1, (400, 4))
    logits[np.arange(400), y] += 1.0  # somewhat informative...
    logits *= 8.0  # ...and far too sure of itself
    t = fit_temperature_logits(logits, y)
    assert t > 3.0
    assert multiclass_log_loss(y, softmax(logits, t)) < multiclass_log_loss(y, softmax(logits, 1.0)) - 0.5
    # for two classes the softmax form is the binary margin form
    two = logits[:, :2]
    y2 = (y % 2)
    assert fit_temperature_logits(two, y2) == pytest.approx(fit_temperature(two[:, 1] - two[:, 0], y2), rel=1e-3)


def test_training_config_refuses_mixed_targets():
    assert TrainConfig.from_dict({"dims": ["quadrant"]}).dims == ("quadrant",)
    for bad in (["quadrant", "valence"], [], ["mood"]):
        with pytest.raises(InputError, match="dims"):
            TrainConfig.from_dict({"dims": bad})
    with pytest.raises(InputError, match="select_epoch"):
        TrainConfig.from_dict({"select_epoch": "middle"})


@pytest.fixture(scope="module")
def joint_bundle(synth_memo, tmp_path_factory):
    tcfg = TrainConfig(epochs=8, batch_size=8, dims=("quadrant",))
    return train(DataArgs(str(synth_memo)), tcfg, tmp_path_factory.mktemp("joint") / "run", "cpu")


@pytest.mark.slow
def test_one_network_learns_the_four_quadrants(joint_bundle):
    bundle = load_checkpoint(joint_bundle)
    assert list(bundle["dimensions"]) == ["quadrant"] and bundle["model_config"]["n_classes"] == 4
    test = bundle["dimensions"]["quadrant"]["metrics"]["test"]["fuse"]
    # the test part; chance is 25 % for the quadrant and 50 % for each dimension
    assert test["acc"] >= 0.75 and test["f1"] >= 0.75, test
    assert test["valence_acc"] >= 0.75 and test["arousal_acc"] >= 0.75, test
    assert bundle["quadrant"]["test"]["macro_f1"] >= 0.75
    assert bundle["dimensions"]["quadrant"]["temperature_source"] == "validation part"
    rows = (joint_bundle.parent / "metrics.csv").read_text().splitlines()
    assert len(rows) == 1 + 8 and rows[1].startswith("quadrant,1,")


@pytest.mark.slow
def test_predictor_reads_both_dimensions_from_the_quadrant_head(joint_bundle):
    from damer_core.inference.predictor import Predictor
    from damer_core.models.network.maths import js_divergence

    p = Predictor(joint_bundle)
    assert p.dimensions == ["arousal", "valence"]
    rng = np.random.default_rng(0)
    mel = rng.normal(size=(5, 128, 87)).astype(np.float32)
    coch = rng.normal(size=(5, 84, 87)).astype(np.float32)
    pred = p.model.predict_windows(mel, coch)
    with torch.inference_mode():
        out = p.model.networks["quadrant"](torch.from_numpy(mel), torch.from_numpy(coch))
    q = torch.softmax(out.z_fuse / p.model.temperature["quadrant"], -1).numpy()
    np.testing.assert_allclose(pred.probability["valence"], q[:, 0] + q[:, 3], atol=1e-5)
    np.testing.assert_allclose(pred.probability["arousal"], q[:, 0] + q[:, 1], atol=1e-5)
    r = torch.exp(-js_divergence(torch.softmax(out.z_mel, -1), torch.softmax(out.z_coch, -1))).numpy()
    np.testing.assert_allclose(pred.confidence["valence"], r * np.maximum(q[:, 0] + q[:, 3], q[:, 1] + q[:, 2]), atol=1e-5)


@pytest.mark.slow
def test_evaluate_scores_a_joint_network_on_both_dimensions(joint_bundle, synth_memo):
    """`damer-core evaluate --checkpoint` of a joint quadrant head (it failed with "unknown
    dimension 'quadrant'"): each head's figures on each dimension with intervals (the fused head's
    as training scored the test part), the quadrants, the baseline, the calibration over the quadrants."""
    from damer_core.datasets import load_evaluation_sets
    from damer_core.evaluation.evaluate import format_report, score_model
    from damer_core.models import load_model

    model = load_model(joint_bundle)
    report = score_model(model, load_evaluation_sets(model.evaluation_sets(), synth_memo), "test")
    bundle = load_checkpoint(joint_bundle)
    trained = bundle["dimensions"]["quadrant"]["metrics"]["test"]
    for dim in ("valence", "arousal"):
        heads = report["dimensions"][dim]["heads"]
        assert set(heads) == {"fuse", "mel", "coch", "majority"}
        for head in ("fuse", "mel", "coch"):
            assert heads[head]["acc"] == pytest.approx(trained[head][f"{dim}_acc"])
        assert heads["fuse"]["acc_ci"]["low"] <= heads["fuse"]["acc"] <= heads["fuse"]["acc_ci"]["high"]
    assert report["quadrant"]["macro_f1"]["value"] == pytest.approx(bundle["quadrant"]["test"]["macro_f1"])
    c = report["calibration"]
    assert c["temperature"] == pytest.approx(bundle["dimensions"]["quadrant"]["temperature"])
    assert c["ece_before"] == pytest.approx(bundle["dimensions"]["quadrant"]["calibration"]["test"]["ece_before"])
    text = format_report(report, "t")
    assert "Mel head" in text and "cochl. head" in text and "quadrant calibration (windows, top class)" in text


@pytest.mark.slow
def test_bundle_checks_tie_the_keys_to_the_head(joint_bundle):
    bundle = load_checkpoint(joint_bundle)
    bundle["dimensions"]["valence"] = bundle["dimensions"].pop("quadrant")
    with pytest.raises(BundleError, match="must be quadrant"):
        check_bundle(bundle)
    bundle = load_checkpoint(joint_bundle)
    bundle["model_config"]["n_classes"] = 3
    with pytest.raises(BundleError, match="must be 2 .one dimension. or 4"):
        check_bundle(bundle)


def test_last_epoch_selection_keeps_the_last_epoch(tiny_memo, tmp_path):
    best = train(DataArgs(str(tiny_memo)), TrainConfig(epochs=3, batch_size=8, dims=("quadrant",), select_epoch="last"),
                 tmp_path / "run", "cpu")
    assert load_checkpoint(best)["dimensions"]["quadrant"]["epoch"] == 3
