"""Library: scanning a real folder into a real SQLite file, rescans, table sorting and filtering."""

import os
import sqlite3

import pytest
from app_helpers import music_folder, tagged
from PySide6.QtCore import Qt

from app.library import scanner
from app.library.db import MIGRATIONS, LibraryDB, LibraryLocked, TrackRow
from app.library.table_model import LibraryFilter, LibraryModel
from damer_core.contract.emotions import load_emotion_terms


@pytest.fixture
def db(tmp_path):
    d = LibraryDB(tmp_path / "library.sqlite3")
    yield d
    d.close()


def test_scan_reads_tags_and_reports_bad_files(db, tmp_path):
    root = music_folder(tmp_path / "music")
    db.add_folder(str(root))
    progress = []
    report = scanner.scan(db, lambda d, t, f: progress.append((d, t)))
    assert (report.added, report.updated, report.removed) == (3, 0, 0)
    tracks = {t.title: t for t in db.tracks()}
    assert set(tracks) == {"Morning", "Evening", "three"}  # untagged WAV: the file name
    assert tracks["Morning"].artist == "Alice" and tracks["Morning"].album == "First"
    assert tracks["Evening"].duration == pytest.approx(9.0, abs=0.05)
    bad = dict(db.unreadable())
    assert {os.path.basename(p) for p in bad} == {"broken.mp3", "empty.wav"}
    assert "empty (0 bytes)" in bad[str(root / "b" / "empty.wav")]
    assert "not a readable audio file" in bad[str(root / "b" / "broken.mp3")]
    assert progress[-1][0] == progress[-1][1] == 5
    assert db.schema_version == len(MIGRATIONS) == 5
    assert sqlite3.connect(db.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_rescan_picks_up_new_changed_and_removed(db, tmp_path):
    root = music_folder(tmp_path / "music")
    db.add_folder(str(root))
    scanner.scan(db)
    (root / "a" / "two.ogg").unlink()
    tagged(root / "c" / "four.flac", 5, "Night", "Carol", seed=4)
    tagged(root / "a" / "one.flac", 7, "Morning (remaster)", "Alice", seed=5)
    os.utime(root / "a" / "one.flac", (1, 2_000_000_000))
    report = scanner.scan(db)
    assert (report.added, report.updated, report.removed) == (1, 1, 1)
    titles = {t.title for t in db.tracks()}
    assert titles == {"Morning (remaster)", "three", "Night"}
    again = scanner.scan(db)
    assert (again.added, again.updated, again.removed) == (0, 0, 0)


def test_unreadable_folder_and_vanishing_files_do_not_stop_the_scan(db, tmp_path, monkeypatch):
    root = music_folder(tmp_path / "music")
    db.add_folder(str(root))
    real_scandir = os.scandir

    def scandir(path):
        if str(path).endswith("/a"):
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(scanner.os, "scandir", scandir)
    report = scanner.scan(db)
    assert any("folder cannot be read (Permission denied)" in r for _, r in report.unreadable)
    assert {t.title for t in db.tracks()} == {"three"}
    assert scanner._try_tags(str(root / "gone.flac"), 10, 0.0) == {"path": str(root / "gone.flac"), "gone": True}


def test_cancel_stops_early(db, tmp_path):
    for i in range(30):
        tagged(tmp_path / "many" / f"t{i:02d}.wav", 3.1, seed=i)
    db.add_folder(str(tmp_path / "many"))
    report = scanner.scan(db, cancelled=lambda: True)
    assert report.cancelled and db.track_count() < 30


def rows(n):
    return [TrackRow(i, f"/m/{i}.flac", f"Song {i:05d}", f"Artist {i % 7}", "Album", float((i * 37) % 500),
                     valence=((i % 11) - 5) / 5 if i % 3 else None, arousal=0.5, confidence=0.9) for i in range(n)]


def test_table_sorts_by_value_and_filters(qtbot):
    model = LibraryModel(load_emotion_terms())
    proxy = LibraryFilter()
    proxy.setSourceModel(model)
    model.set_rows(rows(10_000))
    assert proxy.rowCount() == 10_000
    proxy.sort(3, Qt.SortOrder.DescendingOrder)  # duration: numeric, not text ("9:59" < "10:00")
    durations = [model.rows[proxy.mapToSource(proxy.index(i, 0)).row()].duration for i in range(50)]
    assert durations == sorted(durations, reverse=True) and durations[0] == 499.0
    assert proxy.index(0, 3).data() == "8:19"
    proxy.sort(4, Qt.SortOrder.AscendingOrder)  # unanalysed (None) first
    assert proxy.index(0, 4).data() == ""
    proxy.set_search("song 0004")
    assert proxy.rowCount() == 10 and all("Song 0004" in proxy.index(i, 0).data() for i in range(10))
    proxy.set_search("ARTIST 3")
    assert proxy.rowCount() == len([r for r in rows(10_000) if r.artist == "Artist 3"])
    proxy.set_search("excited")  # nearest emotion word is searchable too
    assert 0 < proxy.rowCount() < 10_000
    proxy.set_search("")
    assert proxy.rowCount() == 10_000


def test_a_search_holds_through_a_reload_a_refreshed_row_and_a_sort(qtbot):
    """The filter answers the rows shown now: read again (a change of model), one row refreshed
    (a prediction stored) or sorted anew, the search still finds exactly what holds its words."""
    model = LibraryModel(load_emotion_terms())
    proxy = LibraryFilter()
    proxy.setSourceModel(model)
    model.set_rows(rows(1_000))
    proxy.set_search("artist 3")
    shown = lambda: {proxy.index(i, 1).data() for i in range(proxy.rowCount())}  # noqa: E731
    assert proxy.rowCount() == 143 and shown() == {"Artist 3"}
    model.set_rows(rows(700))
    assert proxy.rowCount() == 100 and shown() == {"Artist 3"}
    moved = rows(700)[5]
    moved.artist = "Artist 3"
    model.update_row(model.row_for_path(moved.path), moved)
    assert proxy.rowCount() == 101
    proxy.sort(0, Qt.SortOrder.DescendingOrder)
    assert proxy.rowCount() == 101 and shown() == {"Artist 3"} and proxy.index(0, 0).data() == "Song 00696"
    assert model.row_for_path("/m/699.flac") == 0  # the paths' rows follow the sort
    proxy.set_search("")
    assert proxy.rowCount() == 700


def test_old_database_is_migrated_and_keeps_its_tracks(tmp_path):
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO folders (path, added) VALUES ('/m', 0)")
    conn.execute("INSERT INTO tracks (path, folder_id, title, duration, size, mtime, scanned) "
                 "VALUES ('/m/a.flac', 1, 'Old', 61.0, 10, 1.0, 1.0)")
    conn.execute("INSERT INTO predictions VALUES (1, 'm.pt', 0.5, -0.25, 0.7, '{}', 0)")
    conn.commit()
    conn.close()
    db = LibraryDB(path)
    assert db.schema_version == len(MIGRATIONS) and [t.title for t in db.tracks()] == ["Old"] and not db.tracks()[0].labelled
    assert not db.tracks("m.pt")[0].analysed  # v3 drops old predictions (made-up 0.0 values): re-analysed
    db.store_prediction("/m/a.flac", "valence-only.pt", 0.3, None, 0.6, {})  # v3: a dimension may be missing
    only = db.tracks("valence-only.pt")[0]
    assert only.arousal is None and only.valence == 0.3 and only.analysed
    db.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(LibraryLocked, match="newer DAMER Explorer"):
        LibraryDB(path)


def test_view_menu_switches_the_table_to_whole_track_means_and_remembers_it(scanned_window, qtbot):
    from PySide6.QtCore import Qt

    from app.library.table_model import COLUMNS
    from app.settings import Settings
    from app.windows.main_window import WHOLE_TRACK_VALUES

    w = scanned_window
    path = w.model.rows[0].path
    traj = {"t": [0.0, 0.5], "valence": [0.8, 0.6], "arousal": [0.5, 0.3], "confidence": [0.9, 0.9]}
    w.db.store_prediction(path, w.state.model.key, -0.5, -0.4, 0.8, traj)
    w.reload_library()
    qtbot.waitUntil(lambda: not w.library_busy)  # the rows are read off the GUI thread
    cell = lambda name: w.model.index(w.model.row_for_path(path), COLUMNS.index(name))  # noqa: E731
    assert cell("Valence").data() == "-0.50" and not w.menu_actions[WHOLE_TRACK_VALUES].isChecked()
    w.menu_actions[WHOLE_TRACK_VALUES].trigger()  # View > Table values: whole-track means
    qtbot.waitUntil(lambda: not w.library_busy)
    assert cell("Valence").data() == "+0.70" and cell("Arousal").data() == "+0.40"
    assert "The mean of the whole track's trajectory" in cell("Valence").data(Qt.ItemDataRole.ToolTipRole)
    assert Settings.load().whole_track_values
    w.menu_actions[WHOLE_TRACK_VALUES].trigger()
    qtbot.waitUntil(lambda: not w.library_busy)
    assert cell("Valence").data() == "-0.50" and not Settings.load().whole_track_values


def test_a_new_prediction_or_a_label_keeps_the_tables_kind_of_value(scanned_window, qtbot):
    """A row refreshed by a new prediction or a saved label is read as the whole table is: in
    whole-track mode the trajectory's mean, and a previous model's value until the new one's."""
    from app.library.table_model import COLUMNS
    from app.windows.main_window import WHOLE_TRACK_VALUES

    w = scanned_window
    path = w.model.rows[0].path
    w.menu_actions[WHOLE_TRACK_VALUES].trigger()
    traj = {"t": [0.0, 0.5], "valence": [0.8, 0.6], "arousal": [0.5, 0.3], "confidence": [0.9, 0.9]}
    w.db.store_prediction(path, w.state.model.key, -0.5, -0.4, 0.8, traj)
    w.analysis.static_ready.emit(path, None)  # what the analysis announces once the prediction is stored
    cell = w.model.index(w.model.row_for_path(path), COLUMNS.index("Valence"))
    assert cell.data() == "+0.70"
    w._refresh_track(path)  # a label saved
    assert cell.data() == "+0.70"
    w.state.previous_key = "old"
    other = w.model.rows[1].path
    w.db.store_static(other, "old", 0.3, 0.2, 0.7)
    w._refresh_track(other)
    row = w.model.rows[w.model.row_for_path(other)]
    assert row.previous and row.valence == 0.3
    qtbot.waitUntil(lambda: not w.library_busy)  # the menu's reload, which began before these rows were refreshed
    assert w.model.rows[w.model.row_for_path(path)].valence == 0.7
    assert w.model.rows[w.model.row_for_path(other)].valence == 0.3


# -- finding by feeling (newcomer's report) -------------------------------------------------------
FEELING_ROWS = [  # title, valence, arousal: each where a word of the circle sits
    ("Joy", 0.8, 0.2), ("Rush", 0.5, 0.7), ("Fury", -0.6, 0.7), ("Dread", -0.7, 0.3), ("Tears", -0.7, -0.3),
    ("Dusk", -0.3, -0.7), ("Still", 0.3, -0.8), ("Breeze", 0.6, -0.5), ("Lake", 0.8, -0.2), ("Unknown", None, None)]


@pytest.fixture
def feeling_panel(qtbot):
    from app.library.panel import LibraryPanel

    model = LibraryModel(load_emotion_terms())
    panel = LibraryPanel(model)
    qtbot.addWidget(panel)
    model.set_rows([TrackRow(i, f"/m/{t}.flac", t, "", "", 60.0, v, a, None if v is None else 0.8, analysed=v is not None)
                    for i, (t, v, a) in enumerate(FEELING_ROWS)])
    panel.update_count()
    return panel


def shown_titles(panel) -> set[str]:
    return {panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount())}


@pytest.mark.parametrize("query,expected", [
    ("happy", {"Joy", "Rush"}), ("Calm", {"Still", "Breeze", "Lake"}), ("high energy", {"Joy", "Rush", "Fury", "Dread"}),
    ("  sad ", {"Tears", "Dusk"}), ("angry", {"Fury", "Dread"}), ("relaxed", {"Still", "Breeze", "Lake"}),
    ("negative", {"Fury", "Dread", "Tears", "Dusk"}), ("low energy", {"Tears", "Dusk", "Still", "Breeze", "Lake"}),
])
def test_words_of_feeling_find_the_part_of_the_circle_they_name(feeling_panel, qtbot, query, expected):
    qtbot.keyClicks(feeling_panel.search, query)
    assert shown_titles(feeling_panel) == expected
    assert feeling_panel.count.text() == f"{len(expected)} of 10 tracks"  # the count follows the filter


def test_an_empty_search_result_says_why(feeling_panel, qtbot):
    qtbot.keyClicks(feeling_panel.search, "zzzz")
    text = feeling_panel.count.text()
    assert text.startswith('0 of 10 tracks: no title, artist, album or emotion word holds "zzzz"') and "happy" in text
    feeling_panel.search.clear()
    assert feeling_panel.count.text() == "10 tracks"
    feeling_panel.model.set_rows([TrackRow(1, "/m/x.flac", "X", "", "", 60.0)])  # nothing analysed yet
    qtbot.keyClicks(feeling_panel.search, "happy")
    assert feeling_panel.count.text().startswith('0 of 1 track: none is analysed yet, so none can feel "happy"')


def test_the_analysis_status_is_read_whole_beside_its_progress_bar(qtbot):
    """The newcomer read "trajectories ..." at 1600 x 1000: the bar took half the row."""
    from PySide6.QtWidgets import QLabel

    from app.library.panel import LibraryPanel

    panel = LibraryPanel(LibraryModel(load_emotion_terms()))
    qtbot.addWidget(panel)
    panel.resize(600, 500)  # the library's side of a 1600-pixel-wide window
    panel.show()
    qtbot.waitExposed(panel)
    text = "Analysing: emotion 4 / 4, trajectories 1 / 4, about 1 min left"
    panel.show_progress(text, 5, 8)
    qtbot.wait(10)
    assert QLabel.text(panel.progress_label) == text  # what is painted: not elided
    assert panel.progress.isVisible() and panel.progress.width() >= 80
