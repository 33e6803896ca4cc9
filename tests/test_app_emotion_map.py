"""The library emotion map: points, filters, selection to M3U, more like this, click to play."""

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt

from app.labelling.emotion_map import EmotionMap, MapPoint, nearest
from damer_core.contract.emotions import load_emotion_terms


def points():
    return [MapPoint("/m/a.flac", "A", "X", 61.2, 0.6, 0.6, 0.9, False),
            MapPoint("/m/b.flac", "B", "Y", 100, -0.5, 0.5, 0.5, True),
            MapPoint("/m/c.flac", "C", "", 30, -0.4, -0.7, 0.7, False),
            MapPoint("/m/d.flac", "D", "Z", 45, 0.55, 0.5, 0.8, False)]


@pytest.fixture
def emap(qtbot):
    m = EmotionMap(load_emotion_terms())
    qtbot.addWidget(m)
    m.show()
    m.set_points(points())
    return m


def test_points_colours_and_filters(emap):
    assert len(emap.scatter.points()) == 4 and "1 labelled" in emap.count.text()
    emap.quadrant.setCurrentText("tense / angry (V- A+)")
    assert [p.title for p in emap.shown] == ["B"]
    emap.quadrant.setCurrentIndex(0)
    emap.word.setCurrentText("excited")
    assert sorted(p.title for p in emap.shown) == ["A", "D"]


def test_selection_becomes_a_playlist(emap, tmp_path):
    emap.roi.setPos((0.4, 0.4))
    emap.roi.setSize((0.4, 0.4))
    assert sorted(p.title for p in emap.selection()) == ["A", "D"]
    assert emap.save_playlist(str(tmp_path / "sel.m3u")) == 2
    lines = (tmp_path / "sel.m3u").read_text().splitlines()
    assert lines[0] == "#EXTM3U" and "#EXTINF:61,X - A" in lines and "/m/d.flac" in lines


def test_more_like_this_and_click_to_play(emap, qtbot):
    assert [p.title for p in nearest(points(), 0.6, 0.6, 2, exclude="/m/a.flac")] == ["D", "B"]
    emap.show_similar("/m/a.flac")
    assert emap.similar.item(0).text().startswith("D - Z  (")
    with qtbot.waitSignal(emap.play_requested) as sig:
        emap._clicked(emap.scatter, [emap.scatter.points()[2]])
    assert sig.args[0] == "/m/c.flac"


def test_lasso_drawn_with_the_mouse_selects_what_it_encloses(emap, qtbot, tmp_path):
    emap.resize(900, 700)
    qtbot.waitExposed(emap)
    emap.lasso.setChecked(True)
    assert not emap.roi.isVisible()
    view, vb = emap.plot, emap.plot.plotItem.vb

    def pixel(v, a):
        return view.mapFromScene(vb.mapViewToScene(pg.QtCore.QPointF(v, a)))

    # a pentagon around B (-0.5, 0.5) and C (-0.4, -0.7), away from A and D
    corners = [(-0.95, 0.9), (-0.2, 0.9), (-0.1, 0.0), (-0.2, -0.95), (-0.95, -0.95)]
    qtbot.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=pixel(*corners[0]))
    for (v0, a0), (v1, a1) in zip(corners, corners[1:] + corners[:1]):
        for t in (0.25, 0.5, 0.75, 1.0):
            qtbot.mouseMove(view.viewport(), pixel(v0 + t * (v1 - v0), a0 + t * (a1 - a0)))
    qtbot.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=pixel(*corners[0]))
    assert sorted(p.title for p in emap.selection()) == ["B", "C"]
    assert "2 in the lasso" in emap.count.text()
    assert emap.save_playlist(str(tmp_path / "lasso.m3u")) == 2
    assert vb.viewRange()[0] == pytest.approx([-1.2, 1.2], abs=0.3)  # drawing did not pan the view
    emap.lasso.setChecked(False)
    assert emap.roi.isVisible() and emap.lasso_path == []


@pytest.mark.parametrize("keys", ["Esc", "Ctrl+W"])
def test_escape_and_ctrl_w_close_the_map(emap, qtbot, keys):
    from app_helpers import press_in_window

    press_in_window(qtbot, emap, keys)
    assert not emap.isVisible()


def test_more_like_this_rows_read_as_words_and_the_playing_track_is_ringed(emap):
    emap.show_similar("/m/d.flac")
    rows = [emap.similar.item(i).text() for i in range(emap.similar.count())]
    assert rows[0] == "A - X  (excited)"  # title, artist, the word it reads as: no bare number
    assert "C  (" in rows[-1] and "C -" not in rows[-1]  # no artist: no dangling dash
    assert all(not r.rstrip(")").split("(")[-1].replace(".", "").isdigit() for r in rows)
    assert "apart on the V-A circle" in emap.similar.item(0).toolTip()
    ring = emap.playing.points()
    assert len(ring) == 1 and (ring[0].pos().x(), ring[0].pos().y()) == pytest.approx((0.55, 0.5))
    emap.set_points(points()[:3])  # the playing track left the map (a model without it)
    assert len(emap.playing.points()) == 0
