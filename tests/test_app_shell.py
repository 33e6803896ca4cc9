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
