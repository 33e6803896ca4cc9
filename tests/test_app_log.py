"""The app's log (app.log) and View > Log (app.windows.log_window), on real widgets (offscreen): the rotating
file in the data dir, records from other threads shown live, the level filter, Save as."""

import logging
import sys
import threading
import warnings

import pytest
from PySide6.QtWidgets import QApplication, QFileDialog

from app.log import LOG_NAME, ring, setup_logging, teardown_logging
from app.windows.log_window import LogWindow, show_log_window


@pytest.fixture
def logs(tmp_path, monkeypatch):
    """setup_logging on a fresh data dir with 2 kB files; undone after the test."""
    calls = []
    monkeypatch.setattr(sys, "excepthook", lambda *a: calls.append(a))  # the hook before ours
    path = setup_logging(tmp_path / "data", max_bytes=2000, backups=2)
    yield path, calls
    teardown_logging()


@pytest.fixture
def window(qtbot, logs):
    w = LogWindow()
    qtbot.addWidget(w)
    w.show()
    return w


def test_records_reach_the_rotating_file_once(logs, tmp_path):
    path, _ = logs
    assert path == tmp_path / "data" / "logs" / LOG_NAME
    root_handlers = list(logging.getLogger().handlers)
    assert setup_logging(tmp_path / "elsewhere") == path and logging.getLogger().handlers == root_handlers
    logging.getLogger("damer_core.audio.decoding").warning("x.mp3: decoder warnings: one (1 line)")
    logging.getLogger("app.labelling.controller").info("a curator's label point")
    text = path.read_text()
    assert "WARNING damer_core.audio.decoding: x.mp3: decoder warnings" in text and "INFO app.labelling.controller:" in text
    assert text.count("a curator's label point") == 1  # one handler, however often set up
    for i in range(60):
        logging.getLogger("app.test").info("filler line %d, long enough to fill 2 kB soon", i)
    assert sorted(p.name for p in path.parent.iterdir()) == [LOG_NAME, f"{LOG_NAME}.1", f"{LOG_NAME}.2"]
    assert all(p.stat().st_size <= 2000 for p in path.parent.iterdir())
    assert "filler line 59" in path.read_text()


def test_warnings_and_uncaught_exceptions_are_logged(logs):
    path, earlier_hook = logs
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.warn("an old API", DeprecationWarning, stacklevel=1)
    try:
        raise ValueError("a bug in a slot")
    except ValueError:
        sys.excepthook(*sys.exc_info())
    failed = threading.Thread(target=lambda: 1 / 0, name="sum-thread")
    failed.start()
    failed.join()
    text = path.read_text()
    assert "WARNING py.warnings:" in text and "an old API" in text
    assert "CRITICAL app.log: Uncaught exception\nTraceback" in text and "ValueError: a bug in a slot" in text
    assert "Uncaught exception in thread sum-thread" in text and "ZeroDivisionError" in text
    assert len(earlier_hook) == 1  # still printed as before, and the app goes on


def test_unwritable_data_dir_keeps_the_ring(tmp_path, qtbot):
    (tmp_path / "data").write_text("a file where the folder should be")
    try:
        assert setup_logging(tmp_path / "data") is None
        assert "no log file" in ring().snapshot()[-1].text
    finally:
        teardown_logging()


def test_a_record_from_another_thread_appears_live(window, qtbot):
    logging.getLogger("app.test").info("before the window opened")
    window.refill()
    worker = threading.Thread(target=lambda: logging.getLogger("app.worker").warning("from a worker thread"))
    worker.start()
    worker.join()
    qtbot.waitUntil(lambda: "from a worker thread" in window.text.toPlainText(), timeout=2000)
    text = window.text.toPlainText()
    assert "WARNING app.worker: from a worker thread" in text and text.count("from a worker thread") == 1
    assert "before the window opened" in text


def test_level_filter_hides_lower_levels(window, qtbot):
    log = logging.getLogger("app.test")
    log.info("an info line")
    log.error("an error line")
    qtbot.waitUntil(lambda: "an error line" in window.text.toPlainText())
    window.level.setCurrentText("Warning")
    assert "an error line" in window.text.toPlainText() and "an info line" not in window.text.toPlainText()
    log.info("a later info line")
    log.warning("a later warning")
    qtbot.waitUntil(lambda: "a later warning" in window.text.toPlainText())
    assert "a later info line" not in window.text.toPlainText()
    window.level.setCurrentText("Debug")
    assert "an info line" in window.text.toPlainText() and "a later info line" in window.text.toPlainText()


def test_save_as_writes_the_text(window, qtbot, tmp_path, monkeypatch):
    logging.getLogger("app.test").warning("worth a bug report")
    qtbot.waitUntil(lambda: "worth a bug report" in window.text.toPlainText())
    target = tmp_path / "saved.txt"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
    window.save_as()
    assert target.read_text() == window.text.toPlainText() + "\n" and "worth a bug report" in target.read_text()
    window.copy_all()
    assert QApplication.clipboard().text() == window.text.toPlainText()


def test_view_log_opens_one_window(qtbot, tmp_path, monkeypatch, logs):
    from app_helpers import fresh_window

    w = fresh_window(qtbot, tmp_path, monkeypatch)
    logging.getLogger("app.test").info("shown in View > Log")
    w.menu_actions["Log"].trigger()
    log_window = w.windows.log_window
    assert isinstance(log_window, LogWindow) and log_window.isVisible() and log_window.windowTitle() == "Log"
    qtbot.waitUntil(lambda: "shown in View > Log" in log_window.text.toPlainText())
    log_window.close()
    w.menu_actions["Log"].trigger()
    assert w.windows.log_window is log_window and log_window.isVisible() and show_log_window(w) is log_window
    w.close()


def test_the_log_holds_what_a_user_looks_for(qtbot, tmp_path, monkeypatch, logs):
    """A scan, an export and a model change leave their records; long records wrap, so the window
    never opens scrolled sideways."""
    from app_helpers import fresh_window, music_folder

    w = fresh_window(qtbot, tmp_path, monkeypatch)
    music = music_folder(tmp_path / "music")
    w.add_folder(str(music))
    qtbot.waitUntil(lambda: not w.library_busy, timeout=20_000)
    w.files.export_labels(str(tmp_path / "labels.csv"))
    w.state.choose_model(str(tmp_path / "gone.pt"))
    w.menu_actions["Log"].trigger()
    log_window = w.windows.log_window
    log_window.level.setCurrentIndex(0)  # Debug
    log_window.resize(500, 400)
    text = log_window.text.toPlainText()
    for expected in (f"folder added: {music.resolve()}", "scan started: ", "scan: ", "unreadable",
                     "labels.csv", f"active model: {tmp_path / 'gone.pt'}"):
        assert expected in text, expected
    QApplication.processEvents()
    assert log_window.text.horizontalScrollBar().maximum() == 0
    w.close()
