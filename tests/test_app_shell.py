from app.main_window import MainWindow


def test_main_window_opens(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    assert w.windowTitle() == "DAMER Explorer"
    assert w.grab().width() > 0
