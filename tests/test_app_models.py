"""What the listener sees with real models in a real window: the built-in model on a first start
(no import), the registry's built-in row, a bundle that predicts one dimension only, and the
training panel fine-tuning the active model by default."""

import math
import shutil

import pytest
from app_helpers import answer_dialog, app_state
from conftest import DATA, builtin_created

from app.playback import player as player_mod
from app.training.panel import TrainingPanel
from app.training.registry import COLUMNS, ModelRegistry
from app.windows.main_window import MainWindow
from damer_core.contract.builtin import BUILTIN_DAMER_NAME, BUILTIN_NAME, builtin_damer_path, builtin_model_path
from damer_core.training.config import FINE_TUNE_DEFAULTS, TrainConfig
from damer_core.training.run import DataArgs, train

pytestmark = pytest.mark.slow  # trains bundles and analyses libraries in the window

@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))

    def make():
        w = MainWindow()
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        qtbot.waitExposed(w)
        return w
    return make


def real_music(root):
    root.mkdir(parents=True)
    shutil.copy(DATA / "vibe_ace.ogg", root / "vibe_ace.ogg")
    return root


@pytest.mark.slow
def test_first_start_shows_the_built_in_models_marker_without_an_import(window, qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("DAMER_BUILTIN_MODEL")
    w = window()
    assert w.settings.active_model == "" and w.state.model.path.endswith("damer-4q.pt")
    assert "No emotion model" not in w.circle.message
    w.add_folder(str(real_music(tmp_path / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=30_000)
    qtbot.waitUntil(lambda: w.analysis.running, timeout=10_000)  # analysis starts on its own
    qtbot.waitUntil(lambda: not w.analysis.running, timeout=240_000)
    row = w.db.tracks(w.state.model.key)[0]
    assert row.analysed and -1 <= row.valence <= 1 and -1 <= row.arousal <= 1
    assert w.library.proxy.index(0, 7).data()  # an emotion word in the table
    w.open_track(row.path)
    assert w.trajectory is not None
    positions = []
    for t in (10.0, 10.25, 40.0):
        w.on_position(t)
        positions.append(w.circle.marker[:2])
    assert positions[0] != positions[1]  # the marker glides between the 0.5 s points
    assert w.circle.highlight and not w.circle.not_predicted
    w.close()


@pytest.mark.slow
def test_registry_lists_the_built_in_model_first_and_keeps_it(qtbot, tmp_path, monkeypatch):
    monkeypatch.delenv("DAMER_BUILTIN_MODEL")
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    reg = ModelRegistry(app_state())
    qtbot.addWidget(reg)
    reg.show()
    qtbot.waitUntil(lambda: not reg.proc.running and bool(reg.info), timeout=60_000)
    reg._fill()
    col = {name: reg.table.item(0, c).text() for c, name in enumerate(COLUMNS)}
    assert col["Model"] == BUILTIN_NAME and "built-in" in col["Status"] and col["Kind"] == "musicnn embedding head"
    assert col["Created"] == builtin_created()  # the bundle's own creation time
    assert col["Preset"] == "context" and float(col["Arousal AUC"].split()[0]) > 0.5  # test AUC
    assert col["Valence AUC"].endswith("(216 tracks)") and "[" in col["Valence AUC"]
    assert reg.support.text().startswith(f"Best supported: {BUILTIN_NAME} (checked on 216 held-out tracks)")
    reg.table.selectRow(0)
    reg.delete(confirm=False)
    assert reg.paths()[0].is_file() and "built-in model cannot be deleted" in reg.status.text()
    reg.rename()
    assert "built-in model cannot be renamed" in reg.status.text()


def test_the_built_in_damer_network_is_one_click_away(qtbot, tmp_path, monkeypatch):
    """The second built-in row: the DAMER network with its own test figures beside the default's;
    Set active uses it without a check or a copy, it is remembered by its path, and it cannot be
    deleted or renamed; choosing the default again stores the empty choice."""
    monkeypatch.delenv("DAMER_BUILTIN_MODEL")
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    state = app_state()
    reg = ModelRegistry(state)
    qtbot.addWidget(reg)
    reg.show()
    qtbot.waitUntil(lambda: not reg.proc.running and len(reg.info) == 2, timeout=120_000)
    damer = builtin_damer_path()
    assert reg.paths()[:2] == [builtin_model_path(), damer]
    col = {name: reg.table.item(1, c).text() for c, name in enumerate(COLUMNS)}
    assert col["Model"] == BUILTIN_DAMER_NAME and "built-in" in col["Status"] and "DAMER" in col["Kind"]
    assert col["Valence AUC"].endswith("(216 tracks)") and col["Arousal AUC"].endswith("(216 tracks)")
    assert reg.status.text().startswith("2 built-in, 0 model(s) in ")  # the built-ins are not in the models folder
    reg.table.selectRow(1)
    reg.set_active()
    assert state.model.path == str(damer) and state.settings.active_model == "builtin:damer-4q-network.pt"
    assert "active" in reg.table.item(1, COLUMNS.index("Status")).text()
    reg.delete(confirm=False)
    assert damer.is_file() and "built-in model cannot be deleted" in reg.status.text()
    reg.table.selectRow(0)
    reg.set_active()
    assert state.settings.active_model == "" and state.model.path == str(builtin_model_path())


def test_the_app_finds_a_remembered_built_in_again_or_says_it_is_gone(monkeypatch):
    monkeypatch.delenv("DAMER_BUILTIN_MODEL")
    from app.model_in_use import MODEL_MISSING, ModelInUse

    assert ModelInUse.of("builtin:damer-4q-network.pt").path == str(builtin_damer_path())
    gone = ModelInUse.of("builtin:older-network.pt")
    assert gone.path == "" and gone.why_none == MODEL_MISSING.format(name="builtin:older-network.pt")
    assert ModelInUse.of("").path == str(builtin_model_path())


@pytest.fixture(scope="module")
def valence_only(tiny_memo, tmp_path_factory):
    return train(DataArgs(str(tiny_memo)), TrainConfig(epochs=2, batch_size=16, dims=("valence",)),
                 tmp_path_factory.mktemp("vrun") / "run", "cpu")


@pytest.mark.slow
def test_a_one_dimension_bundle_never_shows_a_made_up_value(window, qtbot, tmp_path, valence_only):
    w = window()
    w.add_folder(str(real_music(tmp_path / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=30_000)
    # a few held-out tracks: asked once it passed its check, and answered after its check's child has gone
    said = answer_dialog("Use it anyway", tries=4800, when=lambda: not w.state._checker.proc.running)
    w.windows.import_model(str(valence_only))
    qtbot.waitUntil(lambda: w.settings.active_model != "" or w.windows.refusal is not None, timeout=120_000)
    assert w.windows.refusal is None, w.windows.refusal.text()  # it passed its check
    assert said and "The evidence is thin" in said[0]
    qtbot.waitUntil(lambda: not w.analysis.running and w.db.tracks(w.state.model.key)[0].analysed, timeout=240_000)
    row = w.db.tracks(w.state.model.key)[0]
    assert row.arousal is None and row.valence is not None
    w.reload_library()
    qtbot.waitUntil(lambda: not w.library_busy)
    assert w.library.proxy.index(0, 5).data() == "n/p" and w.library.proxy.index(0, 7).data() == ""
    assert "not predicted" in w.library.proxy.index(0, 5).data(3)  # the tooltip says why
    w.open_track(row.path)
    w.on_position(12.0)
    v, a, _ = w.circle.marker
    assert a == 0.0 and math.isfinite(v) and w.circle.not_predicted == "arousal" and w.circle.highlight == ""
    img = w.circle.grab().toImage()
    assert not img.isNull()
    w.close()


def test_training_panel_fine_tunes_the_active_model_by_default(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    base = str(tmp_path / "models" / "base.pt")
    panel = TrainingPanel(app_state(base))
    qtbot.addWidget(panel)
    assert panel.finetune.isChecked()
    assert panel.epochs.value() == FINE_TUNE_DEFAULTS["epochs"] and panel.lr.value() == pytest.approx(FINE_TUNE_DEFAULTS["lr"])
    panel.path.setText(str(tmp_path / "labels.csv"))
    args = panel.command()
    assert args[args.index("--init") + 1] == base
    panel.finetune.setChecked(False)  # from scratch: the paper's settings
    assert panel.epochs.value() == 80 and panel.lr.value() == pytest.approx(1e-3)
    assert "--init" not in panel.command()
    assert not TrainingPanel(app_state()).finetune.isChecked()


@pytest.mark.slow
def test_a_file_outside_the_library_keeps_its_marker_after_the_analysis(window, qtbot, tmp_path, trained_bundle):
    """`damer-explorer song.ogg` for a file not in the library: once the child has predicted it,
    the marker stays (it used to be replaced by "Analysing this track..." for good)."""
    w = window()
    w.state.choose_model(str(trained_bundle))
    outside = real_music(tmp_path / "elsewhere") / "vibe_ace.ogg"
    w.open_track(str(outside))
    assert w.state.track.track_id < 0
    qtbot.waitUntil(lambda: w.trajectory is not None, timeout=120_000)
    qtbot.waitUntil(lambda: not w.analysis.running, timeout=30_000)
    qtbot.wait(300)
    w.on_position(20.0)
    assert w.circle.message == "" and w.circle.marker is not None and w.trajectory is not None
    w.close()


# -- a bad model never becomes the app's model (hardening round four) ----------------------------
def bad_model_files(root) -> dict:
    """Generated bad picks, each of a class: bytes that are no bundle, a bundle whose fields pass
    but whose head is constant (zero weights), a folder, a pipe, a path that does not exist."""
    import os

    import torch

    from damer_core.models.bundle_fields import CHECKSUM
    from damer_core.models.checkpoint import load_checkpoint, save_atomic

    root.mkdir(parents=True, exist_ok=True)
    (root / "noise.pt").write_bytes(os.urandom(5000))
    constant = load_checkpoint(DATA.parent.parent / "resources" / "models" / "damer-4q.pt")
    constant["descriptor_head"]["state_dict"]["coef"] = torch.zeros_like(constant["descriptor_head"]["state_dict"]["coef"])
    constant["descriptor_head"].pop(CHECKSUM, None)
    save_atomic(constant, root / "constant.pt")
    (root / "folder.pt").mkdir()
    os.mkfifo(root / "pipe.pt")
    return {"noise.pt": "truncated or corrupt file", "constant.pt": "predicts the same",
            "folder.pt": "is a folder", "pipe.pt": "is not a regular file", "gone.pt": "no such file"}


def test_a_bad_model_is_refused_in_one_dialog_and_the_model_in_use_stays(window, qtbot, tmp_path):
    from app.paths import models_dir

    w = window()
    in_use = w.state.model
    for name, words in bad_model_files(tmp_path / "picks").items():
        w.windows.refusal = None
        w.windows.import_model(str(tmp_path / "picks" / name))
        qtbot.waitUntil(lambda: w.windows.refusal is not None, timeout=120_000)
        text = w.windows.refusal.text()
        assert name in text and words in text and "No model is in use still." in text, text
        assert w.windows.refusal.isVisible()
        w.windows.refusal.close()
        assert w.state.model == in_use and w.settings.active_model == ""
        assert not (models_dir().is_dir() and list(models_dir().iterdir()))  # nothing copied in


def test_a_good_model_passes_its_check_and_comes_into_the_models_folder(window, qtbot, tmp_path):
    from app.paths import models_dir

    mine = tmp_path / "mine.pt"
    shutil.copy(DATA.parent.parent / "resources" / "models" / "damer-4q.pt", mine)
    w = window()
    w.windows.import_model(str(mine))
    qtbot.waitUntil(lambda: w.settings.active_model != "", timeout=120_000)
    assert w.settings.active_model == str(models_dir() / "mine.pt") and w.windows.refusal is None
    assert w.state.model.path == str(models_dir() / "mine.pt")


def test_a_link_loop_in_the_models_folder_is_one_unreadable_row(window, qtbot):
    from app.paths import models_dir

    models_dir().mkdir(parents=True)
    (models_dir() / "a.pt").symlink_to(models_dir() / "b.pt")
    (models_dir() / "b.pt").symlink_to(models_dir() / "a.pt")
    w = window()
    w.windows.show_registry()
    reg = w.windows.registry
    names = [reg.table.item(r, 0).text() for r in range(reg.table.rowCount())]
    assert names == ["a", "b"]  # the tests' environment has no built-in model (conftest)
    statuses = [reg.table.item(r, COLUMNS.index("Status")).text() for r in (0, 1)]
    assert all("cannot be read (Too many levels of symbolic links)" in s for s in statuses), statuses
    reg.close()
