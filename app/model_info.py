"""What each bundle says about itself (damer_core.contract.model_card.ModelDescription), read by a
`damer-core info --jsonl` child so torch stays out of the GUI, and cached by (path, modification
time, size) for every window that asks: the Models dialog, About and the training panel."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.child import CoreProcess
from damer_core.contract import events
from damer_core.contract.model_card import ModelDescription

FileKey = tuple[str, int, int]
# (path, mtime_ns, size) -> the child's `info` or `bundle_error` line: shared, so reopening the
# dialog or refreshing after an import reads only the new bundles.
READ: dict[FileKey, events.Info | events.BundleError] = {}


def file_key(p: Path | str) -> FileKey | None:
    try:
        st = Path(p).stat()
    except OSError:
        return None
    return str(p), st.st_mtime_ns, st.st_size


def description_of(ev: events.Info) -> ModelDescription | None:
    """The description in an `info` line (None from a damer-core too old to send one)."""
    try:
        return ModelDescription.from_dict(ev.description) if ev.description else None
    except (KeyError, TypeError, ValueError):
        return None


def cached_description(path: str) -> ModelDescription | None:
    key = file_key(path)
    ev = READ.get(key) if key is not None else None
    return description_of(ev) if isinstance(ev, events.Info) else None


class InfoChild(QObject):
    """One `damer-core info --jsonl` child at a time, about one bundle; a bundle asked for while
    another is read waits, the latest asked winning. A subclass says what is known without a
    child (``_known``), what an answer means (``_answer``) and what no answer means (``_unanswered``)."""

    FLAGS: tuple[str, ...] = ()  # more of `info`'s flags

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.proc = CoreProcess(self, threads=1)
        self.proc.event_read.connect(self._on_event)
        self.proc.finished.connect(self._finished)
        self.path = ""  # being read
        self.queued = ""  # asked for while another was read: the latest wins

    def ask(self, path: str) -> None:
        if self._known(path):
            return
        if self.proc.running:
            self.queued = path
        else:
            self.path = path
            self.proc.start(["info", "--jsonl", *self.FLAGS, path])

    def _on_event(self, ev: events.Event) -> None:
        if not isinstance(ev, (events.Info, events.BundleError)) or ev.path != self.path:
            return
        self.path = ""  # answered, before whatever the answer sets off (a question's own event loop, the child's exit)
        self._answer(ev)

    def _finished(self, code: int, error: str) -> None:
        if self.path:  # never answered: the child crashed or was killed
            self._unanswered(self.path, code, error)
            self.path = ""
        if self.queued:
            path, self.queued = self.queued, ""
            self.ask(path)

    def _known(self, path: str) -> bool:
        return False

    def _answer(self, ev: events.Info | events.BundleError) -> None:
        raise NotImplementedError

    def _unanswered(self, path: str, code: int, error: str) -> None:
        raise NotImplementedError


class ModelDescriber(InfoChild):
    """Reads one bundle's description at a time, asynchronously; ``described(path, description or
    None, why)`` once known (at once when cached)."""

    described = Signal(str, object, str)

    def describe(self, path: str) -> None:
        self.ask(path)

    def _known(self, path: str) -> bool:
        if not path:
            self.described.emit("", None, "no model")
            return True
        known = cached_description(path)
        if known is not None:
            self.described.emit(path, known, "")
        return known is not None

    def _answer(self, ev: events.Info | events.BundleError) -> None:
        key = file_key(ev.path)
        if key is not None:
            READ[key] = ev
        if isinstance(ev, events.Info):
            self.described.emit(ev.path, description_of(ev), "")
        else:
            self.described.emit(ev.path, None, ev.message)

    def _unanswered(self, path: str, code: int, error: str) -> None:
        self.described.emit(path, None, error or f"damer-core exited with code {code}")


class ModelChecker(InfoChild):
    """Tries a bundle before it is used, in a `damer-core info --jsonl --check` child (its fields,
    then predictions on generated sounds: damer_core.inference.vetting), one at a time, the latest
    asked winning. ``checked(path, why)``: ``why`` is "" when it passed. A bundle that passed is
    remembered by (path, modification time, size)."""

    FLAGS = ("--check",)
    checked = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.passed: dict[FileKey, ModelDescription | None] = {}  # and what each is

    def check(self, path: str) -> None:
        self.ask(path)

    def description(self, path: str) -> ModelDescription | None:
        """What a bundle that passed is (None: not known)."""
        key = file_key(path)
        return self.passed.get(key) if key is not None else None

    def _known(self, path: str) -> bool:
        key = file_key(path)
        if key is not None and key in self.passed:
            self.checked.emit(path, "")
            return True
        return False

    def _answer(self, ev: events.Info | events.BundleError) -> None:
        key = file_key(ev.path)
        if isinstance(ev, events.Info) and key is not None:
            self.passed[key] = description_of(ev)
        self.checked.emit(ev.path, "" if isinstance(ev, events.Info) else ev.message)

    def _unanswered(self, path: str, code: int, error: str) -> None:
        self.checked.emit(path, f"{Path(path).name}: could not be tried ({error or f'exit status {code}'})")
