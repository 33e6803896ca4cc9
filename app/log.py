"""The app's log. Every logger's records (the app's, damer_core's decoder warnings, Python
warnings, uncaught exceptions) go to a rotating file, <data dir>/logs/damer-explorer.log, and to
a ring of recent records that View > Log shows live, so a user can send the log with a bug report."""

from __future__ import annotations

import logging
import sys
import threading
from collections import deque
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QObject, Signal

LOG_NAME = "damer-explorer.log"
MAX_BYTES = 1_000_000
BACKUPS = 3
RING_SIZE = 2000
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger(__name__)


class Entry(NamedTuple):
    seq: int  # 1, 2, ...: lets the window skip an entry it already took from a snapshot
    level: int
    text: str


class _Bridge(QObject):
    appended = Signal(object)  # an Entry, emitted in the logging thread: connect it queued


class RingHandler(logging.Handler):
    """The last ``size`` records, formatted, and a signal for each new one."""

    def __init__(self, size: int = RING_SIZE) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))
        self.entries: deque[Entry] = deque(maxlen=size)
        self.bridge = _Bridge()
        self._seq = 0

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # noqa: BLE001 - logging's own policy for a bad record
            self.handleError(record)
            return
        self._seq += 1  # safe: Handler.handle holds self.lock around emit
        entry = Entry(self._seq, record.levelno, text)
        self.entries.append(entry)
        try:
            self.bridge.appended.emit(entry)
        except RuntimeError:
            pass  # the bridge is gone (interpreter exit): the ring still has the entry

    def snapshot(self) -> list[Entry]:
        assert self.lock is not None  # logging.Handler made it in __init__
        with self.lock:
            return list(self.entries)


class _State:
    ring: RingHandler | None = None
    file: RotatingFileHandler | None = None
    root_level = logging.WARNING
    hooks: tuple | None = None  # (sys.excepthook, threading.excepthook) before ours


def ring() -> RingHandler:
    """The ring of recent records (made on first use, so a window works without setup_logging)."""
    if _State.ring is None:
        _State.ring = RingHandler()
    return _State.ring


def log_file() -> Path | None:
    """The current log file, or None when logging is not set up or the file could not be opened."""
    return Path(_State.file.baseFilename) if _State.file is not None else None


def setup_logging(data_dir: Path | str, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> Path | None:
    """Send every record of INFO and above to the ring and to <data_dir>/logs/damer-explorer.log
    (max_bytes per file, ``backups`` older files); Python warnings and uncaught exceptions too.
    A second call changes nothing. Returns the log file, None when it cannot be written."""
    root = logging.getLogger()
    if ring() in root.handlers:
        return log_file()
    _State.root_level = root.level
    root.setLevel(min(root.level, logging.INFO))
    root.addHandler(ring())
    _State.file = _open_file(Path(data_dir) / "logs" / LOG_NAME, max_bytes, backups)
    if _State.file is not None:
        root.addHandler(_State.file)
    logging.captureWarnings(True)
    _install_hooks()
    return log_file()


def teardown_logging() -> None:
    """Undo setup_logging (for tests): handlers off the root logger, the file closed, hooks back."""
    root = logging.getLogger()
    for handler in (_State.ring, _State.file):
        if handler is not None and handler in root.handlers:
            root.removeHandler(handler)
    if _State.file is not None:
        _State.file.close()
        _State.file = None
    root.setLevel(_State.root_level)
    logging.captureWarnings(False)
    if _State.hooks is not None:
        sys.excepthook, threading.excepthook = _State.hooks
        _State.hooks = None


def _open_file(path: Path, max_bytes: int, backups: int) -> RotatingFileHandler | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # opened now, not on the first record: a read-only data dir is one warning here rather
        # than a "Logging error" trace on stderr for every record
        handler = RotatingFileHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8")
    except OSError as e:
        log.warning("no log file (%s): recent records are kept in View > Log only", e)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    return handler


def _install_hooks() -> None:
    if _State.hooks is None:
        _State.hooks = (sys.excepthook, threading.excepthook)
        sys.excepthook = _uncaught
        threading.excepthook = _uncaught_in_thread


def _uncaught(exc_type, exc, tb) -> None:
    """A bug in a slot: Qt carries on after the hook, so it is logged, then printed as before."""
    if not issubclass(exc_type, KeyboardInterrupt):
        log.critical("Uncaught exception", exc_info=(exc_type, exc, tb))
    (_State.hooks[0] if _State.hooks else sys.__excepthook__)(exc_type, exc, tb)


def _uncaught_in_thread(args) -> None:
    if not issubclass(args.exc_type, SystemExit):
        name = args.thread.name if args.thread is not None else "?"
        log.critical("Uncaught exception in thread %s", name, exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
    (_State.hooks[1] if _State.hooks else threading.__excepthook__)(args)
