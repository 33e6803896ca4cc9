"""Running `damer-core` as a child process (QProcess) and reading its JSON-lines events, the way
Frescobaldi runs long jobs: output streamed, abort by terminate, a crash reported, never fatal."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from damer_core.contract import events


def scanner_command() -> list[str]:
    """The library scanner as a child process (see app.library.scanner.main)."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable)), "--scan"]
    return [sys.executable, "-m", "app.library.scanner"]


def core_command() -> list[str]:
    """How to start `damer-core` from this app: the frozen build's sibling executable, or this
    Python with ``-m damer_core.cli`` (works in a venv and a source checkout alike)."""
    if getattr(sys, "frozen", False):
        return [str(Path(sys.executable).with_name("damer-core"))]
    return [sys.executable, "-m", "damer_core.cli"]


class CoreProcess(QObject):
    event_read = Signal(object)  # one line, parsed once into a damer_core.contract.events.Event
    stderr_line = Signal(str)
    finished = Signal(int, str)  # exit code (-1: crashed or killed), last error text

    def __init__(self, parent=None, threads: int | None = None):
        super().__init__(parent)
        self.proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        n = threads or max(1, (os.cpu_count() or 2) - 1)  # leave a core for the GUI and the audio
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            env.insert(var, str(n))
        env.insert("PYTHONUNBUFFERED", "1")
        self.proc.setProcessEnvironment(env)
        self.proc.readyReadStandardOutput.connect(self._read_stdout)
        self.proc.readyReadStandardError.connect(self._read_stderr)
        self.proc.finished.connect(self._finished)
        self.proc.errorOccurred.connect(self._error)
        self._out = b""
        self._err = b""
        self.last_error = ""
        self.cancelled = False

    def start(self, args: list[str], command: list[str] | None = None) -> None:
        """Run ``damer-core args...`` (or ``command + args``)."""
        cmd = command or core_command()
        self.cancelled = False
        self.last_error = ""
        self.proc.start(cmd[0], cmd[1:] + [str(a) for a in args])

    @property
    def running(self) -> bool:
        return self.proc.state() != QProcess.ProcessState.NotRunning

    def cancel(self, grace_ms: int = 5000) -> None:
        """SIGTERM (damer-core unwinds; its checkpoints are atomic), SIGKILL after ``grace_ms``."""
        if self.running:
            self.cancelled = True
            self.proc.terminate()
            if not self.proc.waitForFinished(grace_ms):
                self.proc.kill()

    def _read_stdout(self) -> None:
        self._out += self.proc.readAllStandardOutput().data()
        *lines, self._out = self._out.split(b"\n")
        for line in lines:
            line = line.strip()
            if not line.startswith(b"{"):
                continue  # a library printing to stdout: not ours
            try:
                ev = events.parse(line)
            except events.EventError as e:
                self.last_error = str(e)
                self.stderr_line.emit(f"damer-core: {e}")
                continue
            if isinstance(ev, events.Error):
                self.last_error = ev.message
            self.event_read.emit(ev)

    def _read_stderr(self) -> None:
        self._err += self.proc.readAllStandardError().data()
        *lines, self._err = self._err.split(b"\n")
        for line in lines:
            text = line.decode(errors="replace").rstrip()
            if text:
                if "error" in text.lower() or text.startswith("Traceback") or "Error:" in text:
                    self.last_error = text
                self.stderr_line.emit(text)

    def _finished(self, code: int, status) -> None:
        self._read_stdout()
        crashed = status == QProcess.ExitStatus.CrashExit
        self.finished.emit(-1 if crashed else code, self.last_error)

    def _error(self, err) -> None:
        if err == QProcess.ProcessError.FailedToStart:
            self.last_error = f"could not start damer-core ({self.proc.errorString()})"
            self.finished.emit(-1, self.last_error)
