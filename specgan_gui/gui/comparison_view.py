"""The comparison part of the Transfer page: verdict, warnings, table and plots.

`ComparisonView.show_result` draws one `ComparisonResult`.  Results stored
by older versions lack the verdict, warnings, spreads and further targets;
the view then shows what the result has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PySide6.QtCore import Slot
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.gui.result_plots import ConfusionView, RegressionPlots, column_unit
from specgan_gui.gui.table_model import DataFrameModel

if TYPE_CHECKING:
    # specgan_gui.training.comparison loads torch and scikit-learn, which would
    # slow the window's start.  By the time a result exists it is loaded.
    from specgan_gui.training.comparison import ComparisonResult

ALL_MODELS = "All models"
#: Metric columns of the result table: row key -> header.  A row key with a
#: ``_std`` partner (the standard deviation over repeats) gets an "SD" column.
METRIC_HEADERS = {
    "rmsecv": "RMSECV",
    "r2": "R²",
    "accuracy": "Accuracy",
    # Each fold chooses its own count, so the medians can be halves (3.5).
    "components": "PLS components (median of folds)",
    "epochs_used": "Epochs used (median of folds)",
}
#: A neutral blue-grey: the verdict is as often "PLS wins" as not, and a green
#: box read as approval of the GAN.
VERDICT_STYLE = (
    "QLabel { font-size: 11pt; font-weight: bold; background: #eef2f7;"
    " border: 1px solid #8fa3bf; border-radius: 3px; padding: 6px; }")
#: Rows the result table shows before it scrolls (two targets of three models).
MAX_TABLE_ROWS = 6
WARNING_STYLE = (
    "QLabel { background: #fff4d6; border: 1px solid #e0b94f; border-radius: 3px;"
    " padding: 4px; }")


def result_frame(result: ComparisonResult) -> pd.DataFrame:
    """Return the result table: one row per model and target.

    Columns: Model, Target (only for several targets), each scalar metric
    with its standard deviation over repeats ("SD", only for several
    repeats) and the recall per class (classes).  The last column,
    "Preprocessing", is the pipeline each model used in step text syntax.
    Results stored before the pipeline was recorded leave it out.
    """
    several_targets = len(result.targets) > 1
    unit = "" if several_targets else column_unit(result.target)
    rows = []
    for row in result.rows:
        shown = {"Model": row["model"]}
        if several_targets:
            shown["Target"] = row.get("target", result.target)
        for key, header in METRIC_HEADERS.items():
            value = row.get(key)
            if not _is_number(value):
                continue
            if key == "rmsecv" and unit:
                header = f"{header} ({unit})"
            shown[header] = value
            spread = row.get(f"{key}_std")
            if result.repeats > 1 and _is_number(spread):
                shown[f"{header} SD"] = spread
        recall = row.get("per_class_recall")
        if isinstance(recall, dict) and recall:
            shown["Recall per class"] = ", ".join(
                f"{label} {value:.2f}" for label, value in recall.items())
        if isinstance(row.get("preprocessing"), str):
            shown["Preprocessing"] = row["preprocessing"]
        rows.append(shown)
    frame = pd.DataFrame(rows).dropna(axis=1, how="all")
    if "Preprocessing" in frame.columns:
        frame = frame[[c for c in frame.columns if c != "Preprocessing"] + ["Preprocessing"]]
    return frame


def describe_folds(fold_of_sample: np.ndarray) -> str:
    """Return ``leave-one-out`` or ``5-fold`` cross-validation text."""
    folds = np.asarray(fold_of_sample)
    n_folds = int(np.unique(folds).size)
    if n_folds == folds.size:
        return "leave-one-out cross-validation"
    return f"{n_folds}-fold cross-validation"


def describe_result(result: ComparisonResult) -> str:
    """Return one line naming the target, checkpoint, folds, repeats and time."""
    settings = result.settings
    targets = ", ".join(result.targets)
    parts = [f"Target{'s' if len(result.targets) > 1 else ''} {targets} ({result.task})"]
    if result.checkpoint_epoch is not None:
        parts.append(f"trunk from GAN epoch {result.checkpoint_epoch}")
    epochs = settings.get("epochs")
    if settings.get("early_stopping"):
        parts.append(f"at most {epochs} fine-tuning epochs with early stopping "
                     f"(patience {settings.get('patience')})")
    else:
        parts.append(f"{epochs} fine-tuning epochs")
    folds = describe_folds(result.fold_of_sample)
    if result.repeats > 1:
        folds += f", {result.repeats} repeats"
    parts.append(folds)
    group = settings.get("group_column")
    if group:
        parts.append(f"grouped by {group}")
    if result.created:
        parts.append(f"created {result.created.replace('T', ' ')}")
    return "; ".join(parts) + "."


def _is_number(value) -> bool:
    return isinstance(value, (int, float, np.number)) and not isinstance(value, bool) \
        and bool(np.isfinite(value))


class ComparisonView(QWidget):
    """View of one comparison: verdict, warnings, metrics table and prediction plots."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: ComparisonResult | None = None
        self.verdict_label = QLabel()
        self.verdict_label.setWordWrap(True)
        self.verdict_label.setStyleSheet(VERDICT_STYLE)
        self.verdict_label.setToolTip(
            "Paired comparison of the fold errors of GAN transfer and PLS on identical folds, "
            "with an interval corrected for the overlap of repeated cross-validation.")
        self.warnings_label = QLabel()
        self.warnings_label.setWordWrap(True)
        self.warnings_label.setStyleSheet(WARNING_STYLE)

        self.result_model = DataFrameModel()
        self.result_table = QTableView()
        self.result_table.setModel(self.result_model)
        self.result_table.verticalHeader().setVisible(False)
        self.result_table.setWordWrap(False)
        # Compact rows, so that two targets' six rows leave the plots room in a
        # 1280 x 800 window.
        row_height = self.result_table.fontMetrics().height() + 6
        self.result_table.verticalHeader().setMinimumSectionSize(row_height)
        self.result_table.verticalHeader().setDefaultSectionSize(row_height)
        self.result_label = QLabel("No comparison yet.")
        self.result_label.setWordWrap(True)

        self.target_combo = QComboBox()
        self.target_combo.setToolTip("Target whose predictions are plotted.")
        self.target_combo.currentIndexChanged.connect(self._draw_selected)
        self.target_label = QLabel("Target:")
        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.model_combo.setMinimumContentsLength(14)
        self.model_combo.setToolTip("Model whose cross-validated predictions are plotted.")
        self.model_combo.currentIndexChanged.connect(self._draw_selected)
        self.regression_plots = RegressionPlots()
        self.confusion_view = ConfusionView()
        self.plot_stack = QStackedWidget()
        self.plot_stack.addWidget(self.regression_plots)
        self.plot_stack.addWidget(self.confusion_view)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.verdict_label)
        layout.addWidget(self.warnings_label)
        layout.addWidget(self.result_table)
        layout.addWidget(self.result_label)
        choice_row = QHBoxLayout()
        choice_row.addWidget(self.target_label)
        choice_row.addWidget(self.target_combo)
        choice_row.addWidget(QLabel("Cross-validated predictions of:"))
        choice_row.addWidget(self.model_combo)
        choice_row.addStretch(1)
        layout.addLayout(choice_row)
        layout.addWidget(self.plot_stack, 1)
        self.show_result(None)

    # --- aliases of the plot widgets, for the page and its tests ---------------
    @property
    def prediction_plot(self):
        return self.regression_plots.prediction_plot

    @property
    def residual_plot(self):
        return self.regression_plots.residual_plot

    @property
    def confusion_table(self):
        return self.confusion_view.table

    # --- showing a result ----------------------------------------------------
    def show_result(self, result: ComparisonResult | None) -> None:
        """Show `result`, or an empty view for None."""
        self.result = result
        for combo in (self.model_combo, self.target_combo):
            combo.blockSignals(True)
            combo.clear()
        if result is None:
            self.verdict_label.setText("")
            self.verdict_label.setVisible(False)
            self.warnings_label.setVisible(False)
            self.result_model.set_frame(pd.DataFrame())
            self.result_label.setText("No comparison yet.")
            self._set_target_choice_visible(False)
        else:
            from specgan_gui.training.comparison import MODEL_NAMES

            self._show_verdict(result)
            self._show_warnings(result)
            self.result_model.set_frame(result_frame(result))
            self._fit_table_columns()
            self.result_label.setText(describe_result(result))
            targets = self._plottable_targets(result)
            self.target_combo.addItems(targets)
            self._set_target_choice_visible(len(targets) > 1)
            names = [name for name in MODEL_NAMES if name in result.predictions]
            names += [name for name in result.predictions if name not in names]
            if result.task == "regression" and len(names) > 1:
                self.model_combo.addItem(ALL_MODELS)
            self.model_combo.addItems(names)
        for combo in (self.model_combo, self.target_combo):
            combo.blockSignals(False)
        self._draw_selected()

    def _show_verdict(self, result: ComparisonResult) -> None:
        text = result.verdict.strip()
        if not text:
            text = ("This result has no verdict: it was stored by an earlier version. "
                    "Run the comparison again for a paired comparison with PLS.")
        self.verdict_label.setText(text)
        self.verdict_label.setVisible(True)

    def _show_warnings(self, result: ComparisonResult) -> None:
        warnings = [w for w in result.warnings if str(w).strip()]
        self.warnings_label.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.warnings_label.setVisible(bool(warnings))

    def _set_target_choice_visible(self, visible: bool) -> None:
        self.target_label.setVisible(visible)
        self.target_combo.setVisible(visible)

    @staticmethod
    def _plottable_targets(result: ComparisonResult) -> list[str]:
        # Targets after the first need every repeat's predictions to be plotted.
        targets = [result.target]
        measured = np.asarray(result.measured_targets)
        for index, target in enumerate(result.targets[1:], start=1):
            has_values = measured.ndim == 2 and measured.shape[1] > index
            has_predictions = all(
                np.asarray(values).ndim == 3 and np.asarray(values).shape[2] > index
                for values in result.repeat_predictions.values()
            ) and bool(result.repeat_predictions)
            if has_values and has_predictions:
                targets.append(target)
        return targets

    def _fit_table_columns(self) -> None:
        table = self.result_table
        header = table.horizontalHeader()
        n_columns = self.result_model.columnCount()
        for column in range(n_columns):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        if n_columns:
            # The last column (the pipeline) takes the width left and is elided
            # rather than pushing the metrics out of view.
            header.setSectionResizeMode(n_columns - 1, QHeaderView.ResizeMode.Stretch)
        self._fit_table_height()

    def _fit_table_height(self) -> None:
        # Room for every row (at least 3, at most MAX_TABLE_ROWS) and no empty space
        # below them, so the plots keep the rest of the height.
        table = self.result_table
        header = table.horizontalHeader()
        n_rows = min(self.result_model.rowCount(), MAX_TABLE_ROWS)
        height = header.height() + 2 * table.frameWidth() + 2
        height += sum(table.rowHeight(row) for row in range(n_rows))
        height += max(0, 3 - n_rows) * table.verticalHeader().defaultSectionSize()
        if header.length() > table.viewport().width():
            height += table.horizontalScrollBar().sizeHint().height()
        table.setFixedHeight(height)

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        # A narrower view may need room for the table's horizontal scroll bar.
        self._fit_table_height()

    # --- plots ---------------------------------------------------------------
    @Slot()
    def _draw_selected(self, _index: int = 0) -> None:
        result = self.result
        if result is None:
            self.plot_stack.setCurrentIndex(0)
            self.regression_plots.clear()
            self.confusion_view.clear()
            return
        selected = self.model_combo.currentText()
        if result.task == "classification":
            self.plot_stack.setCurrentIndex(1)
            self._draw_confusion(result, selected)
        else:
            self.plot_stack.setCurrentIndex(0)
            self._draw_regression(result, selected)

    def _draw_regression(self, result: ComparisonResult, selected: str) -> None:
        target = self.target_combo.currentText() or result.target
        measured, predictions = self._target_predictions(result, target)
        shown = {name: values for name, values in predictions.items()
                 if selected in (ALL_MODELS, name)}
        labels = {}
        for name in shown:
            rmsecv = self._row_value(result, name, target, "rmsecv")
            labels[name] = f"{name} (RMSECV {rmsecv:.3g})" if rmsecv is not None else name
        # Colours follow the model's place among all models, whichever are shown.
        ordered = {name: shown[name] for name in predictions if name in shown}
        self.regression_plots.show_predictions(target, measured, ordered, labels)

    @staticmethod
    def _target_predictions(result: ComparisonResult, target: str):
        """Return measured values and each model's predictions of `target`."""
        if target == result.target:
            return result.measured, dict(result.predictions)
        index = result.targets.index(target)
        measured = np.asarray(result.measured_targets)[:, index]
        # Predictions of a further target: the mean over repeats, as for the first.
        predictions = {
            name: np.asarray(values, dtype=np.float64)[:, :, index].mean(axis=0)
            for name, values in result.repeat_predictions.items()
        }
        return measured, predictions

    @staticmethod
    def _row_value(result: ComparisonResult, model: str, target: str, key: str):
        for row in result.rows:
            if row["model"] == model and row.get("target", result.target) == target:
                value = row.get(key)
                return float(value) if _is_number(value) else None
        return None

    def _draw_confusion(self, result: ComparisonResult, selected: str) -> None:
        if selected not in result.predictions:
            self.confusion_view.clear()
            return
        classes = list(result.classes or sorted(set(map(str, result.measured))))
        note = ""
        if result.repeats > 1:
            note = (f"The matrix shows the first of {result.repeats} repeats; the table's "
                    "accuracy and recall are means over all repeats.")
        self.confusion_view.show_confusion(
            result.target, selected, result.measured, result.predictions[selected], classes,
            note)
