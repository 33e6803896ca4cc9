"""Entry point of the `damer-explorer` command: ``damer-explorer [FILE]`` opens the window (and
plays FILE); with DAMER Explorer already running on the same library, FILE goes to that window
instead (app.instance). DAMER_EXPLORER_SMOKE=ms is for packaging checks: quit ms after the window
is shown, or, with FILE, once its spectrograms (and, with an active model, its V-A trajectory) are
shown."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from app.instance import InstanceServer
    from app.windows.main_window import MainWindow

log = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv[1:]
    if args[:1] == ["--scan"]:  # the library scanner's child process (app.child.scanner_command)
        from app.library.scanner import main as scan_main

        return scan_main(args[1:])
    if args[:1] in (["-h"], ["--help"]):
        print("usage: damer-explorer [FILE]\n\nDAMER Explorer: open the music-emotion explorer (and play FILE).")
        return 0
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from app.instance import AlreadyRunning, InstanceLock, InstanceServer
    from app.library.db import LibraryLocked, default_db_path
    from damer_core.contract.paths import resources_dir

    qt_app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    assert isinstance(qt_app, QApplication)
    qt_app.setApplicationName("DAMER Explorer")
    qt_app.setOrganizationName("damer-explorer")
    qt_app.setDesktopFileName("org.damerexplorer.DamerExplorer")
    qt_app.setWindowIcon(QIcon(str(resources_dir() / "damer-explorer.png")))
    _start_log()
    smoke = os.environ.get("DAMER_EXPLORER_SMOKE")
    db_path = default_db_path()
    try:
        lock = InstanceLock(db_path)
        lock.acquire()
    except AlreadyRunning as e:
        return _defer_to_running(db_path, args[0] if args else "", e, smoke)
    except LibraryLocked as e:
        return _refuse(e, smoke)
    server = InstanceServer(db_path)
    if not server.listen():  # the app works without it; later starts just cannot hand files over
        print(f"damer-explorer: cannot listen for later starts ({server.error})", file=sys.stderr, flush=True)
        log.warning("cannot listen for later starts (%s)", server.error)
    # imported after the hand-over: a second start stays quick
    from app.library.recovery import damaged_files
    from app.settings import Settings
    from app.windows.main_window import MainWindow

    recoveries = damaged_files(db_path, Settings.path())  # moved aside: the window starts with new ones
    try:
        window = MainWindow(db_path)
    except LibraryLocked as e:
        server.close()
        lock.release()
        return _refuse(e, smoke)
    connect_instance(server, window)
    window.show()
    quit_on_signals(window)
    log.info("window shown")
    if recoveries:
        _report_recoveries(window, recoveries, smoke)
    if args:
        window.open_track(os.path.abspath(args[0]), autoplay=True)
    if smoke:
        _quit_when_shown(window, int(smoke), args[0] if args else "")
    code = qt_app.exec()
    server.close()
    lock.release()
    return code


def _report_recoveries(window: MainWindow, recoveries: list, smoke: str | None) -> None:
    """Say which files were damaged and what was done (a dialog; on stderr for packaging checks);
    rescan the damaged library's folders when the user asks."""
    from app.library.recovery import tell_user

    for r in recoveries:
        print(f"damer-explorer: {r.text}", file=sys.stderr, flush=True)
    folders = [] if smoke else tell_user(window, recoveries)
    for folder in folders:  # all in before the one scan that reads them
        window.db.add_folder(folder)
    if folders:
        window.rescan()


def _start_log() -> None:
    """The log file, and a first line a bug report needs: which versions, on what."""
    import platform

    from PySide6 import __version__ as pyside_version

    from app.log import setup_logging
    from app.paths import data_dir
    from damer_core import __version__

    setup_logging(data_dir())
    log.info("DAMER Explorer %s starting (Python %s, PySide6 %s, %s)", __version__, platform.python_version(),
             pyside_version, platform.platform())


def _defer_to_running(db_path: Path, file: str, refusal: Exception, smoke: str | None) -> int:
    """A second start with the same library: the running window plays FILE (or just comes to
    the front) and this process exits quietly; "already running" only when nobody answers."""
    from app.instance import hand_over

    if not hand_over(db_path, file or None):
        return _refuse(refusal, smoke)
    if file:
        print(f"damer-explorer: {os.path.abspath(file)} handed over to the DAMER Explorer already running "
              f"with {db_path}", flush=True)
    else:
        print(f"damer-explorer: DAMER Explorer is already running with {db_path}; brought its window to the front",
              flush=True)
    return 0


def _refuse(error: Exception, smoke: str | None) -> int:
    from PySide6.QtWidgets import QMessageBox

    print(f"damer-explorer: {error}", file=sys.stderr, flush=True)
    log.error("not started: %s", error)
    if not smoke:
        QMessageBox.critical(None, "DAMER Explorer", str(error))
    return 2


def quit_on_signals(window: MainWindow) -> None:
    """Ctrl-C in the terminal (SIGINT) and SIGTERM close the window as its close button does, and
    quit. Python runs a signal handler only between its own bytecodes, which Qt's event loop does
    not run while idle: the signal's wake-up byte goes to a socket the loop watches."""
    import signal
    import socket

    from PySide6.QtCore import QSocketNotifier, QTimer
    from PySide6.QtWidgets import QApplication

    ours, wakeup = socket.socketpair()
    for sock in (ours, wakeup):
        sock.setblocking(False)
    signal.set_wakeup_fd(wakeup.fileno())
    notifier = QSocketNotifier(ours.fileno(), QSocketNotifier.Type.Read, window)

    def drain() -> None:  # the handlers below have run by the time this Python code runs
        try:
            ours.recv(256)
        except OSError:
            pass

    def close_and_quit(signum: int, frame: object) -> None:
        log.info("%s: closing", signal.Signals(signum).name)
        QTimer.singleShot(0, lambda: (window.close(), QApplication.quit()))

    notifier.activated.connect(drain)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close_and_quit)
    _KEPT.extend([ours, wakeup, notifier])


_KEPT: list = []  # the wake-up sockets and their notifier live as long as the app


def connect_instance(server: InstanceServer, window: MainWindow) -> None:
    """A later start's FILE opens and plays here, and the window comes to the front."""
    server.file_received.connect(lambda path: window.open_track(path, autoplay=True))
    server.activate_requested.connect(lambda: bring_to_front(window))


def bring_to_front(window: MainWindow) -> None:
    from PySide6.QtCore import Qt

    window.setWindowState((window.windowState() & ~Qt.WindowState.WindowMinimized) | Qt.WindowState.WindowActive)
    window.show()
    window.raise_()
    window.activateWindow()


def _quit_when_shown(window, delay_ms: int, track: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    waiting = {"views", "trajectory"} if track and window.state.model.path else {"views"} if track else set()
    failures: list[str] = []

    def done() -> None:
        print(f"damer-explorer: window shown ({window.windowTitle()})", flush=True)
        window.close()
        QApplication.exit(1 if failures else 0)

    def shown(what: str, path: str, error: str) -> None:
        if what not in waiting:
            return
        print(f"damer-explorer: {what} of {os.path.basename(path)}: {error or 'shown'}", flush=True)
        if error:
            failures.append(error)
        waiting.discard(what)
        if not waiting:
            QTimer.singleShot(delay_ms, done)

    def give_up() -> None:
        if waiting:
            failures.append("timed out")
            print(f"damer-explorer: timed out waiting for the {' and '.join(sorted(waiting))} of {track}", flush=True)
            done()

    window.views_shown.connect(lambda p, e: shown("views", p, e))
    window.trajectory_shown.connect(lambda p, e: shown("trajectory", p, e))
    if not waiting:
        QTimer.singleShot(delay_ms, done)
    QTimer.singleShot(int(os.environ.get("DAMER_EXPLORER_SMOKE_TIMEOUT", "300")) * 1000, give_up)


if __name__ == "__main__":
    sys.exit(main())
