"""VACircleWidget: the valence-arousal circle with the 12 emotion words, the live marker with a
fading trail, the whole-track path, and (for labelling) pixel <-> V-A mapping."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from damer_core.contract.emotions import EmotionTerm, Reading, nearest_term, read_point

QUADRANT_TINTS = [QColor(255, 196, 0, 28), QColor(230, 60, 60, 28), QColor(70, 110, 230, 28), QColor(60, 190, 120, 28)]
TRAIL_SECONDS = 4.0
MARKER_MAX_RADIUS = 16.0  # 6 px + 10 px at confidence 1
WORD_CLEARANCE = MARKER_MAX_RADIUS + 3  # a word never sits under a marker on the rim
PEN_COLOUR = QColor(40, 110, 230)


class VACircleWidget(QWidget):
    point_pressed = Signal(float, float)  # valence, arousal under the mouse (labelling)
    point_moved = Signal(float, float)
    point_released = Signal()

    def __init__(self, terms: list[EmotionTerm], parent=None):
        super().__init__(parent)
        self.terms = terms
        self.setMinimumSize(260, 260)
        self.marker: tuple[float, float, float] | None = None  # valence, arousal, confidence
        self.trail: list[tuple[float, float, float]] = []  # (t, valence, arousal)
        self.path_points: list[tuple[float, float]] = []
        self.show_path = True
        self.message = ""  # shown instead of a prediction (e.g. no model installed)
        self.highlight: str = ""
        self.labelling = False
        self.label_points: list[tuple[float, float]] = []  # the curator's trajectory, drawn in blue
        self.pen: tuple[float, float] | None = None  # where the curator's held mouse is (labelling)
        self._model_word = ""
        self._margin: tuple[float, float] | None = None
        self.not_predicted = ""  # a dimension the model does not predict: the marker stays on the other axis
        self.reading: Reading | None = None  # the marker's point in words; no word is highlighted when unsure
        self.blind = False  # the model's marker, path and word hidden (a calibration session: no bias)

    # -- geometry -------------------------------------------------------------------------------
    def circle_rect(self) -> QRectF:
        mx, my = self.margins()
        side = max(10.0, min(self.width() - 2 * mx, self.height() - 2 * my))
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def margins(self) -> tuple[float, float]:
        """Room beside and above the circle for the words: each sits beyond the reach of a marker
        on the rim (the words near the horizontal axis need more room sideways than above)."""
        if self._margin is None:
            self._margin = self._words_margins()
        return self._margin

    def changeEvent(self, event) -> None:  # noqa: N802
        if event.type() == QEvent.Type.FontChange:
            self._margin = None
        super().changeEvent(event)

    def _words_margins(self) -> tuple[float, float]:
        mx = my = 0.0
        for term in self.terms:
            w, h = self._word_size(term.word, hot=True)
            cos, sin = abs(math.cos(math.radians(term.angle))), abs(math.sin(math.radians(term.angle)))
            out = WORD_CLEARANCE + cos * w / 2 + sin * h / 2
            mx, my = max(mx, out * cos + w / 2), max(my, out * sin + h / 2)
        return math.ceil(mx) + 2, math.ceil(my) + 2

    def _word_font(self, hot: bool) -> QFont:
        f = QFont(self.font())
        f.setBold(hot)
        return f

    def _word_size(self, word: str, hot: bool) -> tuple[float, float]:
        fm = QFontMetricsF(self._word_font(hot))
        return fm.horizontalAdvance(word) + 2, fm.height()

    def word_rect(self, term: EmotionTerm, hot: bool = False) -> QRectF:
        """Where ``term``'s word is drawn: outside the rim along its angle, clear of any marker."""
        rad = math.radians(term.angle)
        cos, sin = math.cos(rad), math.sin(rad)
        w, h = self._word_size(term.word, hot)
        out = WORD_CLEARANCE + abs(cos) * w / 2 + abs(sin) * h / 2
        r = self.circle_rect()
        radius = r.width() / 2 + out
        centre = QPointF(r.center().x() + radius * cos, r.center().y() - radius * sin)
        return QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h)

    def to_pixel(self, valence: float, arousal: float, clamp: bool = False) -> QPointF:
        """Pixel of a V-A point. ``clamp`` draws points outside the unit disk on its rim (the model's
        (2 p_v - 1, 2 p_a - 1) fills a square; the circle is the display)."""
        if clamp:
            norm = math.hypot(valence, arousal)
            if norm > 1:
                valence, arousal = valence / norm, arousal / norm
        r = self.circle_rect()
        return QPointF(r.center().x() + valence * r.width() / 2, r.center().y() - arousal * r.height() / 2)

    def from_pixel(self, point: QPointF) -> tuple[float, float]:
        """V-A under a pixel, clamped to the unit circle."""
        r = self.circle_rect()
        v = (point.x() - r.center().x()) / (r.width() / 2)
        a = (r.center().y() - point.y()) / (r.height() / 2)
        norm = math.hypot(v, a)
        return (v / norm, a / norm) if norm > 1 else (v, a)

    # -- state ----------------------------------------------------------------------------------
    def set_prediction(self, t: float, valence: float, arousal: float, confidence: float) -> None:
        """The marker for the moment ``t``. A NaN dimension is not predicted by the model: the
        marker moves along the other axis, no emotion word is claimed, and the circle says so."""
        missing = [name for name, x in (("valence", valence), ("arousal", arousal)) if not math.isfinite(x)]
        self.not_predicted = " and ".join(missing)
        valence, arousal = (x if math.isfinite(x) else 0.0 for x in (valence, arousal))
        self.message = ""
        self.marker = (valence, arousal, confidence if math.isfinite(confidence) else 0.0)
        self.trail = [p for p in self.trail if t - TRAIL_SECONDS <= p[0] <= t] + [(t, valence, arousal)]
        self.reading = None if missing else read_point(valence, arousal, self.terms)
        term = self.reading.term if self.reading is not None and self.reading.certain else None
        self._model_word = term.word if term is not None else ""
        self._update_highlight()
        self.update()

    def set_pen(self, point: tuple[float, float] | None) -> None:
        """The curator's held mouse (labelling): drawn as a blue dot, and its nearest word is the
        one highlighted while it is held."""
        self.pen = point
        self._update_highlight()
        self.update()

    def _update_highlight(self) -> None:
        model_word = "" if self.blind else self._model_word
        self.highlight = nearest_term(*self.pen, self.terms).word if self.pen is not None else model_word

    def set_blind(self, blind: bool) -> None:
        """Hide (or show again) everything the model says: the marker, its trail and path, its word."""
        self.blind = blind
        self._update_highlight()
        self.update()

    def set_path(self, points: list[tuple[float, float]]) -> None:
        self.path_points = [(v if math.isfinite(v) else 0.0, a if math.isfinite(a) else 0.0) for v, a in points]
        self.update()

    def clear(self, message: str = "") -> None:
        self.marker, self.trail, self.path_points, self.not_predicted = None, [], [], ""
        self._model_word, self.reading = "", None
        self._update_highlight()
        self.message = message
        self.update()

    # -- painting -------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.circle_rect()
        c = r.center()
        pal = self.palette()
        fg = pal.windowText().color()
        for i, tint in enumerate(QUADRANT_TINTS):  # V+A+, V-A+, V-A-, V+A-
            wedge = QPainterPath(c)
            wedge.arcTo(r, 90 * i, 90)
            wedge.closeSubpath()
            p.fillPath(wedge, tint)
        p.setPen(QPen(fg, 1.5))
        p.drawEllipse(r)
        p.setPen(QPen(QColor(fg.red(), fg.green(), fg.blue(), 90), 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(r.left(), c.y()), QPointF(r.right(), c.y()))
        p.drawLine(QPointF(c.x(), r.top()), QPointF(c.x(), r.bottom()))
        small = QFont(self.font())
        small.setPointSizeF(max(7.0, self.font().pointSizeF() * 0.85))
        p.setBrush(Qt.BrushStyle.NoBrush)
        if self.show_path and len(self.path_points) > 1 and not self.blind:
            p.setPen(QPen(QColor(120, 120, 120, 110), 1.2))
            path = QPainterPath(self.to_pixel(*self.path_points[0], clamp=True))
            for v, a in self.path_points[1:]:
                path.lineTo(self.to_pixel(v, a, clamp=True))
            p.drawPath(path)
        if len(self.label_points) > 1:
            p.setPen(QPen(QColor(40, 110, 230, 200), 2.2))
            path = QPainterPath(self.to_pixel(*self.label_points[0]))
            for v, a in self.label_points[1:]:
                path.lineTo(self.to_pixel(v, a))
            p.drawPath(path)
        if not self.blind:
            self._paint_marker(p)
        if self.pen is not None:
            p.setPen(QPen(QColor(255, 255, 255), 2))
            p.setBrush(PEN_COLOUR)
            p.drawEllipse(self.to_pixel(*self.pen), 7, 7)
        self._paint_axis_names(p, small)  # after the marker too: a marker at an axis's end never hides its name
        self._paint_words(p, r)  # after the marker: the highlighted word stays readable
        if self.blind:
            p.setFont(small)
            p.setPen(QColor(40, 110, 230))
            p.drawText(QRectF(0, self.height() - 20, self.width(), 18), Qt.AlignmentFlag.AlignCenter,
                       "Calibration: the model's prediction is hidden")
        elif self.not_predicted and self.marker is not None:
            p.setFont(small)
            p.setPen(QColor(180, 40, 40))
            p.drawText(QRectF(0, self.height() - 20, self.width(), 18), Qt.AlignmentFlag.AlignCenter,
                       f"{self.not_predicted.capitalize()}: not predicted by this model")
        elif self.reading is not None and not self.reading.certain and self.pen is None and self.marker is not None:
            p.setFont(small)
            p.setPen(QColor(200, 70, 20))
            p.drawText(QRectF(0, self.height() - 20, self.width(), 18), Qt.AlignmentFlag.AlignCenter,
                       f"{self.reading.word} ({self.reading.unsure} uncertain)")
        if self.message and not self.labelling:  # a curator labels with or without a model
            p.setPen(fg)
            box = QRectF(r.left() + r.width() * 0.12, c.y() - 40, r.width() * 0.76, 80)
            p.fillRect(box, QColor(pal.window().color().red(), pal.window().color().green(), pal.window().color().blue(), 225))
            p.drawText(box, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
        p.end()

    def axis_name_rects(self) -> dict[str, QRectF]:
        r = self.circle_rect()
        c = r.center()
        return {"valence +": QRectF(r.right() - 70, c.y() + 2, 66, 16), "valence -": QRectF(r.left() + 4, c.y() + 2, 66, 16),
                "arousal +": QRectF(c.x() + 4, r.top() + 2, 80, 16), "arousal -": QRectF(c.x() + 4, r.bottom() - 18, 80, 16)}

    def _paint_axis_names(self, p: QPainter, font: QFont) -> None:
        """Each axis's name at its end, on a pale plate of the window's colour so it reads over the marker."""
        p.setFont(font)
        fg, bg = self.palette().windowText().color(), self.palette().window().color()
        for name, rect in self.axis_name_rects().items():
            right = name.startswith("valence +")
            width = p.fontMetrics().horizontalAdvance(name) + 4
            plate = QRectF(rect.right() - width if right else rect.left() - 2, rect.top(), width, rect.height())
            p.fillRect(plate, QColor(bg.red(), bg.green(), bg.blue(), 200))
            p.setPen(QColor(fg.red(), fg.green(), fg.blue(), 170))
            p.drawText(rect, Qt.AlignmentFlag.AlignRight if right else Qt.AlignmentFlag.AlignLeft, name)

    def _paint_words(self, p: QPainter, r: QRectF) -> None:
        hot_colour = PEN_COLOUR if self.pen is not None else QColor(200, 70, 20)
        for term in self.terms:
            rad = math.radians(term.angle)
            anchor = self.to_pixel(math.cos(rad), math.sin(rad))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(QColor(110, 110, 110))
            p.drawEllipse(anchor, 2.5, 2.5)
            hot = term.word == self.highlight
            p.setFont(self._word_font(hot))
            p.setPen(hot_colour if hot else self.palette().windowText().color())
            p.drawText(self.word_rect(term, hot), Qt.AlignmentFlag.AlignCenter, term.word)

    def _paint_marker(self, p: QPainter) -> None:
        if len(self.trail) > 1:
            t_end = self.trail[-1][0]
            for (t0, v0, a0), (_, v1, a1) in zip(self.trail, self.trail[1:]):
                alpha = int(200 * max(0.0, 1 - (t_end - t0) / TRAIL_SECONDS))
                p.setPen(QPen(QColor(200, 70, 20, alpha), 3))
                p.drawLine(self.to_pixel(v0, a0, clamp=True), self.to_pixel(v1, a1, clamp=True))
        if self.marker is None:
            return
        v, a, conf = self.marker
        radius = 6 + (MARKER_MAX_RADIUS - 6) * max(0.0, min(1.0, conf))
        p.setPen(QPen(QColor(255, 255, 255), 2))
        p.setBrush(QColor(200, 70, 20, int(90 + 165 * max(0.0, min(1.0, conf)))))
        p.drawEllipse(self.to_pixel(v, a, clamp=True), radius, radius)

    # -- mouse (labelling) ----------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.point_pressed.emit(*self.from_pixel(event.position()))

    def mouseMoveEvent(self, event) -> None:  # noqa: N802
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.point_moved.emit(*self.from_pixel(event.position()))

    def mouseReleaseEvent(self, event) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            self.point_released.emit()
