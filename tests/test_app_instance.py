"""A second `damer-explorer [FILE]` with the same library: the file goes to the running window
over a real local socket, and the second process exits quietly."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtNetwork import QLocalServer

from app.instance import InstanceLock, InstanceServer, server_name
from app.main import connect_instance
from app.playback import player as player_mod

ROOT = Path(__file__).resolve().parent.parent
TRACK = Path(__file__).resolve().parent / "data" / "vibe_ace.ogg"


@pytest.fixture
def running(qtbot, tmp_path):
    """This test process as the running instance: the library's lock and its server."""
    db_path = tmp_path / "data" / "library.sqlite3"
    lock = InstanceLock(db_path)
    lock.acquire()
    server = InstanceServer(db_path)
    assert server.listen(), server.error
    got = {"files": [], "activated": 0}
    server.file_received.connect(got["files"].append)
    server.activate_requested.connect(lambda: got.__setitem__("activated", got["activated"] + 1))
    yield db_path, server, got
    server.close()
    lock.release()


HAND_OVER = """
import sys
from PySide6.QtCore import QCoreApplication
from app.instance import hand_over
app = QCoreApplication([])
sys.exit(0 if hand_over(sys.argv[1], *sys.argv[2:]) else 1)
"""


def hand_over_from_process(qtbot, cwd: Path, db_path: Path, *file: str) -> bool:
    """app.instance.hand_over in a process of its own, as a second start runs it (it blocks,
    holding the GIL, until answered: in a thread of this process the server could not answer)."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-c", HAND_OVER, str(db_path), *file], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    code, out, err = finished(qtbot, proc)
    assert code in (0, 1), out + err
    return code == 0


def test_hand_over_sends_the_absolute_path(qtbot, running, tmp_path):
    db_path, _, got = running
    assert hand_over_from_process(qtbot, tmp_path, db_path, "song.ogg") is True
    qtbot.waitUntil(lambda: got["activated"] == 1, timeout=10_000)
    assert got["files"] == [str(tmp_path / "song.ogg")]
    assert hand_over_from_process(qtbot, tmp_path, db_path) is True  # no file: just come to the front
    qtbot.waitUntil(lambda: got["activated"] == 2, timeout=10_000)
    assert got["files"] == [str(tmp_path / "song.ogg")]


def test_another_library_has_another_server(qtbot, running, tmp_path):
    db_path, _, got = running
    other = tmp_path / "other" / "library.sqlite3"
    assert server_name(other) != server_name(db_path)
    assert server_name(tmp_path / "data" / ".." / "data" / "library.sqlite3") == server_name(db_path)
    assert hand_over_from_process(qtbot, tmp_path, other, str(TRACK)) is False
    assert got == {"files": [], "activated": 0}


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX") or sys.platform == "win32", reason="Unix socket files only")
def test_a_socket_left_by_a_killed_instance_is_replaced(qtbot, tmp_path):
    db_path = tmp_path / "library.sqlite3"
    probe = InstanceServer(db_path)
    assert probe.listen(), probe.error
    socket_file = probe._server.fullServerName()
    probe.close()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(socket_file)  # bound, never listening, never unlinked: what kill -9 leaves
    stale.close()
    assert os.path.exists(socket_file) and not QLocalServer().listen(server_name(db_path))
    server = InstanceServer(db_path)
    got = []
    server.file_received.connect(got.append)
    assert server.listen(), server.error
    assert hand_over_from_process(qtbot, tmp_path, db_path, str(TRACK)) is True
    qtbot.waitUntil(lambda: got == [str(TRACK)], timeout=10_000)
    server.close()


def test_the_running_window_plays_the_file_and_comes_to_the_front(qtbot, tmp_path, monkeypatch):
    from app.windows.main_window import MainWindow

    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    db_path = tmp_path / "data" / "library.sqlite3"
    w = MainWindow(db_path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    server = InstanceServer(db_path)
    assert server.listen(), server.error
    connect_instance(server, w)
    w.showMinimized()
    assert hand_over_from_process(qtbot, tmp_path, db_path, str(TRACK)) is True
    qtbot.waitUntil(lambda: w.player.state == "playing", timeout=60_000)
    assert w.state.track.path == str(TRACK) and w.player.path == str(TRACK)
    assert w.windowTitle() == "vibe_ace.ogg - DAMER Explorer"
    assert not w.isMinimized() and w.isVisible()
    server.close()
    w.close()


def app_process(tmp_path, *args, **env) -> subprocess.Popen:
    """`damer-explorer ARGS` started from the tests' data folder, with the test's library."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DAMER_DATA_DIR=str(tmp_path / "data"),
               DAMER_CONFIG_DIR=str(tmp_path / "config"), PYTHONPATH=str(ROOT), **env)
    return subprocess.Popen([sys.executable, "-m", "app.main", *args], cwd=TRACK.parent, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finished(qtbot, proc: subprocess.Popen) -> tuple[int, str, str]:
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=120_000)  # serving it meanwhile
    finally:
        if proc.poll() is None:  # e.g. stuck in an "already running" message box
            proc.kill()
    out, err = proc.communicate()
    return proc.returncode, out, err


def test_a_second_start_hands_its_file_over_and_exits(qtbot, running, tmp_path):
    db_path, _, got = running
    code, out, err = finished(qtbot, app_process(tmp_path, TRACK.name))  # relative to its own folder
    assert code == 0, out + err
    assert out.splitlines() == [(f"damer-explorer: {TRACK} handed over to the DAMER Explorer already running "
                                 f"with {db_path}")]
    assert "already running" not in err
    qtbot.waitUntil(lambda: got["activated"] == 1, timeout=10_000)
    assert got["files"] == [str(TRACK)]


def test_a_second_start_without_a_file_brings_the_window_to_the_front(qtbot, running, tmp_path):
    db_path, _, got = running
    code, out, err = finished(qtbot, app_process(tmp_path))
    assert code == 0, out + err
    assert out.splitlines() == [(f"damer-explorer: DAMER Explorer is already running with {db_path}; "
                                 "brought its window to the front")]
    qtbot.waitUntil(lambda: got["activated"] == 1, timeout=10_000)
    assert got["files"] == []


def test_a_second_start_nobody_answers_says_already_running(qtbot, tmp_path):
    db_path = tmp_path / "data" / "library.sqlite3"
    lock = InstanceLock(db_path)  # held here, with no server: a hung or remote instance
    lock.acquire()
    try:
        code, out, err = finished(qtbot, app_process(tmp_path, TRACK.name, DAMER_EXPLORER_SMOKE="100"))
    finally:
        lock.release()
    assert code == 2, out + err
    assert (f"{db_path}: DAMER Explorer is already running with this library (process {os.getpid()})"
            in err), err
    assert "handed over" not in out
