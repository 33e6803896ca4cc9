"""Every training setting is checked before any work, the same way for flags, --config files and
the app's panel (TrainConfig.problems); `--resume` continues the same run or refuses in one line."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import fields, replace

import pytest
from app_helpers import app_state

from damer_core.cli.main import main
from damer_core.models.checkpoint import load_checkpoint
from damer_core.training.config import RULES, SEED_MAX, TrainConfig


# -- 5. every setting checked before any work -------------------------------------------------
def _bad_values(name: str) -> list:
    kind = RULES[name][0]
    bad = ["ten", None, [1], {"a": 1}, True, math.nan, math.inf, -math.inf, -1, 10**12]
    if kind is int:
        bad.append(2.5)
    return bad


def test_every_bad_value_of_every_numeric_setting_is_named():
    tried = 0
    for name in RULES:
        for value in _bad_values(name):
            problems = replace(TrainConfig(), **{name: value}).problems()
            tried += 1
            assert len(problems) == 1 and problems[0].startswith(f"{name}: "), (name, value, problems)
    assert tried > 200


def test_seed_bounds_and_booleans_and_words():
    assert not replace(TrainConfig(), seed=SEED_MAX).problems() and not replace(TrainConfig(), seed=0).problems()
    for bad in (-1, SEED_MAX + 1):
        assert replace(TrainConfig(), seed=bad).problems() == [f"seed: must be from 0 to {SEED_MAX} (2^32 - 1), got {bad}"]
    for f in fields(TrainConfig):
        if isinstance(f.default, bool):
            assert replace(TrainConfig(), **{f.name: 1}).problems()[0].startswith(f"{f.name}: expected true or false")
    assert replace(TrainConfig(), test_fraction=0.6, val_fraction=0.4).problems()[0].startswith("test_fraction + val_fraction")
    assert replace(TrainConfig(), tau_min=2.0, tau_max=1.0).problems() == ["tau_min: 2 is above tau_max 1"]


@pytest.mark.parametrize("flags,words", [
    (["--seed", "-1"], "seed: must be from 0"), (["--seed", str(2**32)], "seed: must be from 0"),
    (["--lr", "nan"], "lr: expected a finite number"), (["--lr", "-1"], "lr: must be above 0"),
    (["--lr", "inf"], "lr: expected a finite number"), (["--epochs", "0"], "epochs: must be from 1"),
    (["--batch-size", "-3"], "batch_size: must be from 1"), (["--val-fraction", "1.5"], "val_fraction: must be"),
    (["--test-fraction", "nan"], "test_fraction: expected a finite number"), (["--dims", "joy"], "dims"),
])
def test_bad_flags_stop_before_the_data_set_is_read(flags, words, tmp_path, capsys, monkeypatch):
    import damer_core.training.run as run

    monkeypatch.setattr(run, "_load_data", lambda *a, **k: pytest.fail("the data set was read"))
    assert main(["train", "--dataset", str(tmp_path / "none.csv"), "--out", str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and not (tmp_path / "run").exists()


def test_a_config_file_names_each_bad_setting_on_its_own_line(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"epochs": "ten", "lr": -1, "seed": 2**40, "dropout": 1.5, "pcl": "yes"}))
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--config", str(cfg)]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 5 and all(line.startswith("damer-core train: error: cfg.json: ") for line in lines)
    assert {line.split(": ")[3] for line in lines} == {"epochs", "lr", "seed", "dropout", "pcl"}
    for text in ("[1, 2", "{\"epochs\": ", "\"a list\""):
        cfg.write_text(text)
        assert main(["train", "--dataset", "x", "--config", str(cfg)]) == 2
        assert "cfg.json: not a valid training config" in capsys.readouterr().err


def test_the_panel_checks_its_settings_the_same_way(qtbot, tmp_path, monkeypatch):
    from app.training.panel import TrainingPanel

    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    panel = TrainingPanel(app_state(), labels_export=lambda p: 0, library_folders=lambda: [])
    qtbot.addWidget(panel)
    panel.path.setText(str(tmp_path))
    assert panel.checked_settings() == replace(TrainConfig(), epochs=panel.epochs.value(),
                                               batch_size=panel.batch.value(), lr=panel.lr.value(),
                                               seed=panel.seed.value(),
                                               dims=tuple(panel.dims.currentText().split(",")))
    panel.lr.setMinimum(0.0)
    panel.lr.setValue(0.0)
    panel.start_btn.click()
    assert "lr: must be above 0" in panel.status.text() and not panel.proc.running
    assert not (tmp_path / "data" / "runs").exists() or not any((tmp_path / "data" / "runs").iterdir())


# -- 6. resume means the same run ---------------------------------------------------------------
@pytest.fixture(scope="module")
def stopped_run(tiny_memo, tmp_path_factory):
    """A finished 1-epoch run (arousal): its folder, to copy per test."""
    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(["train", "--dataset", str(tiny_memo), "--epochs", "1", "--batch-size", "8", "--dims", "arousal",
                 "--device", "cpu", "--out", str(out)]) == 0
    return out


def _copy(run, tmp_path):
    dest = tmp_path / "run"
    shutil.copytree(run, dest)
    return dest


@pytest.mark.parametrize("flags,words", [
    (["--lr", "0.01"], "lr (this run: 0.001, given: 0.01)"),
    (["--dims", "valence"], "dims (this run: arousal, given: valence)"),
    (["--batch-size", "16"], "batch_size (this run: 8, given: 16)"),
    (["--seed", "3"], "seed"), (["--ablation", "pcl"], "pcl (this run: True, given: False)"),
    (["--descriptors"], "descriptors"), (["--preset", "context"], "--preset (this run: clip, given: context)"),
    (["--epochs", "0"], "epochs: must be from 1"),
    (["--dims", "valence,arousal"], "dims (this run: arousal, given: arousal,valence)"),
])
def test_resume_refuses_other_settings_in_one_line(stopped_run, tmp_path, flags, words, capsys):
    run = _copy(stopped_run, tmp_path)
    before = (run / "last.pt").read_bytes(), (run / "metrics.csv").read_text()
    assert main(["train", "--resume", "--out", str(run), *flags]) == 2
    err = capsys.readouterr().err
    assert words in err and len(err.splitlines()) == 1
    assert ((run / "last.pt").read_bytes(), (run / "metrics.csv").read_text()) == before


def test_resume_with_more_epochs_applies_them_and_says_so(stopped_run, tmp_path, capsys):
    run = _copy(stopped_run, tmp_path)
    assert main(["train", "--resume", "--out", str(run), "--epochs", "3", "--lr", "0.001", "--progress", "human"]) == 0
    assert "resuming with 3 epochs (the run was started with 1)" in capsys.readouterr().err
    last = load_checkpoint(run / "last.pt")
    assert last["resume"]["arousal"]["epoch"] == 3 and last["train_config"]["epochs"] == 3
    assert (run / "metrics.csv").read_text().count("\n") == 4  # header + 3 epochs, the first kept
    import csv

    rows = list(csv.DictReader((run / "metrics.csv").open()))
    lrs = [float(r["lr"]) for r in rows]  # the rate after each epoch: the run had ended at 0, the longer cosine goes on
    assert lrs[0] == 0 and lrs[1] == pytest.approx(0.001 * (1 + math.cos(2 * math.pi / 3)) / 2) and lrs[2] == 0


def test_a_last_pt_of_another_run_is_refused(stopped_run, tiny_memo, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["train", "--dataset", str(tiny_memo), "--epochs", "1", "--batch-size", "8", "--dims", "valence",
                 "--device", "cpu", "--out", str(other)]) == 0
    run = _copy(stopped_run, tmp_path)
    best, metrics = (run / "best.pt").read_bytes(), (run / "metrics.csv").read_text()
    shutil.copy(other / "last.pt", run / "last.pt")
    assert main(["train", "--resume", "--out", str(run)]) == 2
    assert "belongs to another run" in capsys.readouterr().err
    assert (run / "best.pt").read_bytes() == best and (run / "metrics.csv").read_text() == metrics


def test_a_changed_data_set_is_refused(stopped_run, tiny_memo, tmp_path, capsys):
    import numpy as np

    data = tmp_path / "data"
    shutil.copytree(tiny_memo, data)
    run = _copy(stopped_run, tmp_path)
    state = load_checkpoint(run / "last.pt")
    labels = data / "memo" / "labels" / "label_a.npy"
    arr = np.load(labels)
    np.save(labels, arr[::-1].copy())
    state["data_args"]["dataset"] = str(data)
    import torch

    torch.save(state, run / "last.pt")
    assert main(["train", "--resume", "--out", str(run)]) == 2
    assert "the data set changed since this run started" in capsys.readouterr().err


@pytest.mark.parametrize("dims", ["null", "5", '{"arousal": 1}', '"arousal"', '["arousal", 3]'])
def test_a_config_with_odd_dims_names_dims(dims, tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(f'{{"dims": {dims}}}')
    assert main(["train", "--dataset", str(tmp_path / "d.csv"), "--config", str(cfg)]) == 2
    assert "cfg.json: dims: expected arousal, valence, both, or quadrant alone" in capsys.readouterr().err


def test_the_panel_hands_its_settings_over_as_a_config_file(qtbot, tmp_path, monkeypatch):
    from app.training.panel import TrainingPanel

    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    panel = TrainingPanel(app_state(), labels_export=lambda p: 0, library_folders=lambda: [])
    qtbot.addWidget(panel)
    panel.path.setText(str(tmp_path / "labels.csv"))
    panel.epochs.setValue(7)
    panel.seed.setValue(42)
    panel.modules["pcl"].setChecked(False)
    args = panel.command()
    config = args[args.index("--config") + 1]
    assert not {"--epochs", "--lr", "--seed", "--dims", "--ablation", "--batch-size"} & set(args)
    assert TrainConfig.from_file(config) == panel.checked_settings()
    tcfg = TrainConfig.from_file(config)
    assert (tcfg.epochs, tcfg.seed, tcfg.pcl, tcfg.dsaf) == (7, 42, False, True)
    assert not panel.run_dir.exists()  # the run's folder starts empty: train --out takes it as new
