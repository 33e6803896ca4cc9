"""Entry point of the `damer-explorer` command."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv[1:]
    if args[:1] == ["--scan"]:  # the library scanner's child process (app.child.scanner_command)
        from app.scanner import main as scan_main

        return scan_main(args[1:])
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    qt_app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    qt_app.setApplicationName("DAMER Explorer")
    qt_app.setOrganizationName("damer-explorer")
    window = MainWindow()
    window.show()
    if os.environ.get("DAMER_EXPLORER_SMOKE"):  # packaging checks: prove the window opens, then quit
        from PySide6.QtCore import QTimer

        def done() -> None:
            print(f"damer-explorer: window shown ({window.windowTitle()})", flush=True)
            window.close()
            qt_app.quit()

        QTimer.singleShot(int(os.environ["DAMER_EXPLORER_SMOKE"]), done)
    return qt_app.exec()


if __name__ == "__main__":
    sys.exit(main())
