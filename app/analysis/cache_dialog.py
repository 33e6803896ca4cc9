"""File > Feature cache...: where the cache is, how big it is, its size limit (least recently
used entries go first) and a Clear button. Sizes are read and entries deleted in a worker."""

from __future__ import annotations

import os

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QPushButton, QSpinBox, QVBoxLayout

from app.widgets.buttons import on_click
from app.workers import Worker
from damer_core.facade import FeatureCache


def apply_cache_limit(limit_mb: int) -> None:
    """The limit for this process's cache and for every child it starts (damer-core inherits it)."""
    os.environ["DAMER_CACHE_MAX_MB"] = str(int(limit_mb))


class CacheDialog(QDialog):
    limit_changed = Signal(int)  # MB

    def __init__(self, limit_mb: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Feature cache")
        self.cache = FeatureCache()
        self.job: Worker | None = None
        lay = QVBoxLayout(self)
        form = QFormLayout()
        form.addRow("Folder", QLabel(str(self.cache.root)))
        self.in_use = QLabel("measuring...")
        form.addRow("In use", self.in_use)
        self.limit = QSpinBox(minimum=50, maximum=1_000_000, value=int(limit_mb), suffix=" MB", singleStep=256)
        self.limit.setToolTip("Spectrogram views of recently played tracks and training features are kept up to this "
                              "size; the least recently used go first. A library's analysis keeps only its predictions.")
        self.limit.valueChanged.connect(self._limit_changed)
        form.addRow("Limit", self.limit)
        lay.addLayout(form)
        self.clear_btn = QPushButton("Clear cache")
        self.clear_btn.setToolTip("Delete every cached entry (they are recomputed when needed)")
        on_click(self.clear_btn, self.clear)
        lay.addWidget(self.clear_btn)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.measure()

    def _run(self, fn, done) -> None:
        self.clear_btn.setEnabled(False)
        self.job = Worker(lambda w: fn(), "cache", parent=self)
        self.job.result.connect(done)
        self.job.error.connect(lambda m: self.in_use.setText(f"cannot read the cache: {m}"))
        self.job.finished.connect(lambda: self.clear_btn.setEnabled(True))
        self.job.start()

    def measure(self) -> None:
        self._run(lambda: (self.cache.size(), len(self.cache.entries())), self._show_size)

    def clear(self) -> None:
        self.in_use.setText("clearing...")
        self._run(self.cache.clear, self._cleared)

    def _cleared(self, freed: int) -> None:
        self.measure()
        self.clear_btn.setText(f"Clear cache ({freed / 1e6:.1f} MB freed)")

    def _show_size(self, result) -> None:
        size, n = result
        self.in_use.setText(f"{size / 1e6:.1f} MB in {n} entr{'y' if n == 1 else 'ies'}")

    def closeEvent(self, event) -> None:  # noqa: N802
        cache = self.cache
        Worker(lambda w: cache.evict(), "cache-evict").start()  # a lower limit takes effect now
        super().closeEvent(event)

    def _limit_changed(self, value: int) -> None:
        apply_cache_limit(value)
        self.cache.max_bytes = value * (1 << 20)
        self.limit_changed.emit(value)
