"""Test configuration. Qt needs a platform before it starts: offscreen, so no display is needed."""

import os
import sys
from pathlib import Path

# A 1920x1080 virtual screen: the default 800x800 one would clamp restored window sizes.
os.environ.setdefault("QT_QPA_PLATFORM", f"offscreen:configfile={Path(__file__).resolve().parent / 'offscreen_screen.json'}")
# Two pytest-xdist workers on two cores: each computes with one thread (and so do its children),
# or four threads would fight for the two cores.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
# A persistent numba cache: librosa's JIT is paid once per machine, not once per test run.
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".cache" / "numba"))

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))

from disks import small_disk  # noqa: E402, F401 - a fixture for every test file


@pytest.fixture(autouse=True)
def _isolated_dirs(tmp_path, monkeypatch):
    """Every test gets its own feature cache and never touches the user's. The built-in model is
    off unless a test switches it on (tests/test_builtin_model.py): an app test must not start
    analysing its whole library with it."""
    monkeypatch.setenv("DAMER_CACHE_DIR", str(tmp_path / "feature-cache"))
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))  # settings a test saves stay in it
    monkeypatch.setenv("DAMER_BUILTIN_MODEL", "none")
    monkeypatch.delenv("DAMER_CACHE_MAX_MB", raising=False)  # a window sets it from its settings: undone after
    yield


@pytest.fixture(autouse=True)
def _no_key_left_held():
    """QTest's Ctrl+A leaves Qt believing Ctrl is still down (no release of Ctrl itself is sent),
    so a later test's selectRow would toggle rows instead of choosing one: released as a person would."""
    yield
    if "PySide6.QtWidgets" not in sys.modules:  # core tests never start Qt
        return
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QWidget

    if QApplication.instance() is not None and QApplication.keyboardModifiers() != Qt.KeyboardModifier.NoModifier:
        QTest.keyRelease(QWidget(), Qt.Key.Key_Control, Qt.KeyboardModifier.NoModifier)


@pytest.fixture
def real_tracks():
    return sorted(DATA.glob("*.ogg"))


def made_once(tmp_path_factory, name: str, make):
    """A session fixture's file made once per test run: with pytest-xdist, by the first worker to
    ask (a file lock), and read by the others, instead of once per worker."""
    from filelock import FileLock

    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's folder, shared by its workers
    with FileLock(str(root / f"{name}.lock")):
        made = root / f"{name}.path"
        if made.is_file():
            return Path(made.read_text())
        path = make(root / name)
        made.write_text(str(path))
        return path


@pytest.fixture(scope="session")
def synth_memo(tmp_path_factory):
    """300 one-second clips, Memo2496 array layout; labels follow from the audio."""
    from synthdata import memo_arrays

    return made_once(tmp_path_factory, "synth-memo", lambda d: memo_arrays(d, 300, seed=0))


@pytest.fixture(scope="session")
def tiny_memo(tmp_path_factory):
    from synthdata import memo_arrays

    return made_once(tmp_path_factory, "tiny-memo", lambda d: memo_arrays(d, 60, seed=1))


@pytest.fixture(scope="session")
def trained_bundle(synth_memo, tmp_path_factory):
    """best.pt of a real 8-epoch CPU training on synth_memo (both dimensions)."""
    from damer_core.training.config import TrainConfig
    from damer_core.training.run import DataArgs, train

    return made_once(tmp_path_factory, "trained-run",
                     lambda d: train(DataArgs(str(synth_memo)), TrainConfig(epochs=8, batch_size=8), d / "run", "cpu"))


@pytest.fixture
def scanned_window(qtbot, tmp_path, monkeypatch):
    """A MainWindow with its own config and data dirs, no sound card, and a scanned music folder
    (three good tracks, two bad files)."""
    from app_helpers import music_folder

    from app.playback import player as player_mod
    from app.windows.main_window import MainWindow

    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    w.add_folder(str(music_folder(tmp_path / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    yield w
    w.close()


def builtin_created() -> str:
    """The built-in bundle's own creation time as the Models dialog shows it (not the file's mtime)."""
    import torch

    created = torch.load(ROOT / "resources" / "models" / "damer-4q.pt", map_location="cpu", weights_only=True)["created"]
    return created[:16].replace("T", " ")
