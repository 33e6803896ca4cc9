"""The player: real callback output captured bit-exactly through an ALSA file PCM, the silent
clock when there is no sound card, seeking and the end of a track."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from app_helpers import tagged

from app.playback import player as player_mod
from app.playback.player import Player

ROOT = Path(__file__).resolve().parent.parent
ASOUNDRC = """pcm.!default {{
    type file
    slave.pcm "null"
    file "{out}"
    format "raw"
}}
"""


def has_portaudio():
    try:
        import ctypes.util

        return ctypes.util.find_library("portaudio") is not None
    except Exception:
        return False


@pytest.mark.skipif(not has_portaudio(), reason="PortAudio (libportaudio2) is not installed")
@pytest.mark.parametrize("layout", ["mono", "stereo"])
def test_callback_plays_the_right_samples_after_a_seek(tmp_path, layout):
    home = tmp_path / "home"
    home.mkdir()
    out = tmp_path / "captured.raw"
    (home / ".asoundrc").write_text(ASOUNDRC.format(out=out))
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    res = subprocess.run([sys.executable, str(ROOT / "tests" / "alsa_player_child.py"), str(tmp_path / "t.wav"), "1.5", layout],
                         capture_output=True, text=True, env=env, timeout=60)
    info = json.loads(res.stdout.strip().splitlines()[-1])
    assert "error" not in info and info["reason"] == "", info
    rate, ch = info["rate"], 2 if layout == "stereo" else 1
    n = int(rate * 4)
    ramp = (0.05 + 0.9 * (np.arange(n) % 997) / 997).astype(np.float32)
    expected = np.stack([ramp, -ramp], axis=1) if ch == 2 else ramp[:, None]
    captured = np.frombuffer(out.read_bytes(), dtype="<f4")
    captured = captured[: captured.size // ch * ch].reshape(-1, ch)
    start = int(np.flatnonzero(captured[:, 0])[0])  # ALSA primes the device with silence first
    seek_frame = int(1.5 * rate)
    played = info["played_until"] - seek_frame
    assert played > 0.5 * rate  # ~0.8 s of playback
    got = captured[start:start + played]
    np.testing.assert_array_equal(got, expected[seek_frame:seek_frame + got.shape[0]])  # bit-exact
    assert got.shape[0] == played


def test_no_sound_card_keeps_a_silent_clock(qtbot, tmp_path, monkeypatch):
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "PortAudio is not installed (test)"))
    p = Player()
    assert not p.sound_available and "PortAudio" in p.reason and p.output_devices() == []
    path = tagged(tmp_path / "short.wav", 3.2, seed=9)
    with qtbot.waitSignal(p.loaded, timeout=10_000) as loaded:
        p.load(str(path))
    assert loaded.args[1] == pytest.approx(3.2, abs=0.01)
    positions = []
    p.position_changed.connect(positions.append)
    p.seek(2.0)
    p.play()
    assert p.state == "playing"
    qtbot.wait(500)
    assert 2.3 < p.position <= 3.2
    assert len([x for x in positions if x > 2.0]) >= 5  # >= 20 Hz updates drive the playhead
    with qtbot.waitSignal(p.finished, timeout=5_000):
        pass
    assert p.state == "stopped"
    p.seek(1.0)
    assert p.position == pytest.approx(1.0)
    p.shutdown()


def test_unreadable_track_reports_an_error(qtbot, tmp_path):
    p = Player()
    bad = tmp_path / "bad.flac"
    bad.write_bytes(b"nope" * 100)
    with qtbot.waitSignal(p.error, timeout=10_000) as err:
        p.load(str(bad))
    assert err.args[0].startswith("bad.flac: ") and p.state == "empty"


@pytest.mark.parametrize("width", [1600, 1920])
def test_the_no_sound_reason_is_readable_in_the_window_and_in_the_log(qtbot, monkeypatch, tmp_path, width, caplog):
    """Newcomer's report: the reason got 0 px (the seek slider took the whole stretch) even at 1920 px."""
    from app.windows.main_window import MainWindow

    monkeypatch.setenv("DAMER_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("DAMER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(player_mod, "probe_sounddevice", lambda: (None, "no audio output device found"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(width, 1000)
    w.show()
    qtbot.waitExposed(w)
    status = w.transport.sound_status
    assert status.isVisible() and status.text() == "No sound: no audio output device found"
    assert status.width() >= status.fontMetrics().horizontalAdvance("No sound: ...")
    assert status.grab().width() > 0 and "No sound" in painted_text(status)
    assert any("no sound: no audio output device found" in r.getMessage() for r in caplog.records)
    w.close()


def painted_text(label) -> str:  # what the label paints (elided), not the text it was given
    from PySide6.QtWidgets import QLabel

    return QLabel.text(label)
