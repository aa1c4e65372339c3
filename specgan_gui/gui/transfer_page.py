"""The Transfer page: fine-tune the discriminator trunk and compare it with PLS."""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages, plots
from specgan_gui.gui.controller import ProjectController
from specgan_gui.gui.table_model import DataFrameModel
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.training.comparison import MODEL_NAMES, ComparisonResult
from specgan_gui.training.transfer import TransferSettings
from specgan_gui.training.workflow import run_transfer

log = logging.getLogger(__name__)

CV_CHOICES = (
    ("auto", "Auto (leave-one-out up to 30 spectra, else 5-fold)"),
    ("loo", "Leave-one-out"),
    ("kfold", "5-fold"),
)
ALL_MODELS = "All models"
#: Metric columns of the result table: row key -> header.
METRIC_HEADERS = {
    "rmsecv": "RMSECV",
    "r2": "R²",
    "accuracy": "Accuracy",
    "components": "PLS components",
    "checkpoint_epoch": "Checkpoint epoch",
}

MESSAGES = {
    "no_data": messages.warning("Import spectra or open an example on the Data page first."),
    "no_target": messages.warning("Choose a target column on the Data page first."),
    "no_checkpoint": messages.warning(
        "The GAN has no checkpoint yet. Train it on the GAN training page first."),
    "invalid_settings": messages.error("Transfer not started. {error}"),
    "failed": messages.error("Transfer failed. {error}"),
    "stopped": messages.info("Transfer stopped; no results were stored."),
    "finished": messages.info(
        "Best cross-validated model: {best}. The three models, fitted on all spectra, "
        "are ready on the Prediction page."),
}


class TransferPage(QWidget):
    """Run the cross-validated comparison and show its metrics and predictions."""

    def __init__(self, controller: ProjectController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.runner = TaskRunner(self, name="transfer comparison")
        self.messages = messages.MessageBar(MESSAGES)
        self.result: ComparisonResult | None = None
        self._build()

        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.started.connect(self._update_buttons)
        controller.project_replaced.connect(self._on_project_replaced)
        controller.training_changed.connect(self._refresh_checkpoints)
        controller.settings_changed.connect(self._refresh_summary)
        controller.results_changed.connect(self.refresh_result)
        controller.busy_changed.connect(self._update_buttons)
        self._on_project_replaced()

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        defaults = TransferSettings()
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setToolTip(
            "GAN epoch whose discriminator becomes the trunk. Early checkpoints often "
            "transfer better than late ones.")
        self.epochs_spinbox = QSpinBox()
        self.epochs_spinbox.setRange(1, 100_000)
        self.epochs_spinbox.setValue(defaults.epochs)
        self.epochs_spinbox.setSuffix(" epochs")
        self.epochs_spinbox.setToolTip("Fine-tuning epochs of each network in each fold.")
        self.learning_rate_spinbox = QDoubleSpinBox()
        self.learning_rate_spinbox.setDecimals(6)
        self.learning_rate_spinbox.setRange(1e-6, 1.0)
        self.learning_rate_spinbox.setSingleStep(1e-5)
        self.learning_rate_spinbox.setValue(defaults.learning_rate)
        self.learning_rate_spinbox.setToolTip("Adam learning rate of both networks.")
        self.batch_size_spinbox = QSpinBox()
        self.batch_size_spinbox.setRange(1, 10_000)
        self.batch_size_spinbox.setValue(defaults.batch_size)
        self.batch_size_spinbox.setSuffix(" spectra")
        self.batch_size_spinbox.setToolTip("Spectra per fine-tuning batch.")
        self.cv_combo = QComboBox()
        for value, text in CV_CHOICES:
            self.cv_combo.addItem(text, value)
        self.cv_combo.setToolTip(
            "Every model is tested on the same folds; each fold's preprocessing is "
            "fitted on its training spectra only.")
        self.freeze_trunk_checkbox = QCheckBox("Freeze the transferred trunk")
        self.freeze_trunk_checkbox.setToolTip(
            "Train only the new output head of the GAN transfer network.")

        settings_box = QGroupBox("Transfer settings")
        form = QFormLayout(settings_box)
        form.addRow("Checkpoint epoch:", self.checkpoint_combo)
        form.addRow("Fine-tuning epochs:", self.epochs_spinbox)
        form.addRow("Learning rate:", self.learning_rate_spinbox)
        form.addRow("Batch size:", self.batch_size_spinbox)
        form.addRow("Cross-validation:", self.cv_combo)
        form.addRow(self.freeze_trunk_checkbox)
        self._setting_widgets = [
            self.checkpoint_combo, self.epochs_spinbox, self.learning_rate_spinbox,
            self.batch_size_spinbox, self.cv_combo, self.freeze_trunk_checkbox,
        ]

        self.run_button = QPushButton("Run comparison")
        self.run_button.setToolTip(
            "Cross-validate GAN transfer, the same network from scratch and PLS on "
            "identical folds, then fit all three on every spectrum.")
        self.run_button.clicked.connect(self._on_run_clicked)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.runner.stop)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        run_layout.addLayout(buttons)
        run_layout.addWidget(self.progress_bar)
        run_layout.addWidget(self.progress_label)

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(self.summary_label)
        controls_layout.addWidget(settings_box)
        controls_layout.addWidget(run_box)
        controls_layout.addStretch(1)
        controls.setMinimumWidth(360)

        self.result_model = DataFrameModel()
        self.result_table = QTableView()
        self.result_table.setModel(self.result_model)
        self.result_table.verticalHeader().setVisible(False)
        # The metrics keep their width; the last column (the pipeline) takes the rest.
        self.result_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents)
        self.result_table.horizontalHeader().setStretchLastSection(True)
        self.result_label = QLabel("No comparison yet.")
        self.result_label.setWordWrap(True)

        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setMinimumContentsLength(14)
        self.model_combo.setToolTip("Model whose cross-validated predictions are plotted.")
        self.model_combo.currentIndexChanged.connect(self._draw_selected)
        self.prediction_plot = plots.make_plot_widget("Measured", "Predicted")
        self.confusion_table = QTableWidget()
        self.confusion_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.confusion_title = QLabel()
        self.confusion_title.setWordWrap(True)
        confusion_holder = QWidget()
        confusion_layout = QVBoxLayout(confusion_holder)
        confusion_layout.setContentsMargins(0, 0, 0, 0)
        confusion_layout.addWidget(self.confusion_title)
        confusion_layout.addWidget(self.confusion_table, 1)
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.prediction_plot)
        self.plot_stack.addWidget(confusion_holder)

        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(QLabel("<b>Cross-validated results</b>"))
        results_layout.addWidget(self.result_table)
        results_layout.addWidget(self.result_label)
        model_row = QHBoxLayout()
        model_row.addWidget(QLabel("Show:"))
        model_row.addWidget(self.model_combo)
        model_row.addStretch(1)
        results_layout.addLayout(model_row)
        results_layout.addWidget(self.plot_stack, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(results)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(splitter, 1)

    # --- settings ------------------------------------------------------------
    def settings_from_form(self) -> TransferSettings:
        """Return the transfer settings entered in the form."""
        cv = self.cv_combo.currentData()
        device = self.controller.project.gan_settings.get("device", "auto")
        return TransferSettings(
            epochs=self.epochs_spinbox.value(),
            learning_rate=self.learning_rate_spinbox.value(),
            batch_size=self.batch_size_spinbox.value(),
            freeze_trunk=self.freeze_trunk_checkbox.isChecked(),
            cv=cv,
            n_folds=5,
            device=device,
        )

    def selected_checkpoint(self) -> int | None:
        return self.checkpoint_combo.currentData()

    # --- running -------------------------------------------------------------
    @Slot()
    def _on_run_clicked(self) -> None:
        self.start_transfer()

    def start_transfer(self) -> bool:
        """Start the comparison in the worker; return True when it started."""
        self.messages.clear()
        project = self.controller.project
        if project.dataset is None:
            self.messages.show_message("no_data")
            return False
        if not project.target:
            self.messages.show_message("no_target")
            return False
        epoch = self.selected_checkpoint()
        if epoch is None:
            self.messages.show_message("no_checkpoint")
            return False
        try:
            settings = self.settings_from_form()
        except SpecganError as exc:
            self.messages.show_message("invalid_settings", error=str(exc))
            return False
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        self.runner.start(partial(_transfer_task, project, settings, epoch))
        self.controller.show_status(f"Transfer comparison started from epoch {epoch}")
        return True

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(1000 * fraction))
        self.progress_label.setText(message)

    @Slot(object)
    def _on_finished(self, result: ComparisonResult) -> None:
        self.progress_bar.setValue(1000)
        self.progress_label.setText("Finished.")
        self.controller.notify_results_changed()
        self.messages.show_message("finished", best=result.best_model())
        self.controller.show_status("Transfer comparison finished")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.progress_label.setText("Failed.")
        self.messages.show_message("failed", details=details, error=message)

    @Slot()
    def _on_cancelled(self) -> None:
        self.progress_bar.setValue(0)
        self.progress_label.setText("Stopped.")
        self.messages.show_message("stopped")

    # --- showing the project -------------------------------------------------
    @Slot()
    def _on_project_replaced(self) -> None:
        self.messages.clear()
        self.progress_bar.setValue(0)
        self.progress_label.setText("")
        self._refresh_checkpoints()
        self._refresh_summary()
        self.refresh_result()

    @Slot()
    def _refresh_checkpoints(self) -> None:
        if self.runner.is_running:
            return
        previous = self.checkpoint_combo.currentData()
        epochs = self.controller.project.checkpoint_epochs
        self.checkpoint_combo.clear()
        for epoch in epochs:
            self.checkpoint_combo.addItem(f"epoch {epoch}", int(epoch))
        if epochs:
            index = self.checkpoint_combo.findData(previous)
            self.checkpoint_combo.setCurrentIndex(index if index >= 0 else len(epochs) - 1)
        self._update_buttons()

    @Slot()
    def _refresh_summary(self) -> None:
        project = self.controller.project
        if project.dataset is None:
            self.summary_label.setText("No spectra yet.")
        elif not project.target:
            self.summary_label.setText("No target column chosen.")
        else:
            self.summary_label.setText(
                f"Predicting <b>{project.target}</b> ({project.task}) from "
                f"{project.dataset.n_samples} spectra.")

    @Slot()
    def refresh_result(self) -> None:
        """Show the project's latest comparison, or nothing when there is none."""
        if self.runner.is_running:
            return
        runs = self.controller.project.transfer_runs
        self.result = None
        if runs:
            try:
                self.result = ComparisonResult.from_record(runs[-1])
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("failed to read the stored transfer result: %s", exc)
        self._show_result()
        self._update_buttons()

    def _show_result(self) -> None:
        result = self.result
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        if result is None:
            self.result_model.set_frame(pd.DataFrame())
            self.result_label.setText("No comparison yet.")
            self.model_combo.blockSignals(False)
            self._draw_selected()
            return
        self.result_model.set_frame(result_frame(result))
        self._fit_result_table_height()
        settings = result.settings
        self.result_label.setText(
            f"Target {result.target} ({result.task}); trunk from GAN epoch "
            f"{result.checkpoint_epoch}; {settings.get('epochs')} fine-tuning epochs; "
            f"{describe_folds(result.fold_of_sample)}; created {result.created}.")
        names = [name for name in MODEL_NAMES if name in result.predictions]
        names += [name for name in result.predictions if name not in names]
        if result.task == "regression":
            self.model_combo.addItem(ALL_MODELS)
        self.model_combo.addItems(names)
        self.model_combo.blockSignals(False)
        self._draw_selected()

    def _fit_result_table_height(self) -> None:
        # Room for every row (at least 3) and no empty space below them.
        table = self.result_table
        n_rows = self.result_model.rowCount()
        height = table.horizontalHeader().height() + 2 * table.frameWidth() + 2
        height += sum(table.rowHeight(row) for row in range(n_rows))
        height += max(0, 3 - n_rows) * table.verticalHeader().defaultSectionSize()
        table.setFixedHeight(height)

    @Slot()
    def _draw_selected(self, _index: int = 0) -> None:
        result = self.result
        plots.clear_plot(self.prediction_plot)
        if result is None:
            self.plot_stack.setCurrentIndex(0)
            plots.set_axis_labels(self.prediction_plot, "Measured", "Predicted")
            return
        selected = self.model_combo.currentText()
        if result.task == "classification":
            self.plot_stack.setCurrentIndex(1)
            self._draw_confusion(result, selected)
        else:
            self.plot_stack.setCurrentIndex(0)
            self._draw_regression(result, selected)

    def _draw_regression(self, result: ComparisonResult, selected: str) -> None:
        measured = np.asarray(result.measured, dtype=np.float64)
        plots.set_axis_labels(self.prediction_plot, f"Measured {result.target}",
                              f"Predicted {result.target} (cross-validated)")
        low, high = float(np.nanmin(measured)), float(np.nanmax(measured))
        names = [n for n in result.predictions if selected in (ALL_MODELS, n)]
        for name in names:
            predicted = np.asarray(result.predictions[name], dtype=np.float64)
            low = min(low, float(np.nanmin(predicted)))
            high = max(high, float(np.nanmax(predicted)))
        margin = 0.05 * (high - low if high > low else 1.0)
        line = [low - margin, high + margin]
        self.prediction_plot.plot(line, line, pen=plots.dashed_pen(), name="1:1")
        symbols = ("o", "t", "s", "d")
        for name in names:
            index = list(result.predictions).index(name)
            predicted = np.asarray(result.predictions[name], dtype=np.float64)
            row = next((r for r in result.rows if r["model"] == name), {})
            label = name
            if "rmsecv" in row:
                label = f"{name} (RMSECV {row['rmsecv']:.3g})"
            self.prediction_plot.plot(
                measured, predicted, pen=None, symbol=symbols[index % len(symbols)],
                symbolSize=8, symbolBrush=plots.color(index), symbolPen=pg.mkPen("w"),
                name=label)

    def _draw_confusion(self, result: ComparisonResult, selected: str) -> None:
        classes = list(result.classes or sorted(set(map(str, result.measured))))
        table = self.confusion_table
        table.clear()

        if selected not in result.predictions:
            table.setRowCount(0)
            table.setColumnCount(0)
            self.confusion_title.setText("")
            return
        counts = confusion_counts(result.measured, result.predictions[selected], classes)
        table.setRowCount(len(classes))
        table.setColumnCount(len(classes))
        table.setHorizontalHeaderLabels([f"Predicted {c}" for c in classes])
        table.setVerticalHeaderLabels([f"Measured {c}" for c in classes])

        largest = max(int(counts.max()), 1)
        for row in range(len(classes)):
            for column in range(len(classes)):
                count = int(counts[row, column])
                item = QTableWidgetItem(str(count))
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                strength = count / largest
                base = QColor(plots.PALETTE[0] if row == column else plots.PALETTE[3])
                background = QColor(
                    int(255 - strength * (255 - base.red()) * 0.75),
                    int(255 - strength * (255 - base.green()) * 0.75),
                    int(255 - strength * (255 - base.blue()) * 0.75),
                )
                item.setBackground(QBrush(background))
                table.setItem(row, column, item)

        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        correct = int(np.trace(counts))
        self.confusion_title.setText(
            f"<b>Confusion matrix of {selected}</b> (cross-validated): rows are the measured "
            f"{result.target}, columns the predicted one; {correct} of {int(counts.sum())} "
            "correct (blue: correct, red: confused).")

    @Slot()
    def _update_buttons(self, _busy: bool = False) -> None:
        running = self.runner.is_running
        busy = self.controller.is_busy
        self.run_button.setEnabled(not busy and self.checkpoint_combo.count() > 0)
        self.stop_button.setEnabled(running)
        for widget in self._setting_widgets:
            widget.setEnabled(not running)


def result_frame(result: ComparisonResult) -> pd.DataFrame:
    """Return the result table: one row per model, one column per scalar metric.

    The last column, "Preprocessing", is the pipeline each model used, in
    step text syntax (results stored before it was recorded leave it out).
    """
    rows = []
    for row in result.rows:
        shown = {"Model": row["model"]}
        for key, header in METRIC_HEADERS.items():
            value = row.get(key)
            if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
                shown[header] = value
        if isinstance(row.get("preprocessing"), str):
            shown["Preprocessing"] = row["preprocessing"]
        rows.append(shown)
    frame = pd.DataFrame(rows).dropna(axis=1, how="all")
    if "Preprocessing" in frame.columns:
        frame = frame[[c for c in frame.columns if c != "Preprocessing"] + ["Preprocessing"]]
    return frame


def confusion_counts(measured, predicted, classes: list[str]) -> np.ndarray:
    """Return counts ``(n_classes, n_classes)``: rows measured, columns predicted."""
    index = {label: i for i, label in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for truth, guess in zip(map(str, measured), map(str, predicted)):
        if truth in index and guess in index:
            counts[index[truth], index[guess]] += 1
    return counts


def describe_folds(fold_of_sample: np.ndarray) -> str:
    """Return ``leave-one-out`` or ``5-fold`` cross-validation text."""
    folds = np.asarray(fold_of_sample)
    n_folds = int(np.unique(folds).size)
    if n_folds == folds.size:
        return "leave-one-out cross-validation"
    return f"{n_folds}-fold cross-validation"


def _transfer_task(project, settings: TransferSettings, epoch: int, task_state):
    return run_transfer(project, settings, checkpoint_epoch=epoch, task=task_state)
