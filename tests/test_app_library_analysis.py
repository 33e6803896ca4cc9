"""app/analysis/library_analysis.py: which tracks the library pass needs is read off the GUI thread
(a 50,000-track library's queries held it for a quarter of a second), and only the latest request
begins a pass. Nothing runs: the queue is paused, so no worker starts."""

import gc
import threading
import weakref

from app_helpers import app_state, listed_library
from PySide6.QtWidgets import QApplication

from app.analysis.library_analysis import LibraryAnalysis
from app.analysis.schedule import PLAYING
from app.library.db import LibraryDB
from app.workers import Worker


def paused_analysis(tmp_path, n_tracks: int) -> LibraryAnalysis:
    db = listed_library(tmp_path / "library.sqlite3", [str(i) for i in range(n_tracks)])
    analysis = LibraryAnalysis(db, app_state(str(tmp_path / "models" / "m.pt")))
    analysis.queue.set_paused_below(PLAYING)  # below the playing track: every pass job waits
    return analysis


def test_the_missing_tracks_are_read_off_the_gui_thread(qtbot, tmp_path, monkeypatch):
    analysis = paused_analysis(tmp_path, 5)
    readers = []
    read = LibraryDB.without_trajectory
    monkeypatch.setattr(LibraryDB, "without_trajectory",
                        lambda db, model: readers.append(threading.current_thread()) or read(db, model))
    queued: list[int] = []
    assert analysis.analyse_library(queued.append)
    assert analysis.running and analysis.queue.pending() == 0  # being read: nothing queued yet, but busy
    qtbot.waitUntil(lambda: bool(queued), timeout=10_000)
    assert queued == [10] and analysis.queue.pending() == 10  # 5 static V-A, then 5 trajectories
    assert len(readers) == 1 and readers[0] is not threading.main_thread()
    analysis.shutdown()


def test_a_cancel_or_the_windows_close_while_the_library_is_read_begins_no_pass(qtbot, tmp_path):
    for stop in ("cancel_pass", "shutdown"):
        analysis = paused_analysis(tmp_path / stop, 3)
        queued: list[int] = []
        analysis.analyse_library(queued.append)
        getattr(analysis, stop)()
        assert not analysis.running
        qtbot.waitUntil(lambda: not Worker._alive, timeout=10_000)  # the reading came back
        QApplication.processEvents()  # and its result was delivered
        assert queued == [] and analysis.queue.pending() == 0, stop
        analysis.shutdown()


def test_only_the_latest_request_begins_a_pass(qtbot, tmp_path, monkeypatch):
    analysis = paused_analysis(tmp_path, 3)
    begun: list[int] = []
    start_pass = analysis.queue.start_pass
    monkeypatch.setattr(analysis.queue, "start_pass", lambda static, tracks: begun.append(len(static)) or
                        start_pass(static, tracks))
    first: list[int] = []
    second: list[int] = []
    analysis.analyse_library(first.append)
    analysis.analyse_library(second.append)  # a change of model or a rescan while the first is read
    qtbot.waitUntil(lambda: bool(second) and not Worker._alive, timeout=10_000)  # both readings came back
    QApplication.processEvents()
    assert begun == [3] and analysis.queue.pending() == 6
    assert first == second == [6]  # the first request hears of the pass that replaced it
    assert not analysis.queue.busy and analysis.running  # queued (paused), and counted as running
    analysis.shutdown()


def test_a_passs_jobs_stay_out_of_full_collections_while_it_lasts(qtbot, tmp_path):
    """A 50,000-track library's pass queues 100,000 jobs: the cycle collector's full passes over
    them held the GUI thread for up to 130 ms (app/long_lived.py). Dropped jobs are freed at once,
    and the pass's end unfreezes, so frozen cycles do not outlive it."""
    analysis = paused_analysis(tmp_path, 50)
    gc.unfreeze()
    queued: list[int] = []
    analysis.analyse_library(queued.append)
    qtbot.waitUntil(lambda: bool(queued), timeout=10_000)
    assert queued == [100] and gc.get_freeze_count() >= 100  # the jobs, frozen as they were queued
    job = weakref.ref(next(iter(analysis.queue.schedule._queued.values())))
    assert analysis.cancel_pass() == 100 and analysis.queue.pending() == 0
    assert job() is None  # frozen, yet freed by reference counting once dropped
    qtbot.waitUntil(lambda: gc.get_freeze_count() == 0, timeout=10_000)  # the pass is over: all collectable again
    analysis.shutdown()


def test_a_pass_begun_before_the_release_keeps_the_freeze(qtbot, tmp_path, monkeypatch):
    """A change of model ends a pass and begins one: the frozen heap is not handed back in
    between (a full collection would walk it all, on the GUI thread), only a while after the last."""
    unfreezes: list[bool] = []
    unfreeze = gc.unfreeze
    monkeypatch.setattr(gc, "unfreeze", lambda: unfreezes.append(True) or unfreeze())
    analysis = paused_analysis(tmp_path, 20)
    analysis.queue._release.setInterval(1000)
    queued: list[int] = []
    analysis.analyse_library(queued.append)
    qtbot.waitUntil(lambda: bool(queued), timeout=10_000)
    analysis.cancel_pass()
    analysis.analyse_library(queued.append)  # 20 tracks read and begun well within the release's 1 s
    qtbot.waitUntil(lambda: len(queued) == 2, timeout=10_000)
    qtbot.wait(1500)  # past the first pass's release, had the second not called it off
    assert unfreezes == [] and gc.get_freeze_count() > 0 and analysis.queue.pending() == 40
    analysis.cancel_pass()
    qtbot.waitUntil(lambda: unfreezes == [True], timeout=10_000)
    assert gc.get_freeze_count() == 0
    analysis.shutdown()
