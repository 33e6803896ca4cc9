"""What the training panel shows, without Qt: an `epoch` event's curve values, a finished run's
figures, the settings a run starts from and how the chosen ones differ from them."""

from __future__ import annotations

import math

from damer_core.contract import events
from damer_core.contract.model_card import (
    FEW_TRACKS,
    FineTuneCheck,
    ModelDescription,
    fine_tune_verdict,
    thin_evidence,
    unvouched,
)
from damer_core.contract.safe_text import figure


def epoch_values(ev: events.Epoch) -> dict[str, float]:
    """Flatten an `epoch` event into its dimension's curve keys ("arousal.total", "valence.auc")."""
    out = dict(ev.loss)
    out.update({k: getattr(ev, k) for k in ("tau", "theta", "confidence", "reliability", "mask_ratio", "pl_strength",
                                            "queue_entropy")})
    out["queue_class1"] = ev.queue_coverage[1]
    out.update({m: ev.val["fuse"][m] for m in ("acc", "f1", "auc")})
    return {f"{ev.dim}.{k}": (float("nan") if v is None else float(v)) for k, v in out.items()}


def with_interval(report: dict, metric: str) -> str:
    """'0.812 [0.74, 0.87]' where the report holds the metric's 95 % interval, else the figure alone."""
    lo, hi = (report.get("interval") or {}).get(metric, (None, None))
    known = lo is not None and hi is not None and lo == lo and hi == hi
    return figure(report.get(metric)) + (f" [{lo:.2f}, {hi:.2f}]" if known else "")


def done_summary(ev: events.Done) -> str:
    """The finished run's figures, each saying which part it is from."""
    lines = []
    for dim, m in (ev.metrics or {}).items():
        for part, name in (("val", "validation"), ("test", "test")):
            f = (m.get(part) or {}).get("fuse")
            if f:
                n = f" ({f['n']} tracks)" if f.get("n") else ""
                lines.append(f"{dim} {name} part{n}: acc {with_interval(f, 'acc')}, auc {with_interval(f, 'auc')}")
    for part, q in (ev.quadrant or {}).items():
        lines.append(f"quadrants, {'validation' if part == 'val' else part} part: acc {figure(q['acc'])}, "
                     f"macro-F1 {figure(q['macro_f1'])}")
    return "; ".join(lines)


def start_status(ev: events.Start) -> str:
    """A training run's first line: what it trains, on what, and its split."""
    split = ev.split or {}
    parts = (f"; split by {split['by']}: {split['train']} train / {split['val']} validation / "
             f"{split['test']} test tracks" if split else "")
    return (f"Training {'+'.join(ev.dims)} on {ev.n_tracks} tracks ({ev.n_samples} windows), "
            f"{ev.epochs} epochs on {ev.device}{parts}")


def epoch_status(ev: events.Epoch, last_warning: str = "") -> str:
    v = ev.val["fuse"]
    warn = f"\nwarning: {last_warning}" if last_warning else ""
    return (f"{ev.dim} epoch {ev.epoch}/{ev.epochs}: loss {ev.loss['total']:.3f}, "
            f"validation acc {figure(v['acc'])}, auc {figure(v['auc'])}{warn}")


def refit_status(ev: events.RefitStart) -> str:
    """A refit's first line: how many labelled tracks refit it and how they are held out."""
    split = ev.split or {}
    what = ev.kind.replace('-', ' ')
    if split.get("folds"):
        return (f"Refitting the {what} on {split.get('train', 0)} labelled tracks; each is held out once "
                f"({split['folds']}-fold cross-validation) to compare the refit with the base model...")
    return (f"Refitting the {what} on {split.get('train', 0) + split.get('val', 0)} "
            f"labelled tracks; {split.get('test', 0)} held out to compare it with the base model...")


def finished_status(bundle: str, summary: str, warnings: list[str]) -> str:
    """A finished run: its bundle, its figures, and its warnings if it had any."""
    warned = (f"\nFinished with {len(warnings)} warning(s): {warnings[0]}" + (" ..." if len(warnings) > 1 else "")
              if warnings else "")
    return f"Finished: {bundle}\n{summary}{warned}"


def refit_check(ev: events.Refitted) -> FineTuneCheck | None:
    """The check a `refitted` event carries (its fields are a fine-tune report's)."""
    return FineTuneCheck.of({"n": ev.n, "before": ev.before, "after": ev.after, "change": ev.change})


def refit_summary(ev: events.Refitted) -> str:
    """A refit's figures: the base model and the refitted one on the same held-out labels, the
    change with its interval, and the verdict in words."""
    check = refit_check(ev)
    if check is None:
        return "no labelled tracks were held out, so the refit could not be compared with the base model"
    return (f"quadrant macro-F1 on {ev.n} held-out labelled tracks: {with_interval(ev.before, 'macro_f1')} before, "
            f"{with_interval(ev.after, 'macro_f1')} after{check.change_text()}: {fine_tune_verdict(check)}; valence acc "
            f"{figure(ev.before.get('valence_acc'))} -> {figure(ev.after.get('valence_acc'))}, arousal acc "
            f"{figure(ev.before.get('arousal_acc'))} -> {figure(ev.after.get('arousal_acc'))}")


def held_out_doubt(ev: events.Done | events.Refitted) -> str:
    """Why a finished run's held-out check cannot show it predicts well ("" when it can): a refit
    not shown to be better than its base, or a run scored on fewer than FEW_TRACKS test tracks."""
    if isinstance(ev, events.Refitted):
        return thin_evidence(refit_check(ev))
    n = int(((ev.quadrant or {}).get("test") or {}).get("n") or 0)
    if not n:
        tests = [(m.get("test") or {}).get("fuse") or {} for m in (ev.metrics or {}).values()]
        n = min((int(t.get("n") or 0) for t in tests), default=0)
    if n < FEW_TRACKS:
        return (f"its test part holds {n} tracks; fewer than {FEW_TRACKS} cannot show how well it predicts"
                if n else "no track was held out to test it, so nothing shows how well it predicts")
    return ""


def use_question(warnings: list[str], doubt: str, advice: str = "Label more tracks and fine-tune again to know.") -> str:
    """What "Use this model..." asks when a run warned or its check is thin ("" when nothing needs asking)."""
    if not warnings and not doubt:
        return ""
    parts = []
    if warnings:
        shown = "\n".join(f"- {w}" for w in warnings[:6])
        more = f"\n(and {len(warnings) - 6} more)" if len(warnings) > 6 else ""
        parts.append(f"This run warned:\n{shown}{more}\n\nIts predictions may be no better than chance, and its "
                     "figures cannot show it.")
    if doubt:
        parts.append(f"The evidence is thin: {doubt}. {advice}")
    return "\n\n".join(parts) + "\n\nUse it anyway? The model in use now stays until you do."


def use_model_question(description: ModelDescription | None) -> str:
    """What Set active and Import ask before a model its figures cannot vouch for is used ("" when nothing)."""
    if description is None:
        return ""
    advice = ("Label more tracks and fine-tune again to know." if description.fine_tune is not None
              else "Train it on more labelled tracks to know.")
    return use_question([], unvouched(description), advice)


def default_settings(finetune: bool) -> dict[str, int | float | str]:
    """The settings a run starts from: the paper's (TrainConfig), or FINE_TUNE_DEFAULTS over them."""
    from damer_core.facade import FINE_TUNE_DEFAULTS, TrainConfig

    values: dict[str, int | float | str] = {
        "epochs": TrainConfig.epochs, "batch size": TrainConfig.batch_size, "learning rate": TrainConfig.lr,
              "seed": TrainConfig.seed, "modules": "DSAF+PCL+SAML", "dimensions": ",".join(TrainConfig.dims)}
    if finetune:
        values.update({"epochs": FINE_TUNE_DEFAULTS["epochs"], "learning rate": FINE_TUNE_DEFAULTS["lr"]})
    return values


def _same(a, b) -> bool:
    return math.isclose(a, b, rel_tol=1e-6) if isinstance(a, float) or isinstance(b, float) else a == b


def _show(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def settings_note(finetune: bool, chosen: dict[str, object]) -> str:
    """The chosen settings against the defaults they started from, naming every one that differs."""
    defaults = default_settings(finetune)
    which = "the fine-tuning defaults" if finetune else "the paper's defaults"
    changed = [f"{k} {_show(v)} (default {_show(defaults[k])})" for k, v in chosen.items() if not _same(v, defaults[k])]
    if changed:
        return f"Changed from {which}: {', '.join(changed)}."
    if finetune and "epochs" not in chosen:
        return "This model is refitted in seconds: it has no network, so no epochs or learning rate."
    if finetune:
        return (f"Settings are the fine-tuning defaults: {defaults['epochs']} epochs, learning rate "
                f"{_show(defaults['learning rate'])}; the rest as in the paper.")
    return "Settings are the paper's defaults."


def my_labels_text(labels: int, tracks: int, calibration: int) -> str:
    """What "My labels" trains on, counted; calibration labels measure the curator and stay out."""
    text = f"your {labels} label{'s' if labels != 1 else ''} on {tracks} track{'s' if tracks != 1 else ''} in this library"
    if calibration:
        text += (f"; {calibration} calibration label{'s' if calibration != 1 else ''} kept apart "
                 "(File > Export calibration labels, then train on that file, to use them)")
    return text
