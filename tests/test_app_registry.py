"""The model registry lists bundles through the real `damer-core info --jsonl` child and refuses a
malformed bundle with the reason, without crashing; rows show at once and a bundle is read once."""

import shutil
from pathlib import Path

import pytest
from app_helpers import app_state
from conftest import ROOT, builtin_created
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton

from app.training.registry import COLUMNS, ModelRegistry

BUNDLE = ROOT / "resources" / "models" / "damer-4q.pt"  # a real bundle, used here as an ordinary one


def rows(reg: ModelRegistry) -> dict[str, dict[str, str]]:
    """Each row's cells by column name."""
    return {reg.table.item(r, 0).text(): {name: reg.table.item(r, c).text() for c, name in enumerate(COLUMNS)}
            for r in range(reg.table.rowCount())}


FIGURES = ("Kind", "Data", "Created", "Preset", "Arousal AUC", "Valence AUC")  # what the child reads


def registry_with(qtbot, tmp_path: Path, monkeypatch, name: str) -> tuple[ModelRegistry, Path]:
    """The Models dialog, shown, over a models folder holding a copy of the real bundle as ``name``."""
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    shutil.copy2(BUNDLE, models / name)
    reg = ModelRegistry(app_state())
    qtbot.addWidget(reg)
    reg.show()
    return reg, models


def button(reg: ModelRegistry, text: str) -> QPushButton:
    return next(b for b in reg.findChildren(QPushButton) if b.text() == text)


@pytest.mark.slow
def test_registry_lists_good_and_refuses_malformed(qtbot, tmp_path, monkeypatch, trained_bundle):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    models = tmp_path / "data" / "models"
    models.mkdir(parents=True)
    shutil.copy(trained_bundle, models / "good.pt")
    (models / "broken.pt").write_bytes(b"PK\x03\x04 not really a zip")
    reg = ModelRegistry(app_state())
    qtbot.addWidget(reg)
    reg.show()
    qtbot.waitUntil(lambda: not reg.proc.running and len(reg.info) + len(reg.errors) == 2, timeout=60_000)
    reg._fill()
    listed = rows(reg)
    good = listed["good"]
    assert good["Preset"] == "clip" and float(good["Arousal AUC"].split()[0]) >= 0.9 and good["Status"] == "ok"
    assert good["Kind"] == "DAMER network"
    assert listed["good"]["Arousal AUC"].endswith(" tracks)")  # the figure says how many tracks it rests on
    assert listed["broken"]["Status"].startswith("broken.pt: truncated or corrupt")
    activated = []
    reg.state.model_changed.connect(lambda now, before: activated.append(now.path))
    reg.table.selectRow(0)  # broken.pt sorts first
    reg.set_active()
    assert activated == [] and "Cannot use it" in reg.status.text()
    reg.table.selectRow(1)
    reg.set_active()  # tried first in a child (app.model_info.ModelChecker), then used
    qtbot.waitUntil(lambda: activated == [str(models / "good.pt")], timeout=120_000)
    reg.table.selectRow(0)
    reg.delete(confirm=False)
    assert not (models / "broken.pt").exists() and (models / "good.pt").exists()


def test_a_ctrl_click_chooses_one_model_not_two(qtbot, tmp_path, monkeypatch):
    """Every action acts on one model: Ctrl-clicking a second row moves the choice to it, so Set
    active can never act on the other of two selected rows."""
    reg, models = registry_with(qtbot, tmp_path, monkeypatch, "a.pt")
    shutil.copy2(BUNDLE, models / "b.pt")
    reg.refresh()
    view = reg.table.viewport()
    for row, held in [(0, Qt.KeyboardModifier.NoModifier), (1, Qt.KeyboardModifier.ControlModifier)]:
        qtbot.mouseClick(view, Qt.MouseButton.LeftButton, held, reg.table.visualRect(reg.table.model().index(row, 0)).center())
    assert [i.row() for i in reg.table.selectionModel().selectedRows()] == [1]
    assert reg.selected() == models / "b.pt"
    qtbot.waitUntil(lambda: not reg.proc.running, timeout=120_000)


def test_a_model_checked_on_too_few_tracks_is_used_only_if_the_user_says_so(qtbot, tmp_path, monkeypatch):
    """Set active asks first when the figures cannot vouch for the model (12 held-out tracks):
    keeping the model in use is the default; "Use it anyway" uses it."""
    from app_helpers import answer_dialog

    from damer_core.models.checkpoint import load_checkpoint, save_atomic

    reg, models = registry_with(qtbot, tmp_path, monkeypatch, "fine.pt")
    thin = load_checkpoint(BUNDLE)
    thin["report"]["test"]["descriptor_head"]["n"] = 12
    for dim in ("arousal", "valence"):
        thin["report"]["test"]["descriptor_head"].pop(f"{dim}_auc")  # no figure on more tracks either
    save_atomic(thin, models / "thin.pt")
    reg.refresh()
    qtbot.waitUntil(lambda: not reg.proc.running and len(reg.info) == 2, timeout=120_000)
    used = []
    reg.state.model_changed.connect(lambda now, before: used.append(now.path))
    reg.table.selectRow(list(rows(reg)).index("thin"))
    said = answer_dialog("Keep the current model")
    reg.set_active()
    assert said and "checked on 12 held-out tracks; fewer than 30" in said[0] and "Train it on more" in said[0]
    assert used == []
    answer_dialog("Use it anyway")
    reg.set_active()
    qtbot.waitUntil(lambda: used == [str(models / "thin.pt")], timeout=120_000)
    reg.table.selectRow(list(rows(reg)).index("fine"))
    said = answer_dialog("Use it anyway", tries=8)  # 216 held-out tracks: nothing to ask
    reg.set_active()
    qtbot.waitUntil(lambda: used[-1] == str(models / "fine.pt"), timeout=120_000)
    assert said == []


def test_rows_show_at_once_and_only_new_bundles_are_read(qtbot, tmp_path, monkeypatch):
    reg, models = registry_with(qtbot, tmp_path, monkeypatch, "first.pt")
    first = rows(reg)["first"]  # before the child has said anything: the file system's facts
    assert reg.proc.running and first["Status"] == "reading..." and first["Kind"] == ""
    assert first["Size"] == "11 kB" and first["Modified"][:2] == "20"  # 11,093 bytes: not "0.0 MB"
    qtbot.waitUntil(lambda: not reg.proc.running, timeout=120_000)
    first = rows(reg)["first"]
    assert first["Preset"] == "context" and float(first["Arousal AUC"].split()[0]) > 0.5 and first["Status"] == "ok"
    assert first["Kind"] == "musicnn embedding head" and first["Created"] == builtin_created()

    def import_second() -> None:  # what MainWindow does: copy the bundle in, then refresh the dialog
        shutil.copy2(BUNDLE, models / "second.pt")
        reg.refresh()
    reg.import_requested.connect(import_second)
    qtbot.mouseClick(button(reg, "Import..."), Qt.MouseButton.LeftButton)
    now = rows(reg)
    assert now["first"] == first  # the rows already read keep their details
    assert now["second"]["Status"] == "reading..." and now["second"]["Size"] == first["Size"]
    assert [Path(a).name for a in reg.proc.proc.arguments() if a.endswith(".pt")] == ["second.pt"]
    qtbot.waitUntil(lambda: not reg.proc.running, timeout=120_000)
    assert rows(reg)["second"].items() >= {k: first[k] for k in FIGURES}.items()

    again = ModelRegistry(app_state())  # reopened: everything is known, no child at all
    qtbot.addWidget(again)
    assert not again.proc.running and rows(again)["second"].items() >= {k: first[k] for k in FIGURES}.items()

    (models / "first.pt").write_bytes(b"PK\x03\x04 not really a zip")  # changed on disk: read again
    qtbot.mouseClick(button(again, "Refresh"), Qt.MouseButton.LeftButton)
    assert again.proc.running and rows(again)["first"]["Status"] == "reading..."
    qtbot.waitUntil(lambda: not again.proc.running, timeout=120_000)
    assert rows(again)["first"]["Status"].startswith("first.pt: truncated or corrupt") and rows(again)["second"]["Status"] == "ok"


def test_the_delete_button_asks_before_it_deletes(qtbot, tmp_path, monkeypatch):
    """Its clicked(False) once reached delete(confirm=False): a click deleted the bundle unasked."""
    from app_helpers import answer_dialog

    reg, models = registry_with(qtbot, tmp_path, monkeypatch, "mine.pt")
    reg.table.selectRow(0)
    asked = answer_dialog("No")
    qtbot.mouseClick(button(reg, "Delete"), Qt.MouseButton.LeftButton)
    assert asked == ["Delete mine.pt?"] and (models / "mine.pt").exists()
    answer_dialog("Yes")
    qtbot.mouseClick(button(reg, "Delete"), Qt.MouseButton.LeftButton)
    assert not (models / "mine.pt").exists()
    qtbot.waitUntil(lambda: not reg.proc.running, timeout=60_000)


def test_a_finished_run_is_listed_at_once_with_its_own_figures_and_set_active_brings_it_in(qtbot, tmp_path, monkeypatch):
    """A fine-tune's best.pt is listed as soon as the run ends (once only after "Use this model"),
    with its own creation time and its held-out check in words; Set active checks it and copies it
    into the models folder, where its row then is."""
    from app_helpers import answer_dialog

    from damer_core.models.checkpoint import load_checkpoint, save_atomic, with_checksums

    reg, models = registry_with(qtbot, tmp_path, monkeypatch, "mine.pt")
    qtbot.waitUntil(lambda: not reg.proc.running, timeout=120_000)
    run = tmp_path / "data" / "runs" / "my_labels-20261206-120000"
    run.mkdir(parents=True)
    bundle = load_checkpoint(BUNDLE)
    figures = lambda f1: {"macro_f1": f1, "valence_acc": 0.7, "arousal_acc": 0.8, "valence_auc": 0.75,  # noqa: E731
                          "arousal_auc": 0.85, "interval": {"macro_f1": [f1 - 0.2, f1 + 0.2]}}
    change = {"macro_f1": 0.1, "interval": {"macro_f1": [-0.1, 0.3]}}
    bundle.update(created="2026-12-06T12:00:00+00:00",
                  report={"fine_tune": {"n": 15, "before": figures(0.6), "after": figures(0.7), "change": change}})
    save_atomic(with_checksums({k: v for k, v in bundle.items() if k != "checksums"}), run / "best.pt")
    reg.refresh()
    name = "my_labels-20261206-120000 (training run)"
    assert rows(reg)[name]["Status"] == "reading..."
    qtbot.waitUntil(lambda: not reg.proc.running, timeout=120_000)
    row = rows(reg)[name]
    assert row["Created"] == "2026-12-06 12:00" and row["Status"].startswith("finished run: Set active copies it")
    assert row["Arousal AUC"].startswith("0.850") and row["Valence AUC"].startswith("0.750")  # every dimension
    assert "0.60 before, 0.70 after (change +0.10 [-0.10, +0.30]), on 15 held-out labels: too few" in row["Held-out check"]
    reg.table.selectRow(list(rows(reg)).index(name))
    asked = answer_dialog("Keep the current model")  # checked on 15 tracks: Set active asks, as "Use this model" does
    qtbot.mouseClick(button(reg, "Set active"), Qt.MouseButton.LeftButton)
    assert "The evidence is thin: it was checked on 15 held-out labelled tracks" in asked[0]
    assert not reg.state.model.path.endswith("my_labels-20261206-120000.pt") and name in rows(reg)
    answer_dialog("Use it anyway")
    qtbot.mouseClick(button(reg, "Set active"), Qt.MouseButton.LeftButton)
    copy = models / "my_labels-20261206-120000.pt"
    qtbot.waitUntil(lambda: reg.state.model.path == str(copy), timeout=120_000)
    assert name not in rows(reg) and rows(reg)["my_labels-20261206-120000"]["Status"] == "active"
    from app.paths import copy_into_models

    assert copy_into_models(run / "best.pt") == copy  # "Use this model" afterwards: the same copy, no "-2"
    assert sorted(p.name for p in models.glob("*.pt")) == ["mine.pt", "my_labels-20261206-120000.pt"]
