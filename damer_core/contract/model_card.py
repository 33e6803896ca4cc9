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
    """A fine-tune's quadrant macro-F1 on labels held out from it, before and after, and the
    paired change (after - before, its interval from resamples that score both on the same tracks)."""

    before: Figure
    after: Figure
    change: Figure | None = None

    @property
    def n(self) -> int:
        return self.after.n

    @classmethod
    def of(cls, tune: dict) -> FineTuneCheck | None:
        """From a fine-tune's report (a bundle's ``report["fine_tune"]``, a `refitted` event's
        fields): None where no labelled track was held out."""
        n = int(_number(tune.get("n")) or 0)
        if not n:
            return None

        def macro_f1(report: Any) -> Figure:
            report = report if isinstance(report, dict) else {}
            return Figure.of(report.get("macro_f1"), (report.get("interval") or {}).get("macro_f1"), n, "held-out")

        change = tune.get("change")
        return cls(macro_f1(tune.get("before")), macro_f1(tune.get("after")),
                   macro_f1(change) if isinstance(change, dict) and "macro_f1" in change else None)

    def change_text(self) -> str:
        """" (change +0.08 [-0.05, +0.21])" to follow the after figure; "" where no change was recorded."""
        return f" (change {signed_text(self.change)})" if self.change is not None else ""


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
    # Where the figures were scored on a fit without the test tracks and the weights were then
    # fitted again on all the tracks (test part included): how many. None: the figures are these weights'.
    refit_tracks: int | None = None

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
            check = FineTuneCheck(Figure(**tune["before"]), Figure(**tune["after"]), fig(tune.get("change")))
        return cls(kind=str(d["kind"]), kind_name=str(d["kind_name"]), summary=str(d.get("summary", "")),
                   data=str(d.get("data", "")), n_tracks=d.get("n_tracks"), created=str(d.get("created", "")),
                   feature_preset=str(d.get("feature_preset", "")), dimensions=tuple(d.get("dimensions", ())),
                   auc={k: Figure(**v) for k, v in (d.get("auc") or {}).items()}, macro_f1=fig(d.get("macro_f1")),
                   fine_tune=check, settings=tuple(d.get("settings", ())), members=tuple(d.get("members", ())),
                   refit_tracks=d.get("refit_tracks"))

    def auc_text(self, dim: str) -> str:
        """The dimension's AUC in words: its figure, "not predicted", or "" where none is recorded."""
        if dim not in self.dimensions:
            return "not predicted"
        f = self.auc.get(dim)
        return f.text() if f else ""

    def held_out_text(self) -> tuple[str, int]:
        """(text, tracks): the quadrant macro-F1 on held-out tracks (and, for weights fitted again on
        all the tracks since, that they were scored before); for a fine-tune, before and after on the
        labels held out from it, with a verdict that the interval supports."""
        if self.fine_tune is not None:
            b, a = self.fine_tune.before, self.fine_tune.after
            verdict = fine_tune_verdict(self.fine_tune)
            return (f"macro-F1 {_v(b.value)} before, {_v(a.value)} after{self.fine_tune.change_text()}, "
                    f"on {a.n} held-out labels: {verdict}"), a.n
        if self.macro_f1 is not None:
            f = self.macro_f1
            where = "test tracks" if f.part == "test" else f"{PART_WORDS.get(f.part, f.part)} tracks"
            refit = f" (scored before its refit on all {self.refit_tracks} tracks)" if self.refit_tracks else ""
            return f"macro-F1 {f.text(2).split(' (')[0]} on {f.n} {where}{refit}", f.n
        return "", 0


FEW_TRACKS = 30  # fewer held-out tracks than this cannot show that one model is better than another


def fine_tune_verdict(check: FineTuneCheck) -> str:
    """In words, without contradicting itself: too few to tell, better, worse, or no clear change;
    from the paired change's interval where there is one (else the after figure's against before)."""
    b, a = check.before.value, check.after
    if b is None or a.value is None:
        return "no figure"
    if a.n < FEW_TRACKS:
        return "too few held-out labels to tell"
    change = check.change
    low, high = (change.low, change.high) if change is not None else (
        None if a.low is None else a.low - b, None if a.high is None else a.high - b)
    if low is not None and high is not None:
        if low > 0:
            return "better"
        if high < 0:
            return "worse"
        return "no clear change (the interval includes no change)"
    return "higher" if a.value > b else "not higher"


def thin_evidence(check: FineTuneCheck | None) -> str:
    """Why a fine-tune's check cannot show it is better ("" when it can): what "Use this model" asks about."""
    if check is None or check.after.value is None or check.after.n == 0:
        return "no labelled track was held out, so nothing shows it predicts better than the model it started from"
    verdict = fine_tune_verdict(check)
    if verdict == "too few held-out labels to tell":
        return (f"it was checked on {check.after.n} held-out labelled tracks; fewer than {FEW_TRACKS} cannot show "
                "that it is better than the model it started from")
    if verdict != "better":
        return f"on {check.after.n} held-out labelled tracks it is {verdict.split(' (')[0]}: " \
               "not shown to be better than the model it started from"
    return ""


def unvouched(d: ModelDescription) -> str:
    """Why a model's figures cannot vouch for it ("" when they can): a fine-tune's thin check
    (:func:`thin_evidence`), or a held-out check on fewer than FEW_TRACKS tracks, or none."""
    if d.fine_tune is not None:
        return thin_evidence(d.fine_tune)
    n = d.held_out_text()[1] or max((f.n or 0 for f in d.auc.values()), default=0)  # one dimension: its AUC's
    if n == 0:
        return "it has no held-out check, so nothing shows how well it predicts"
    if n < FEW_TRACKS:
        return f"it was checked on {n} held-out tracks; fewer than {FEW_TRACKS} cannot show how well it predicts"
    return ""


def signed_text(change: Figure) -> str:
    """A change with its sign and interval: "+0.08 [-0.05, +0.21]"."""
    def sign(x: float | None) -> str:
        return "n/a" if x is None else f"{x:+.2f}"

    if change.value == change.low == change.high == 0:  # every resample alike: no held-out track's quadrant moved
        return "+0.00, no held-out track's quadrant changed"
    bounds = f" [{sign(change.low)}, {sign(change.high)}]" if change.low is not None and change.high is not None else ""
    return sign(change.value) + bounds


def _v(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}"
