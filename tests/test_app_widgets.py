"""The V-A circle and the spectrogram views as real widgets (offscreen)."""

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from app.playback.views import SpectrogramViews
from app.widgets.va_circle import VACircleWidget
from damer_core.audio.synthetic import chord_music
from damer_core.contract.emotions import load_emotion_terms
from damer_core.features.spectra import display_views


@pytest.fixture
def circle(qtbot):
    w = VACircleWidget(load_emotion_terms())
    qtbot.addWidget(w)
    w.resize(500, 400)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_circle_places_a_prediction_at_the_right_pixel_and_highlights_the_word(circle):
    r = circle.circle_rect()
    assert r.width() == r.height() == min(500 - 2 * circle.margins()[0], 400 - 2 * circle.margins()[1])
    circle.set_prediction(1.0, 0.5, -0.5, 0.9)
    p = circle.to_pixel(0.5, -0.5)
    assert p.x() == pytest.approx(r.center().x() + 0.25 * r.width())
    assert p.y() == pytest.approx(r.center().y() + 0.25 * r.height())
    assert circle.highlight == "relaxed"  # 315 degrees
    v, a = circle.from_pixel(p)
    assert (v, a) == (pytest.approx(0.5), pytest.approx(-0.5))
    img = circle.grab().toImage()
    assert img.pixelColor(int(p.x()), int(p.y())).red() > 150  # the marker is painted there
    circle.set_prediction(1.1, math.cos(math.radians(110)), math.sin(math.radians(110)), 0.5)
    assert circle.highlight == "tense" and len(circle.trail) == 2


def test_circle_trail_fades_out_and_clamps_to_the_unit_circle(circle):
    for i in range(20):
        circle.set_prediction(i * 0.5, 0.1 * (i % 3), 0.2, 0.8)
    assert all(9.5 - 4.0 <= t <= 9.5 for t, _, _ in circle.trail)
    v, a = circle.from_pixel(QPointF(0, 0))
    assert math.hypot(v, a) == pytest.approx(1.0)


def test_circle_says_when_there_is_no_model(circle):
    circle.set_prediction(0.0, 0.2, 0.2, 0.9)
    circle.clear()
    plain = circle.grab().toImage()
    circle.clear("No emotion model installed")
    assert circle.marker is None and circle.message.startswith("No emotion model")
    shown = circle.grab().toImage()
    c = circle.circle_rect().center()
    changed = sum(plain.pixelColor(x, y) != shown.pixelColor(x, y)
                  for x in range(int(c.x()) - 80, int(c.x()) + 80, 4) for y in range(int(c.y()) - 30, int(c.y()) + 30, 4))
    assert changed > 50  # the message is painted over the centre, never a fake marker


def test_circle_mouse_reports_valence_arousal(circle, qtbot):
    got = []
    circle.point_pressed.connect(lambda v, a: got.append((v, a)))
    target = circle.to_pixel(-0.3, 0.6)
    qtbot.mouseClick(circle, Qt.MouseButton.LeftButton, pos=QPoint(round(target.x()), round(target.y())))
    assert got and got[0][0] == pytest.approx(-0.3, abs=0.02) and got[0][1] == pytest.approx(0.6, abs=0.02)


@pytest.fixture
def views(qtbot):
    w = SpectrogramViews()
    qtbot.addWidget(w)
    w.resize(800, 500)
    w.show()
    y = chord_music(20.0, True, True, seed=3)
    v = display_views(y, 22_050)
    w.set_views(v, 20.0)
    qtbot.waitExposed(w)
    return w, v


def test_views_share_the_time_axis_and_the_playhead(views):
    w, v = views
    assert w.images[0].image.shape == v.mel_db.shape and w.images[1].image.shape == v.coch_db.shape
    assert w.plots[0].viewRange()[0] == pytest.approx([0, 20.0], abs=0.01)
    w.set_playhead(7.25)
    assert [line.value() for line in w.playheads] == [7.25, 7.25]
    w.plots[0].setXRange(2, 6, padding=0)  # zoom: the cochleogram follows the Mel view
    assert w.plots[1].viewRange()[0] == pytest.approx([2, 6], abs=0.01)
    w.set_playhead(12.0)  # outside the zoomed range: the view follows the playhead
    lo, hi = w.plots[0].viewRange()[0]
    assert lo < 12.0 < hi and hi - lo == pytest.approx(4.0, abs=0.01)
    ticks = dict((label, row) for row, label in w.axes[1]._tickLevels[0]) if w.axes[1]._tickLevels else {}
    assert "1k" in ticks and "125" in ticks


def test_clicking_a_view_seeks(views, qtbot):
    w, _ = views
    vb = w.plots[1].vb
    scene_pt = vb.mapViewToScene(QPointF(13.0, 40.0))
    view_pt = w.graphics.mapFromScene(scene_pt)
    vp = w.graphics.viewport()
    qtbot.mouseMove(vp, view_pt)
    with qtbot.waitSignal(w.seek_requested, timeout=2000) as sig:
        qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=view_pt)
        qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=view_pt)
    assert sig.args[0] == pytest.approx(13.0, abs=0.1)
    assert np.isfinite(sig.args[0])


def test_circle_highlights_no_word_for_a_coin_toss_and_says_what_is_known(circle):
    circle.set_prediction(1.0, 0.08, 0.7, 0.6)  # valence P = 0.54: unknown; arousal high
    assert circle.highlight == "" and circle.reading.word == "high energy"
    assert circle.reading.unsure == "valence"
    img = circle.grab().toImage()
    caption = [img.pixelColor(x, circle.height() - 10) for x in range(0, circle.width(), 2)]
    assert any(c.red() > 150 and c.green() < 120 for c in caption)  # the caption is painted under the circle
    circle.set_prediction(1.5, 0.6, 0.7, 0.6)
    assert circle.highlight == "excited" and circle.reading.certain


def test_library_table_names_only_what_is_known():
    from app.library.rows import TrackRow
    from app.library.table_model import LibraryModel

    model = LibraryModel(load_emotion_terms())
    row = lambda v, a, c=0.5: TrackRow(1, "/x.flac", "X", "Y", "", 60.0, v, a, c, analysed=True)  # noqa: E731
    assert model.word(row(0.1, 0.6)) == "high energy"
    assert model.word(row(-0.5, 0.05)) == "negative"
    assert model.word(row(0.05, -0.1)) == "uncertain"
    assert model.word(row(0.5, 0.5)) == "excited"
    assert model.word(row(0.5, 0.5, 0.0)) == ""  # declined (near silence)


def test_a_long_tracks_values_say_what_part_they_summarise():
    from PySide6.QtCore import Qt

    from app.library.rows import TrackRow
    from app.library.table_model import COLUMNS, LibraryModel

    model = LibraryModel(load_emotion_terms())
    model.set_rows([TrackRow(1, "/medley.flac", "Medley", "Y", "", 252.0, -0.5, -0.4, 0.8, analysed=True),
                    TrackRow(2, "/clip.flac", "Clip", "Y", "", 30.0, 0.5, 0.4, 0.8, analysed=True),
                    TrackRow(3, "/new.flac", "New", "Y", "", 252.0, None, None, None, analysed=False)])
    tip = lambda r, name: model.index(r, COLUMNS.index(name)).data(Qt.ItemDataRole.ToolTipRole)  # noqa: E731
    for name in ("Valence", "Arousal", "Conf.", "Emotion"):
        assert "From 0:15 to 1:15 of this 4:12 track (the model's segment): the rest may differ" in tip(0, name)
    assert tip(1, "Valence").endswith("From the whole track (0:30).")
    assert tip(2, "Valence") == "/new.flac"  # nothing predicted yet: nothing summarised


def test_a_click_calls_a_slot_or_signal_without_the_checked_flag(qtbot):
    """``clicked(bool)`` would hand False to a slot's optional first parameter (the Delete label
    button once asked "False: delete ...?"); every button in app/ is connected through on_click."""
    from pathlib import Path

    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QPushButton

    from app.widgets.buttons import on_click

    class Source(QObject):
        fired = Signal()

    calls, source = [], Source()
    source.fired.connect(lambda: calls.append("signal"))
    for button, slot in ((QPushButton("a"), lambda verb="Delete": calls.append(verb)), (QPushButton("b"), source.fired)):
        qtbot.addWidget(button)
        button.setCheckable(True)  # checked flag True on the first click
        on_click(button, slot)
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert calls == ["Delete", "signal"]
    app_dir = Path(__file__).resolve().parent.parent / "app"
    direct = [f.name for f in app_dir.rglob("*.py") if f.name != "buttons.py" and ".clicked.connect(" in f.read_text()]
    assert direct == [], f"connect buttons with app.widgets.buttons.on_click: {direct}"


def test_the_previous_models_values_are_shown_greyed_until_replaced():
    from PySide6.QtCore import Qt

    from app.library.rows import TrackRow
    from app.library.table_model import COLUMNS, LibraryModel

    model = LibraryModel(load_emotion_terms())
    model.set_rows([TrackRow(1, "/a.flac", "A", "", "", 60.0, 0.5, 0.5, 0.8, analysed=False, previous=True)])
    cell = model.index(0, COLUMNS.index("Valence"))
    assert cell.data() == "+0.50" and model.index(0, COLUMNS.index("Emotion")).data() == "excited"
    assert cell.data(Qt.ItemDataRole.ForegroundRole) is not None
    assert cell.data(Qt.ItemDataRole.ToolTipRole).startswith("From the model used before")
    model.update_row(0, TrackRow(1, "/a.flac", "A", "", "", 60.0, -0.5, 0.5, 0.9, analysed=True))  # the active model's
    assert cell.data() == "-0.50" and cell.data(Qt.ItemDataRole.ForegroundRole) is None


def test_a_marker_at_an_axis_end_never_hides_the_axis_name(circle):
    """The newcomer saw the marker cover "valence +": the names are painted over the marker."""
    def dark_pixels(img, rect) -> set[tuple[int, int]]:
        return {(x, y) for x in range(int(rect.left()), int(rect.right())) for y in range(int(rect.top()), int(rect.bottom()))
                if img.pixelColor(x, y).lightness() < 140 and img.pixelColor(x, y).hsvSaturation() < 60}  # grey text

    for name, (v, a) in {"valence +": (0.93, -0.05), "arousal +": (0.05, 0.93)}.items():
        circle.clear()
        rect = circle.axis_name_rects()[name]
        text = dark_pixels(circle.grab().toImage(), rect)
        circle.set_prediction(0.0, v, a, 1.0)  # the biggest marker, over the name
        covered = circle.grab().toImage()
        at = circle.to_pixel(v, a)
        orange = sum(covered.pixelColor(x, y).red() > 150 and covered.pixelColor(x, y).blue() < 120
                     for x in range(int(at.x()) - 10, int(at.x()) + 10) for y in range(int(at.y()) - 10, int(at.y()) + 10))
        assert orange > 50  # the marker is there
        assert len(text) > 20 and len(text & dark_pixels(covered, rect)) >= 0.9 * len(text), name
