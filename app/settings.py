"""Every user setting declared once, with its type and default, persisted as JSON in the
platformdirs config directory. Unknown or mistyped values in the file fall back to defaults."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from app.paths import config_dir
from damer_core.contract.fileutil import atomic_write

log = logging.getLogger(__name__)


@dataclass
class Settings:
    window_geometry: str = ""  # base64 of QWidget.saveGeometry()
    window_state: str = ""
    splitters: dict[str, str] = field(default_factory=dict)  # name -> base64 of QSplitter.saveState()
    last_folder: str = ""
    volume: float = 0.8
    output_device: str = ""  # sounddevice name; "" = system default
    active_model: str = ""  # path of the active bundle
    curator: str = ""
    show_trajectory: bool = True
    whole_track_values: bool = False  # the table shows each trajectory's mean instead of the segment's values
    spreadsheet_safe_csv: bool = True  # CSV exports: a leading apostrophe before a cell a spreadsheet would run
    cache_limit_mb: int = 1024  # the feature cache's size limit (File > Feature cache...)

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def load(cls) -> Settings:
        s = cls()
        try:
            data = json.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError):
            return s
        if not isinstance(data, dict):
            return s
        for f in fields(cls):
            value, default = data.get(f.name), getattr(s, f.name)
            if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if value is not None and type(value) is type(default) and _usable(f.name, value):
                setattr(s, f.name, value)
        return s

    def save(self) -> bool:
        """Write the settings; False when they cannot be (a read-only config folder, a full
        disk). The app goes on: the problem is logged, and ``when_unsaved`` is told, once per problem."""
        try:
            with atomic_write(self.path()) as f:
                f.write(json.dumps(asdict(self), indent=1).encode())
        except OSError as e:
            problem = (f"{self.path()}: the settings cannot be saved ({e.strerror or e}); the model in use and "
                       "other choices will not be kept after this session")
            if problem != _Unsaved.last:
                _Unsaved.last = problem
                log.warning("%s", problem)
                if _Unsaved.tell is not None:
                    _Unsaved.tell(problem)
            return False
        _Unsaved.last = ""
        return True

    @staticmethod
    def when_unsaved(tell: Callable[[str], None] | None) -> None:
        """``tell(problem)`` once for each new reason the settings could not be saved."""
        _Unsaved.tell = tell


class _Unsaved:
    last = ""  # the problem already told
    tell: Callable[[str], None] | None = None


RANGES = {"volume": (0.0, 1.0), "cache_limit_mb": (0, 1 << 24)}


def _usable(name: str, value: object) -> bool:
    """A value of the right type that the app can also use: a finite number in range, text without
    NUL, a dict of text (the splitters); anything else falls back to the default, as a wrong type does."""
    if isinstance(value, float) and not math.isfinite(value):
        return False
    if name in RANGES and not (isinstance(value, (int, float)) and RANGES[name][0] <= value <= RANGES[name][1]):
        return False
    if isinstance(value, str):
        return "\0" not in value and len(value) <= 1 << 16
    if isinstance(value, dict):
        return all(isinstance(k, str) and isinstance(v, str) and len(v) <= 1 << 16 for k, v in value.items())
    return True
