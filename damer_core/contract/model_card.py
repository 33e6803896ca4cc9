"""What a model says about itself (damer_core.models' ``describe()``), for `info`, Help > About,
the Models dialog and the training panel: its kind, what it predicts, its figures on tracks it
never saw, and which fine-tuning settings apply to it. Plain values both ways (it crosses from
the `info --jsonl` child to the app inside an ``info`` event)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

PART_WORDS = {"test": "test", "val": "validation", "held-out": "held-out", "cross-validation": "cross-validation"}


def _number(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Figure:
    """One metric on tracks the model never saw: value, 95 % interval where known, the number of
    tracks and the part they came from ("test", "val", "held-out", "cross-validation")."""

    value: float | None
    low: float | None = None
    high: float | None = None
    n: int = 0
    part: str = "test"

    @classmethod
    def of(cls, value: Any, interval: Any = None, n: Any = 0, part: str = "test") -> Figure:
        lo, hi = (list(interval) + [None, None])[:2] if isinstance(interval, (list, tuple)) else (None, None)
        return cls(_number(value), _number(lo), _number(hi), int(_number(n) or 0), part)

    def text(self, digits: int = 3) -> str:
        """e.g. "0.859 [0.81, 0.91] (216 tracks)", "0.71 (validation, 40 tracks)", "n/a" for a one-class part."""
        out = "n/a" if self.value is None else f"{self.value:.{digits}f}"
        if self.low is not None and self.high is not None:
            out += f" [{self.low:.2f}, {self.high:.2f}]"
        where = "" if self.part == "test" else PART_WORDS.get(self.part, self.part)
        said = ", ".join(x for x in (where, f"{self.n} tracks" if self.n else "") if x)
        return out + (f" ({said})" if said else "")


@dataclass(frozen=True)
class FineTuneCheck:
    """A fine-tune's quadrant macro-F1 on labels held out from it, before and after."""

    before: Figure
    after: Figure

    @property
    def n(self) -> int:
        return self.after.n


@dataclass(frozen=True)
class ModelDescription:
    kind: str  # damer_core.models.header.KINDS
    kind_name: str  # in words: "DAMER network", "descriptor head", ...
    summary: str  # what this one is within its kind ("joint quadrant head, 42 musical descriptors in the fusion layer")
    data: str  # the data it learned from
    n_tracks: int | None
    created: str  # ISO time the bundle was written
    feature_preset: str
    dimensions: tuple[str, ...]  # what it predicts: arousal, valence
    auc: dict[str, Figure] = field(default_factory=dict)  # per predicted dimension
    macro_f1: Figure | None = None  # the 4 quadrants, where both dimensions are predicted
    fine_tune: FineTuneCheck | None = None
    settings: tuple[str, ...] = ()  # the training settings that apply when fine-tuning it
    members: tuple[str, ...] = ()  # a stack's members, by kind name

    @property
    def title(self) -> str:
        """Its kind and what this one is, in words: "descriptor head (kernel, groups ...; no DAMER network)"."""
        return f"{self.kind_name} ({self.summary})" if self.summary else self.kind_name

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelDescription:
        def fig(x: Any) -> Figure | None:
            return Figure(**x) if isinstance(x, dict) else None

        tune = d.get("fine_tune")
        check = None
        if isinstance(tune, dict) and fig(tune.get("before")) and fig(tune.get("after")):
            check = FineTuneCheck(Figure(**tune["before"]), Figure(**tune["after"]))
        return cls(kind=str(d["kind"]), kind_name=str(d["kind_name"]), summary=str(d.get("summary", "")),
                   data=str(d.get("data", "")), n_tracks=d.get("n_tracks"), created=str(d.get("created", "")),
                   feature_preset=str(d.get("feature_preset", "")), dimensions=tuple(d.get("dimensions", ())),
                   auc={k: Figure(**v) for k, v in (d.get("auc") or {}).items()}, macro_f1=fig(d.get("macro_f1")),
                   fine_tune=check, settings=tuple(d.get("settings", ())), members=tuple(d.get("members", ())))

    def auc_text(self, dim: str) -> str:
        """The dimension's AUC in words: its figure, "not predicted", or "" where none is recorded."""
        if dim not in self.dimensions:
            return "not predicted"
        f = self.auc.get(dim)
        return f.text() if f else ""

    def held_out_text(self) -> tuple[str, int]:
        """(text, tracks): the quadrant macro-F1 on tracks it never saw; for a fine-tune, before and
        after on the labels held out from it, with a verdict that the interval supports."""
        if self.fine_tune is not None:
            b, a = self.fine_tune.before, self.fine_tune.after
            verdict = fine_tune_verdict(self.fine_tune)
            return (f"macro-F1 {_v(b.value)} before, {a.text(2).split(' (')[0]} after, on {a.n} held-out labels: "
                    f"{verdict}"), a.n
        if self.macro_f1 is not None:
            f = self.macro_f1
            where = "test tracks" if f.part == "test" else f"{PART_WORDS.get(f.part, f.part)} tracks"
            return f"macro-F1 {f.text(2).split(' (')[0]} on {f.n} {where}", f.n
        return "", 0


FEW_TRACKS = 30  # fewer held-out tracks than this cannot show that one model is better than another


def fine_tune_verdict(check: FineTuneCheck) -> str:
    """In words, without contradicting itself: too few to tell, better, worse, or no clear change."""
    b, a = check.before.value, check.after
    if b is None or a.value is None:
        return "no figure"
    if a.n < FEW_TRACKS:
        return "too few held-out labels to tell"
    if a.low is not None and a.high is not None:
        if a.low > b:
            return "better"
        if a.high < b:
            return "worse"
        return "no clear change (the interval includes the base model's figure)"
    return "higher" if a.value > b else "not higher"


def _v(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"
