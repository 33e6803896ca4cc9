"""The training panel drives the real `damer-core train` child: plots receive the epochs, cancel
keeps the last checkpoint, resume finishes the run, a crash is reported. The settings note, the
metric axis, the per-dimension epochs and "Use this model" are checked with the child's events."""

import json

import pytest
from app_helpers import app_state
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication

from app.training.curves import METRIC_PLOT
from app.training.panel import TrainingPanel
from app.training.values import epoch_values
from damer_core.contract import events

pytestmark = pytest.mark.slow  # real training runs from the panel

@pytest.fixture
def panel(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    p = TrainingPanel(app_state())
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
    for dim in ("arousal", "valence"):  # each dimension over its own epochs 1-2
        assert list(panel.curves[f"{dim}.total"].getData()[0]) == [1, 2]
        assert sorted(panel.graphics.history[f"{dim}.acc"]) == [1, 2]
    assert len(panel.curves["valence.auc"].getData()[0]) == 2 and len(panel.curves["arousal.acc"].getData()[0]) == 2
    assert list(panel.curves["arousal.tau"].getData()[1]) == [1.5, pytest.approx(1.1)]
    assert "Finished" in panel.status.text()


def test_cancel_keeps_the_checkpoint_and_resume_finishes(panel, qtbot, tiny_memo):
    panel.path.setText(str(tiny_memo))
    panel.epochs.setValue(3)
    panel.batch.setValue(16)
    panel.dims.setCurrentText("arousal")
    panel.start_btn.click()
    qtbot.waitUntil(lambda: len(panel.graphics.history.get("arousal.total", {})) >= 1, timeout=180_000)
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
    ev = {
        "event": "epoch",
        "dim": "valence",
        "epoch": 1,
        "epochs": 2,
        "lr": 1e-3,
        "best": True,
        "seconds": 1.0,
        "loss": {"total": 1.0, "cls": 0.5, "pl": 0.1, "cons": 0.01, "cont": 3.0},
        "tau": 1.5,
        "theta": 0.65,
        "confidence": 0.9,
        "reliability": 0.99,
        "mask_ratio": 0.8,
        "pl_strength": 0.93,
        "queue_entropy": 0.69,
        "queue_coverage": [0.45, 0.55],
        "val": {"fuse": {"acc": 0.7, "f1": 0.6, "auc": None}},
    }
    v = epoch_values(events.parse(json.dumps(ev)))
    assert v["valence.acc"] == 0.7 and v["valence.queue_class1"] == 0.55 and v["valence.auc"] != v["valence.auc"]  # NaN
    assert all(k.startswith("valence.") for k in v)


def epoch_event(dim: str, epoch: int, acc: float, auc: float | None = 0.9) -> events.Epoch:
    """An `epoch` line as `damer-core train --progress jsonl` writes it, parsed as the app parses it."""
    return events.parse(json.dumps({"event": "epoch", "seconds": 2.0, "dim": dim, "epoch": epoch, "epochs": 2, "lr": 1e-3,
            "loss": {"total": 1.0 / epoch, "cls": 0.5, "pl": 0.1, "cons": 0.01, "cont": 3.0}, "tau": 1.5, "theta": 0.65,
            "confidence": 0.9, "reliability": 0.99, "mask_ratio": 0.8, "pl_strength": 0.93, "queue_entropy": 0.69,
            "queue_coverage": [0.45, 0.55], "val": {"fuse": {"acc": acc, "f1": acc, "auc": auc}}, "best": True}))


def type_into(qtbot, spin, text: str) -> None:
    qtbot.keyClick(spin, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(spin, text)


def click_box(qtbot, box) -> None:
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))  # on the indicator


def test_settings_note_follows_every_change(panel, qtbot):
    assert panel.settings_note.text() == "Settings are the paper's defaults."
    type_into(qtbot, panel.epochs, "5")
    assert panel.epochs.value() == 5
    assert panel.settings_note.text() == "Changed from the paper's defaults: epochs 5 (default 80)."
    click_box(qtbot, panel.modules["pcl"])
    assert "modules DSAF+SAML (default DSAF+PCL+SAML)" in panel.settings_note.text()
    type_into(qtbot, panel.epochs, "80")
    click_box(qtbot, panel.modules["pcl"])
    assert panel.settings_note.text() == "Settings are the paper's defaults."
    click_box(qtbot, panel.finetune)
    assert panel.epochs.value() == 15 and panel.settings_note.text().startswith("Settings are the fine-tuning defaults")
    type_into(qtbot, panel.batch, "16")
    assert panel.settings_note.text() == "Changed from the fine-tuning defaults: batch size 16 (default 32)."


def test_metric_axis_stays_on_zero_to_one(panel, qtbot):
    for epoch, (acc, auc) in enumerate([(0.62, 0.71), (1.0, None)], 1):  # None: AUC undefined (one class)
        panel.on_event(epoch_event("arousal", epoch, acc, auc))
    plot = panel.plots[METRIC_PLOT]
    QApplication.processEvents()
    assert plot.viewRange()[1] == pytest.approx([-0.05, 1.05])
    view = panel.graphics.viewport()
    at = panel.graphics.mapFromScene(plot.vb.mapToScene(plot.vb.boundingRect().center()))
    for _ in range(3):  # zooming out with the wheel
        QApplication.sendEvent(view, QWheelEvent(QPointF(at), QPointF(view.mapToGlobal(at)), QPoint(), QPoint(0, -240),
                                                 Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier,
                                                 Qt.ScrollPhase.NoScrollPhase, False))
    plot.vb.enableAutoRange()  # what the plot's "A" button does
    QApplication.processEvents()
    assert plot.viewRange()[1] == pytest.approx([-0.05, 1.05])


def test_each_dimension_is_plotted_from_epoch_one(panel, qtbot):
    for dim in ("arousal", "valence"):  # trained one after the other, as the child reports them
        for epoch in (1, 2):
            panel.on_event(epoch_event(dim, epoch, 0.5 + epoch / 10))
    panel.on_event(epoch_event("valence", 2, 0.8))  # a resumed run repeats an epoch: its point is replaced
    for dim in ("arousal", "valence"):
        assert list(panel.curves[f"{dim}.acc"].getData()[0]) == [1, 2]
        assert list(panel.curves[f"{dim}.total"].getData()[0]) == [1, 2]
    assert list(panel.curves["valence.acc"].getData()[1]) == [pytest.approx(0.6), 0.8]
    QApplication.processEvents()
    assert panel.plots[METRIC_PLOT].viewRange()[0][1] < 3  # no epochs 3-4
    legend = [label.text for _, label in panel.plots[METRIC_PLOT].legend.items]
    assert {"arousal", "valence", "ACC", "AUC"} <= set(legend)
    pens = {dim: panel.curves[f"{dim}.acc"].opts["pen"] for dim in ("arousal", "valence")}
    assert pens["arousal"].color() == pens["valence"].color() and pens["arousal"].style() != pens["valence"].style()


def done_event(bundle: str, test_tracks: int = 60) -> events.Done:
    return events.Done(bundle, bundle.replace("best", "last"), {},
                       {"test": {"acc": 0.7, "macro_f1": 0.6, "n": test_tracks}} if test_tracks else {})


def test_use_this_model_says_it_is_in_use(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    state = app_state()
    panel = TrainingPanel(state)
    qtbot.addWidget(panel)
    panel.show()

    def import_it(bundle: str) -> None:  # what the Model menu's import does: a copy named after the run, chosen
        copy = tmp_path / "data" / "models" / "memo-1.pt"
        app_state(str(copy))  # makes the file
        state.choose_model(str(copy))
    panel.activate_requested.connect(import_it)
    panel.on_event(done_event(str(tmp_path / "runs" / "memo-1" / "best.pt")))
    assert panel.use_btn.isEnabled() and panel.use_btn.text() == "Use this model" and panel.in_use.text() == ""
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)
    assert panel.in_use.text().startswith("Now using memo-1 for predictions")
    assert not panel.use_btn.isEnabled() and panel.use_btn.text() == "In use"
    panel.on_event(done_event(str(tmp_path / "runs" / "memo-2" / "best.pt")))  # a different model
    assert panel.use_btn.isEnabled() and panel.use_btn.text() == "Use this model"
    assert panel.in_use.text().startswith("Now using memo-1")  # still true until memo-2 is chosen
    other = str(tmp_path / "data" / "models" / "other.pt")
    app_state(other)
    state.choose_model(other)  # chosen in the models dialog: the panel hears it at once
    assert panel.in_use.text() == "" and panel.use_btn.text() == "Use this model"


def test_my_labels_need_no_folder_and_the_note_does_not_move_start(panel, qtbot):
    assert panel.path.isEnabled() and panel.browse_btn.isEnabled()
    panel.source.setCurrentIndex(2)  # "My labels (from this library)"
    assert not panel.path.isEnabled() and not panel.browse_btn.isEnabled()
    panel.source.setCurrentIndex(1)
    assert panel.path.isEnabled() and panel.browse_btn.isEnabled()
    QApplication.processEvents()
    start = panel.start_btn.mapTo(panel, QPoint(0, 0))
    type_into(qtbot, panel.epochs, "7")  # the note grows by a line or two...
    click_box(qtbot, panel.modules["saml"])
    type_into(qtbot, panel.batch, "12")
    QApplication.processEvents()
    assert "batch size 12" in panel.settings_note.toolTip()
    assert panel.start_btn.mapTo(panel, QPoint(0, 0)) == start  # ...and Start stays under the pointer


def test_legends_sit_beside_the_curves_not_on_them(panel, qtbot):
    QApplication.processEvents()
    for title, plot in panel.plots.items():
        legend = plot.legend.sceneBoundingRect()
        assert legend.height() > 0 and not legend.intersects(plot.vb.sceneBoundingRect()), title


def panel_asking_to_use(qtbot, tmp_path, monkeypatch) -> tuple[TrainingPanel, list[str]]:
    """A shown panel over its own data folder, and the bundles its "Use this model" asks for."""
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    used: list[str] = []
    panel = TrainingPanel(app_state())
    qtbot.addWidget(panel)
    panel.show()
    panel.activate_requested.connect(used.append)
    return panel, used


def test_a_run_that_warned_asks_before_it_is_used(qtbot, tmp_path, monkeypatch):
    from app_helpers import answer_dialog

    panel, used = panel_asking_to_use(qtbot, tmp_path, monkeypatch)
    warning = "valence: every training track is high valence; the model cannot learn to tell valence apart"
    panel.on_event(events.TrainingWarning(warning, "valence"))
    panel.on_event(done_event(str(tmp_path / "runs" / "mine-1" / "best.pt")))
    assert "Finished with 1 warning(s)" in panel.status.text() and panel.use_btn.text() == "Use this model..."
    asked = answer_dialog("Keep the current model")
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)
    assert warning in asked[0] and used == []
    answer_dialog("Use it anyway")
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)
    assert used == [str(tmp_path / "runs" / "mine-1" / "best.pt")]
    panel.on_event(events.Start(["arousal"], 1, "cpu", 1, 10, 2, "clip", "", "", "", {}))  # a new run, no warnings
    panel.on_event(done_event(str(tmp_path / "runs" / "mine-2" / "best.pt")))
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)  # no question this time
    assert used[-1].endswith("mine-2/best.pt")
    panel.on_event(done_event(str(tmp_path / "runs" / "mine-3" / "best.pt"), test_tracks=12))  # tested on 12 tracks
    asked = answer_dialog("Keep the current model")
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)
    assert "its test part holds 12 tracks; fewer than 30" in asked[0] and used[-1].endswith("mine-2/best.pt")


def test_fine_tuning_the_descriptor_head_shows_only_what_applies(qtbot, tmp_path, monkeypatch):
    """The built-in model is a descriptor head: its fine-tune is a refit in seconds, so the panel
    asks the model (a real `info` child) and hides epochs, batch size, learning rate, modules,
    dimensions, device and the pool; training from scratch shows them all again."""
    from pathlib import Path

    builtin = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    state = app_state(str(builtin))
    panel = TrainingPanel(state)
    qtbot.addWidget(panel)
    panel.show()
    assert panel.finetune.isChecked() and panel.windowTitle() == "Train or fine-tune a model"
    qtbot.waitUntil(lambda: state.description is not None, timeout=60_000)
    hidden = [panel.epochs, panel.batch, panel.lr, panel.dims, panel.device, panel.pool]
    assert not any(w.isVisible() for w in hidden) and panel.seed.isVisible()
    assert not any(cb.isVisible() for cb in panel.modules.values())
    assert not panel.graphics.isVisible()  # no epochs to chart
    assert "musicnn embedding head" in panel.kind_note.text() and "no epochs" in panel.settings_note.text()
    panel.finetune.setChecked(False)  # DAMER from scratch: every setting is the run's
    assert all(w.isVisible() for w in hidden) and panel.kind_note.text() == "" and panel.graphics.isVisible()


def test_a_refit_reports_before_and_after_and_cannot_be_resumed(panel, tmp_path):
    panel.run_dir = tmp_path / "run"
    panel.run_dir.mkdir()
    (panel.run_dir / "last.pt").write_bytes(b"an unfinished run's checkpoint")
    panel.on_finished(130, "")  # stopped before its end: Resume goes on
    assert panel.resume_btn.isEnabled()
    panel.on_event(events.RefitStart("descriptor-head", 40, {"by": "artist", "train": 20, "val": 8, "test": 12}))
    assert not panel.graphics.isVisible() and "28 labelled tracks; 12 held out" in panel.status.text()
    figures = lambda f1: {"macro_f1": f1, "valence_acc": 0.7, "arousal_acc": 0.8, "interval": {"macro_f1": [0.4, 0.9]}}  # noqa: E731
    panel.on_event(events.Refitted(str(tmp_path / "run" / "best.pt"), "descriptor-head", 12, figures(0.6), figures(0.65)))
    text = panel.status.text()
    assert "on 12 held-out labelled tracks: 0.600 [0.40, 0.90] before, 0.650 [0.40, 0.90] after: too few held-out " \
           "labels to tell" in text, text
    panel.on_finished(0, "")
    assert panel.use_btn.isEnabled() and not panel.resume_btn.isEnabled()  # a finished run has nothing to resume


def test_a_refit_on_thin_evidence_asks_before_it_is_used(qtbot, tmp_path, monkeypatch):
    """15 labels, each held out once: the summary gives the paired change and its verdict, and
    "Use this model..." asks, naming why; a refit shown to be better on 40 tracks is used at once."""
    from app_helpers import answer_dialog

    panel, used = panel_asking_to_use(qtbot, tmp_path, monkeypatch)
    panel.on_event(events.RefitStart("descriptor-head", 15, {"by": "group", "train": 15, "val": 0, "test": 15, "folds": 5}))
    assert "on 15 labelled tracks; each is held out once (5-fold cross-validation)" in panel.status.text()
    figures = lambda f1: {"macro_f1": f1, "valence_acc": 0.7, "arousal_acc": 0.8, "interval": {"macro_f1": [0.4, 0.9]}}  # noqa: E731
    change = lambda lo, hi: {"macro_f1": 0.12, "interval": {"macro_f1": [lo, hi]}}  # noqa: E731
    bundle = str(tmp_path / "runs" / "mine-1" / "best.pt")
    panel.on_event(events.Refitted(bundle, "descriptor-head", 15, figures(0.6), figures(0.72), change(0.0, 0.34)))
    assert "(change +0.12 [+0.00, +0.34]): too few held-out labels to tell" in panel.status.text()
    assert panel.use_btn.text() == "Use this model..."
    asked = answer_dialog("Keep the current model")
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)
    assert used == [] and "The evidence is thin: it was checked on 15 held-out labelled tracks; fewer than 30" in asked[0]
    panel.on_event(events.Refitted(bundle, "descriptor-head", 40, figures(0.6), figures(0.72), change(0.03, 0.2)))
    assert "(change +0.12 [+0.03, +0.20]): better; valence acc" in panel.status.text()
    qtbot.mouseClick(panel.use_btn, Qt.MouseButton.LeftButton)  # shown to be better: no question
    assert used == [bundle]


@pytest.mark.parametrize("keys", ["Esc", "Ctrl+W"])
def test_escape_and_ctrl_w_close_the_panel(panel, qtbot, keys):
    """As the emotion map: a newcomer without a window frame could not close it from the keyboard."""
    from app_helpers import press_in_window

    press_in_window(qtbot, panel, keys)
    assert not panel.isVisible()
