"""The training panel: choose data and settings, run `damer-core train --progress jsonl` as a
child process, and plot its losses, metrics and the PCL / SAML dynamics live. Cancel keeps the
last checkpoint; Resume continues it; a crash is shown with its error."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QDoubleSpinBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
    QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from app.child import CoreProcess
from app.paths import data_dir

PLOTS = {  # plot title -> [(curve key, label)]
    "Loss terms": [("total", "total"), ("cls", "classification"), ("pl", "pseudo-label"), ("cons", "JS consistency"),
                   ("cont", "contrastive")],
    "Validation part (fused head)": [("arousal.acc", "arousal ACC"), ("arousal.f1", "arousal F1"), ("arousal.auc", "arousal AUC"),
                                ("valence.acc", "valence ACC"), ("valence.f1", "valence F1"), ("valence.auc", "valence AUC")],
    "PCL (Fig. 5)": [("tau", "temperature"), ("theta", "threshold"), ("confidence", "confidence"),
                     ("reliability", "reliability"), ("mask_ratio", "mask ratio"), ("pl_strength", "PL strength")],
    "SAML (Fig. 6)": [("queue_entropy", "queue label entropy"), ("queue_class1", "class-1 share")],
}
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def epoch_values(ev: dict) -> dict[str, float]:
    """Flatten an `epoch` event into the curve keys above."""
    dim = ev["dim"]
    out = {k: v for k, v in ev["loss"].items()}
    out.update({k: ev[k] for k in ("tau", "theta", "confidence", "reliability", "mask_ratio", "pl_strength",
                                   "queue_entropy")})
    out["queue_class1"] = ev["queue_coverage"][1]
    out.update({f"{dim}.{m}": ev["val"]["fuse"][m] for m in ("acc", "f1", "auc")})
    return {k: (float("nan") if v is None else float(v)) for k, v in out.items()}


def fmt(value) -> str:
    """A metric for people: n/a where it is undefined (a one-class part), never 0.000 or nan."""
    return "n/a" if value is None or value != value else f"{value:.3f}"


def done_summary(ev: dict) -> str:
    """The finished run's figures, each saying which part it is from."""
    lines = []
    for dim, m in (ev.get("metrics") or {}).items():
        for part, name in (("val", "validation"), ("test", "test")):
            f = (m.get(part) or {}).get("fuse")
            if f:
                lines.append(f"{dim} {name} part: acc {fmt(f['acc'])}, auc {fmt(f['auc'])}")
    for part, q in (ev.get("quadrant") or {}).items():
        lines.append(f"quadrants, {'validation' if part == 'val' else part} part: acc {fmt(q['acc'])}, "
                     f"macro-F1 {fmt(q['macro_f1'])}")
    return "; ".join(lines)


class TrainingPanel(QWidget):
    model_ready = Signal(str)  # best.pt of a finished run
    activate_requested = Signal(str)  # the user wants the finished model active

    def __init__(self, labels_export=None, library_folders=None, active_model=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Train a DAMER model")
        self.labels_export = labels_export  # callable(path) writing "my labels"
        self.library_folders = library_folders or (lambda: [])
        self.active_model = active_model or (lambda: "")
        self.proc = CoreProcess(self)
        self.proc.event.connect(self.on_event)
        self.proc.stderr_line.connect(self.log_line)
        self.proc.finished.connect(self.on_finished)
        self.devices_proc = CoreProcess(self, threads=1)
        self.devices_proc.event.connect(self._devices)
        self.run_dir: Path | None = None
        self.finished_bundle = ""
        self.history: dict[str, list[tuple[float, float]]] = {}
        self.epoch_index = 0
        self.warnings: list[str] = []
        self._build()
        self.devices_proc.start(["devices"])

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.source = QComboBox()
        self.source.addItems(["A data set (4Q / Memo2496 / PMEmo / 1000 Songs / DEAM folder)", "A labels CSV or JSON",
                              "My labels (from this library)"])
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder or file")
        browse = QPushButton("Browse...")
        browse.clicked.connect(self.browse)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        self.pool = QCheckBox("Use my unlabelled library as PCL's pseudo-label pool")
        self.finetune = QCheckBox("Fine-tune the active model (the built-in one unless you chose another)")
        self.finetune.setToolTip("Your labels adjust the model instead of replacing it: fewer epochs and a "
                                 "tenth of the learning rate. Untick to train from scratch with the paper's settings.")
        self.epochs = QSpinBox(minimum=1, maximum=1000, value=80)
        self.batch = QSpinBox(minimum=1, maximum=4096, value=32)
        self.lr = QDoubleSpinBox(decimals=5, minimum=1e-5, maximum=1.0, singleStep=1e-4, value=1e-3)
        self.finetune.toggled.connect(self._apply_defaults)
        self.finetune.setChecked(bool(self.active_model()))
        self.seed = QSpinBox(minimum=0, maximum=10**6, value=0)
        mods = QHBoxLayout()
        self.modules = {m: QCheckBox(m.upper()) for m in ("dsaf", "pcl", "saml")}
        for cb in self.modules.values():
            cb.setChecked(True)
            mods.addWidget(cb)
        self.dims = QComboBox()
        self.dims.addItems(["arousal,valence", "arousal", "valence"])
        self.device = QComboBox()
        self.device.addItem("CPU", "cpu")
        form.addRow("Data", self.source)
        form.addRow("", row)
        form.addRow("", self.pool)
        form.addRow("", self.finetune)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Seed", self.seed)
        form.addRow("Modules", mods)
        form.addRow("Dimensions", self.dims)
        form.addRow("Device", self.device)
        buttons = QHBoxLayout()
        self.start_btn = QPushButton("Start")
        self.cancel_btn = QPushButton("Cancel")
        self.resume_btn = QPushButton("Resume")
        self.use_btn = QPushButton("Use this model")
        self.use_btn.setToolTip("Make the finished model the active one; the library is re-analysed")
        self.use_btn.setEnabled(False)
        self.use_btn.clicked.connect(self._use)
        self.start_btn.clicked.connect(self.start)
        self.cancel_btn.clicked.connect(self.cancel)
        self.resume_btn.clicked.connect(self.resume)
        for b in (self.start_btn, self.cancel_btn, self.resume_btn, self.use_btn):
            buttons.addWidget(b)
        self.status = QLabel("Settings are the paper's defaults.")
        self.status.setWordWrap(True)
        self.graphics = pg.GraphicsLayoutWidget()
        self.graphics.setBackground(None)
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}
        for i, (title, keys) in enumerate(PLOTS.items()):
            plot = self.graphics.addPlot(row=i // 2, col=i % 2, title=title)
            plot.addLegend(offset=(5, 5), labelTextSize="7pt")
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            self.plots[title] = plot
            for j, (key, label) in enumerate(keys):
                self.curves[key] = plot.plot([], [], pen=pg.mkPen(COLORS[j % len(COLORS)], width=2), name=label,
                                             symbol="o", symbolSize=4, symbolBrush=COLORS[j % len(COLORS)])
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMaximumHeight(110)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.status)
        left.addWidget(self.log, 1)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 2)
        lay.addWidget(self.graphics, 5)
        self._set_running(False)

    def _apply_defaults(self, finetune: bool) -> None:
        """Fine-tuning settings (damer_core's FINE_TUNE_DEFAULTS) or the paper's."""
        from damer_core.training.config import FINE_TUNE_DEFAULTS, TrainConfig

        values = FINE_TUNE_DEFAULTS if finetune else {"epochs": TrainConfig.epochs, "lr": TrainConfig.lr}
        self.epochs.setValue(values["epochs"])
        self.lr.setValue(values["lr"])
        if hasattr(self, "status"):
            self.status.setText("Fine-tuning settings: few epochs, a tenth of the learning rate." if finetune
                                else "Settings are the paper's defaults.")

    def _devices(self, ev: dict) -> None:
        """`damer-core devices` lists what really exists: CUDA GPUs by name first, the CPU always."""
        if ev.get("event") == "device" and self.device.findData(ev["device"]) < 0:
            if ev["device"].startswith("cuda"):
                self.device.insertItem(self.device.count() - 1, ev["name"], ev["device"])
                self.device.setCurrentIndex(0)

    # -- actions --------------------------------------------------------------------------------
    def browse(self) -> None:
        if self.source.currentIndex() == 0:
            p = QFileDialog.getExistingDirectory(self, "Data set folder")
        else:
            p, _ = QFileDialog.getOpenFileName(self, "Labels", "", "Labels (*.csv *.json)")
        if p:
            self.path.setText(p)

    def command(self) -> list[str]:
        """The `damer-core train` arguments for the current settings."""
        if self.source.currentIndex() == 2:
            target = data_dir() / "my_labels.json"
            n = self.labels_export(target) if self.labels_export else 0
            if not n:
                raise ValueError("there are no labels in this library yet: label some tracks first")
            dataset = str(target)
        else:
            dataset = self.path.text().strip()
            if not dataset:
                raise ValueError("choose a data set folder or a labels file first")
        name = Path(dataset).stem or "run"
        self.run_dir = data_dir() / "runs" / f"{name}-{datetime.now():%Y%m%d-%H%M%S}"
        args = ["train", "--dataset", dataset, "--out", str(self.run_dir), "--progress", "jsonl",
                "--epochs", str(self.epochs.value()), "--batch-size", str(self.batch.value()),
                "--lr", f"{self.lr.value():g}", "--seed", str(self.seed.value()), "--dims", self.dims.currentText(),
                "--device", self.device.currentData() or "cpu"]
        off = [m for m, cb in self.modules.items() if not cb.isChecked()]
        if off:
            args += ["--ablation", ",".join(off)]
        if self.finetune.isChecked():
            if not self.active_model():
                raise ValueError("no active model to fine-tune: train one from scratch first")
            args += ["--init", self.active_model()]
        folders = self.library_folders()
        if self.pool.isChecked() and folders:
            args += ["--unlabelled", folders[0]]
        return args

    def start(self) -> None:
        try:
            args = self.command()
        except ValueError as e:
            self.status.setText(str(e))
            return
        self._reset_plots()
        self.log.appendPlainText("$ damer-core " + " ".join(args))
        self.proc.start(args)
        self._set_running(True)
        self.status.setText("Starting (featurising audio data sets can take a while)...")

    def cancel(self) -> None:
        self.proc.cancel()

    def _use(self) -> None:
        if self.finished_bundle:
            self.activate_requested.emit(self.finished_bundle)

    def resume(self) -> None:
        if self.run_dir is None or not (self.run_dir / "last.pt").is_file():
            self.status.setText("Nothing to resume: no checkpoint of the last run yet")
            return
        self.log.appendPlainText(f"$ damer-core train --resume --out {self.run_dir}")
        self.proc.start(["train", "--resume", "--out", str(self.run_dir), "--progress", "jsonl",
                         "--device", self.device.currentData() or "cpu"])
        self._set_running(True)
        self.status.setText("Resuming from the last checkpoint...")

    def _set_running(self, running: bool) -> None:
        self.start_btn.setEnabled(not running)
        self.cancel_btn.setEnabled(running)
        self.resume_btn.setEnabled(not running and self.run_dir is not None)

    # -- child output ---------------------------------------------------------------------------
    def _reset_plots(self) -> None:
        self.warnings = []
        self.history = {k: [] for k in self.curves}
        self.epoch_index = 0
        for c in self.curves.values():
            c.setData([], [])

    def on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "epoch":
            self.add_epoch(ev)
        elif kind == "start":
            split = ev.get("split") or {}
            parts = (f"; split by {split['by']}: {split['train']} train / {split['val']} validation / "
                     f"{split['test']} test tracks" if split else "")
            self.status.setText(f"Training {'+'.join(ev['dims'])} on {ev['n_tracks']} tracks ({ev['n_samples']} windows), "
                                f"{ev['epochs']} epochs on {ev['device']}{parts}")
        elif kind == "warning":
            self.warnings.append(ev.get("text", ""))
            self.log_line(f"warning: {ev.get('text', '')}")
        elif kind == "message":
            self.log_line(ev.get("text", ""))
        elif kind == "done":
            self.status.setText(f"Finished: {ev['bundle']}\n{done_summary(ev)}")
            self.finished_bundle = ev["bundle"]
            self.use_btn.setEnabled(True)
            self.model_ready.emit(ev["bundle"])

    def add_epoch(self, ev: dict) -> None:
        """One point per curve; the two dimensions' epochs run one after the other on the x axis
        (arousal 1..E, then valence E+1..2E) so every curve keeps moving."""
        self.epoch_index += 1
        for key, value in epoch_values(ev).items():
            if key in self.curves:
                self.history[key].append((self.epoch_index, value))
                finite = [(x, y) for x, y in self.history[key] if y == y]  # NaN AUC: a one-class split
                self.curves[key].setData([x for x, _ in finite], [y for _, y in finite])
        v = ev["val"]["fuse"]
        warn = f"\nwarning: {self.warnings[-1]}" if self.warnings else ""
        self.status.setText(f"{ev['dim']} epoch {ev['epoch']}/{ev['epochs']}: loss {ev['loss']['total']:.3f}, "
                            f"validation acc {fmt(v['acc'])}, auc {fmt(v['auc'])}{warn}")

    def log_line(self, text: str) -> None:
        if text:
            self.log.appendPlainText(text)

    def on_finished(self, code: int, error: str) -> None:
        self._set_running(False)
        if self.proc.cancelled:
            self.status.setText("Cancelled: the last completed epoch is kept; Resume continues it.")
        elif code != 0:
            self.status.setText(f"Training failed: {error or f'damer-core exited with code {code}'}")

