"""A first start as a newcomer meets it: the empty library greets and adds the Music folder in one
click; titles are readable at the default size and every column can be dragged wider; the
transport keeps its sizes however the panes are split."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt

from app.library.table_model import COLUMNS


@pytest.fixture
def fresh_window(qtbot, tmp_path, monkeypatch):
    """A MainWindow on a fresh install: no settings, no library, no sound card; the user's Music
    folder (XDG) holds three tracks and two bad files."""
    from app_helpers import fresh_window, music_folder

    from app.library import welcome as library_welcome

    music = music_folder(tmp_path / "Music")
    monkeypatch.setattr(library_welcome, "music_folder", lambda: str(music))
    w = fresh_window(qtbot, tmp_path, monkeypatch)
    yield w, music
    w.close()


def test_an_empty_library_greets_and_adds_the_music_folder_in_one_click(fresh_window, qtbot):
    w, music = fresh_window
    welcome = w.library.welcome
    assert w.library.pages.currentWidget() is welcome and welcome.isVisible()
    assert welcome.heading.text() == "Welcome to DAMER Explorer" and "Add a folder of music" in welcome.text.text()
    assert welcome.add_music.isVisible() and str(music.name) in welcome.add_music.text()
    qtbot.mouseClick(welcome.add_music, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not w.library_busy and len(w.model.rows) == 3, timeout=20_000)
    assert w.library.pages.currentWidget() is w.library.table
    assert [p for _, p in w.db.folders()] == [str(music.resolve())]


def test_a_folder_without_music_says_so_and_offers_another(fresh_window, qtbot, tmp_path):
    w, _ = fresh_window
    empty = tmp_path / "nothing here"
    empty.mkdir()
    w.add_folder(str(empty))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    welcome = w.library.welcome
    assert w.library.pages.currentWidget() is welcome
    assert welcome.text.text().startswith("No audio files found in nothing here yet")
    assert welcome.choose.text() == "Add another folder..." and welcome.add_music.isVisible()


def test_titles_are_readable_and_columns_can_be_dragged_wider(fresh_window, qtbot):
    w, music = fresh_window
    w.add_folder(str(music))
    qtbot.waitUntil(lambda: not w.library_busy and len(w.model.rows) == 3, timeout=20_000)
    table = w.library.table
    header = table.horizontalHeader()
    title = COLUMNS.index("Title")
    assert table.columnWidth(title) >= 200 and table.textElideMode() == Qt.TextElideMode.ElideMiddle
    row = next(r for r in range(w.library.proxy.rowCount()) if w.library.proxy.index(r, title).data() == "Morning")
    tip = w.library.proxy.index(row, title).data(Qt.ItemDataRole.ToolTipRole)
    assert tip == f"Morning\n{w.library.path_at(row)}"  # the whole title, and where the file is
    before = table.columnWidth(title)
    edge = header.sectionViewportPosition(title) + header.sectionSize(title) - 1
    y = header.height() // 2
    qtbot.mousePress(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(edge, y))
    for dx in (10, 30, 60):
        qtbot.mouseMove(header.viewport(), QPoint(edge + dx, y))
    qtbot.mouseRelease(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(edge + 60, y))
    assert table.columnWidth(title) >= before + 50


def test_the_transport_keeps_its_sizes_at_any_split(fresh_window, qtbot):
    w, _ = fresh_window
    w.resize(1600, 1000)
    w.main_split.setSizes([1500, 100])  # the library pane dragged as wide as it goes
    qtbot.wait(50)
    t = w.transport
    assert t.slider.width() >= 120 and t.volume.width() >= 60
    assert t.width() >= t.minimumSizeHint().width() and t.minimumSizeHint().width() < 700
    assert t.sound_status.text().startswith("No sound")  # the reason is still there, elided if need be
