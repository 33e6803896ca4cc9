"""One owner of what the whole window shares: the track in the player and the model in use.
The widgets, the analysis queue, the table and the other windows subscribe to its signals instead
of asking the settings or each other (napari's model / view split)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, QTimer, Signal

from app.model_in_use import ModelInUse, stored_choice
from app.model_info import ModelChecker, ModelDescriber
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
    model_refused = Signal(str, str)  # a model the user picked that failed its check: path, why (one line)
    model_checking = Signal(str)  # a model the user picked is being tried

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.track = CurrentTrack()
        self.model = ModelInUse.of(settings.active_model)
        self.previous_key = ""  # the model in use before a change: the table shows its values until replaced
        self.description: ModelDescription | None = None  # what the model in use is, once its child has read it
        self.description_problem = ""  # why it could not be read
        self._describer: ModelDescriber | None = None
        self._checker: ModelChecker | None = None
        self._bring_in: dict[str, Callable[[str], str] | None] = {}  # models being tried -> how each comes in
        self._ask: dict[str, Callable[[ModelDescription | None], bool] | None] = {}  # -> asked once it passed

    def open_track(self, path: str, track_id: int, title: str) -> None:
        self.track = CurrentTrack(path, track_id, title)
        self.track_changed.emit(self.track)

    def try_model(self, path: str, bring_in: Callable[[str], str] | None = None,
                  ask: Callable[[ModelDescription | None], bool] | None = None) -> None:
        """A model the user picked ("" = the built-in model) becomes the model in use once it has
        passed its check in a child (ModelChecker) and ``ask``, given what it is, has not said no
        (the user keeps the model in use); ``bring_in`` then gives the path to use (a copy in the
        models folder) or raises ValueError with one line. On failure the model in use stays and
        ``model_refused`` says why. The built-in model was checked when it was built."""
        from damer_core.contract.builtin import is_builtin

        if not path or is_builtin(path):
            self.choose_model(path)
            return
        if self._checker is None:
            self._checker = ModelChecker(self)
            self._checker.checked.connect(self._checked)
        self._bring_in[path] = bring_in
        self._ask[path] = ask
        self.model_checking.emit(path)
        self._checker.check(path)

    def _checked(self, path: str, why: str) -> None:
        bring_in, ask = self._bring_in.pop(path, None), self._ask.pop(path, None)
        if not why and ask is not None and self._checker is not None:
            description = self._checker.description(path)
            # asked once the checker's signal has returned: a question's own event loop must not
            # run inside it (the child's exit, handled there, looked like a model never tried)
            QTimer.singleShot(0, lambda: self._use_if_wanted(path, bring_in, ask(description)))
            return
        self._use(path, why, bring_in)

    def _use_if_wanted(self, path: str, bring_in: Callable[[str], str] | None, wanted: bool) -> None:
        if wanted:
            self._use(path, "", bring_in)
        else:
            log.info("model not used: %s (the user kept the model in use)", path)

    def _use(self, path: str, why: str, bring_in: Callable[[str], str] | None) -> None:
        if not why and bring_in is not None:
            try:
                path = bring_in(path)
            except ValueError as e:
                why = str(e)
        if why:
            log.warning("model not used: %s", why)
            self.model_refused.emit(path, why)
        else:
            self.choose_model(path)

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
