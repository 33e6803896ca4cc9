"""The transport bar: previous / play-pause / stop / next, a position slider, time, volume, the
output device and, when there is no sound, why."""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QStyle, QToolButton, QVBoxLayout, QWidget

from app.library.table_model import format_duration
from app.widgets.buttons import on_click
from app.widgets.elided_label import ElidedLabel

SLIDER_STEPS = 1000

log = logging.getLogger(__name__)


class TransportBar(QWidget):
    play_pause = Signal()
    stop = Signal()
    previous = Signal()
    next = Signal()
    seek = Signal(float)
    volume_changed = Signal(float)
    device_chosen = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        style = self.style()
        self.buttons = {}
        rows = QVBoxLayout(self)
        rows.setContentsMargins(4, 2, 4, 2)
        rows.setSpacing(0)
        lay = QHBoxLayout()
        rows.addLayout(lay)
        for name, icon, signal, tip in [
            ("previous", QStyle.StandardPixmap.SP_MediaSkipBackward, self.previous, "Previous track (Up)"),
            ("play", QStyle.StandardPixmap.SP_MediaPlay, self.play_pause, "Play / pause (Space)"),
            ("stop", QStyle.StandardPixmap.SP_MediaStop, self.stop, "Stop"),
            ("next", QStyle.StandardPixmap.SP_MediaSkipForward, self.next, "Next track (Down)"),
        ]:
            b = QToolButton()
            b.setIcon(style.standardIcon(icon))
            b.setToolTip(tip)
            on_click(b, signal)
            lay.addWidget(b)
            self.buttons[name] = b
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.setToolTip("Position: drag to seek (Left / Right: 5 s)")
        self.slider.sliderReleased.connect(self._slider_released)
        self.slider.setMinimumWidth(120)  # never squeezed into a square that reads as a check box
        self.time = QLabel("0:00 / 0:00")
        self.time.setMinimumWidth(90)
        self.volume = QSlider(Qt.Orientation.Horizontal)
        self.volume.setRange(0, 100)
        self.volume.setMaximumWidth(110)
        self.volume.setMinimumWidth(60)
        self.volume.setToolTip("Volume")
        self.volume.valueChanged.connect(self._volume_moved)
        self.devices = QComboBox()
        self.devices.setToolTip("Audio output device")
        self.devices.setMinimumWidth(140)
        self.devices.activated.connect(self._device_activated)
        self.sound_status = ElidedLabel()  # a long reason must not widen the pane: it is elided, whole in the tooltip
        self.sound_status.setStyleSheet("color: #b55;")
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.time)
        lay.addWidget(QLabel("Vol"))
        lay.addWidget(self.volume)
        lay.addWidget(self.devices)
        rows.addWidget(self.sound_status)  # a line of its own under the controls, only when there is no sound
        self.duration = 0.0

    # Slots are methods, never lambdas returning emit()'s bool: PySide6 mis-counts returned bools.
    def _slider_released(self) -> None:
        self.seek.emit(self.slider.value() / SLIDER_STEPS * self.duration)

    def _volume_moved(self, value: int) -> None:
        self.volume_changed.emit(value / 100)

    def _device_activated(self, index: int) -> None:
        self.device_chosen.emit(self.devices.itemData(index) or "")

    def set_devices(self, names: list[str], current: str, reason: str) -> None:
        self.devices.clear()
        self.devices.addItem("System default", "")
        for n in names:
            self.devices.addItem(n, n)
        i = self.devices.findData(current)
        self.devices.setCurrentIndex(max(0, i))
        self.devices.setEnabled(bool(names))
        self.sound_status.setText(f"No sound: {reason}" if reason else "")
        self.sound_status.setVisible(bool(reason))
        if reason:
            log.warning("no sound: %s", reason)

    def set_playing(self, playing: bool) -> None:
        icon = QStyle.StandardPixmap.SP_MediaPause if playing else QStyle.StandardPixmap.SP_MediaPlay
        self.buttons["play"].setIcon(self.style().standardIcon(icon))

    def set_position(self, seconds: float, duration: float) -> None:
        self.duration = duration
        if not self.slider.isSliderDown():
            self.slider.setValue(int(SLIDER_STEPS * seconds / duration) if duration else 0)
        self.time.setText(f"{format_duration(seconds)} / {format_duration(duration)}")
