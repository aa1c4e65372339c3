"""The Prediction page: apply a fitted model to spectra and save the table."""

from __future__ import annotations

import logging
import traceback
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages
from specgan_gui.gui.controller import ProjectController
from specgan_gui.gui.settings import window_settings
from specgan_gui.gui.table_model import DataFrameModel
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.io.base import file_dialog_filter
from specgan_gui.io.importer import ImportOptions, import_files

log = logging.getLogger(__name__)

TABLE_FILTER = "CSV tables (*.csv);;All files (*)"

MESSAGES = {
    "no_model": messages.warning(
        "No fitted model yet. Run a comparison on the Transfer page first."),
    "no_spectra": messages.warning("Choose spectra to predict: the project's or loaded files."),
    "load_failed": messages.error("The spectra were not loaded. {error}"),
    "unexpected_error": messages.error("{error}"),
    "loaded": messages.info("Loaded {count} spectra of {points} points from {source}."),
    "load_notices": messages.info("{notices}"),
    "load_warnings": messages.warning("Warnings while reading: {warnings}"),
    "failed": messages.error("Prediction failed. {error}"),
    "finished": messages.info("Predicted {count} spectra with {model}."),
    "save_failed": messages.error("The table was not saved: {error}"),
    "saved": messages.info("Saved {count} predictions to {path}."),
}


class PredictionPage(QWidget):
    """Predict the target of the project's or new spectra with a stored model."""

    def __init__(self, controller: ProjectController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.runner = TaskRunner(self, name="prediction")
        self.messages = messages.MessageBar(MESSAGES)
        self.loaded_dataset: SpectralDataset | None = None
        self.prediction: dict | None = None
        self._build()

        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.started.connect(self._update_buttons)
        controller.project_replaced.connect(self._on_project_replaced)
        controller.results_changed.connect(self._refresh_models)
        controller.dataset_changed.connect(self._update_buttons)
        controller.busy_changed.connect(self._update_buttons)
        self._on_project_replaced()

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        self.model_combo = QComboBox()
        self.model_combo.setToolTip("Fitted model from the latest transfer comparison.")
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.model_combo.currentIndexChanged.connect(self._describe_model)
        self.project_radio = QRadioButton("The project's spectra")
        self.files_radio = QRadioButton("Spectra from files")
        self.project_radio.setChecked(True)
        self.source_group = QButtonGroup(self)
        self.source_group.addButton(self.project_radio)
        self.source_group.addButton(self.files_radio)
        self.source_group.buttonToggled.connect(self._update_buttons)
        self.load_button = QPushButton("Load spectra…")
        self.load_button.setToolTip(
            "Read spectra files in any format the import reads; their axis must cover the "
            "range the model reads, in the model's unit.")
        self.load_button.clicked.connect(self._on_load_clicked)
        self.convert_axis_combo = QComboBox()
        self.convert_axis_combo.addItem("No conversion", None)
        self.convert_axis_combo.addItem("nm to cm⁻¹ (10⁷ / x)", "cm-1")
        self.convert_axis_combo.addItem("cm⁻¹ to nm (10⁷ / x)", "nm")
        self.convert_axis_combo.setToolTip(
            "Converts the axis of the files loaded next between wavelength and wavenumber, "
            "for a model fitted on the other unit.")
        self.loaded_label = QLabel("No files loaded.")
        self.loaded_label.setWordWrap(True)

        model_box = QGroupBox("Model")
        model_form = QFormLayout(model_box)
        model_form.addRow("Model:", self.model_combo)
        model_form.addRow(self.model_label)
        source_box = QGroupBox("Spectra to predict")
        source_layout = QVBoxLayout(source_box)
        source_layout.addWidget(self.project_radio)
        source_layout.addWidget(self.files_radio)
        load_row = QHBoxLayout()
        load_row.addSpacing(20)
        load_row.addWidget(self.load_button)
        load_row.addStretch(1)
        source_layout.addLayout(load_row)
        conversion_row = QHBoxLayout()
        conversion_row.addSpacing(20)
        conversion_row.addWidget(QLabel("Axis conversion:"))
        conversion_row.addWidget(self.convert_axis_combo, 1)
        source_layout.addLayout(conversion_row)
        source_layout.addWidget(self.loaded_label)

        self.predict_button = QPushButton("Predict")
        self.predict_button.clicked.connect(self._on_predict_clicked)
        self.save_button = QPushButton("Save table…")
        self.save_button.setToolTip("Write sample ids and predictions to a CSV file.")
        self.save_button.clicked.connect(self._on_save_clicked)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 0)
        self.progress_bar.setVisible(False)
        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.save_button)
        run_layout.addLayout(buttons)
        run_layout.addWidget(self.progress_bar)

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(model_box)
        controls_layout.addWidget(source_box)
        controls_layout.addWidget(run_box)
        controls_layout.addStretch(1)
        controls.setMinimumWidth(360)

        self.table_title = QLabel("No predictions yet.")
        self.table_title.setWordWrap(True)
        self.prediction_model = DataFrameModel()
        self.prediction_table = QTableView()
        self.prediction_table.setModel(self.prediction_model)
        self.prediction_table.setAlternatingRowColors(True)
        self.prediction_table.verticalHeader().setVisible(False)
        self.prediction_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.Stretch)
        table_holder = QWidget()
        table_layout = QVBoxLayout(table_holder)
        table_layout.setContentsMargins(0, 0, 0, 0)
        table_layout.addWidget(self.table_title)
        table_layout.addWidget(self.prediction_table, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(table_holder)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(splitter, 1)

    # --- loading spectra -----------------------------------------------------
    @Slot()
    def _on_load_clicked(self) -> None:
        self.load_spectra()

    def load_spectra(self, paths: list[str | Path] | None = None) -> bool:
        """Read spectra to predict; without `paths`, ask with a file dialog."""
        if paths is None:
            settings = window_settings()
            folder = str(settings.value("last_spectra_folder", ""))
            paths, _ = QFileDialog.getOpenFileNames(self, "Load spectra to predict", folder,
                                                    file_dialog_filter())
            if not paths:
                return False

        self.messages.clear()
        options = ImportOptions(convert_axis_to=self.convert_axis_combo.currentData())
        try:
            result = import_files(paths, options)
        except SpecganError as exc:
            self.messages.show_message("load_failed", error=str(exc))
            return False
        except Exception as exc:  # a reader bug must not crash the window
            log.exception("loading %s failed", paths)
            self.messages.show_message(
                "unexpected_error", details=traceback.format_exc(),
                error=f"Unexpected error while reading: {type(exc).__name__}: {exc}")
            return False

        self.loaded_dataset = result.dataset
        names = ", ".join(Path(p).name for p in paths)
        self.loaded_label.setText(
            f"{result.dataset.n_samples} spectra × {result.dataset.n_points} points from {names}")
        self.messages.show_message("loaded", count=result.dataset.n_samples,
                                   points=result.dataset.n_points, source=names)
        if result.notices:
            self.messages.show_message("load_notices", notices=" ".join(result.notices))
        if result.warnings:
            self.messages.show_message("load_warnings", warnings=" ".join(result.warnings))
        self.files_radio.setChecked(True)
        self._update_buttons()
        return True

    # --- predicting ----------------------------------------------------------
    @Slot()
    def _on_predict_clicked(self) -> None:
        self.start_prediction()

    def start_prediction(self) -> bool:
        """Predict in the worker; return True when it started."""
        self.messages.clear()
        model_name = self.model_combo.currentText()
        if not model_name:
            self.messages.show_message("no_model")
            return False
        if self.files_radio.isChecked():
            dataset = self.loaded_dataset
            if dataset is None:
                self.messages.show_message("no_spectra")
                return False
            source = self.loaded_label.text()
        else:
            dataset, source = None, "project spectra"
        self.progress_bar.setVisible(True)
        self.runner.start(partial(_predict_task, self.controller.project, model_name, dataset,
                                  source))
        return True

    @Slot(object)
    def _on_finished(self, record: dict) -> None:
        self.progress_bar.setVisible(False)
        self.controller.notify_predictions_changed()
        self.show_prediction(record)
        self.messages.show_message("finished", count=len(record["sample_ids"]),
                                   model=record["model"])
        self.controller.show_status(f"Predicted {len(record['sample_ids'])} spectra")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.progress_bar.setVisible(False)
        # The table showed the previous prediction; clear it so Save table cannot
        # write results that do not belong to the spectra and model just chosen.
        self.show_prediction(None)
        self.messages.show_message("failed", details=details, error=message)

    def show_prediction(self, record: dict | None) -> None:
        """Show one prediction record in the table."""
        self.prediction = record
        if record is None:
            self.prediction_model.set_frame(pd.DataFrame())
            self.table_title.setText("No predictions yet.")
        else:
            frame = prediction_frame(record, self.controller.project)
            self.prediction_model.set_frame(frame)
            title = f"<b>{record['model']}</b> on {record['source']} ({record['created']})"
            agreement = describe_agreement(frame)
            if agreement:
                title += f"<br>{agreement}"
            self.table_title.setText(title)
        self._update_buttons()

    # --- saving --------------------------------------------------------------
    @Slot()
    def _on_save_clicked(self) -> None:
        self.save_table()

    def save_table(self, path: str | Path | None = None) -> bool:
        """Write the shown predictions to a CSV file; without `path`, ask for one."""
        if self.prediction is None:
            return False
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Save predictions", "predictions.csv",
                                                  TABLE_FILTER)
            if not path:
                return False
        self.messages.clear("saved", "save_failed")
        frame = self.prediction_model.frame
        try:
            frame.to_csv(path, index=False)
        except OSError as exc:
            self.messages.show_message("save_failed", error=f"{path}: {exc.strerror or exc}")
            return False
        self.messages.show_message("saved", count=len(frame), path=path)
        return True

    # --- showing the project -------------------------------------------------
    @Slot()
    def _on_project_replaced(self) -> None:
        self.messages.clear()
        self.loaded_dataset = None
        self.loaded_label.setText("No files loaded.")
        self.project_radio.setChecked(True)
        self._refresh_models()
        predictions = self.controller.project.predictions
        record = predictions[-1] if predictions else None
        self.show_prediction(record)
        if record is not None and str(record["model"]) in self.controller.project.models:
            # The Model box names the model of the predictions on show.
            self.model_combo.setCurrentText(str(record["model"]))

    @Slot()
    def _refresh_models(self) -> None:
        if self.runner.is_running:
            return
        previous = self.model_combo.currentText()
        names = list(self.controller.project.models)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        self.model_combo.addItems(names)
        if previous in names:
            self.model_combo.setCurrentText(previous)
        self.model_combo.blockSignals(False)
        self._describe_model()
        self._update_buttons()

    @Slot()
    def _describe_model(self, _index: int = 0) -> None:
        name = self.model_combo.currentText()
        tree = self.controller.project.models.get(name)
        if tree is None:
            self.model_label.setText("No fitted model yet: run a comparison on the Transfer page.")
            return
        target = tree.get("target", "")
        task = tree.get("task", "")
        self.model_label.setText(f"Predicts {target} ({task}); fitted on all project spectra.")

    @Slot()
    def _update_buttons(self, *_args) -> None:
        busy = self.controller.is_busy
        has_model = self.model_combo.count() > 0
        if self.files_radio.isChecked():
            has_spectra = self.loaded_dataset is not None
        else:
            has_spectra = self.controller.dataset is not None
        self.predict_button.setEnabled(not busy and has_model and has_spectra)
        self.load_button.setEnabled(not busy)
        self.model_combo.setEnabled(not busy)
        self.save_button.setEnabled(self.prediction is not None)


def prediction_frame(record: dict, project) -> pd.DataFrame:
    """Return a table of sample ids and predictions, plus measured values when known.

    The measured column appears when the predicted samples are in the
    project's data set and it contains the model's target column.
    """
    ids = [str(s) for s in np.asarray(record["sample_ids"])]
    values = np.asarray(record["values"])
    values = values.astype(str) if values.dtype.kind in "SUO" else values.astype(np.float64)
    frame = pd.DataFrame({"Sample id": ids, "Prediction": values})
    dataset = project.dataset
    target = str(project.models.get(str(record["model"]), {}).get("target", ""))
    if dataset is not None and target in dataset.references.columns:
        measured = dict(zip(dataset.sample_ids, dataset.references[target]))
        if all(sample in measured for sample in ids):
            frame[f"Measured {target}"] = [measured[sample] for sample in ids]
    return frame


def describe_agreement(frame: pd.DataFrame) -> str:
    """Return how far predictions match the measured column, or "" without one."""
    measured_columns = [c for c in frame.columns if str(c).startswith("Measured ")]
    if not measured_columns:
        return ""
    column = measured_columns[0]
    target = str(column).removeprefix("Measured ")
    note = ("If the model was fitted on these spectra, this is not a validation; "
            "the Transfer page shows cross-validated results.")
    predicted, measured = frame["Prediction"], frame[column]
    if predicted.dtype.kind in "fi" and pd.api.types.is_numeric_dtype(measured):
        errors = predicted.to_numpy(float) - measured.to_numpy(float)
        errors = errors[np.isfinite(errors)]
        if errors.size == 0:
            return ""
        rmse = float(np.sqrt(np.mean(errors**2)))
        return f"RMSE against the measured {target}: {rmse:.4g} over {errors.size} spectra. {note}"
    agree = int((predicted.astype(str) == measured.astype(str)).sum())
    return f"Agrees with the measured {target} for {agree} of {len(frame)} spectra. {note}"


def _predict_task(project, model_name: str, dataset, source: str, task_state) -> dict:
    # Imported here because it loads torch, which would slow the window's start.
    from specgan_gui.training.workflow import predict_samples

    task_state.report(0.0, f"Predicting with {model_name}")
    return predict_samples(project, model_name, dataset, source)
