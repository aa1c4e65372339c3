"""The checkpoint-sweep plot: cross-validated metric against GAN epoch.

Each point is one checkpoint.  Error bars show the standard deviation over
repeated cross-validation, a star marks the best epoch, and a ring marks
the checkpoint chosen for the comparison.  Clicking a point emits its epoch.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QVBoxLayout, QWidget

from specgan_gui.gui import plots

X_LABEL = "GAN epoch of the checkpoint"
POINT_SIZE = 10
BEST_COLOR = QColor("#ff7f0e")
SELECTED_COLOR = QColor("#d62728")


def metric_label(metric: str, unit: str = "") -> str:
    """Return the axis label of a sweep metric, such as ``RMSECV (g/L)``."""
    if metric == "accuracy":
        return "Accuracy (fraction correct)"
    name = metric.upper() if metric == "rmsecv" else metric
    return f"{name} ({unit})" if unit else name


def format_metric(metric: str, value: float, unit: str = "") -> str:
    """Return a metric value as text with its unit, such as ``1.23 g/L``."""
    text = f"{value:.3g}"
    if metric == "accuracy":
        return text
    return f"{text} {unit}" if unit else text


class SweepPlot(QWidget):
    """Plot of one sweep; `epoch_clicked` carries the epoch of a clicked point."""

    epoch_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot_widget = plots.make_plot_widget(X_LABEL, metric_label("rmsecv"))
        self.plot_widget.setToolTip(
            "Click a point to take that checkpoint for the comparison.")
        plot_item = self.plot_widget.getPlotItem()
        self.line = pg.PlotDataItem(pen=pg.mkPen((150, 150, 150), width=1))
        self.error_bars = pg.ErrorBarItem(pen=pg.mkPen(plots.color(0), width=1.2), beam=0)
        self.points = pg.ScatterPlotItem(
            size=POINT_SIZE, brush=plots.color(0), pen=pg.mkPen("w"), hoverable=True,
            hoverSize=POINT_SIZE + 4, tip=None)
        self.best_marker = pg.ScatterPlotItem(
            size=20, symbol="star", brush=BEST_COLOR, pen=pg.mkPen("k", width=1))
        self.selected_marker = pg.ScatterPlotItem(
            size=22, symbol="o", brush=None, pen=pg.mkPen(SELECTED_COLOR, width=2.5))
        self.best_label = pg.TextItem(color="k", anchor=(0.5, 1.3))
        for item in (self.line, self.error_bars, self.points, self.best_marker,
                     self.selected_marker, self.best_label):
            plot_item.addItem(item)
        self.best_label.setZValue(10)
        self.points.sigClicked.connect(self._on_points_clicked)

        self.epochs = np.zeros(0, dtype=np.int64)
        self.values = np.zeros(0)
        self.spread = np.zeros(0)
        self.metric = "rmsecv"
        self.unit = ""
        self.best_epoch: int | None = None
        self.selected_epoch: int | None = None

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget)

    def show_sweep(self, epochs, values, spread, metric: str, best_epoch: int | None,
                   unit: str = "", repeats: int = 1) -> None:
        """Draw one sweep; `spread` is the standard deviation over `repeats`."""
        self.epochs = np.asarray(epochs, dtype=np.int64)
        self.values = np.asarray(values, dtype=np.float64)
        self.spread = np.asarray(spread, dtype=np.float64)
        if self.spread.shape != self.values.shape:
            self.spread = np.zeros_like(self.values)
        self.metric = metric
        self.unit = unit
        self.best_epoch = None if best_epoch is None else int(best_epoch)

        plots.set_axis_labels(self.plot_widget, X_LABEL, metric_label(metric, unit))
        x = self.epochs.astype(np.float64)
        finite = np.isfinite(self.values)
        self.line.setData(x[finite], self.values[finite])
        self.points.setData(
            x=x[finite], y=self.values[finite], data=self.epochs[finite],
            tip=self._point_tip)
        has_spread = repeats > 1 and bool(np.any(self.spread[finite] > 0))
        if has_spread:
            self.error_bars.setData(
                x=x[finite], y=self.values[finite], height=2 * self.spread[finite])
        else:
            self.error_bars.setData(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0))
        self.error_bars.setVisible(has_spread)
        self._draw_best()
        self._update_legend(repeats, has_spread)
        self.set_selected_epoch(self.selected_epoch)
        self._set_range()

    def clear(self) -> None:
        """Remove the sweep and leave an empty plot."""
        self.show_sweep([], [], [], self.metric, None, self.unit)

    def set_selected_epoch(self, epoch: int | None) -> None:
        """Ring the point of `epoch` (no ring when the sweep has no such point)."""
        self.selected_epoch = None if epoch is None else int(epoch)
        match = np.flatnonzero(self.epochs == self.selected_epoch)
        if self.selected_epoch is None or match.size == 0 or not np.isfinite(
                self.values[match[0]]):
            self.selected_marker.setData(x=[], y=[])
            return
        index = int(match[0])
        self.selected_marker.setData(x=[float(self.epochs[index])], y=[self.values[index]])

    def point_position(self, epoch: int) -> tuple[float, float]:
        """Return the data coordinates of the point of `epoch`."""
        index = int(np.flatnonzero(self.epochs == epoch)[0])
        return float(self.epochs[index]), float(self.values[index])

    # --- drawing helpers -----------------------------------------------------
    def _point_tip(self, x: float, y: float, data) -> str:
        text = f"epoch {int(data)}: {format_metric(self.metric, y, self.unit)}"
        index = np.flatnonzero(self.epochs == int(data))
        if index.size and self.spread[index[0]] > 0:
            text += f" ± {self.spread[index[0]]:.2g} (SD)"
        return text + "\nClick to use this checkpoint"

    def _draw_best(self) -> None:
        match = np.zeros(0, dtype=np.int64)
        if self.best_epoch is not None:
            match = np.flatnonzero(self.epochs == self.best_epoch)
        if match.size == 0 or not np.isfinite(self.values[match[0]]):
            self.best_marker.setData(x=[], y=[])
            self.best_label.setText("")
            return
        x, y = float(self.epochs[match[0]]), float(self.values[match[0]])
        self.best_marker.setData(x=[x], y=[y])
        self.best_label.setText(
            f"best: epoch {self.best_epoch}, {format_metric(self.metric, y, self.unit)}")
        # The best RMSECV is the lowest point, so its label goes below it where no
        # other point is.  The best accuracy is the highest point, so its label goes above.
        self.best_label.setAnchor((0.5, 1.4) if self.metric == "accuracy" else (0.5, -0.4))
        self.best_label.setPos(x, y)

    def _update_legend(self, repeats: int, has_spread: bool) -> None:
        legend = self.plot_widget.getPlotItem().legend
        legend.clear()
        if self.epochs.size == 0:
            return
        name = "RMSECV" if self.metric == "rmsecv" else "Accuracy"
        if has_spread:
            legend.addItem(self.points, f"{name}, mean ± SD of {repeats} repeats")
        elif repeats > 1:
            legend.addItem(self.points, f"{name}, mean of {repeats} repeats")
        else:
            legend.addItem(self.points, f"{name} (cross-validated)")
        if self.best_epoch is not None:
            legend.addItem(self.best_marker, "best epoch")
        legend.addItem(self.selected_marker, "chosen for the comparison")

    def _set_range(self) -> None:
        finite = np.isfinite(self.values)
        view = self.plot_widget.getPlotItem().getViewBox()
        if not finite.any():
            # An empty plot shows 0 to 1 rather than pyqtgraph's -0.5 to 0.5.
            view.setRange(xRange=(0.0, 1.0), yRange=(0.0, 1.0), padding=0)
            return
        x = self.epochs[finite].astype(np.float64)
        low = float(np.min(self.values[finite] - self.spread[finite]))
        high = float(np.max(self.values[finite] + self.spread[finite]))
        span = high - low if high > low else max(abs(high), 1.0) * 0.1
        x_span = float(x.max() - x.min()) if x.size > 1 else max(float(x.max()), 1.0)
        # Extra room beyond the best point for its label.
        below, above = (0.15, 0.4) if self.metric == "accuracy" else (0.4, 0.15)
        view.setRange(
            xRange=(float(x.min()) - 0.08 * x_span, float(x.max()) + 0.08 * x_span),
            yRange=(low - below * span, high + above * span), padding=0)

    @Slot(object, object, object)
    def _on_points_clicked(self, _item, points, _event) -> None:
        if len(points) == 0:
            return
        self.epoch_clicked.emit(int(points[0].data()))
