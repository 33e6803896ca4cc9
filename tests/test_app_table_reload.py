"""app/library/table_reload.py: the table's rows are read off the GUI thread, only the latest
reload is shown, and a row refreshed while a reload was being read keeps its fresher values."""

import threading

import pytest
from app_helpers import listed_library
from PySide6.QtCore import Qt

from app.library.db import LibraryDB
from app.library.table_model import COLUMNS
from app.library.table_reload import TableReload
from damer_core.contract.emotions import load_emotion_terms


@pytest.fixture
def db(tmp_path):
    d = listed_library(tmp_path / "library.sqlite3", ("b", "a", "c"))
    yield d
    d.close()


def loaded_by(reload: TableReload) -> list:
    shown: list = []
    reload.loaded.connect(lambda table, folders: shown.append((table, folders)))
    return shown


def test_rows_are_read_in_another_thread_and_come_sorted(qtbot, db, monkeypatch):
    readers = []
    read = LibraryDB.tracks
    monkeypatch.setattr(LibraryDB, "tracks", lambda self, **kw: readers.append(threading.current_thread()) or read(self, **kw))
    reload = TableReload(db.path, load_emotion_terms())
    shown = loaded_by(reload)
    reload.reload({"model": "m"}, (COLUMNS.index("Title"), Qt.SortOrder.DescendingOrder))
    assert reload.pending and shown == []  # asked, not read on this thread
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    table, folders = shown[0]
    assert [r.title for r in table.rows] == ["c", "b", "a"] and folders == ["/music"]
    assert len(table.words) == len(table.search_text) == 3 and table.search_text[0].startswith("c\n")
    assert not reload.pending and readers[0] is not threading.main_thread()


def test_only_the_latest_reload_is_shown(qtbot, db):
    reload = TableReload(db.path, load_emotion_terms())
    shown = loaded_by(reload)
    reload.reload({"model": "m"}, None)
    db.store_static("/music/a.flac", "m", 0.5, 0.5, 0.9)
    reload.reload({"model": "m"}, None)  # the first one's rows are out of date before they come
    qtbot.waitUntil(lambda: not reload.pending, timeout=10_000)
    qtbot.wait(100)
    assert len(shown) == 1 and next(r for r in shown[0][0].rows if r.title == "a").valence == 0.5


def test_a_row_refreshed_while_the_reload_reads_keeps_its_newer_values(qtbot, db, monkeypatch):
    read_done, go = threading.Event(), threading.Event()
    read = LibraryDB.tracks

    def slow(self, **kw):
        rows = read(self, **kw)
        read_done.set()
        go.wait(10)  # the GUI refreshes a row meanwhile
        return rows

    monkeypatch.setattr(LibraryDB, "tracks", slow)
    reload = TableReload(db.path, load_emotion_terms())
    shown = loaded_by(reload)
    reload.reload({"model": "m"}, None)
    qtbot.waitUntil(read_done.is_set, timeout=10_000)  # the thread has read the rows: none analysed
    db.store_static("/music/c.flac", "m", -0.6, -0.5, 0.9)  # a prediction stored and its row read again
    reload.keep(db.track("/music/c.flac", model="m"))
    go.set()
    qtbot.waitUntil(lambda: bool(shown), timeout=10_000)
    table = shown[0][0]
    i = next(i for i, r in enumerate(table.rows) if r.title == "c")
    assert table.rows[i].valence == -0.6 and table.words[i] != "" and table.words[i] in table.search_text[i]
    assert all(r.valence is None for r in table.rows if r.title != "c")
