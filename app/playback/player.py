"""Audio playback: a QObject with typed signals around a sounddevice output stream fed from a
callback. Without PortAudio or an output device the player keeps a silent clock instead, so the
views scroll and labelling works; ``reason`` says why there is no sound."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from app.workers import Worker

POSITION_HZ = 25


def probe_sounddevice() -> tuple[Any, str]:
    """(the sounddevice module, "") or (None, why there is no sound)."""
    try:
        import sounddevice as sd
    except OSError:
        return None, "PortAudio is not installed (Debian: apt install libportaudio2)"
    except Exception as e:  # noqa: BLE001
        return None, f"sound library failed to load ({e})"
    try:
        if not any(d["max_output_channels"] > 0 for d in sd.query_devices()):
            return None, "no audio output device found"
    except Exception as e:  # noqa: BLE001
        return None, f"audio devices cannot be listed ({e})"
    return sd, ""


class Player(QObject):
    position_changed = Signal(float)  # seconds, at POSITION_HZ while playing
    state_changed = Signal(str)  # "empty", "loading", "stopped", "playing", "paused"
    loaded = Signal(object, float)  # path, duration
    finished = Signal()  # reached the end of the track
    error = Signal(str)

    def __init__(self, device: str = "", parent=None):
        super().__init__(parent)
        self._sd, self.reason = probe_sounddevice()
        self.device = device
        self.rate = 44_100
        self.audio: np.ndarray | None = None  # float32 [frames, channels] at self.rate
        self.path = ""
        self._frame = 0
        self._pending_seek: int | None = None  # set by the GUI, taken by the audio callback
        self._volume = 0.8
        self._stream: Any = None  # the sounddevice OutputStream while the device is open
        self._state = "empty"
        self._clock_start: float | None = None  # silent clock: monotonic time of frame 0
        self._ended = False
        self._loader: Worker | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(1000 // POSITION_HZ)
        self._timer.timeout.connect(self._tick)

    # -- devices --------------------------------------------------------------------------------
    @property
    def sound_available(self) -> bool:
        return self._sd is not None

    def output_devices(self) -> list[str]:
        if self._sd is None:
            return []
        return [d["name"] for d in self._sd.query_devices() if d["max_output_channels"] > 0]

    def set_device(self, name: str) -> None:
        was_playing = self._state == "playing"
        self._close_stream()
        self.device = name
        if self.path:
            self.load(self.path, self.position, autoplay=was_playing)

    def _device_index(self):
        if not self.device or self._sd is None:
            return None
        for i, d in enumerate(self._sd.query_devices()):
            if d["name"] == self.device and d["max_output_channels"] > 0:
                return i
        return None

    def _device_rate(self) -> int:
        if self._sd is None:
            return 44_100
        try:
            info = self._sd.query_devices(self._device_index(), "output")
            return int(info["default_samplerate"]) or 44_100
        except Exception:  # noqa: BLE001
            return 44_100

    # -- loading --------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)

    @property
    def duration(self) -> float:
        return 0.0 if self.audio is None else self.audio.shape[0] / self.rate

    def load(self, path: str, start: float = 0.0, autoplay: bool = False) -> None:
        """Decode in the background at the device's rate; ``loaded`` fires when ready."""
        from damer_core.facade import decode

        self.stop()
        self._close_stream()
        self.audio, self.path = None, path
        self._set_state("loading")
        rate = self._device_rate()

        def work(w: Worker):
            audio = decode(path, sample_rate=rate, mono=False)
            s = audio.samples
            if s.shape[1] > 2:
                s = s.mean(axis=1, keepdims=True)
            return path, np.ascontiguousarray(s, dtype=np.float32)

        def done(result) -> None:
            loaded_path, samples = result
            if loaded_path != self.path:
                return  # a newer load won
            self.rate, self.audio = rate, samples
            self._frame = int(min(start, self.duration) * rate)
            self._set_state("stopped")
            self.loaded.emit(loaded_path, self.duration)
            if autoplay:
                self.play()

        def failed(message: str) -> None:
            if self.path == path:
                self.path = ""
                self._set_state("empty")
                self.error.emit(message)

        self._loader = Worker(work, "decode", parent=self)
        self._loader.result.connect(done)
        self._loader.error.connect(failed)
        self._loader.start()

    # -- transport ------------------------------------------------------------------------------
    @property
    def position(self) -> float:
        """What is audible now: frames handed to the device minus its output latency."""
        if self._clock_start is not None and self._state == "playing":
            return min(time.monotonic() - self._clock_start, self.duration)
        latency = 0.0
        if self._stream is not None and self._state == "playing":
            latency = float(getattr(self._stream, "latency", 0.0) or 0.0)
        return max(0.0, self._frame / self.rate - latency)

    def play(self) -> None:
        if self.audio is None or self._state == "playing":
            return
        if self._frame >= self.audio.shape[0]:
            self._frame = 0
        self._ended = False
        if self._sd is not None:
            try:
                self._open_stream()
                self._stream.start()
            except Exception as e:  # noqa: BLE001 - a device error must not take the app down
                self._close_stream()
                self.reason = f"the audio device failed ({str(e).splitlines()[0]})"
                self._sd = None
                self.error.emit(f"no sound: {self.reason}")
        if self._sd is None:
            self._clock_start = time.monotonic() - self._frame / self.rate
        self._set_state("playing")
        self._timer.start()

    def pause(self) -> None:
        if self._state != "playing":
            return
        if self._clock_start is not None:
            self._frame = int(self.position * self.rate)
        self._clock_start = None
        if self._stream is not None:
            self._stream.stop()
        self._timer.stop()
        self._set_state("paused")
        self.position_changed.emit(self.position)

    def toggle(self) -> None:
        self.pause() if self._state == "playing" else self.play()

    def stop(self) -> None:
        if self._state in ("playing", "paused"):
            if self._stream is not None:
                self._stream.stop()
            self._timer.stop()
            self._clock_start = None
            self._frame = 0
            self._set_state("stopped")
            self.position_changed.emit(0.0)

    def seek(self, seconds: float) -> None:
        if self.audio is None:
            return
        seconds = float(np.clip(seconds, 0.0, self.duration))
        self._frame = int(seconds * self.rate)
        if self._stream is not None and self._state == "playing":
            self._pending_seek = self._frame
        if self._clock_start is not None:
            self._clock_start = time.monotonic() - seconds
        self.position_changed.emit(seconds)

    @property
    def volume(self) -> float:
        return self._volume

    def set_volume(self, v: float) -> None:
        self._volume = float(np.clip(v, 0.0, 1.0))

    # -- stream ---------------------------------------------------------------------------------
    def _open_stream(self) -> None:
        if self._stream is not None:
            return
        assert self.audio is not None, "a stream opens for a loaded track"
        self._stream = self._sd.OutputStream(
            samplerate=self.rate, channels=self.audio.shape[1], dtype="float32", device=self._device_index(),
            callback=self._callback, finished_callback=self._on_stream_finished)

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream.close()
            except Exception:  # noqa: BLE001
                pass
            self._stream = None

    def _callback(self, outdata, frames, time_info, status) -> None:
        """PortAudio's thread: copy the next frames, scaled by the volume; stop at the end."""
        audio, pos = self.audio, self._frame
        seek, self._pending_seek = self._pending_seek, None
        if seek is not None:
            pos = seek
        if audio is None:
            outdata.fill(0)
            raise self._sd.CallbackStop
        n = max(0, min(frames, audio.shape[0] - pos))
        np.multiply(audio[pos:pos + n], np.float32(self._volume), out=outdata[:n])
        outdata[n:] = 0
        self._frame = pos + n
        if n < frames:
            raise self._sd.CallbackStop

    def _on_stream_finished(self) -> None:
        if self.audio is not None and self._frame >= self.audio.shape[0]:
            self._ended = True

    def _tick(self) -> None:
        pos = self.position
        self.position_changed.emit(pos)
        at_end = self._ended or (self._clock_start is not None and pos >= self.duration)
        if at_end and self._state == "playing":
            self._timer.stop()
            self._clock_start = None
            self._frame = self.audio.shape[0] if self.audio is not None else 0
            self._close_stream()
            self._set_state("stopped")
            self.finished.emit()

    def shutdown(self) -> None:
        self._timer.stop()
        self._close_stream()
