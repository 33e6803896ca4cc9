"""The main window end to end (offscreen): scanning, settings across two instances, no-model and
no-sound states, keyboard, and library analysis through the real `damer-core predict` child."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from app_helpers import music_folder
from PySide6.QtCore import Qt
from synthdata import write_song

from app.playback import player as player_mod
from app.settings import Settings
from app.windows.main_window import MainWindow


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def open_window(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_scan_from_the_window_and_browse(qtbot, dirs):
    w = open_window(qtbot)
    w.add_folder(str(music_folder(dirs / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    assert w.library.proxy.rowCount() == 3
    assert "2 unreadable" in w.statusBar().currentMessage()
    assert (dirs / "data" / "library.sqlite3").is_file()
    w.library.search.setText("alice")
    assert w.library.proxy.rowCount() == 1
    w.library.search.clear()
    assert "No emotion model installed" in w.circle.message  # never a fake prediction
    w.close()


def test_settings_persist_across_two_instances(qtbot, dirs):
    w = open_window(qtbot)
    w.resize(1400, 820)
    size = (w.width(), w.height())
    assert size == (1400, 820)
    w.transport.volume.setValue(35)
    w.settings.last_folder = str(dirs)
    w.main_split.setSizes([600, 790])
    split = w.main_split.sizes()
    assert split[0] > 550
    w.close()
    assert Settings.load().volume == pytest.approx(0.35)
    w2 = open_window(qtbot)
    assert (w2.width(), w2.height()) == size
    assert w2.transport.volume.value() == 35 and w2.player.volume == pytest.approx(0.35)
    assert w2.settings.last_folder == str(dirs)
    assert w2.main_split.sizes() == split
    w2.close()


def test_no_sound_card_still_plays_silently_with_the_reason_shown(qtbot, dirs, monkeypatch):
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    w = open_window(qtbot)
    assert w.transport.sound_status.text() == "No sound: no audio output device found"
    assert not w.transport.devices.isEnabled()
    w.add_folder(str(music_folder(dirs / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    path = w.library.path_at(0)
    w.open_track(path, autoplay=True)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    qtbot.waitUntil(lambda: w.views.stack.currentIndex() == 1, timeout=20_000)  # spectrograms computed
    qtbot.wait(300)
    pos = w.player.position
    assert pos > 0.1 and w.views.playheads[0].value() == pytest.approx(pos, abs=0.2)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    assert w.player.state == "paused"
    before = w.player.position
    qtbot.keyClick(w, Qt.Key.Key_Right)
    assert w.player.position == pytest.approx(min(before + 5, w.player.duration), abs=0.05)
    qtbot.keyClick(w, Qt.Key.Key_Down)  # next track
    assert w.state.track.path == w.library.path_at(1)
    w.close()


@pytest.mark.slow
def test_analyse_library_with_the_real_cli(qtbot, dirs, trained_bundle):
    w = open_window(qtbot)
    w.add_folder(str(music_folder(dirs / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    w.windows.import_model(str(trained_bundle))  # tries it, copies it into the data dir, sets it active, analyses
    qtbot.waitUntil(lambda: w.settings.active_model.startswith(str(dirs / "data" / "models")), timeout=120_000)
    qtbot.waitUntil(lambda: not w.analysis.running, timeout=180_000)
    rows = w.db.tracks(w.state.model.key)
    assert all(r.valence is not None and -1 <= r.valence <= 1 for r in rows), rows
    assert w.library.proxy.index(0, 7).data() != ""  # nearest emotion word shown
    w.open_track(rows[0].path, autoplay=False)
    assert w.trajectory is not None and len(w.trajectory["t"]) > 3
    w.on_position(1.0)
    assert w.circle.marker is not None and w.circle.highlight
    w.files.export_predictions(str(dirs / "pred.csv"))
    lines = (dirs / "pred.csv").read_text().splitlines()
    assert lines[0].startswith("path,title,artist,valence,arousal,confidence,emotion") and len(lines) == 1 + len(rows)
    w.close()


def test_moving_plot_items_survive_interpreter_exit(tmp_path):
    """Guards the PySide6 pin: 6.12.0 corrupts refcounts when pyqtgraph items move."""
    script = textwrap.dedent("""
        import os
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication
        import pyqtgraph as pg
        app = QApplication([])
        w = pg.GraphicsLayoutWidget(); p = w.addPlot(); w.show()
        line = pg.InfiniteLine(pos=0, angle=90); p.addItem(line)
        t = [0.0]
        def tick():
            t[0] += 0.05
            line.setValue(t[0])
        timer = QTimer(); timer.timeout.connect(tick); timer.start(5)
        QTimer.singleShot(1500, app.quit)
        app.exec()
        print("clean exit")
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0 and "clean exit" in res.stdout and "Fatal" not in res.stderr, res.stderr[-500:]


def test_startup_imports_neither_torch_nor_librosa(tmp_path):
    """The window appears fast because torch and librosa stay off the startup path."""
    script = textwrap.dedent("""
        import os, sys
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        from app.windows.main_window import MainWindow
        app = QApplication([])
        w = MainWindow(); w.show(); app.processEvents()
        heavy = sorted(m for m in ("torch", "librosa", "numba", "scipy.signal") if m in sys.modules)
        print("heavy:", ",".join(heavy))
        w.close()
    """)
    env = {**os.environ, "DAMER_CONFIG_DIR": str(tmp_path / "c"), "DAMER_DATA_DIR": str(tmp_path / "d")}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env)
    assert res.returncode == 0, res.stderr[-500:]
    assert "heavy: \n" in res.stdout + "\n" and "torch" not in res.stdout, res.stdout


def test_opening_and_playing_a_track_imports_neither_torch_librosa_nor_numba(tmp_path):
    """The spectrograms and the trajectory are computed by the worker: the GUI process decodes for
    the player only (soundfile), so it never loads torch, librosa or numba."""
    song = write_song(tmp_path / "song.wav", major=True, fast=True, seconds=6.0)
    script = textwrap.dedent(f"""
        import os, sys, time
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        from PySide6.QtWidgets import QApplication
        from app.windows.main_window import MainWindow
        app = QApplication([])
        w = MainWindow(); w.show(); app.processEvents()
        shown = []
        w.views_shown.connect(lambda p, e: shown.append(e or "ok"))
        w.trajectory_shown.connect(lambda p, e: shown.append(e or "ok"))
        w.open_track({str(song)!r}, autoplay=True)
        t0 = time.monotonic()
        while len(shown) < 2 and time.monotonic() - t0 < 240:
            app.processEvents(); time.sleep(0.02)
        heavy = sorted(m for m in ("torch", "librosa", "numba", "gammatone") if m in sys.modules)
        print("shown:", shown, "heavy:", ",".join(heavy), "marker:", w.circle.marker is not None)
        w.close()
    """)
    model = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"
    env = {**os.environ, "DAMER_CONFIG_DIR": str(tmp_path / "c"), "DAMER_DATA_DIR": str(tmp_path / "d"),
           "DAMER_BUILTIN_MODEL": str(model)}
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-800:]
    assert "shown: ['ok', 'ok'] heavy:  marker:" in res.stdout, res.stdout + res.stderr[-800:]


def test_keys_a_listener_expects_in_the_table_and_the_search_box(qtbot, dirs, monkeypatch):
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    w = open_window(qtbot)
    w.add_folder(str(music_folder(dirs / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    table, search, rows = w.library.table, w.library.search, w.library.proxy.rowCount()
    assert rows >= 3
    table.setFocus()
    table.selectRow(0)
    qtbot.keyClick(table, Qt.Key.Key_End)
    assert table.currentIndex().row() == rows - 1 and table.horizontalScrollBar().value() == 0
    qtbot.keyClick(table, Qt.Key.Key_Home)
    assert table.currentIndex().row() == 0
    w.open_track(w.library.path_at(0), autoplay=True)
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=10_000)
    qtbot.keyClick(w, Qt.Key.Key_Space)
    search.setFocus()
    before = w.player.position
    qtbot.keyClick(search, Qt.Key.Key_Right)  # an empty search box: Right seeks
    assert w.player.position == pytest.approx(min(before + 5, w.player.duration), abs=0.05)
    qtbot.keyClicks(search, "zzzz")
    assert w.library.proxy.rowCount() == 0
    qtbot.keyClick(search, Qt.Key.Key_Left)  # with text: the cursor moves, the player does not
    assert w.player.position == pytest.approx(min(before + 5, w.player.duration), abs=0.05)
    qtbot.keyClick(search, Qt.Key.Key_Escape)
    assert search.text() == "" and w.library.proxy.rowCount() == rows and table.hasFocus()
    w.close()


def test_the_worker_ends_quietly_on_a_model_change_and_on_quit(qtbot, dirs, monkeypatch, caplog, qtlog):
    """Newcomer's report: a model switch logged the worker's 'Exception ignored ... KeyboardInterrupt',
    and every quit printed 'QProcess: Destroyed while process ... is still running.'"""
    import logging
    import shutil

    builtin = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"
    monkeypatch.setenv("DAMER_BUILTIN_MODEL", str(builtin))
    caplog.set_level(logging.INFO)
    w = open_window(qtbot)
    w.analysis.queue.warm()
    qtbot.waitUntil(lambda: w.analysis.queue.ready, timeout=120_000)
    other = dirs / "other.pt"
    shutil.copy(builtin, other)
    w.state.choose_model(str(other))  # the worker of the model before is stopped
    w.analysis.queue.warm()
    qtbot.waitUntil(lambda: w.analysis.queue.ready, timeout=120_000)
    qtbot.wait(2500)  # past the stop's grace: the old worker has ended by itself or been terminated
    w.close()
    said = [r.getMessage() for r in caplog.records] + [m.message for m in qtlog.records]
    noise = [s for s in said if any(x in s for x in ("Exception ignored", "KeyboardInterrupt", "Traceback",
                                                       "Destroyed while process"))]
    assert noise == []
