"""The window, and the `damer-explorer [FILE]` command as a user starts it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.windows.main_window import MainWindow

TRACK = Path(__file__).resolve().parent / "data" / "vibe_ace.ogg"


def test_main_window_opens(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.windowTitle() == "DAMER Explorer"
    assert w.grab().width() > 0


def run_app(tmp_path, *args):
    env = dict(os.environ, DAMER_DATA_DIR=str(tmp_path / "data"), DAMER_CONFIG_DIR=str(tmp_path / "config"),
               DAMER_EXPLORER_SMOKE="100", DAMER_EXPLORER_SMOKE_TIMEOUT="240")
    return subprocess.run([sys.executable, "-m", "app.main", *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=env)


def test_opening_a_file_outside_the_library_shows_views_and_trajectory(tmp_path, trained_bundle):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "settings.json").write_text(json.dumps({"active_model": str(trained_bundle)}))
    res = run_app(tmp_path, TRACK)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "views of vibe_ace.ogg: shown" in res.stdout and "trajectory of vibe_ace.ogg: shown" in res.stdout
    assert "window shown (vibe_ace.ogg - DAMER Explorer)" in res.stdout


def test_opening_a_bad_file_says_why_and_exits_with_an_error(tmp_path):
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + bytes(200))
    res = run_app(tmp_path, bad)
    assert res.returncode == 1
    assert "views of broken.flac: broken.flac: " in res.stdout  # the file's name and the reason


@pytest.mark.parametrize("kind,words", [("folder", "is a folder, not an audio file"), ("missing", "file not found")])
def test_opening_a_folder_or_a_missing_path_says_so_in_words(tmp_path, kind, words):
    target = tmp_path / "music"
    if kind == "folder":
        target.mkdir()
    res = run_app(tmp_path, target)
    assert res.returncode == 1 and f"views of music: music: {words}" in res.stdout
    assert "Errno" not in res.stdout + res.stderr


# -- the environment and signals (hardening round four) -----------------------------------------
NOBODY = 65534


def app_env(tmp_path, **extra) -> dict:
    return {**os.environ, "DAMER_DATA_DIR": str(tmp_path / "data"), "DAMER_CONFIG_DIR": str(tmp_path / "config"),
            "XDG_RUNTIME_DIR": str(tmp_path), **extra}


def wait_for_line(path: Path, line: str, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.is_file() and line in path.read_text(errors="replace"):
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError(f"no '{line}' in {path}")


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_in_the_terminal_closes_the_window_and_quits_cleanly(tmp_path, sig):
    import signal

    proc = subprocess.Popen([sys.executable, "-m", "app.main"], env=app_env(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        wait_for_line(tmp_path / "data" / "logs" / "damer-explorer.log", "window shown", proc)
        proc.send_signal(getattr(signal, sig))
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert f"{sig}: closing" in (tmp_path / "data" / "logs" / "damer-explorer.log").read_text()
    assert (tmp_path / "config" / "settings.json").is_file()  # closed as the close button does: settings kept


def test_a_data_folder_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path):
    """As an unprivileged user (root ignores permissions): DAMER_DATA_DIR under a folder it cannot write."""
    import shutil

    if os.geteuid() == 0 and not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv")
    locked = tmp_path / "locked"
    locked.mkdir()
    os.chmod(tmp_path, 0o755)
    os.chmod(locked, 0o555)
    env = app_env(tmp_path, DAMER_EXPLORER_SMOKE="100", DAMER_DATA_DIR=str(locked / "data"),
                  DAMER_CONFIG_DIR=str(locked / "config"), PYTHONPATH=str(Path(__file__).resolve().parent.parent),
                  NUMBA_CACHE_DIR=str(tmp_path / "numba"), HOME=str(tmp_path))
    cmd = [sys.executable, "-m", "app.main"]
    if os.geteuid() == 0:
        cmd = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *cmd]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert f"{locked / 'data'}: the app's data folder cannot be made (Permission denied)" in r.stderr


def test_a_full_disk_at_start_says_the_disk_is_full(tmp_path, small_disk):
    from disks import fill

    (small_disk / "data").mkdir()
    fill(small_disk)
    env = app_env(tmp_path, DAMER_EXPLORER_SMOKE="100", DAMER_DATA_DIR=str(small_disk / "data"))
    r = subprocess.run([sys.executable, "-m", "app.main"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "cannot create the lock file next to the library (No space left on device)" in r.stderr
    assert "read-only" not in r.stderr


def test_settings_that_cannot_be_saved_are_logged_and_told_once(qtbot, tmp_path, monkeypatch, caplog):
    blocker = tmp_path / "config-is-a-file"
    blocker.write_text("")
    monkeypatch.setenv("DAMER_CONFIG_DIR", str(blocker / "config"))  # under a file: cannot be made
    w = MainWindow()
    qtbot.addWidget(w)
    assert w.settings.save() is False
    box = w.windows.unsaved
    assert box is not None and box.isVisible() and "the settings cannot be saved" in box.text()
    assert "will not be kept after this session" in box.text()
    box.close()
    w.windows.unsaved = None
    assert w.settings.save() is False and w.windows.unsaved is None  # the same problem is told once
    assert sum("the settings cannot be saved" in r.getMessage() for r in caplog.records) == 1
    w.close()
