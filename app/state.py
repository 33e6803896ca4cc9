"""One owner of what the whole window shares: the track in the player and the model in use.
The widgets, the analysis queue, the table and the other windows subscribe to its signals instead
of asking the settings or each other (napari's model / view split)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from app.model_in_use import ModelInUse, stored_choice
from app.model_info import ModelDescriber
from app.settings import Settings
from damer_core.contract.model_card import ModelDescription

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CurrentTrack:
    path: str = ""  # "" before the first
    track_id: int = -1  # its library id; -1: a file outside the library
    title: str = ""  # as the window title shows it


class AppState(QObject):
    track_changed = Signal(object)  # CurrentTrack
    model_changed = Signal(object, object)  # ModelInUse now, the one before
    model_described = Signal(object)  # the model in use's ModelDescription (None: none, or unreadable)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.track = CurrentTrack()
        self.model = ModelInUse.of(settings.active_model)
        self.previous_key = ""  # the model in use before a change: the table shows its values until replaced
        self.description: ModelDescription | None = None  # what the model in use is, once its child has read it
        self.description_problem = ""  # why it could not be read
        self._describer: ModelDescriber | None = None

    def open_track(self, path: str, track_id: int, title: str) -> None:
        self.track = CurrentTrack(path, track_id, title)
        self.track_changed.emit(self.track)

    def choose_model(self, path: str) -> None:
        """The user's choice ("" = the built-in model), remembered; announced even when it is the
        model already in use (the rest of the library is then analysed with it)."""
        log.info("active model: %s", path or "the built-in model")
        self.settings.active_model = stored_choice(path)
        self.settings.save()
        before, self.model = self.model, ModelInUse.of(self.settings.active_model)
        if before.key != self.model.key:
            self.previous_key = before.key
            self.description, self.description_problem = None, ""
        self.model_changed.emit(self.model, before)
        if before.key != self.model.key and self._describer is not None:  # someone has asked what it is
            self.describe_model()

    def describe_model(self) -> None:
        """Read what the model in use is (its kind, figures, the settings its fine-tune takes) in a
        child; ``model_described`` announces it."""
        if self._describer is None:
            self._describer = ModelDescriber(self)
            self._describer.described.connect(self._described)
        self._describer.describe(self.model.path)

    def _described(self, path: str, description: ModelDescription | None, why: str) -> None:
        if path != self.model.path:  # an answer about a model no longer in use
            return
        self.description, self.description_problem = description, why
        self.model_described.emit(description)
