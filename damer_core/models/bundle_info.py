"""What `damer-core info` shows of a bundle: its fields without the weights (``--json``), or a
few lines of text on its configs, data, split and each dimension's validation and test figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from damer_core.contract import events
from damer_core.contract.builtin import is_builtin, is_default_builtin
from damer_core.contract.model_card import FineTuneCheck, fine_tune_verdict
from damer_core.contract.safe_text import shown
from damer_core.models import checkpoint


def bundle_summary(b: dict, path: str = "<bundle>") -> dict:
    """The bundle without its weights (and resume state), with its model's description (kind,
    what it predicts, its figures): what `info --json` prints and the app reads."""
    from damer_core.models import from_bundle

    slim = {k: v for k, v in b.items() if k not in ("dimensions", "resume")}
    if "dimensions" in b:
        slim["dimensions"] = {d: {"epoch": e.get("epoch"), "metrics": e.get("metrics")} for d, e in b["dimensions"].items()}
    for part in ("descriptor_head", "combination"):
        if part in b:
            slim[part] = {k: v for k, v in b[part].items() if k not in ("state_dict", checkpoint.CHECKSUM)}
    slim["description"] = from_bundle(b, path).describe().to_dict()
    return slim


def info_text(path: str, as_json: bool = False) -> str:
    """`info`'s output for one bundle: its summary as indented JSON, or :func:`describe_bundle`'s lines."""
    b = checkpoint.load_checkpoint(path)
    if as_json:
        return json.dumps({"builtin": is_builtin(path), **bundle_summary(b, path)}, indent=2, default=str)
    return "\n".join(shown(line, limit=2000) for line in describe_bundle(b, path))  # a bundle's text is untrusted


def info_line(path: str, check: Callable[[str], object] | None = None) -> tuple[str, bool]:
    """`info --jsonl`'s line for one bundle (an 'info' or a 'bundle_error' event) and whether the
    bundle could be read; with ``check`` (it raises BundleError), also whether it passed that."""
    try:  # through the module, where a test can replace load_checkpoint
        summary = bundle_summary(checkpoint.load_checkpoint(path), path)
        if check is not None:
            check(path)
        return events.Info(path, is_builtin(path), summary, summary["description"]).to_json(), True
    except checkpoint.BundleError as e:
        return events.BundleError(path, str(e)).to_json(), False
    except Exception as e:  # noqa: BLE001 - one bundle's surprise must not hide the ones after it
        detail = shown(" ".join(str(e).split()) or type(e).__name__)
        message = f"{shown(Path(path).name)}: cannot be read ({detail})"
        return events.BundleError(path, message).to_json(), False


def _mel_stream(fc: dict) -> str:
    from damer_core.features.spectra import MUSICNN_LAYERS

    if fc.get("mel_path") in MUSICNN_LAYERS:
        return f"{MUSICNN_LAYERS[fc['mel_path']]} ({fc['n_mels']} channels, MSD, ISC licence)"
    return f"{fc['n_mels']} Mel"


def _builtin_words(path: str) -> str:
    if is_default_builtin(path):
        return " (the built-in model)"
    return " (the built-in DAMER network)" if is_builtin(path) else ""


def describe_bundle(b: dict, path: str) -> list[str]:
    """`damer-core info` text: what kind of model it is, its configs, data, split and each part's
    validation and test figures."""
    from damer_core.contract.safe_text import figure
    from damer_core.models import from_bundle
    from damer_core.models.header import NETWORK_KINDS

    model = from_bundle(b, path)
    h, about = model.header, model.describe()
    lines = [f"{Path(path).name}{_builtin_words(path)}: {about.kind_name} "
             f"(kind {h.kind}, bundle format v{h.upgraded_from or h.format_version}, damer-core {h.damer_core_version or '?'}, "
             f"created {h.created or '?'})",
             f"  model: {about.title}; predicts {' and '.join(about.dimensions)}"]
    if h.kind in NETWORK_KINDS:
        lines += _network_lines(b, h)
    data = h.data
    lines.append(f"  data: {data.get('name', '?')} ({data.get('format', '?')}), {data.get('n_tracks', '?')} tracks, "
                 f"{data.get('n_samples', '?')} windows")
    if h.split:
        lines.append(f"  split by {h.split['by']}: {h.split['train']} train / {h.split['val']} validation / "
                     f"{h.split['test']} test tracks")
    for part, q in h.quadrant.items():
        lines.append(f"  quadrants, {'validation' if part == 'val' else part} ({q['n']} tracks): "
                     f"acc {figure(q['acc'])} macro-F1 {figure(q['macro_f1'])}")
    lines += _combination_lines(b, h)
    if h.resumable:
        lines.append("  resumable: yes (a last.pt checkpoint)")
    return lines


def _network_lines(b: dict, h) -> list[str]:
    """The DAMER networks' features, model, training and each network's figures."""
    from damer_core.contract.safe_text import figure
    from damer_core.models.networks import part_reports

    fc, mc, tc = h.feature_config, b["model_config"], h.train_config
    lines = [f"  features: preset {fc['name']}, {fc['sample_rate']} Hz, frame {fc['frame_length']}, hop {fc['hop_length']}, "
             f"T = {fc['n_frames']}, {_mel_stream(fc)} / {fc['n_gammatone']} gammatone bands",
             f"  network: D = {mc['d_model']}, L = {mc['n_layers']}, H = {mc['n_heads']}, D_f = {mc['fusion_dim']}, "
             f"cross-attention {'on' if mc['cross_attention'] else 'off'}, "
             f"band embedding {'on' if mc.get('band_embedding', True) else 'off'}"
             + (", joint 4-way quadrant head" if mc.get("n_classes", 2) == 4 else "")
             + (f", {mc['n_descriptors']} musical descriptors in the fusion layer" if mc.get("n_descriptors") else "")]
    mods = "+".join(m.upper() for m in ("dsaf", "pcl", "saml") if tc.get(m, True)) or "baseline"
    tuned = "front and mid-end" if mc.get("musicnn_front_end") else "mid-end"
    midend_lr = f" (musicnn's {tuned} {tc.get('midend_lr', '?')})" if mc.get("musicnn_midend") else ""
    lines.append(f"  training: {tc.get('epochs', '?')} epochs, batch {tc.get('batch_size', '?')}, lr {tc.get('lr', '?')}"
                 f"{midend_lr}, seed {tc.get('seed', '?')}, modules {mods}")
    for dim, entry in b["dimensions"].items():
        parts = []
        for part, report in part_reports(entry).items():
            m = report.get("fuse", {})
            name = {"val": "validation", "test": "test"}.get(part, part)
            parts.append(f"{name} acc {figure(m.get('acc'))} f1 {figure(m.get('f1'))} auc {figure(m.get('auc'))}")
        temp = f", temperature {entry['temperature']:.2f}" if "temperature" in entry else ""
        lines.append(f"  {dim}: epoch {entry.get('epoch', '?')}{temp}; " + "; ".join(parts))
    return lines


def _combination_lines(b: dict, h) -> list[str]:
    """The descriptor head, the stack if any, and the build's test and cross-validation figures."""
    if "descriptor_head" not in b:
        return []
    from damer_core.contract.safe_text import figure

    head, report = b["descriptor_head"], h.report
    comb = b["combination"] if h.kind == "stack" else None
    how = (f"stacked with DAMER, temperature {comb.get('temperature', 1.0):.2f}" if comb is not None
           else f"alone (no DAMER network), temperature {head.get('temperature', 1.0):.2f}")
    lines = [f"  descriptor head: {head['kind']}, groups {', '.join(head['groups'])}; {how}"]
    fit = report.get("fit_on")
    if fit:
        lines.append(f"  fitted on: {fit['part']} ({fit['tracks']} tracks)")
    test = report.get("test", {})
    for name, key in (("stack", "stack"), ("descriptor head", "descriptor_head")):
        r = test.get(key)
        if not r:
            continue
        ci = r.get("interval", {})
        bounds = {m: (list(ci.get(m) or []) + [None, None])[:2] for m in ("valence_acc", "arousal_acc", "macro_f1")}
        cells = [f"{what} {figure(r.get(m))} [{figure(bounds[m][0])}, {figure(bounds[m][1])}]"
                 for what, m in (("valence acc", "valence_acc"), ("arousal acc", "arousal_acc"), ("macro-F1", "macro_f1"))]
        lines.append(f"  test part ({test.get('n', '?')} tracks), {name}: " + ", ".join(cells))
    for name, cv in report.get("cross_validation", {}).items():
        lines.append(f"  grouped cross-validation ({name.replace('_', ' ')}): macro-F1 {figure(cv['mean']['macro_f1'])} "
                     f"± {figure(cv['std']['macro_f1'])}, valence acc {figure(cv['mean']['valence_acc'])}")
    check = FineTuneCheck.of(report.get("fine_tune") or {})
    if check is not None:
        lines.append(f"  fine-tune, {check.n} held-out labelled tracks: quadrant macro-F1 before {figure(check.before.value)}, "
                     f"after {figure(check.after.value)}{check.change_text()}: {fine_tune_verdict(check)}")
    return lines
