"""Entry point of the `damer-explorer` command: ``damer-explorer [FILE]`` opens the window (and
plays FILE). DAMER_EXPLORER_SMOKE=ms is for packaging checks: quit ms after the window is shown,
or, with FILE, once its spectrograms (and, with an active model, its V-A trajectory) are shown."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv[1:]
    if args[:1] == ["--scan"]:  # the library scanner's child process (app.child.scanner_command)
        from app.scanner import main as scan_main

        return scan_main(args[1:])
    if args[:1] in (["-h"], ["--help"]):
        print("usage: damer-explorer [FILE]\n\nDAMER Explorer: open the music-emotion explorer (and play FILE).")
        return 0
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.instance import InstanceLock
    from app.library_db import LibraryLocked, default_db_path
    from app.main_window import MainWindow
    from damer_core.emotions import resources_dir

    qt_app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    qt_app.setApplicationName("DAMER Explorer")
    qt_app.setOrganizationName("damer-explorer")
    qt_app.setDesktopFileName("org.damerexplorer.DamerExplorer")
    qt_app.setWindowIcon(QIcon(str(resources_dir() / "damer-explorer.png")))
    smoke = os.environ.get("DAMER_EXPLORER_SMOKE")
    lock = InstanceLock(default_db_path())
    try:
        lock.acquire()
        window = MainWindow(default_db_path())
    except LibraryLocked as e:
        lock.release()
        print(f"damer-explorer: {e}", file=sys.stderr, flush=True)
        if not smoke:
            QMessageBox.critical(None, "DAMER Explorer", str(e))
        return 2
    window.show()
    if args:
        window.open_track(os.path.abspath(args[0]), autoplay=True)
    if smoke:
        _quit_when_shown(window, int(smoke), args[0] if args else "")
    code = qt_app.exec()
    lock.release()
    return code


def _quit_when_shown(window, delay_ms: int, track: str) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    waiting = {"views", "trajectory"} if track and window.usable_model() else {"views"} if track else set()
    failures: list[str] = []

    def done() -> None:
        print(f"damer-explorer: window shown ({window.windowTitle()})", flush=True)
        window.close()
        QApplication.instance().exit(1 if failures else 0)

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
