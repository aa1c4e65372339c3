"""Plots of cross-validated predictions: predicted versus measured, residuals, confusion.

Axis labels carry the target's unit when the column name states one, such
as ``glucose (g/L)``; `column_unit` reads it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import column_unit
from specgan_gui.gui import plots

SYMBOLS = ("o", "t", "s", "d")
#: Height in pixels below which axis labels and matrix rows no longer fit.
MIN_PLOT_HEIGHT = 220
# A unit in the last brackets of a column name: "glucose (g/L)", "ethanol [% v/v]".
def confusion_counts(measured, predicted, classes: list[str]) -> np.ndarray:
    """Return counts ``(n_classes, n_classes)``: rows measured, columns predicted."""
    index = {label: i for i, label in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for truth, guess in zip(map(str, measured), map(str, predicted)):
        if truth in index and guess in index:
            counts[index[truth], index[guess]] += 1
    return counts


class RegressionPlots(QWidget):
    """Predicted versus measured with the 1:1 line, beside residuals versus measured."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.prediction_plot = plots.make_plot_widget("Measured", "Predicted")
        # Points gather along the 1:1 line, so the top-left corner is usually empty.
        self.prediction_plot.getPlotItem().legend.setOffset((10, 10))
        # The residual plot's symbols and colours are those of the legend beside it.
        self.residual_plot = plots.make_plot_widget("Measured", "Residual", legend=False)
        self.setMinimumHeight(MIN_PLOT_HEIGHT)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.prediction_plot, 1)
        layout.addWidget(self.residual_plot, 1)

    def clear(self) -> None:
        for widget in (self.prediction_plot, self.residual_plot):
            plots.clear_plot(widget)
        plots.set_axis_labels(self.prediction_plot, "Measured", "Predicted")
        plots.set_axis_labels(self.residual_plot, "Measured", "Residual")

    def show_predictions(self, target: str, measured, predictions: dict[str, np.ndarray],
                         labels: dict[str, str] | None = None) -> None:
        """Draw each model's cross-validated predictions of `target`.

        `labels` maps a model name to its legend text (default: the name).
        The model's colour and symbol follow its position in `predictions`.
        """
        self.clear()
        labels = labels or {}
        unit = column_unit(target)
        suffix = f" ({unit})" if unit else ""
        measured = np.asarray(measured, dtype=np.float64)
        # A column name such as "glucose (g/L)" already ends in its unit.
        plots.set_axis_labels(self.prediction_plot, f"Measured {target}", f"Predicted {target}")
        plots.set_axis_labels(self.residual_plot, f"Measured {target}",
                              f"Predicted − measured{suffix}")
        if measured.size == 0 or not predictions:
            return

        low, high = float(np.nanmin(measured)), float(np.nanmax(measured))
        for predicted in predictions.values():
            predicted = np.asarray(predicted, dtype=np.float64)
            low = min(low, float(np.nanmin(predicted)))
            high = max(high, float(np.nanmax(predicted)))
        margin = 0.05 * (high - low if high > low else 1.0)
        line = [low - margin, high + margin]
        self.prediction_plot.plot(line, line, pen=plots.dashed_pen(), name="1:1")
        self.residual_plot.plot(line, [0.0, 0.0], pen=plots.dashed_pen())

        for index, (name, predicted) in enumerate(predictions.items()):
            predicted = np.asarray(predicted, dtype=np.float64)
            style = {
                "pen": None, "symbol": SYMBOLS[index % len(SYMBOLS)], "symbolSize": 8,
                "symbolBrush": plots.color(index), "symbolPen": pg.mkPen("w"),
            }
            self.prediction_plot.plot(measured, predicted, name=labels.get(name, name), **style)
            self.residual_plot.plot(measured, predicted - measured, **style)


class ConfusionView(QWidget):
    """A confusion matrix with the recall of each measured class in the last column."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.table = QTableWidget()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setMinimumHeight(MIN_PLOT_HEIGHT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.table, 1)

    def clear(self) -> None:
        self.table.clear()
        self.table.setRowCount(0)
        self.table.setColumnCount(0)
        self.title.setText("")

    def show_confusion(self, target: str, model: str, measured, predicted,
                       classes: list[str], note: str = "") -> np.ndarray:
        """Fill the table with counts (rows measured, columns predicted); return them."""
        table = self.table
        table.clear()
        counts = confusion_counts(measured, predicted, classes)
        n_classes = len(classes)
        table.setRowCount(n_classes)
        table.setColumnCount(n_classes + 1)
        table.setHorizontalHeaderLabels([f"Predicted {c}" for c in classes] + ["Recall"])
        table.setVerticalHeaderLabels([f"Measured {c}" for c in classes])

        largest = max(int(counts.max()), 1) if counts.size else 1
        for row in range(n_classes):
            for column in range(n_classes):
                count = int(counts[row, column])
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                base = QColor(plots.PALETTE[0] if row == column else plots.PALETTE[3])
                item.setBackground(QBrush(_shade(base, count / largest)))
                table.setItem(row, column, item)
            total = int(counts[row].sum())
            recall = f"{counts[row, row] / total:.2f}" if total else "no samples"
            item = QTableWidgetItem(recall)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            table.setItem(row, n_classes, item)

        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        correct = int(np.trace(counts))
        text = (
            f"<b>Confusion matrix of {model}</b> (cross-validated): rows are the measured "
            f"{target}, columns the predicted one; {correct} of {int(counts.sum())} correct "
            "(blue: correct, red: confused). Recall: the fraction of each measured class "
            "predicted correctly.")
        self.title.setText(f"{text} {note}".strip())
        return counts


def _shade(base: QColor, strength: float) -> QColor:
    # White for 0, three quarters of the way to `base` for the largest count.
    return QColor(
        int(255 - strength * (255 - base.red()) * 0.75),
        int(255 - strength * (255 - base.green()) * 0.75),
        int(255 - strength * (255 - base.blue()) * 0.75),
    )
