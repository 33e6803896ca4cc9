"""The training panel: choose data and settings, run `damer-core train --progress jsonl` as a
child process, and plot its losses, metrics and the PCL / SAML dynamics live. Fine-tuning asks the
model in use which settings apply (a descriptor head is refitted in seconds: no epochs, no curves)
and shows only those. Cancel keeps the last checkpoint; Resume continues an unfinished run; a crash
is shown with its error."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.child import CoreProcess
from app.paths import data_dir
from app.state import AppState
from app.training.curves import TrainingCurves
from app.training.use_finished import UseFinishedModel
from app.training.values import (
    default_settings,
    done_summary,
    epoch_status,
    finished_status,
    held_out_doubt,
    my_labels_text,
    refit_status,
    refit_summary,
    settings_note,
    start_status,
)
from app.widgets.buttons import on_click
from app.widgets.keys import close_on_keys
from damer_core.contract import events
from damer_core.contract.fileutil import atomic_write
from damer_core.contract.paths import new_run_dir

log = logging.getLogger(__name__)

MY_LABELS = 2  # the data source "My labels (from this library)"
NOTE_LINES = 3


class TrainingPanel(QWidget):
    model_ready = Signal(object)  # best.pt of a finished run
    running_changed = Signal(bool)  # a training child started / ended: the library analysis waits meanwhile

    def __init__(self, state: AppState, labels_export: Callable[[Path], int] | None = None,
                 library_folders: Callable[[], list[str]] | None = None, parent: QWidget | None = None,
                 label_counts: Callable[[], tuple[int, int, int]] | None = None):
        super().__init__(parent)
        self.setWindowTitle("Train or fine-tune a model")
        close_on_keys(self)  # a running child goes on: the panel only hides
        self.state = state  # the model in use: fine-tuning starts from it; "Use this model" changes it
        self.labels_export = labels_export  # callable(path) writing "my labels"
        self.label_counts = label_counts or (lambda: (0, 0, 0))  # (labels, tracks, calibration labels kept apart)
        self.library_folders = library_folders or (lambda: [])
        self.proc = CoreProcess(self)
        self.proc.event_read.connect(self.on_event)
        self.proc.stderr_line.connect(self.log_line)
        self.proc.finished.connect(self.on_finished)
        self.devices_proc = CoreProcess(self, threads=1)
        self.devices_proc.event_read.connect(self._devices)
        self.run_dir: Path | None = None
        self.run_finished = False  # the last run ended with its model: nothing to resume
        self.warnings: list[str] = []
        self.use = UseFinishedModel(state, self)
        self.activate_requested = self.use.activate_requested
        self._build()
        state.model_described.connect(self._show_applicable_settings)
        self._show_applicable_settings()
        self.devices_proc.start(["devices"])

    # -- layout ---------------------------------------------------------------------------------
    def _build(self) -> None:
        form = QFormLayout()
        self.source = QComboBox()
        self.source.addItems(["A data set (4Q / Memo2496 / PMEmo / 1000 Songs / DEAM folder)", "A labels CSV or JSON",
                              "My labels (from this library)"])
        self.path = QLineEdit()
        self.path.setPlaceholderText("folder or file")
        self.browse_btn = browse = QPushButton("Browse...")
        on_click(browse, self.browse)
        self.source.currentIndexChanged.connect(self._source_changed)
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
        self.settings_note = QLabel()
        self.settings_note.setWordWrap(True)
        self.settings_note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # a fixed height: a longer note must not move the Start button from under the pointer
        self.settings_note.setFixedHeight(self.settings_note.fontMetrics().lineSpacing() * NOTE_LINES + 4)
        form.addRow("Data", self.source)
        form.addRow("", row)
        form.addRow("", self.pool)
        form.addRow("", self.finetune)
        self.kind_note = QLabel()
        self.kind_note.setWordWrap(True)
        form.addRow("", self.kind_note)
        form.addRow("Epochs", self.epochs)
        form.addRow("Batch size", self.batch)
        form.addRow("Learning rate", self.lr)
        form.addRow("Seed", self.seed)
        form.addRow("Modules", mods)
        form.addRow("Dimensions", self.dims)
        form.addRow("Device", self.device)
        form.addRow("", self.settings_note)
        self.form = form
        self.setting_rows: dict[str, QWidget | QHBoxLayout] = {
            "epochs": self.epochs, "batch_size": self.batch, "lr": self.lr, "seed": self.seed, "modules": mods,
            "dimensions": self.dims, "device": self.device, "pool": self.pool}
        self.finetune.setChecked(bool(self.state.model.path))
        self._apply_defaults(self.finetune.isChecked())
        self.finetune.toggled.connect(self._apply_defaults)
        self.finetune.toggled.connect(lambda _: self._show_applicable_settings())
        for spin in (self.epochs, self.batch, self.lr, self.seed):
            spin.valueChanged.connect(self._update_settings_note)
        for cb in self.modules.values():
            cb.toggled.connect(self._update_settings_note)
        self.dims.currentTextChanged.connect(self._update_settings_note)
        buttons = QHBoxLayout()
        self.start_btn = QPushButton("Start")
        self.cancel_btn = QPushButton("Cancel")
        self.resume_btn = QPushButton("Resume")
        self.use_btn = self.use.button
        on_click(self.start_btn, self.start)
        on_click(self.cancel_btn, self.cancel)
        on_click(self.resume_btn, self.resume)
        for b in (self.start_btn, self.cancel_btn, self.resume_btn, self.use_btn):
            buttons.addWidget(b)
        self.in_use = self.use.in_use
        self.status = QLabel("Choose the data, then Start.")
        self.status.setWordWrap(True)
        self.graphics = TrainingCurves()
        self.plots, self.curves = self.graphics.plots, self.graphics.curves
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMaximumBlockCount(2000)
        self.log.setMaximumHeight(110)
        left = QVBoxLayout()
        left.addLayout(form)
        left.addLayout(buttons)
        left.addWidget(self.in_use)
        left.addWidget(self.status)
        left.addWidget(self.log, 1)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 2)
        lay.addWidget(self.graphics, 5)
        self._set_running(False)

    def applicable_settings(self) -> tuple[str, ...]:
        """The settings a run with the current choice takes: all of them to train DAMER from
        scratch; when fine-tuning, the ones the model in use names (all until it is described)."""
        if not self.finetune.isChecked():
            return tuple(self.setting_rows)
        d = self.state.description
        return d.settings if d is not None else tuple(self.setting_rows)

    def _show_applicable_settings(self, *_: object) -> None:
        """Only the rows that the run would use; a fine-tune reads what the model in use is first."""
        if self.finetune.isChecked() and self.state.description is None and self.state.model.path:
            self.state.describe_model()
        applies = self.applicable_settings()
        for name, row in self.setting_rows.items():
            self.form.setRowVisible(row, name in applies)
        self.graphics.setVisible("epochs" in applies)  # a refit has no epochs to chart: its result is the status
        d = self.state.description
        self.kind_note.setText(f"Fine-tunes the model in use: {d.title}"
                               if self.finetune.isChecked() and d is not None else "")
        self._update_settings_note()

    def chosen_settings(self) -> dict[str, object]:
        """The settings default_settings() names that apply, as the form shows them now."""
        modules = "+".join(m.upper() for m, cb in self.modules.items() if cb.isChecked()) or "baseline"  # TrainConfig.modules
        shown = {"epochs": ("epochs", self.epochs.value()), "batch_size": ("batch size", self.batch.value()),
                 "lr": ("learning rate", self.lr.value()), "seed": ("seed", self.seed.value()),
                 "modules": ("modules", modules), "dimensions": ("dimensions", self.dims.currentText())}
        applies = self.applicable_settings()
        return dict(v for k, v in shown.items() if k in applies)

    def _update_settings_note(self) -> None:
        text = settings_note(self.finetune.isChecked(), self.chosen_settings())
        self.settings_note.setText(text)
        self.settings_note.setToolTip(text)  # the whole note, should it be longer than its lines

    def refresh_source(self) -> None:
        self._source_changed(self.source.currentIndex())

    def _source_changed(self, index: int) -> None:
        """"My labels" come from this library: no folder or file to choose."""
        mine = index == MY_LABELS
        self.path.setEnabled(not mine)
        self.browse_btn.setEnabled(not mine)
        self.path.setPlaceholderText(my_labels_text(*self.label_counts()) if mine else "folder or file")
        self.path.setToolTip(self.path.placeholderText())

    def _apply_defaults(self, finetune: bool) -> None:
        """Fine-tuning settings (damer_core's FINE_TUNE_DEFAULTS) or the paper's."""
        values = default_settings(finetune)
        self.epochs.setValue(int(values["epochs"]))
        self.lr.setValue(float(values["learning rate"]))
        self._update_settings_note()

    def _devices(self, ev: dict) -> None:
        """`damer-core devices` lists what really exists: CUDA GPUs by name first, the CPU always."""
        if isinstance(ev, events.Device) and self.device.findData(ev.device) < 0:
            if ev.device.startswith("cuda"):
                self.device.insertItem(self.device.count() - 1, ev.name, ev.device)
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
        if self.source.currentIndex() == MY_LABELS:
            target = data_dir() / "my_labels.json"
            n = self.labels_export(target) if self.labels_export else 0
            if not n:
                raise ValueError("there are no labels in this library yet: label some tracks first")
            dataset = str(target)
        else:
            dataset = self.path.text().strip()
            if not dataset:
                raise ValueError("choose a data set folder or a labels file first")
        tcfg = self.checked_settings()
        name = Path(dataset).stem or "run"
        self.run_dir = new_run_dir(name)
        config = self.run_dir.with_name(f"{self.run_dir.name}.config.json")  # beside the run: its folder starts empty
        with atomic_write(config) as f:
            f.write(json.dumps(tcfg.to_dict(), indent=1).encode())
        args = ["train", "--dataset", dataset, "--out", str(self.run_dir), "--progress", "jsonl",
                "--config", str(config), "--device", self.device.currentData() or "cpu"]
        if self.finetune.isChecked():
            if not self.state.model.path:
                raise ValueError("no active model to fine-tune: train one from scratch first")
            args += ["--init", self.state.model.path]
        folders = self.library_folders()
        if self.pool.isChecked() and folders:
            args += ["--unlabelled", folders[0]]
        return args

    def checked_settings(self):
        """The panel's settings as the TrainConfig the run will use (written to a config file the
        run reads with --config), checked as flags and --config files are (TrainConfig.problems);
        ValueError with one line per problem."""
        from dataclasses import replace

        from damer_core.facade import TrainConfig

        dims = tuple(d for d in self.dims.currentText().split(",") if d)
        tcfg = replace(TrainConfig(), epochs=self.epochs.value(), batch_size=self.batch.value(), lr=self.lr.value(),
                       seed=self.seed.value(), dims=dims, dsaf=self.modules["dsaf"].isChecked(),
                       pcl=self.modules["pcl"].isChecked(), saml=self.modules["saml"].isChecked())
        problems = tcfg.problems()
        if problems:
            raise ValueError("Check the settings: " + "; ".join(problems))
        return tcfg

    def start(self) -> None:
        try:
            args = self.command()
        except ValueError as e:
            self.status.setText(str(e))
            return
        self._reset_plots()
        self.run_finished = False
        log.info("training started: damer-core %s", " ".join(args))
        self.log.appendPlainText("$ damer-core " + " ".join(args))
        self.proc.start(args)
        self._set_running(True)
        self.status.setText("Starting (featurising audio data sets can take a while)...")

    def cancel(self) -> None:
        self.proc.cancel()

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
        self.running_changed.emit(running)
        self.start_btn.setEnabled(not running)
        self.cancel_btn.setEnabled(running)
        resumable = self.run_dir is not None and (self.run_dir / "last.pt").is_file() and not self.run_finished
        self.resume_btn.setEnabled(not running and resumable)

    # -- child output ---------------------------------------------------------------------------
    def _reset_plots(self) -> None:
        self.warnings = []
        self.graphics.clear_curves()
        self.graphics.setVisible("epochs" in self.applicable_settings())

    def on_event(self, ev: events.Event) -> None:
        if isinstance(ev, events.Epoch):
            self.add_epoch(ev)
        elif isinstance(ev, events.Start):
            self.warnings = []  # the run's warnings follow its start (a resumed run's again)
            self.status.setText(start_status(ev))
        elif isinstance(ev, events.TrainingWarning):
            log.warning("training: %s", ev.text)
            self.warnings.append(ev.text)
            self.log_line(f"warning: {ev.text}")
        elif isinstance(ev, events.Message):
            self.log_line(ev.text)
        elif isinstance(ev, events.RefitStart):
            self.warnings = []
            self.graphics.setVisible(False)  # no epochs to chart: the result is the before/after below
            self.status.setText(refit_status(ev))
        elif isinstance(ev, (events.Done, events.Refitted)):
            summary = done_summary(ev) if isinstance(ev, events.Done) else refit_summary(ev)
            log.info("training finished: %s (%s)", ev.bundle, summary)
            self.status.setText(finished_status(ev.bundle, summary, self.warnings))
            self.run_finished = True
            self.use.offer(ev.bundle, self.warnings, held_out_doubt(ev))
            self.model_ready.emit(ev.bundle)

    def add_epoch(self, ev: events.Epoch) -> None:
        self.graphics.add_epoch(ev)
        self.status.setText(epoch_status(ev, self.warnings[-1] if self.warnings else ""))

    def log_line(self, text: str) -> None:
        if text:
            self.log.appendPlainText(text)

    def on_finished(self, code: int, error: str) -> None:
        self._set_running(False)
        if self.proc.cancelled:
            log.info("training cancelled: %s keeps its last checkpoint", self.run_dir)
            self.status.setText("Cancelled: the last completed epoch is kept; Resume continues it.")
        elif code != 0:
            log.error("training failed: %s", error or f"damer-core exited with code {code}")
            self.status.setText(f"Training failed: {error or f'damer-core exited with code {code}'}")
