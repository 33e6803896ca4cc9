"""The training panel's curves: loss terms, the validation part's figures, PCL's and SAML's
quantities, one curve per dimension of each; colour names the quantity, line style and symbol the
dimension (arousal and valence train one after the other, each over its own epochs 1..E)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from app.training.values import epoch_values
from damer_core.contract import events

PLOTS = {  # plot title -> [(curve term, label)]; each dimension has its own curve of every term
    "Loss terms": [("total", "total"), ("cls", "classification"), ("pl", "pseudo-label"), ("cons", "JS consistency"),
                   ("cont", "contrastive")],
    "Validation part (fused head)": [("acc", "ACC"), ("f1", "F1"), ("auc", "AUC")],
    "PCL (Fig. 5)": [("tau", "temperature"), ("theta", "threshold"), ("confidence", "confidence"),
                     ("reliability", "reliability"), ("mask_ratio", "mask ratio"), ("pl_strength", "PL strength")],
    "SAML (Fig. 6)": [("queue_entropy", "queue label entropy"), ("queue_class1", "class-1 share")],
}
METRIC_PLOT = "Validation part (fused head)"
METRIC_MARGIN = 0.05  # ACC, F1 and AUC live in 0..1
DIMENSIONS = {"arousal": (Qt.PenStyle.SolidLine, "o"), "valence": (Qt.PenStyle.DashLine, "t")}  # pen style, symbol
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


class TrainingCurves(pg.GraphicsLayoutWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setBackground(None)
        self.history: dict[str, dict[int, float]] = {}  # curve key -> {epoch: value}
        self.plots: dict[str, pg.PlotItem] = {}
        self.curves: dict[str, pg.PlotDataItem] = {}  # "arousal.total", "valence.auc", ...
        for i, (title, terms) in enumerate(PLOTS.items()):
            row, col = 2 * (i // 2), i % 2
            plot = self.addPlot(row=row, col=col, title=title)
            # the legend in its own cell under the plot: inside it would cover the curves
            legend = pg.LegendItem(labelTextSize="7pt", colCount=3)
            self.addItem(legend, row=row + 1, col=col)
            plot.legend = legend
            plot.setLabel("bottom", "epoch")
            plot.showGrid(x=True, y=True, alpha=0.2)
            self.plots[title] = plot
            for j, (term, label) in enumerate(terms):
                color = COLORS[j % len(COLORS)]
                for dim, (style, symbol) in DIMENSIONS.items():
                    self.curves[f"{dim}.{term}"] = plot.plot(
                        [], [], pen=pg.mkPen(color, width=2, style=style), symbol=symbol, symbolSize=5,
                        symbolBrush=color, symbolPen=color)
                legend.addItem(pg.PlotDataItem(pen=pg.mkPen(color, width=2)), label)
            for dim, (style, symbol) in DIMENSIONS.items():
                legend.addItem(pg.PlotDataItem(pen=pg.mkPen("#888", width=2, style=style), symbol=symbol,
                                               symbolSize=5, symbolBrush="#888", symbolPen="#888"), dim)
        lo, hi = -METRIC_MARGIN, 1 + METRIC_MARGIN
        metric = self.plots[METRIC_PLOT]
        metric.setYRange(lo, hi, padding=0)
        metric.setLimits(yMin=lo, yMax=hi, minYRange=hi - lo)  # auto-range and zoom cannot leave 0..1

    def clear_curves(self) -> None:
        self.history.clear()
        for c in self.curves.values():
            c.setData([], [])

    def add_epoch(self, ev: events.Epoch) -> None:
        """One point per curve of the event's dimension at its own epoch number (each dimension
        trains after the other, both from epoch 1); a resumed epoch replaces its point."""
        for key, value in epoch_values(ev).items():
            if key in self.curves:
                points = self.history.setdefault(key, {})
                points[int(ev.epoch)] = value
                finite = sorted((x, y) for x, y in points.items() if y == y)  # NaN AUC: a one-class split
                self.curves[key].setData([x for x, _ in finite], [y for _, y in finite])
