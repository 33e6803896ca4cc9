"""The library emotion map: every analysed or labelled track as a point on the V-A plane (blue:
the curator's label, orange: the model's prediction; size by confidence). Hover shows the title,
click plays, the selection (a rectangle, or a lasso drawn freehand) becomes an M3U playlist,
filters by quadrant or emotion word, and "more like this" lists the nearest tracks in V-A."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QMouseEvent, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.labelling.labels import static_labels
from app.library.db import LibraryDB
from app.widgets.buttons import on_click
from app.widgets.keys import close_on_keys
from damer_core.contract.emotions import EmotionTerm, read_point
from damer_core.contract.errors import InputError
from damer_core.contract.safe_text import shown

QUADRANTS = {"all quadrants": None, "happy / excited (V+ A+)": (1, 1), "tense / angry (V- A+)": (-1, 1),
             "sad / gloomy (V- A-)": (-1, -1), "calm / relaxed (V+ A-)": (1, -1)}
LABELLED, PREDICTED = (40, 110, 230), (230, 120, 30)


@dataclass
class MapPoint:
    path: str
    title: str
    artist: str
    duration: float
    valence: float
    arousal: float
    confidence: float
    labelled: bool


def map_points(db: LibraryDB, model_key: str) -> list[MapPoint]:
    """Every track the map can place: labelled ones at the mean of their curators' labels, the rest
    at the prediction of the model whose key is ``model_key`` (a one-dimension model cannot place a track)."""
    labelled = static_labels(db)
    points = []
    for r in db.tracks(model_key):
        if r.path in labelled:
            v, a = labelled[r.path]
            points.append(MapPoint(r.path, r.title, r.artist, r.duration, v, a, 1.0, True))
        elif r.valence is not None and r.arousal is not None:
            points.append(MapPoint(r.path, r.title, r.artist, r.duration, r.valence, r.arousal, r.confidence or 0.0, False))
    return points


def write_m3u(path: Path, points: list[MapPoint]) -> int:
    """An M3U playlist of ``points``, written whole or not at all; file names as the OS gives them
    (bytes that are not UTF-8 written back as they are). A track whose name holds a line break
    cannot be a playlist line and is left out. Returns how many tracks it lists."""
    from damer_core.contract.fileutil import atomic_write, check_output_file
    from damer_core.contract.safe_text import shown

    lines = ["#EXTM3U"]
    listed = [p for p in points if "\n" not in p.path and "\r" not in p.path]
    for p in listed:
        lines.append(f"#EXTINF:{int(round(p.duration))},{shown(p.artist + ' - ' if p.artist else '')}{shown(p.title)}")
        lines.append(p.path)
    check_output_file(path, force=True, what="the playlist")  # the save dialog asked before replacing a file
    with atomic_write(path) as f:
        f.write(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))
    return len(listed)


def nearest(points: list[MapPoint], v: float, a: float, n: int = 10, exclude: str = "") -> list[MapPoint]:
    others = [p for p in points if p.path != exclude]
    return sorted(others, key=lambda p: math.hypot(p.valence - v, p.arousal - a))[:n]


def similar_row(p: MapPoint, word: str) -> str:
    """A "More like this" row: the title, the artist when known, and the emotion word it reads as."""
    who = f" - {p.artist}" if p.artist.strip() else ""
    return f"{p.title}{who}" + (f"  ({word})" if word else "")


class EmotionMap(QWidget):
    play_requested = Signal(object)

    def __init__(self, terms: list[EmotionTerm], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Library emotion map")
        self.terms = terms
        self.points: list[MapPoint] = []
        self.shown: list[MapPoint] = []
        self.plot = pg.PlotWidget(background=self.palette().window().color())
        for axis in ("left", "bottom"):
            self.plot.getAxis(axis).setTextPen((60, 60, 60))
            self.plot.getAxis(axis).setPen((120, 120, 120))
        self.plot.setAspectLocked(True)
        self.plot.setRange(xRange=(-1.2, 1.2), yRange=(-1.2, 1.2))
        self.plot.setLabel("bottom", "valence")
        self.plot.setLabel("left", "arousal")
        t = np.linspace(0, 2 * np.pi, 200)
        self.plot.plot(np.cos(t), np.sin(t), pen=pg.mkPen((120, 120, 120), width=1))
        self.plot.addLine(x=0, pen=pg.mkPen((150, 150, 150), style=pg.QtCore.Qt.PenStyle.DashLine))
        self.plot.addLine(y=0, pen=pg.mkPen((150, 150, 150), style=pg.QtCore.Qt.PenStyle.DashLine))
        for term in terms:
            label = pg.TextItem(term.word, color=(90, 90, 90), anchor=(0.5, 0.5))
            label.setPos(1.12 * term.valence, 1.08 * term.arousal)
            self.plot.addItem(label)
        self.scatter = pg.ScatterPlotItem(hoverable=True, tip=self._tip, hoverSize=14)
        self.scatter.sigClicked.connect(self._clicked)
        self.plot.addItem(self.scatter)
        self.roi = pg.RectROI([0.1, 0.1], [0.5, 0.5], pen=pg.mkPen((40, 160, 90), width=2))
        self.plot.addItem(self.roi)
        self.lasso_path: list[tuple[float, float]] = []  # V-A points of the lasso, in drawing order
        self._drawing = False
        self.lasso_curve = pg.PlotDataItem(pen=pg.mkPen((40, 160, 90), width=2))
        self.plot.addItem(self.lasso_curve)
        self.lasso = QPushButton("Lasso")
        self.lasso.setCheckable(True)
        self.lasso.setToolTip("Draw around tracks with the mouse to select them (off: the green rectangle selects)")
        self.lasso.toggled.connect(self._lasso_mode)
        self.plot.viewport().installEventFilter(self)
        self.quadrant = QComboBox()
        self.quadrant.addItems(list(QUADRANTS))
        self.word = QComboBox()
        self.word.addItems(["all emotion words"] + [t.word for t in terms])
        self.quadrant.currentIndexChanged.connect(self.refresh)
        self.word.currentIndexChanged.connect(self.refresh)
        save = QPushButton("Selection -> playlist...")
        save.setToolTip("Save the selected tracks (inside the rectangle or the lasso) as an M3U playlist")
        on_click(save, self.save_playlist)
        self.similar = QListWidget()
        self.similar.itemDoubleClicked.connect(lambda item: self.play_requested.emit(item.data(256)))
        self.similar_title = QLabel("More like this: play a track")
        self.count = QLabel()
        top = QHBoxLayout()
        for w in (QLabel("Show"), self.quadrant, self.word, self.lasso, save, self.count):
            top.addWidget(w)
        top.addStretch()
        side = QVBoxLayout()
        side.addWidget(self.similar_title)
        side.addWidget(self.similar, 1)
        body = QHBoxLayout()
        body.addWidget(self.plot, 3)
        body.addLayout(side, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addLayout(body, 1)
        self.playing = pg.ScatterPlotItem(size=22, symbol="o", pen=pg.mkPen((20, 20, 20), width=2.5), brush=None)
        self.plot.addItem(self.playing)  # a ring around the track that is playing
        self.playing_path = ""
        close_on_keys(self)

    def set_points(self, points: list[MapPoint]) -> None:
        self.points = points
        self.refresh()
        if self.playing_path:
            self.show_similar(self.playing_path)

    def visible(self) -> list[MapPoint]:
        quad = QUADRANTS[self.quadrant.currentText()]
        word = self.word.currentText() if self.word.currentIndex() > 0 else ""
        out = []
        for p in self.points:
            if quad and (np.sign(p.valence) != quad[0] or np.sign(p.arousal) != quad[1]):
                continue
            if word and read_point(p.valence, p.arousal, self.terms).word != word:
                continue
            out.append(p)
        return out

    def refresh(self) -> None:
        self.shown = self.visible()
        spots = [{"pos": (p.valence, p.arousal), "size": 6 + 10 * max(0.0, min(1.0, p.confidence)),
                  "brush": pg.mkBrush(*(LABELLED if p.labelled else PREDICTED), 200), "pen": pg.mkPen(None),
                  "data": i} for i, p in enumerate(self.shown)]
        self.scatter.setData(spots)
        n_lab = sum(p.labelled for p in self.shown)
        self.count.setText(f"{len(self.shown)} tracks ({n_lab} labelled: blue; {len(self.shown) - n_lab} predicted: orange)")

    def _tip(self, x, y, data) -> str:
        p = self.shown[data]
        return f"{p.title} - {p.artist}\nV {p.valence:+.2f}  A {p.arousal:+.2f}  ({'label' if p.labelled else 'model'})"

    def _clicked(self, item, spots, ev=None) -> None:
        if spots:
            self.play_requested.emit(self.shown[spots[0].data()].path)

    def selection(self) -> list[MapPoint]:
        if self.lasso.isChecked():
            if len(self.lasso_path) < 3:
                return []
            poly = QPolygonF([QPointF(v, a) for v, a in self.lasso_path])
            return [p for p in self.shown if poly.containsPoint(QPointF(p.valence, p.arousal), Qt.FillRule.OddEvenFill)]
        x, y = self.roi.pos()
        w, h = self.roi.size()
        return [p for p in self.shown if x <= p.valence <= x + w and y <= p.arousal <= y + h]

    # -- lasso ----------------------------------------------------------------------------------
    def _lasso_mode(self, on: bool) -> None:
        self.roi.setVisible(not on)
        self.lasso_path = []
        self.lasso_curve.setData([], [])
        self.plot.setMouseEnabled(x=not on, y=not on)  # dragging draws instead of panning

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:  # noqa: N802
        if not self.lasso.isChecked() or ev.type() not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove,
                                                            QEvent.Type.MouseButtonRelease):
            return super().eventFilter(obj, ev)
        if not isinstance(ev, QMouseEvent):
            return super().eventFilter(obj, ev)
        if ev.type() == QEvent.Type.MouseButtonPress and ev.button() == Qt.MouseButton.LeftButton:
            self._drawing = True
            self.lasso_path = [self._to_va(ev)]
        elif ev.type() == QEvent.Type.MouseMove and self._drawing:
            self.lasso_path.append(self._to_va(ev))
        elif ev.type() == QEvent.Type.MouseButtonRelease and self._drawing:
            self._drawing = False
            self.lasso_path.append(self._to_va(ev))
            n = len(self.selection())
            self.count.setText(f"{len(self.shown)} tracks, {n} in the lasso")
        else:
            return super().eventFilter(obj, ev)
        closed = self.lasso_path + self.lasso_path[:1] if not self._drawing else self.lasso_path
        self.lasso_curve.setData([v for v, _ in closed], [a for _, a in closed])
        return True

    def _to_va(self, ev) -> tuple[float, float]:
        pt = self.plot.plotItem.vb.mapSceneToView(self.plot.mapToScene(ev.position().toPoint()))
        return float(pt.x()), float(pt.y())

    def save_playlist(self, path: str | None = None) -> int:
        sel = self.selection()
        if not path:
            path, _ = QFileDialog.getSaveFileName(self, "Save playlist", str(Path.home() / "selection.m3u"), "Playlists (*.m3u)")
        if not path or not sel:
            return 0
        try:
            return write_m3u(Path(path), sel)
        except (OSError, InputError) as e:
            QMessageBox.warning(self, "Save playlist", f"The playlist was not saved: {shown(str(e))}")
            return 0

    def show_similar(self, path: str) -> None:
        """The playing track ringed on the map, and the tracks nearest it listed."""
        me = next((p for p in self.points if p.path == path), None)
        self.playing_path = path
        self.playing.setData([{"pos": (me.valence, me.arousal)}] if me is not None else [])
        self.similar.clear()
        if me is None:
            self.similar_title.setText("More like this: the playing track is not analysed yet")
            return
        self.similar_title.setText(f"More like this: {me.title} (nearest on the circle first)")
        for p in nearest(self.points, me.valence, me.arousal, 12, exclude=path):
            item = QListWidgetItem(similar_row(p, read_point(p.valence, p.arousal, self.terms).word))
            item.setToolTip(f"{p.path}\n{math.hypot(p.valence - me.valence, p.arousal - me.arousal):.2f} apart on the "
                            "V-A circle (0: the same place, 2: opposite sides)")
            item.setData(256, p.path)
            self.similar.addItem(item)
