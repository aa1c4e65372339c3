"""Widgets of the GAN training page for the run's health: alarms, realism, snapshots.

- `AlarmPanel`: the run's alarms as a coloured list with epoch, message and
  the settings to try.
- `RealismPlot`: the realism measures of each snapshot epoch over epochs.
- `SnapshotBrowser`: a slider through the stored snapshot epochs and an
  "Export GIF..." button; the page draws the selected snapshot.
- `export_snapshot_gif`: renders snapshots offscreen into an animated GIF.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PIL import Image
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.gui import plots
from specgan_gui.training.diagnostics import REALISM_MEASURES, Alarm

log = logging.getLogger(__name__)

#: Alarm titles shown before each message.
ALARM_TITLES = {
    "collapse": "Generator collapse",
    "discriminator_wins": "Discriminator loss near zero",
    "gradient_norm": "Gradient norm above 100",
    "unstable_discriminator": "Unstable discriminator loss",
    "generator_outpaces_realism": "Generator loss falls, realism does not improve",
    "non_finite": "NaN or infinite loss",
}
#: Background of alarms that mean the run is lost, and of the others.
SEVERE_ALARM_COLOR = QColor(250, 205, 200)
WARNING_ALARM_COLOR = QColor(255, 236, 190)
SEVERE_ALARM_KINDS = ("collapse", "non_finite")
#: Height in pixels above which the alarm list scrolls.
MAX_ALARM_LIST_HEIGHT = 150

#: Legend names of the realism measures.
REALISM_NAMES = {
    "mean_distance": "Mean-spectrum distance",
    "std_distance": "Std-spectrum distance",
    "nearest_neighbour_ratio": "Nearest-neighbour ratio",
    "classifier_score": "Classifier score",
    "diversity": "Diversity ratio",
    "variation": "Variation ratio",
}
#: Smallest value drawn on the logarithmic realism axis (log10 of 0 is -inf).
REALISM_FLOOR = 1e-4

#: Maximum number of frames in an exported GIF; longer runs are thinned out evenly.
MAX_GIF_FRAMES = 150
GIF_FRAME_MS = 150
GIF_SIZE = (720, 440)


class AlarmPanel(QFrame):
    """The run's GAN health alarms, newest first; hidden while there are none."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("alarmPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet(
            "#alarmPanel { border: 2px solid #d62728; border-radius: 4px; }")
        self.title = QLabel()
        self.title.setStyleSheet("font-weight: bold; color: #a11d1d;")
        self.list = QListWidget()
        self.list.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        self._alarms: list[Alarm] = []
        self.setVisible(False)

    @property
    def alarms(self) -> list[Alarm]:
        """Alarms shown, oldest first."""
        return list(self._alarms)

    def set_alarms(self, alarms: Sequence[Alarm]) -> None:
        """Show exactly `alarms` (oldest first), replacing the list."""
        self._alarms = []
        self.list.clear()
        for alarm in alarms:
            self.add_alarm(alarm)
        self._update_title()

    def add_alarm(self, alarm: Alarm) -> None:
        """Add one alarm at the top of the list and show the panel."""
        self._alarms.append(alarm)
        title = ALARM_TITLES.get(alarm.kind, alarm.kind)
        item = QListWidgetItem(
            f"Epoch {alarm.epoch} · {title}: {alarm.message}\nTry: {alarm.remedy}")
        color = SEVERE_ALARM_COLOR if alarm.kind in SEVERE_ALARM_KINDS else WARNING_ALARM_COLOR
        item.setBackground(color)
        item.setToolTip(alarm.remedy)
        self.list.insertItem(0, item)
        self._update_title()

    def text(self) -> str:
        """Return the panel's title and items as plain text (newest first)."""
        items = [self.list.item(row).text() for row in range(self.list.count())]
        return "\n".join([self.title.text(), *items])

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        # A new width wraps the alarm texts into another number of lines.
        self._fit_height()

    def _update_title(self) -> None:
        count = len(self._alarms)
        self.title.setText(
            f"GAN health: {count} alarm{'s' if count != 1 else ''} in this run")
        self._fit_height()
        self.setVisible(count > 0)

    def _fit_height(self) -> None:
        """Make the list as tall as its wrapped texts, up to MAX_ALARM_LIST_HEIGHT.

        The list's own row size hints use the width it had when the rows were
        added, often before the window was laid out, and cut off wrapped
        lines.  So the texts are measured at the current width.
        """
        width = max(self.list.viewport().width() - 8, 50)
        metrics = self.list.fontMetrics()
        rows = 0
        for row in range(self.list.count()):
            text = self.list.item(row).text()
            bounds = metrics.boundingRect(0, 0, width, 0, Qt.TextFlag.TextWordWrap, text)
            rows += bounds.height() + 4
        frame = 2 * self.list.frameWidth() + 4
        self.list.setFixedHeight(min(rows + frame, MAX_ALARM_LIST_HEIGHT))


class RealismPlot(QWidget):
    """Realism measures over snapshot epochs, on a logarithmic axis.

    The legend is a row of coloured names under the plot rather than a
    pyqtgraph legend inside it, because the measures spread over the whole
    value range and an inner legend would hide some of them.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.plot_widget = plots.make_plot_widget(
            "Epoch", "Measure value (log scale)", legend=False)
        plot = self.plot_widget.getPlotItem()
        plot.setTitle("Realism of generated spectra", size="11pt")
        plot.setLogMode(y=True)
        self.curves: dict[str, pg.PlotDataItem] = {}
        entries = []
        for index, name in enumerate(REALISM_MEASURES):
            curve = plot.plot([], [], pen=plots.pen(index, 1.6), symbol="o", symbolSize=4,
                              symbolBrush=plots.color(index), symbolPen=None)
            curve.setClipToView(True)
            self.curves[name] = curve
            entries.append(f'<span style="color:{plots.PALETTE[index]}">&#9632;</span>&nbsp;'
                           f"{REALISM_NAMES[name]}")
        self.legend_label = QLabel(
            " &nbsp; ".join(entries) + "<br><i>Like real: ratios 1, classifier score 0.5, "
            "distances 0 (scaled units).</i>")
        self.legend_label.setTextFormat(Qt.TextFormat.RichText)
        self.legend_label.setWordWrap(True)
        self.setToolTip(
            "Mean- and std-spectrum distance: RMS difference in scaled units (0 is a match).\n"
            "Nearest-neighbour ratio: distance of generated spectra to the nearest real one "
            "over that among real spectra (1 is like real).\n"
            "Classifier score: balanced accuracy of telling generated from real spectra "
            "(0.5 means indistinguishable).\n"
            "Diversity and variation ratio: spread among generated spectra and their "
            "variation along the axis, relative to the real ones (near 0 is a collapse).")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.legend_label)
        self._columns: dict[str, list[float]] = {"epoch": []}

    def set_rows(self, realism: Mapping[str, np.ndarray]) -> None:
        """Show a whole `Project.realism` table."""
        self._columns = {"epoch": list(map(float, realism.get("epoch", [])))}
        for name in REALISM_MEASURES:
            column = realism.get(name)
            values = ([np.nan] * len(self._columns["epoch"]) if column is None
                      else list(map(float, column)))
            self._columns[name] = values
        self._redraw()

    def add_rows(self, rows: Sequence[tuple[int, Mapping[str, float]]]) -> None:
        """Append ``(epoch, measures)`` rows and redraw once."""
        if not rows:
            return
        for epoch, measures in rows:
            self._columns["epoch"].append(float(epoch))
            for name in REALISM_MEASURES:
                self._columns.setdefault(name, []).append(float(measures.get(name, np.nan)))
        self._redraw()

    def legend_names(self) -> list[str]:
        """Return the measure names of the legend, in its order."""
        return [REALISM_NAMES[name] for name in REALISM_MEASURES]

    def values(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the epochs and values of one measure as plotted (before the log)."""
        return (np.asarray(self._columns["epoch"]),
                np.asarray(self._columns.get(name, []), dtype=np.float64))

    def _redraw(self) -> None:
        epochs = np.asarray(self._columns["epoch"], dtype=np.float64)
        for name, curve in self.curves.items():
            values = np.asarray(self._columns.get(name, []), dtype=np.float64)
            if values.size != epochs.size:
                values = np.full(epochs.size, np.nan)
            # Log axis: clip zeros, and leave out non-finite values entirely.
            finite = np.isfinite(values)
            curve.setData(epochs[finite], np.maximum(values[finite], REALISM_FLOOR))


class SnapshotBrowser(QWidget):
    """Slider over the stored snapshot epochs with an "Export GIF..." button.

    The slider follows the newest snapshot while it sits at its right end,
    so a running training moves it along; anywhere else it stays put.
    """

    #: Epoch chosen with the slider (or followed at the right end).
    epoch_selected = Signal(int)
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.setEnabled(False)
        self.slider.setToolTip("Browse the stored snapshots of generated spectra by epoch.")
        self.slider.valueChanged.connect(self._on_value_changed)
        self.label = QLabel("No snapshots yet")
        self.label.setMinimumWidth(170)
        self.export_button = QPushButton("Export GIF...")
        self.export_button.setToolTip(
            f"Save the snapshots as an animated GIF, one frame per snapshot epoch "
            f"(at most {MAX_GIF_FRAMES}, spread evenly over the run).")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Snapshot:"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.export_button)
        self._epochs: list[int] = []

    @property
    def epochs(self) -> list[int]:
        """Snapshot epochs the slider steps through, ascending."""
        return list(self._epochs)

    def selected_epoch(self) -> int | None:
        """Return the epoch the slider points at, or None without snapshots."""
        if not self._epochs:
            return None
        return self._epochs[self.slider.value()]

    def set_epochs(self, epochs: Sequence[int]) -> None:
        """Replace the epochs and move to the newest one."""
        self._epochs = sorted(int(e) for e in epochs)
        self._update_range(follow=True)

    def add_epochs(self, epochs: Sequence[int]) -> None:
        """Append newer epochs; follow them if the slider was at the right end."""
        if not epochs:
            return
        following = not self._epochs or self.slider.value() == len(self._epochs) - 1
        known = set(self._epochs)
        self._epochs.extend(int(e) for e in epochs if int(e) not in known)
        self._epochs.sort()
        self._update_range(follow=following)

    def select_epoch(self, epoch: int) -> None:
        """Move the slider to `epoch` (it must be a snapshot epoch)."""
        self.slider.setValue(self._epochs.index(int(epoch)))

    def _update_range(self, follow: bool) -> None:
        count = len(self._epochs)
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(count - 1, 0))
        if follow:
            self.slider.setValue(max(count - 1, 0))
        self.slider.blockSignals(False)
        self.slider.setEnabled(count > 1)
        self.export_button.setEnabled(count > 0)
        self._on_value_changed(self.slider.value())

    @Slot(int)
    def _on_value_changed(self, index: int) -> None:
        if not self._epochs:
            self.label.setText("No snapshots yet")
            return
        epoch = self._epochs[index]
        self.label.setText(f"epoch {epoch} ({index + 1} of {len(self._epochs)})")
        self.epoch_selected.emit(epoch)


class SnapshotGifRenderer:
    """Render snapshot frames one at a time in an offscreen plot, then write the GIF.

    Each frame is rendered offscreen in a plot with the axis labels given,
    titled with its epoch, with the measured `real_spectra` (already in
    display units) in grey behind the generated ones.  `to_units` maps
    scaled snapshots to display units.  Runs with more than `max_frames`
    snapshots are thinned out evenly, keeping the first and the last.

    Rendering uses a plot widget, so it runs in the window's thread; a
    frame takes about 0.1 s.  `GifExport` renders one frame per turn of the
    event loop so that the window stays responsive.

    Raises
    ------
    ValueError
        If there is no snapshot, or a snapshot does not fit `axis`.
    """

    def __init__(
        self,
        snapshots: Mapping[int, np.ndarray],
        axis: np.ndarray,
        to_units: Callable[[np.ndarray], np.ndarray],
        x_label: str,
        y_label: str,
        real_spectra: np.ndarray | None = None,
        max_frames: int = MAX_GIF_FRAMES,
    ):
        epochs = sorted(int(e) for e in snapshots)
        if not epochs:
            raise ValueError("There are no snapshots to export; train the GAN first.")
        if len(epochs) > max_frames:
            picks = np.unique(np.linspace(0, len(epochs) - 1, max_frames).round().astype(int))
            epochs = [epochs[i] for i in picks]
        self.axis = np.asarray(axis, dtype=np.float64)
        self.converted: dict[int, np.ndarray] = {}
        for epoch in epochs:
            spectra = np.asarray(snapshots[epoch])
            if spectra.ndim != 2 or spectra.shape[1] != self.axis.size:
                raise ValueError(
                    f"The snapshot at epoch {epoch} has shape {spectra.shape}, which does not "
                    f"fit the {self.axis.size}-point axis.")
            self.converted[epoch] = np.asarray(to_units(spectra), dtype=np.float64)
        #: Epochs of the frames, in order.
        self.epochs = epochs
        self.frames: list[Image.Image] = []

        self._widget = plots.make_plot_widget(x_label, y_label)
        self._widget.resize(*GIF_SIZE)
        self._plot = self._widget.getPlotItem()
        if real_spectra is not None:
            grey = pg.mkPen(plots.REAL_SPECTRUM_COLOR, width=1.0)
            for row, spectrum in enumerate(np.asarray(real_spectra)):
                self._plot.plot(self.axis, spectrum, pen=grey,
                                name="Measured" if row == 0 else None)
        # One y range for every frame, so that the frames compare alike.
        all_values = np.concatenate(
            [values.ravel() for values in self.converted.values()]
            + ([np.asarray(real_spectra).ravel()] if real_spectra is not None else []))
        finite = all_values[np.isfinite(all_values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
        pad = 0.05 * (high - low) if high > low else 1.0
        self._plot.setXRange(float(self.axis.min()), float(self.axis.max()), padding=0.02)
        self._plot.setYRange(low - pad, high + pad, padding=0)
        self._plot.enableAutoRange(enable=False)
        self._curves: list[pg.PlotDataItem] = []

    @property
    def done(self) -> bool:
        """Whether every frame has been rendered."""
        return len(self.frames) == len(self.epochs)

    def render_next(self) -> None:
        """Render the next frame."""
        epoch = self.epochs[len(self.frames)]
        spectra = self.converted[epoch]
        while len(self._curves) < spectra.shape[0]:
            index = len(self._curves)
            self._curves.append(self._plot.plot(
                [], [], pen=plots.pen(index, 1.0), name="Generated" if index == 0 else None))
        for curve, spectrum in zip(self._curves, spectra):
            curve.setData(self.axis, spectrum)
        for curve in self._curves[spectra.shape[0]:]:
            curve.setData([], [])
        self._plot.setTitle(f"Generated spectra at epoch {epoch}", size="12pt")
        self.frames.append(_to_pil(self._widget.grab().toImage()))

    def write(self, path: str | Path, frame_ms: int = GIF_FRAME_MS) -> int:
        """Write the rendered frames to `path`; return their count.

        Raises
        ------
        OSError
            If the file cannot be written.
        """
        self.frames[0].save(
            Path(path), save_all=True, append_images=self.frames[1:], duration=int(frame_ms),
            loop=0, optimize=False,
        )
        log.info("wrote %d snapshot frames to %s", len(self.frames), path)
        return len(self.frames)

    def close(self) -> None:
        """Delete the offscreen plot."""
        self._widget.deleteLater()


def export_snapshot_gif(
    path: str | Path,
    snapshots: Mapping[int, np.ndarray],
    axis: np.ndarray,
    to_units: Callable[[np.ndarray], np.ndarray],
    x_label: str,
    y_label: str,
    real_spectra: np.ndarray | None = None,
    frame_ms: int = GIF_FRAME_MS,
    max_frames: int = MAX_GIF_FRAMES,
) -> int:
    """Render every frame (see `SnapshotGifRenderer`) and write the GIF; return the frame count.

    This blocks for about 0.1 s per frame; the window uses `GifExport`.
    """
    renderer = SnapshotGifRenderer(
        snapshots, axis, to_units, x_label, y_label, real_spectra, max_frames)
    try:
        while not renderer.done:
            renderer.render_next()
    finally:
        renderer.close()
    return renderer.write(path, frame_ms)


class GifExport(QObject):
    """Render a `SnapshotGifRenderer` one frame per turn of the event loop, then write it.

    Signals: `progress` (frames done, frames in all) after each frame,
    then `finished` (frames written) or `failed` (message).  `cancel`
    stops before the next frame and writes nothing.
    """

    progress = Signal(int, int)
    finished = Signal(int)
    failed = Signal(str)

    def __init__(self, renderer: SnapshotGifRenderer, path: str | Path,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.renderer = renderer
        self.path = Path(path)
        self._timer = QTimer(self)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._step)

    @property
    def is_running(self) -> bool:
        return self._timer.isActive()

    def start(self) -> None:
        self._timer.start()

    def cancel(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.renderer.close()
            self.failed.emit("The export was cancelled.")

    @Slot()
    def _step(self) -> None:
        try:
            self.renderer.render_next()
            self.progress.emit(len(self.renderer.frames), len(self.renderer.epochs))
            if not self.renderer.done:
                return
            self._timer.stop()
            self.renderer.close()
            frames = self.renderer.write(self.path)
        except (OSError, ValueError) as exc:
            self._timer.stop()
            self.renderer.close()
            log.warning("GIF export to %s failed: %s", self.path, exc)
            self.failed.emit(str(exc))
            return
        self.finished.emit(frames)


def _to_pil(image: QImage) -> Image.Image:
    """Convert a QImage to a palette image for GIF frames."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    stride = image.bytesPerLine()
    buffer = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height)
    pixels = buffer.reshape(height, stride)[:, :width * 3].reshape(height, width, 3)
    return Image.fromarray(pixels.copy(), "RGB").quantize(colors=128)
