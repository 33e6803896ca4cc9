"""The listener's view on a real window (offscreen): every menu action runs, the Help menu, the
table fits and shows what plays, the spectrograms page with the playhead."""

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.library.panel import WIDEST
from app.library.table_model import COLUMNS
from app.playback.views import DB_RANGE, SpectrogramViews, cochleogram_levels
from app.windows.help import guide_path
from damer_core import __version__
from damer_core.audio.synthetic import chord_music
from damer_core.features.spectra import display_views


def close_dialogs_while(action) -> list[str]:
    """Run ``action``; every modal dialog it opens (file choosers, message boxes) is closed as a
    person pressing Escape would, and its title noted."""
    seen: list[str] = []
    timer = QTimer()

    def close_modal() -> None:
        box = QApplication.activeModalWidget()
        if box is not None:
            seen.append(box.windowTitle())
            box.reject()

    timer.timeout.connect(close_modal)
    timer.start(50)
    try:
        action()
    finally:
        timer.stop()
    return seen


def test_every_menu_action_runs(scanned_window, qtbot):
    """Triggered as from the menu (triggered(checked=False)); a slot that took `checked` for an
    argument (the calibration session did) raises, and pytest-qt fails the test."""
    w = scanned_window
    assert {"Calibration session...", "User guide", "Keyboard shortcuts", "About DAMER Explorer"} <= set(w.menu_actions)
    for text, action in w.menu_actions.items():
        if text == "Quit":
            continue
        close_dialogs_while(action.trigger)
        qtbot.wait(50)
    assert w.windows.calibration is not None and w.windows.calibration.isVisible()  # 3 tracks in the table: a session opens
    for window in (w.windows.calibration, w.windows.training, w.windows.registry, w.windows.emotion_map, w.windows.help_window):
        window.close()


def test_help_menu_says_what_a_user_needs(scanned_window, qtbot):
    w = scanned_window
    w.menu_actions["About DAMER Explorer"].trigger()
    about = w.windows.help_window.text.toPlainText()
    assert __version__ in about and "Model in use: none" in about
    assert str(w.db.path.parent) in about  # where the library is
    w.menu_actions["Keyboard shortcuts"].trigger()
    keys = w.windows.help_window.text.toPlainText()
    for key in ("Space", "Ctrl+F", "Ctrl+M", "F1"):
        assert key in keys
    w.menu_actions["User guide"].trigger()
    guide = w.windows.help_window.text.toPlainText()
    assert guide_path() is not None and "Label music yourself" in guide and "Hold the left mouse button" in guide
    # a guide for people: tasks first, none of the developer's words
    headings = [line for line in guide_path().read_text().splitlines() if line.startswith("## ")]
    assert headings[:3] == ["## Add your music", "## Listen and read the circle", "## Find music by feeling"]
    for jargon in ("worker", "damer_core", "sigma", "child process", "torch", "--"):
        assert jargon not in guide, jargon
    w.windows.help_window.close()


def test_the_table_fits_and_marks_the_playing_track(qtbot, tmp_path, monkeypatch):
    """A first start (no saved geometry) on a 1920x1080 screen: every column but Title shows its
    widest value and header without scrolling sideways; the playing track stays marked when the
    selection moves."""
    from app_helpers import fresh_window, music_folder

    w = fresh_window(qtbot, tmp_path, monkeypatch)
    w.add_folder(str(music_folder(tmp_path / "music")))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    table = w.library.table
    qtbot.wait(50)
    assert table.horizontalScrollBar().maximum() == 0
    cell, head = table.fontMetrics(), table.horizontalHeader().fontMetrics()
    for col, name in enumerate(COLUMNS):
        if name in WIDEST and not table.isColumnHidden(col):
            assert table.columnWidth(col) >= max(cell.horizontalAdvance(WIDEST[name]), head.horizontalAdvance(name)) + 8
    assert table.isColumnHidden(COLUMNS.index("Conf.")) and table.isColumnHidden(COLUMNS.index("Album"))
    assert table.columnWidth(0) >= 200  # Title keeps room: titles are readable at the default size
    assert w.label_bar.curator.width() >= w.label_bar.curator.fontMetrics().horizontalAdvance("curator name")
    first, second = w.model.rows[0].path, w.model.rows[1].path
    w.open_track(first, autoplay=True)
    w.library.select_path(second)  # the user looks at another row
    playing_row = w.library.proxy.mapFromSource(w.model.index(w.model.row_for_path(first), 0))
    other_row = w.library.proxy.mapFromSource(w.model.index(w.model.row_for_path(second), 0))
    assert playing_row.data(Qt.ItemDataRole.DecorationRole) is not None
    assert other_row.data(Qt.ItemDataRole.DecorationRole) is None
    w.step_track(1)  # auto-advance moves the mark
    assert w.model.playing_path != first
    assert playing_row.data(Qt.ItemDataRole.DecorationRole) is None
    w.close()


@pytest.fixture
def long_views(qtbot):
    w = SpectrogramViews()
    qtbot.addWidget(w)
    w.resize(800, 500)
    w.show()
    v = display_views(chord_music(60.0, True, True, seed=3), 22_050)
    w.set_views(v, 60.0)
    qtbot.waitExposed(w)
    return w


def wheel_zoom(qtbot, views, at_seconds: float, steps: int = 8) -> None:
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    vp = views.graphics.viewport()
    pt = views.graphics.mapFromScene(views.plots[0].vb.mapViewToScene(QPointF(at_seconds, 40.0)))
    for _ in range(steps):
        event = QWheelEvent(QPointF(pt), QPointF(vp.mapToGlobal(pt)), QPoint(0, 0), QPoint(0, 120),
                            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
        QApplication.sendEvent(vp, event)
    qtbot.wait(20)


def test_zoomed_views_page_with_the_playhead_unless_the_user_scrolled_away(long_views, qtbot):
    w = long_views
    w.set_playhead(10.0)
    wheel_zoom(qtbot, w, 10.0)
    lo, hi = w.plots[0].viewRange()[0]
    assert hi - lo < 10 and lo <= 10.0 <= hi
    for t in np.arange(10.0, 50.0, 0.5):  # playback: the view pages to keep the playhead in sight
        w.set_playhead(float(t))
        lo, hi = w.plots[0].viewRange()[0]
        assert lo <= t <= hi
    width = hi - lo
    vp = w.graphics.viewport()  # the user drags the view back to look at something earlier
    start = w.graphics.mapFromScene(w.plots[0].vb.mapViewToScene(QPointF(lo + 0.1 * width, 40.0)))
    end = w.graphics.mapFromScene(w.plots[0].vb.mapViewToScene(QPointF(lo + 0.9 * width, 40.0)))
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=start)
    for k in range(1, 11):
        QTest.mouseMove(vp, start + (end - start) * (k / 10))
        qtbot.wait(10)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=end)
    assert w.plots[0].viewRange()[0][1] < hi - 0.5 * width
    away = w.plots[0].viewRange()[0]
    w.set_playhead(52.0)
    assert w.plots[0].viewRange()[0] == pytest.approx(away)  # the view stays where the user put it
    assert not w.following


def test_the_cochleogram_gets_the_mel_views_contrast(real_tracks, qtbot):
    from damer_core.features.extract import track_display_views

    for path in real_tracks[:2]:
        v = track_display_views(str(path))
        lo, hi = cochleogram_levels(v.mel_db, v.coch_db)
        mel_pos = (np.median(v.mel_db) - DB_RANGE[0]) / (DB_RANGE[1] - DB_RANGE[0])
        coch_pos = (np.median(v.coch_db) - lo) / (hi - lo)
        assert coch_pos == pytest.approx(mel_pos, abs=0.05)
        assert (np.median(v.coch_db) - DB_RANGE[0]) / (DB_RANGE[1] - DB_RANGE[0]) > mel_pos + 0.15  # was washed out
