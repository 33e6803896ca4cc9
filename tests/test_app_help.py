"""app/windows/help.py: About names the model in use as it is, from its own description (read by a
real `damer-core info` child), never a model it is not."""

from pathlib import Path

from app_helpers import app_state

from app.windows.help import about_window

BUILTIN = Path(__file__).resolve().parent.parent / "resources" / "models" / "damer-4q.pt"


def test_about_names_the_built_in_model_truthfully(qtbot, monkeypatch):
    monkeypatch.delenv("DAMER_BUILTIN_MODEL")  # the tests switch it off; here it is the model in use
    monkeypatch.setattr("app.model_info.READ", {})  # not read yet in this process, whatever ran before
    state = app_state(str(BUILTIN))
    window = about_window(state)
    qtbot.addWidget(window)
    assert "reading what it is" in window.text.toPlainText()  # at once, without waiting for the child
    qtbot.waitUntil(lambda: "A musicnn embedding head (" in window.text.toPlainText(), timeout=60_000)
    text = window.text.toPlainText()
    assert "4Q emotion model (built-in)" in text and "no DAMER network" in text and "learned from 4Q" in text
    assert "Held-out check: macro-F1 0.73" in text and "predicted by DAMER" not in text
    assert "scored before its refit on all 720 tracks" in text  # the shipped weights learned from the test part too
    assert "groups musicnn" in text and "Pons and X. Serra 2019" in text  # its ears, credited


def test_about_says_why_a_model_cannot_be_described(qtbot, tmp_path):
    state = app_state(str(tmp_path / "broken.pt"))  # a placeholder file, not a bundle
    window = about_window(state)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: "cannot be described" in window.text.toPlainText(), timeout=60_000)
    assert "broken.pt" in window.text.toPlainText()
