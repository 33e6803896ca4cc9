"""The training panel drives the real `damer-core train` child: plots receive the epochs, cancel
keeps the last checkpoint, resume finishes the run, a crash is reported."""

import pytest

from app.training_panel import TrainingPanel, epoch_values


@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    p = TrainingPanel()
    qtbot.addWidget(p)
    p.resize(1300, 700)
    p.show()
    return p


def test_devices_are_listed_and_cpu_is_always_there(panel, qtbot):
    qtbot.waitUntil(lambda: not panel.devices_proc.running, timeout=60_000)
    assert panel.device.itemData(panel.device.count() - 1) == "cpu"


def test_real_training_run_plots_every_epoch(panel, qtbot, tiny_memo):
    panel.path.setText(str(tiny_memo))
    panel.epochs.setValue(2)
    panel.batch.setValue(16)
    ready = []
    panel.model_ready.connect(ready.append)
    panel.start_btn.click()
    assert panel.proc.running and not panel.start_btn.isEnabled()
    qtbot.waitUntil(lambda: not panel.proc.running, timeout=180_000)
    assert ready and ready[0].endswith("best.pt")
    xs, ys = panel.curves["total"].getData()
    assert list(xs) == [1, 2, 3, 4]  # arousal epochs 1-2, then valence 1-2
    assert [x for x, _ in panel.history["valence.acc"]] == [3, 4]
    assert len(panel.curves["valence.auc"].getData()[0]) == 2 and len(panel.curves["arousal.acc"].getData()[0]) == 2
    assert list(panel.curves["tau"].getData()[1][:2]) == [1.5, pytest.approx(1.1)]
    assert "Finished" in panel.status.text()


def test_cancel_keeps_the_checkpoint_and_resume_finishes(panel, qtbot, tiny_memo):
    panel.path.setText(str(tiny_memo))
    panel.epochs.setValue(3)
    panel.batch.setValue(16)
    panel.dims.setCurrentText("arousal")
    panel.start_btn.click()
    qtbot.waitUntil(lambda: len(panel.history.get("total", [])) >= 1, timeout=180_000)
    panel.cancel_btn.click()
    qtbot.waitUntil(lambda: not panel.proc.running, timeout=30_000)
    assert "Cancelled" in panel.status.text() and (panel.run_dir / "last.pt").is_file()
    assert panel.resume_btn.isEnabled()
    panel.resume_btn.click()
    qtbot.waitUntil(lambda: not panel.proc.running, timeout=180_000)
    assert (panel.run_dir / "best.pt").is_file()
    assert len((panel.run_dir / "metrics.csv").read_text().splitlines()) == 1 + 3


def test_a_failing_run_is_reported(panel, qtbot, tmp_path):
    (tmp_path / "empty").mkdir()
    panel.path.setText(str(tmp_path / "empty"))
    panel.start_btn.click()
    qtbot.waitUntil(lambda: not panel.proc.running, timeout=60_000)
    assert panel.status.text().startswith("Training failed: ") and "not a recognised data set" in panel.status.text()
    assert panel.start_btn.isEnabled()


def test_missing_data_is_caught_before_starting(panel):
    panel.path.setText("")
    panel.start_btn.click()
    assert "choose a data set" in panel.status.text() and not panel.proc.running


def test_epoch_values_flatten_the_schema():
    ev = {"dim": "valence", "loss": {"total": 1.0, "cls": 0.5, "pl": 0.1, "cons": 0.01, "cont": 3.0}, "tau": 1.5,
          "theta": 0.65, "confidence": 0.9, "reliability": 0.99, "mask_ratio": 0.8, "pl_strength": 0.93,
          "queue_entropy": 0.69, "queue_coverage": [0.45, 0.55], "val": {"fuse": {"acc": 0.7, "f1": 0.6, "auc": None}}}
    v = epoch_values(ev)
    assert v["valence.acc"] == 0.7 and v["queue_class1"] == 0.55 and v["valence.auc"] != v["valence.auc"]  # NaN
