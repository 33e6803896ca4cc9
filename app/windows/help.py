"""The Help menu's windows: keyboard shortcuts, About (version, model in use, where the files
are) and the user guide (resources/USER_GUIDE.md, written for people using the app)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.paths import config_dir, data_dir
from app.state import AppState
from damer_core import __version__
from damer_core.contract.model_card import ModelDescription
from damer_core.contract.paths import resources_dir

GUIDE = "USER_GUIDE.md"  # in resources/: a guide for people using the app, tasks first (the README is for developers)


def guide_path() -> Path | None:
    path = resources_dir() / GUIDE
    return path if path.is_file() else None


def shortcuts_markdown(shortcuts: list[tuple[str, str]]) -> str:
    rows = "\n".join(f"| {key} | {what} |" for key, what in shortcuts)
    return f"| Key | Does |\n|---|---|\n{rows}\n"


def about_markdown(model: str, description: ModelDescription | None, problem: str = "") -> str:
    """About: the version, the model in use as it is (its kind and what it learned from, from its
    own description; "reading..." until the child has read it) and where the files are."""
    from damer_core.contract.builtin import builtin_name
    from damer_core.facade import default_cache_dir

    name = (builtin_name(model) or Path(model).name) if model else "none"
    if not model:
        what = ""
    elif description is not None:
        figure = description.held_out_text()[0]
        what = (f"  \nA {description.title}, learned from {description.data}"
                + (f"  \nHeld-out check: {figure}" if figure else ""))
    else:
        what = f"  \n(cannot be described: {problem})" if problem else "  \n(reading what it is...)"
    return (f"# DAMER Explorer {__version__}\n\n"
            "See and label the emotion of music: valence and arousal predicted by the model in use "
            "(DAMER networks, a descriptor or embedding head, or a stack), labelled on the circle by curators.\n\n"
            f"**Model in use:** {name}{what}  \n`{model or 'none'}`\n\n"
            f"**Library and models:** `{data_dir()}`  \n"
            f"**Settings:** `{config_dir()}`  \n"
            f"**Feature cache:** `{default_cache_dir()}`\n\n"
            "Code: MIT licence. Built-in models: trained on the 4Q audio emotion data set "
            "(Panda, Malheiro & Paiva 2018), for research use; both listen through musicnn's MSD tagger "
            "(J. Pons and X. Serra 2019, Music Technology Group, Universitat Pompeu Fabra; ISC licence, "
            "resources/models/musicnn/); the second is a DAMER network (Model > Models...). "
            "See docs/MODEL_CARD.md.\n")


class TextWindow(QDialog):
    """Markdown in a read-only browser with a Close button; links open in the system browser."""

    def __init__(self, title: str, markdown: str, parent: QWidget | None = None, base: Path | None = None,
                 source: Callable[[], str] | None = None):
        super().__init__(parent)
        self.source = source  # where refresh() gets the text again
        self.setWindowTitle(title)
        lay = QVBoxLayout(self)
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        if base is not None:
            self.text.setSearchPaths([str(base)])
            self.text.document().setBaseUrl(QUrl.fromLocalFile(str(base) + "/"))
        self.text.setMarkdown(markdown)
        lay.addWidget(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)

    def refresh(self, *_: object) -> None:
        if self.source is not None:
            self.text.setMarkdown(self.source())


def guide_window(parent: QWidget | None = None) -> TextWindow:
    guide = guide_path()
    if guide is None:
        text = f"The user guide ({GUIDE}) is not installed with this copy of DAMER Explorer."
        return TextWindow("User guide", text, parent)
    window = TextWindow("User guide", guide.read_text(encoding="utf-8"), parent, guide.parent)
    window.resize(820, 760)
    return window


def shortcuts_window(shortcuts: list[tuple[str, str]], parent: QWidget | None = None) -> TextWindow:
    window = TextWindow("Keyboard shortcuts", shortcuts_markdown(shortcuts), parent)
    window.resize(460, 420)
    return window


def about_window(state: AppState, parent: QWidget | None = None) -> TextWindow:
    """About, naming the model in use as it is; it fills in once the model's description is read."""
    def text() -> str:
        return about_markdown(state.model.path, state.description, state.description_problem)

    window = TextWindow("About DAMER Explorer", text(), parent, source=text)
    state.model_described.connect(window.refresh)
    if state.description is None and state.model.path:
        state.describe_model()
    window.resize(620, 420)
    return window
