"""Run in a child process with HOME pointing at a folder whose .asoundrc makes ALSA's default
device a `type file` PCM: plays a WAV through app.playback.player.Player after a seek, prints a JSON line."""

import json
import sys

import numpy as np
import soundfile as sf
from PySide6.QtCore import QCoreApplication, QTimer

from app.playback.player import Player

wav, seek_s, stereo = sys.argv[1], float(sys.argv[2]), sys.argv[3] == "stereo"
app = QCoreApplication([])
player = Player()
rate = player._device_rate()
n = int(rate * 4)
ramp = (0.05 + 0.9 * (np.arange(n) % 997) / 997).astype(np.float32)  # no zeros: easy to align
signal = np.stack([ramp, -ramp], axis=1) if stereo else ramp[:, None]
sf.write(wav, signal, rate, subtype="FLOAT")
player.set_volume(1.0)
info = {"rate": rate, "reason": player.reason}


def loaded(path, duration):
    player.seek(seek_s)
    player.play()
    QTimer.singleShot(800, stop)


def stop():
    info["position"] = player.position
    player.pause()
    info["played_until"] = player._frame
    player.shutdown()
    print(json.dumps(info))
    app.quit()


player.loaded.connect(loaded)
player.error.connect(lambda m: (print(json.dumps({"error": m})), app.quit()))
player.load(wav)
QTimer.singleShot(20_000, app.quit)
app.exec()
