"""Mel spectrogram and cochleogram of the whole track on one shared time axis, in dB with one
perceptual colour map and colour bar, a playhead on both, zoom and pan in time, click to seek."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QLabel, QProgressBar, QSizePolicy, QStackedLayout, QVBoxLayout, QWidget

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
COLORMAP = "inferno"
DB_RANGE = (-80.0, 0.0)  # the Mel view's levels, dB below the track's loudest bin
COCH_RANGE_DB = (30.0, 80.0)  # the cochleogram's span is chosen per track within these bounds


def cochleogram_levels(mel_db: np.ndarray, coch_db: np.ndarray) -> tuple[float, float]:
    """Levels that give the cochleogram the Mel view's contrast: its broad gammatone bands spread
    over fewer dB, so on the Mel view's -80..0 dB it looks washed out. The span is chosen so that
    its median bin sits at the same colour as the Mel view's median bin."""
    lo, hi = DB_RANGE
    mel_db, coch_db = _sample_columns(mel_db), _sample_columns(coch_db)  # the GUI thread: a 2 h median took 0.7 s
    mel_position = (float(np.median(mel_db)) - lo) / (hi - lo) if mel_db.size else 0.5
    below_top = hi - float(np.median(coch_db)) if coch_db.size else hi - lo
    span = below_top / max(1.0 - mel_position, 0.05)
    return hi - float(np.clip(span, *COCH_RANGE_DB)), hi


def _sample_columns(db: np.ndarray, columns: int = 2000) -> np.ndarray:
    """At most ``columns`` evenly spaced time columns: enough for a median, fast for any length."""
    step = max(1, db.shape[1] // columns) if db.ndim == 2 else 1
    return db[:, ::step] if db.ndim == 2 else db


class HzAxis(pg.AxisItem):
    """Left axis for an image whose rows are bands: ticks at round frequencies, labelled in Hz."""

    TICKS_HZ = [32, 63, 125, 250, 500, 1000, 2000, 4000, 8000]

    def __init__(self, *args, **kw):
        super().__init__("left", *args, **kw)
        self.band_freqs = np.array([1.0, 2.0])

    def set_band_freqs(self, freqs: np.ndarray) -> None:
        self.band_freqs = np.asarray(freqs, dtype=float)
        log_f = np.log(self.band_freqs)
        ticks: list[tuple[float, str]] = []
        min_gap = 0.07 * len(log_f)  # Mel bands crowd the low frequencies: skip ticks that would overlap
        for hz in self.TICKS_HZ:
            if self.band_freqs[0] <= hz <= self.band_freqs[-1]:
                row = float(np.interp(np.log(hz), log_f, np.arange(len(log_f)))) + 0.5
                if not ticks or row - ticks[-1][0] >= min_gap:
                    ticks.append((row, f"{hz // 1000}k" if hz >= 1000 else str(hz)))
        self.setTicks([ticks, []])


class SpectrogramViews(QWidget):
    seek_requested = Signal(float)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.duration = 0.0
        self.playhead = 0.0
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(None)
        self.images, self.playheads, self.axes, self.plots = [], [], [], []
        for row, title in enumerate(["Mel spectrogram", "Cochleogram"]):
            axis = HzAxis()
            plot = self.graphics.addPlot(row=row, col=0, title=title, axisItems={"left": axis})
            plot.setMouseEnabled(x=True, y=False)
            plot.setMenuEnabled(False)
            plot.hideButtons()
            plot.setLabel("left", "Hz")
            image = pg.ImageItem()
            plot.addItem(image)
            line = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pg.mkPen((80, 220, 255), width=2))
            plot.addItem(line)
            plot.scene().sigMouseClicked.connect(self._clicked)
            self.images.append(image)
            self.playheads.append(line)
            self.axes.append(axis)
            self.plots.append(plot)
        self.plots[1].setXLink(self.plots[0])
        self.plots[1].setLabel("bottom", "time", units="s")
        self.colorbars = []
        for row, image in enumerate(self.images):  # one bar each: the two views have their own levels
            bar = pg.ColorBarItem(values=DB_RANGE, colorMap=pg.colormap.get(COLORMAP), label="dB",
                                  interactive=False, width=12)
            bar.setImageItem(image)
            self.graphics.addItem(bar, row=row, col=1)
            self.colorbars.append(bar)
        self.following = True  # the view pages with the playhead unless the user has scrolled away
        for plot in self.plots:
            plot.vb.sigRangeChangedManually.connect(self._user_moved_view)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setTextVisible(False)
        self.status = QLabel("Select a track to see its spectrograms")
        self.status.setWordWrap(True)  # a long file name or error must not widen the window
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        holder = QWidget()
        v = QVBoxLayout(holder)
        v.addStretch()
        v.addWidget(self.status)
        v.addWidget(self.busy)
        v.addStretch()
        self.busy.hide()
        self.stack = QStackedLayout(self)
        self.stack.addWidget(holder)
        self.stack.addWidget(self.graphics)

    def show_message(self, text: str, busy: bool = False) -> None:
        self.status.setText(text)
        self.busy.setVisible(busy)
        self.stack.setCurrentIndex(0)

    def set_views(self, views, duration: float) -> None:
        """``views``: damer_core.features.spectra.DisplayViews of the whole track."""
        self.duration = duration
        self.following = True
        levels = (DB_RANGE, cochleogram_levels(views.mel_db, views.coch_db))
        for image, bar, axis, data, freqs, lv in zip(self.images, self.colorbars, self.axes, (views.mel_db, views.coch_db),
                                                     (views.mel_freqs, views.coch_freqs), levels):
            image.setImage(data, levels=lv, autoLevels=False)
            bar.setLevels(lv)
            image.setRect(QRectF(0, 0, data.shape[1] * views.hop_seconds, data.shape[0]))
            axis.set_band_freqs(freqs)
        for plot, data in zip(self.plots, (views.mel_db, views.coch_db)):
            plot.setLimits(xMin=0, xMax=max(duration, 1.0), yMin=0, yMax=data.shape[0], minXRange=1.0)
            plot.setYRange(0, data.shape[0], padding=0)
        self.plots[0].setXRange(0, max(duration, 1.0), padding=0)
        self.stack.setCurrentIndex(1)

    def set_playhead(self, seconds: float) -> None:
        """Move the playhead; when zoomed, page the view with it (as Sonic Visualiser does), unless
        the user has dragged the view away from it: then the view stays until the playhead comes
        back into it or the user seeks."""
        self.playhead = seconds
        for line in self.playheads:
            line.setValue(seconds)
        lo, hi = self.plots[0].viewRange()[0]
        if lo <= seconds <= hi:
            self.following = True
        elif self.following and self.duration and (hi - lo) < self.duration * 0.98:
            width = hi - lo
            self.plots[0].setXRange(seconds - 0.05 * width, seconds + 0.95 * width, padding=0)

    def follow(self) -> None:
        """The user sought (keys, transport, a click): page with the playhead again."""
        self.following = True

    def _user_moved_view(self, *_) -> None:
        lo, hi = self.plots[0].viewRange()[0]
        self.following = lo <= self.playhead <= hi

    def time_at_scene_pos(self, scene_pos) -> float | None:
        for plot in self.plots:
            if plot.sceneBoundingRect().contains(scene_pos):
                return float(np.clip(plot.vb.mapSceneToView(scene_pos).x(), 0.0, self.duration))
        return None

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double():
            return
        t = self.time_at_scene_pos(event.scenePos())
        if t is not None and self.duration:
            self.following = True
            self.seek_requested.emit(t)
