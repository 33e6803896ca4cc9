"""Entry point of the `damer-explorer` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow

    qt_app = QApplication.instance() or QApplication(sys.argv if argv is None else argv)
    qt_app.setApplicationName("DAMER Explorer")
    qt_app.setOrganizationName("damer-explorer")
    window = MainWindow()
    window.show()
    return qt_app.exec()


if __name__ == "__main__":
    sys.exit(main())
