"""Background work for the GUI: one small helper. ``Worker(fn)`` runs ``fn(worker)`` in a daemon
thread; ``fn`` calls ``worker.report(done, total, text)`` and checks ``worker.cancelled``. Results,
errors and progress come back as Qt signals, delivered in the GUI thread (queued connections)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from damer_core.contract.errors import AudioError

log = logging.getLogger(__name__)
EXPECTED = (AudioError, OSError, ValueError)  # bad input: the one-line message is the whole story


class Worker(QObject):
    progress = Signal(int, int, str)
    result = Signal(object)
    error = Signal(str)
    finished = Signal()

    _alive: set[Worker] = set()  # keeps running workers referenced until they finish

    def __init__(self, fn: Callable[[Worker], Any], name: str = "worker", parent: QObject | None = None):
        # With a parent, the worker dies with its owner: results that arrive after a window or a
        # player is gone are never delivered to it.
        super().__init__(parent)
        self._fn = fn
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Worker:
        Worker._alive.add(self)
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def report(self, done: int, total: int, text: str = "") -> None:
        self.progress.emit(done, total, text)

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            try:
                value = self._fn(self)
            except Exception as e:  # noqa: BLE001 - reported to the GUI, never kills the app
                detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                if not isinstance(e, EXPECTED):
                    log.exception("%s failed", self._thread.name)  # a bug, not bad input: keep the trace
                self.error.emit(detail)
            else:
                self.result.emit(value)
            self.finished.emit()
        except RuntimeError:
            pass  # the receiver (a closed window) is gone: nobody is left to tell
        finally:
            Worker._alive.discard(self)
