"""Plot styling shared by every page: white background, readable fonts, one palette."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont

#: Colours of curves and markers, in order of use (Matplotlib's "tab10").
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
#: Colour of measured spectra drawn behind generated ones.
REAL_SPECTRUM_COLOR = (175, 175, 175)
LABEL_STYLE = {"font-size": "11pt"}
TICK_FONT_POINTS = 10


def configure_plotting() -> None:
    """Set pyqtgraph's global options: antialiasing, white background, black text."""
    pg.setConfigOptions(antialias=True, background="w", foreground="k")


configure_plotting()


def color(index: int) -> QColor:
    """Return the palette colour for curve number `index` (wrapping around)."""
    return QColor(PALETTE[index % len(PALETTE)])


def pen(index: int, width: float = 1.5) -> pg.QtGui.QPen:
    """Return a cosmetic pen in the palette colour `index`."""
    return pg.mkPen(color(index), width=width)


def value_colors(values: np.ndarray) -> list[QColor]:
    """Map numbers to viridis colours from their minimum (dark) to their maximum (yellow).

    NaN values get grey.
    """
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    colors = [QColor(*REAL_SPECTRUM_COLOR) for _ in values]
    if not finite.any():
        return colors
    low, high = np.min(values[finite]), np.max(values[finite])
    span = high - low if high > low else 1.0
    colormap = pg.colormap.get("viridis")
    for index in np.flatnonzero(finite):
        colors[index] = colormap.map((values[index] - low) / span, mode="qcolor")
    return colors


def make_plot_widget(
    x_label: str = "", y_label: str = "", title: str = "", legend: bool = True
) -> pg.PlotWidget:
    """Return a plot widget with a grid, readable axis fonts and an optional legend."""
    widget = pg.PlotWidget()
    plot = widget.getPlotItem()
    plot.showGrid(x=True, y=True, alpha=0.2)
    tick_font = QFont()
    tick_font.setPointSize(TICK_FONT_POINTS)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setTickFont(tick_font)
        axis.setTextPen("k")
        # Without this pyqtgraph rescales ticks and appends "(x0.001)" to the label,
        # which reads as a unit change.
        axis.enableAutoSIPrefix(False)
        # Grid lines at the labelled ticks only: the finer third level doubled
        # the lines to draw, and every redraw while training paints them all.
        axis.setStyle(maxTickLevel=1)
    if title:
        plot.setTitle(title, size="11pt")
    set_axis_labels(widget, x_label, y_label)
    if legend:
        plot.addLegend(offset=(-10, 10), labelTextSize="10pt", brush=pg.mkBrush(255, 255, 255, 210))
    widget.setMinimumSize(320, 220)
    return widget


def set_axis_labels(widget: pg.PlotWidget, x_label: str, y_label: str) -> None:
    """Set the bottom and left axis labels of a plot widget."""
    plot = widget.getPlotItem()
    plot.setLabel("bottom", x_label, **LABEL_STYLE)
    plot.setLabel("left", y_label, **LABEL_STYLE)


def clear_plot(widget: pg.PlotWidget) -> None:
    """Remove every item and legend entry from a plot widget."""
    plot = widget.getPlotItem()
    plot.clear()
    if plot.legend is not None:
        plot.legend.clear()


def dashed_pen(rgb=(90, 90, 90), width: float = 1.2) -> pg.QtGui.QPen:
    """Return a dashed cosmetic pen, used for reference lines such as 1:1."""
    return pg.mkPen(rgb, width=width, style=Qt.PenStyle.DashLine)
