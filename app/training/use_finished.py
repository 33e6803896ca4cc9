"""The training panel's "Use this model" button: it offers the bundle of the run that finished,
asks first where that run warned or its held-out check is thin, and says "In use" once the model
in use became that bundle's copy, until another run finishes or another model is chosen."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QWidget

from app.model_in_use import ModelInUse
from app.paths import bundle_name
from app.state import AppState
from app.training.confirm import confirm_use
from app.training.values import use_question
from app.widgets.buttons import on_click


class UseFinishedModel(QObject):
    activate_requested = Signal(object)  # the finished bundle the user wants active

    def __init__(self, state: AppState, parent: QWidget):
        super().__init__(parent)
        self.owner = parent  # the question's dialog sits over it
        self.state = state
        self.button = QPushButton("Use this model")
        self.button.setToolTip("Make the finished model the active one; the library is re-analysed")
        self.button.setEnabled(False)
        on_click(self.button, self._use)
        self.in_use = QLabel()
        self.in_use.setWordWrap(True)
        self.finished_bundle = ""
        self.finished_warnings: list[str] = []  # the finished run's, which "Use this model" shows
        self.finished_doubt = ""  # why its held-out check cannot show it is better, which "Use this model" asks about
        self.used_bundle = ""  # the finished bundle "Use this model" activated
        self.used_model = ""  # the model in use it became (its copy in the models folder)
        self.asked_to_use = ""  # the finished bundle "Use this model" asked for, until the state announces it
        state.model_changed.connect(self._model_changed)

    def offer(self, bundle: str, warnings: list[str], doubt: str) -> None:
        """A run finished with this bundle: the button offers it."""
        self.finished_bundle, self.finished_warnings, self.finished_doubt = bundle, list(warnings), doubt
        self._update()

    def _use(self) -> None:
        if not self.finished_bundle or not self._use_despite_warnings():
            return
        self.asked_to_use = self.finished_bundle
        self.activate_requested.emit(self.finished_bundle)  # imported into the models folder, then chosen

    def _model_changed(self, now: ModelInUse, before: ModelInUse) -> None:
        """The model in use changed: the finished run's, when "Use this model" asked for it, or
        another one chosen elsewhere (the models dialog)."""
        if self.asked_to_use:
            self.used_bundle, self.used_model = self.asked_to_use, now.path
            self.asked_to_use = ""
            name = Path(now.path).stem if now.path and now.key != before.key else bundle_name(self.used_bundle)
            self.in_use.setText(f"Now using {name} for predictions; the library is re-analysed with it.")
        self._update()

    def _use_despite_warnings(self) -> bool:
        """A run that warned (a one-sided or tiny part) or whose held-out check is thin: asked first."""
        return confirm_use(self.owner, use_question(self.finished_warnings, self.finished_doubt))

    def _update(self) -> None:
        if self.used_model and self.state.model.path and self.state.model.path != self.used_model:
            self.used_bundle = self.used_model = ""
            self.in_use.setText("")
        in_use = bool(self.finished_bundle) and self.finished_bundle == self.used_bundle
        self.button.setEnabled(bool(self.finished_bundle) and not in_use)
        asks = self.finished_warnings or self.finished_doubt
        self.button.setText("In use" if in_use else "Use this model..." if asks else "Use this model")
