"""The Transfer page: sweep the GAN checkpoints, then compare GAN transfer with PLS.

The left column contains the settings, the checkpoint choice and the run
controls.  The right side has two tabs: the checkpoint sweep, a plot of the
metric against GAN epoch where a click on a point chooses that checkpoint,
and the comparison with its verdict, warnings, table and plots.  Sweeps and
comparisons run one at a time in the page's worker thread.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import missing_values
from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages
from specgan_gui.gui.comparison_view import ALL_MODELS, ComparisonView
from specgan_gui.gui.controller import ProjectController
from specgan_gui.gui.result_plots import column_unit
from specgan_gui.gui.sweep_plot import SweepPlot, format_metric
from specgan_gui.gui.transfer_form import TransferSettingsForm
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.training.transfer_settings import TransferSettings

if TYPE_CHECKING:
    # The comparison, sweep and workflow modules load torch and scikit-learn,
    # so the functions that use them import them when they run, which keeps
    # the window's start fast.
    from specgan_gui.training.comparison import ComparisonResult
    from specgan_gui.training.sweep import SweepResult

log = logging.getLogger(__name__)

__all__ = ["ALL_MODELS", "TransferPage"]

SWEEP_TAB, COMPARISON_TAB = 0, 1

MESSAGES = {
    "no_data": messages.warning("Import spectra or open an example on the Data page first."),
    "no_target": messages.warning("Choose a target column on the Data page first."),
    "no_checkpoint": messages.warning(
        "The GAN has no checkpoint yet. Train it on the GAN training page first."),
    "no_selection": messages.warning(
        "No checkpoint is ticked for the sweep. Tick at least one, or tick "
        "\"All stored checkpoints\"."),
    "invalid_settings": messages.error("{what} not started. {error}"),
    "failed": messages.error("{what} failed. {error}"),
    "stopped": messages.info("{what} stopped; no results were stored."),
    "sweep_finished": messages.info(
        "Sweep finished. The best checkpoint, epoch {epoch} ({value}), is chosen for the "
        "comparison; click another point on the plot to choose it instead."),
    "finished": messages.info(
        "Best cross-validated model: {best}. The models, fitted on all spectra, are ready "
        "on the Prediction page."),
    "checkpoint_missing": messages.warning(
        "Epoch {epoch} has no stored checkpoint (stored: {stored}). The sweep is older than "
        "the GAN run; sweep the checkpoints again."),
}


class TransferPage(QWidget):
    """Sweep checkpoints, run the cross-validated comparison and show both."""

    def __init__(self, controller: ProjectController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.runner = TaskRunner(self, name="transfer comparison")
        self.messages = messages.MessageBar(MESSAGES)
        self.result: ComparisonResult | None = None
        self.sweep: SweepResult | None = None
        #: "sweep" or "comparison" while a task runs, else "".
        self.running_kind = ""
        self._build()

        self.runner.progress.connect(self._on_progress)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        self.runner.started.connect(self._update_buttons)
        controller.project_replaced.connect(self._on_project_replaced)
        controller.dataset_changed.connect(self._refresh_columns)
        controller.training_changed.connect(self._refresh_checkpoints)
        controller.settings_changed.connect(self._refresh_summary)
        controller.settings_changed.connect(self._refresh_columns)
        controller.results_changed.connect(self.refresh_result)
        controller.busy_changed.connect(self._update_buttons)
        self._on_project_replaced()

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.form = TransferSettingsForm()
        # Shortcuts used by the page's callers and tests.
        self.epochs_spinbox = self.form.epochs_spinbox
        self.cv_combo = self.form.cv_combo
        self.learning_rate_spinbox = self.form.learning_rate_spinbox
        self.batch_size_spinbox = self.form.batch_size_spinbox

        # Only the settings scroll; the run controls below them stay in view.
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(390)

        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the sweep or comparison; nothing is stored.")
        self.stop_button.clicked.connect(self.runner.stop)
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        run_row = QHBoxLayout()
        run_row.addWidget(self.progress_bar, 1)
        run_row.addWidget(self.stop_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.summary_label)
        left_layout.addWidget(scroll, 1)
        left_layout.addWidget(self._build_sweep_box())
        left_layout.addWidget(self._build_comparison_box())
        left_layout.addLayout(run_row)
        left_layout.addWidget(self.progress_label)

        self.comparison_view = ComparisonView()
        self.result_tabs = QTabWidget()
        self.result_tabs.addTab(self._build_sweep_tab(), "Checkpoint sweep")
        self.result_tabs.addTab(self.comparison_view, "Comparison")
        # Shortcuts to the comparison's widgets.
        self.result_model = self.comparison_view.result_model
        self.result_table = self.comparison_view.result_table
        self.model_combo = self.comparison_view.model_combo
        self.plot_stack = self.comparison_view.plot_stack
        self.verdict_label = self.comparison_view.verdict_label
        self.warnings_label = self.comparison_view.warnings_label
        self.prediction_plot = self.comparison_view.prediction_plot
        self.residual_plot = self.comparison_view.residual_plot
        self.confusion_table = self.comparison_view.confusion_table

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.result_tabs)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 880])
        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(splitter, 1)

    def _build_sweep_box(self) -> QGroupBox:
        self.all_checkpoints_checkbox = QCheckBox("All stored checkpoints")
        self.all_checkpoints_checkbox.setChecked(True)
        self.all_checkpoints_checkbox.setToolTip(
            "Sweep every stored checkpoint, or untick to choose some in the list.")
        self.all_checkpoints_checkbox.toggled.connect(self._update_buttons)
        self.sweep_list = QListWidget()
        self.sweep_list.setMaximumHeight(72)
        self.sweep_list.setVisible(False)
        self.sweep_list.setToolTip("Checkpoints to sweep when not all are swept.")
        self.sweep_button = QPushButton("Sweep checkpoints")
        self.sweep_button.setToolTip(
            "Cross-validate GAN transfer from each chosen checkpoint on the same folds and "
            "plot the error against GAN epoch. PLS and the network from scratch do not "
            "depend on the checkpoint and are left out of the sweep.")
        self.sweep_button.clicked.connect(self._on_sweep_clicked)
        box = QGroupBox("1. Checkpoint sweep")
        layout = QVBoxLayout(box)
        layout.addWidget(self.all_checkpoints_checkbox)
        layout.addWidget(self.sweep_list)
        layout.addWidget(self.sweep_button)
        return box

    def _build_comparison_box(self) -> QGroupBox:
        self.checkpoint_combo = QComboBox()
        self.checkpoint_combo.setToolTip(
            "GAN epoch whose discriminator becomes the trunk. Click a point of the sweep "
            "plot to choose it there; early checkpoints often transfer better than late ones.")
        self.checkpoint_combo.currentIndexChanged.connect(self._on_checkpoint_changed)
        self.run_button = QPushButton("Run comparison")
        self.run_button.setToolTip(
            "Cross-validate GAN transfer, the same network from scratch and PLS on "
            "identical folds, compare GAN transfer with PLS fold by fold, then fit all "
            "three on every spectrum.")
        self.run_button.clicked.connect(self._on_run_clicked)
        box = QGroupBox("2. Comparison")
        layout = QHBoxLayout(box)
        layout.addWidget(QLabel("Checkpoint:"))
        layout.addWidget(self.checkpoint_combo, 1)
        layout.addWidget(self.run_button)
        return box

    def _build_sweep_tab(self) -> QWidget:
        self.sweep_caption = QLabel()
        self.sweep_caption.setWordWrap(True)
        self.sweep_plot = SweepPlot()
        self.sweep_plot.epoch_clicked.connect(self.choose_checkpoint)
        self.sweep_hint = QLabel()
        self.sweep_hint.setWordWrap(True)
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(self.sweep_caption)
        layout.addWidget(self.sweep_plot, 1)
        layout.addWidget(self.sweep_hint)
        return tab

    # --- settings ------------------------------------------------------------
    def settings_from_form(self) -> TransferSettings:
        """Return the transfer settings entered; raises `SettingsError` if invalid."""
        return self.form.settings()

    def selected_checkpoint(self) -> int | None:
        return self.checkpoint_combo.currentData()

    def sweep_epochs(self) -> list[int] | None:
        """Return the ticked checkpoint epochs, or None for all stored checkpoints."""
        if self.all_checkpoints_checkbox.isChecked():
            return None
        epochs = []
        for row in range(self.sweep_list.count()):
            item = self.sweep_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                epochs.append(int(item.data(Qt.ItemDataRole.UserRole)))
        return epochs

    @Slot(int)
    def choose_checkpoint(self, epoch: int) -> bool:
        """Choose the checkpoint of `epoch` for the comparison (a click on the sweep plot)."""
        index = self.checkpoint_combo.findData(int(epoch))
        if index < 0:
            stored = ", ".join(map(str, self.controller.project.checkpoint_epochs)) or "none"
            self.messages.show_message("checkpoint_missing", epoch=epoch, stored=stored)
            return False
        self.messages.clear("checkpoint_missing")
        self.checkpoint_combo.setCurrentIndex(index)
        return True

    # --- running -------------------------------------------------------------
    @Slot()
    def _on_sweep_clicked(self) -> None:
        self.start_sweep()

    @Slot()
    def _on_run_clicked(self) -> None:
        self.start_transfer()

    def _can_start(self) -> bool:
        project = self.controller.project
        if project.dataset is None:
            self.messages.show_message("no_data")
            return False
        if not project.target:
            self.messages.show_message("no_target")
            return False
        if not project.checkpoint_epochs:
            self.messages.show_message("no_checkpoint")
            return False
        return True

    def _settings_or_message(self, what: str) -> TransferSettings | None:
        try:
            settings = self.settings_from_form()
        except SpecganError as exc:
            self.messages.show_message("invalid_settings", what=what, error=str(exc))
            return None
        project = self.controller.project
        extra_targets = self.form.extra_targets() if project.task == "regression" else []
        if list(project.extra_targets) != extra_targets:
            project.extra_targets = extra_targets
        return settings

    def start_sweep(self) -> bool:
        """Start the checkpoint sweep in the worker; return True when it started."""
        self.messages.clear()
        if not self._can_start():
            return False
        epochs = self.sweep_epochs()
        if epochs is not None and not epochs:
            self.messages.show_message("no_selection")
            return False
        settings = self._settings_or_message("Sweep")
        if settings is None:
            return False
        self._start("sweep", partial(_sweep_task, self.controller.project, settings, epochs))
        count = len(epochs) if epochs is not None else len(
            self.controller.project.checkpoint_epochs)
        self.controller.show_status(f"Checkpoint sweep started over {count} checkpoints")
        return True

    def start_transfer(self) -> bool:
        """Start the comparison in the worker; return True when it started."""
        self.messages.clear()
        if not self._can_start():
            return False
        epoch = self.selected_checkpoint()
        if epoch is None:
            self.messages.show_message("no_checkpoint")
            return False
        settings = self._settings_or_message("Comparison")
        if settings is None:
            return False
        self._start("comparison",
                    partial(_transfer_task, self.controller.project, settings, epoch))
        self.controller.show_status(f"Transfer comparison started from epoch {epoch}")
        return True

    def _start(self, kind: str, task) -> None:
        self.running_kind = kind
        self.progress_bar.setValue(0)
        self.progress_label.setText("Starting…")
        self.runner.start(task, name=f"transfer {kind}")

    def _task_title(self) -> str:
        return "Sweep" if self.running_kind == "sweep" else "Comparison"

    @Slot(float, str)
    def _on_progress(self, fraction: float, message: str) -> None:
        self.progress_bar.setValue(int(1000 * fraction))
        self.progress_label.setText(message)

    @Slot(object)
    def _on_finished(self, result) -> None:
        self.running_kind = ""
        self.progress_bar.setValue(1000)
        self.progress_label.setText("Finished.")
        self.controller.notify_results_changed()
        from specgan_gui.training.sweep import SweepResult

        if isinstance(result, SweepResult):
            self._after_sweep(result)
        else:
            self.result_tabs.setCurrentIndex(COMPARISON_TAB)
            self.messages.show_message("finished", best=result.best_model())
            self.controller.show_status("Transfer comparison finished")

    def _after_sweep(self, sweep: SweepResult) -> None:
        self.result_tabs.setCurrentIndex(SWEEP_TAB)
        if sweep.epochs.size == 0:
            return
        best = sweep.best_epoch
        self.choose_checkpoint(best)
        values = sweep.values[sweep.epochs == best]
        value = format_metric(sweep.metric, float(values[0]), self._sweep_unit(sweep))
        self.messages.show_message("sweep_finished", epoch=best, value=value)
        self.controller.show_status(f"Checkpoint sweep finished; best epoch {best}")

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        what = self._task_title()
        self.running_kind = ""
        self.progress_label.setText("Failed.")
        self.messages.show_message("failed", details=details, what=what, error=message)

    @Slot()
    def _on_cancelled(self) -> None:
        what = self._task_title()
        self.running_kind = ""
        self.progress_bar.setValue(0)
        self.progress_label.setText("Stopped.")
        self.messages.show_message("stopped", what=what)

    # --- showing the project -------------------------------------------------
    @Slot()
    def _on_project_replaced(self) -> None:
        self.messages.clear()
        self.progress_bar.setValue(0)
        self.progress_label.setText("")
        project = self.controller.project
        stored = dict(project.transfer_settings)
        if not stored:
            # Before the first transfer the networks train where the GAN trained.
            stored = {"device": project.gan_settings.get("device", "auto")}
        self.form.load(stored)
        self.form.set_extra_targets([])  # the ticks of the previous project
        self._refresh_columns()
        self._refresh_summary()
        self.refresh_result()
        self._refresh_checkpoints()
        # The checkpoint of the stored comparison, so that Compare repeats it;
        # without one, the sweep's best.
        compared = self.result.checkpoint_epoch if self.result is not None else None
        if compared is None or self.checkpoint_combo.findData(int(compared)) < 0:
            if self.sweep is not None:
                self._select_best_checkpoint()
        else:
            self.checkpoint_combo.setCurrentIndex(self.checkpoint_combo.findData(int(compared)))
        tab = COMPARISON_TAB if self.result is not None else SWEEP_TAB
        self.result_tabs.setCurrentIndex(tab)

    @Slot()
    def _refresh_columns(self) -> None:
        if self.runner.is_running:
            return
        project = self.controller.project
        dataset = project.dataset
        columns = [str(c) for c in dataset.references.columns] if dataset is not None else []
        numeric = [str(c) for c in dataset.numeric_columns()] if dataset is not None else []
        # Ticks not yet used by a run survive a change of the reference table.
        extra_targets = list(dict.fromkeys(self.form.extra_targets() + project.extra_targets))
        self.form.set_columns(columns, numeric, project.target, project.task, extra_targets)

    @Slot()
    def _refresh_checkpoints(self) -> None:
        if self.runner.is_running:
            return
        previous = self.checkpoint_combo.currentData()
        epochs = self.controller.project.checkpoint_epochs
        self.checkpoint_combo.blockSignals(True)
        self.checkpoint_combo.clear()
        for epoch in epochs:
            self.checkpoint_combo.addItem(f"epoch {epoch}", int(epoch))
        if epochs:
            index = self.checkpoint_combo.findData(previous)
            self.checkpoint_combo.setCurrentIndex(index if index >= 0 else len(epochs) - 1)
        self.checkpoint_combo.blockSignals(False)
        self._on_checkpoint_changed()

        ticked = set(self.sweep_epochs() or [])
        self.sweep_list.clear()
        for epoch in epochs:
            item = QListWidgetItem(f"epoch {epoch}")
            item.setData(Qt.ItemDataRole.UserRole, int(epoch))
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(
                Qt.CheckState.Checked if epoch in ticked else Qt.CheckState.Unchecked)
            self.sweep_list.addItem(item)
        self.all_checkpoints_checkbox.setText(f"All stored checkpoints ({len(epochs)})")
        self._update_buttons()

    def _select_best_checkpoint(self) -> None:
        sweep = self.sweep
        if sweep is None or sweep.epochs.size == 0:
            return
        index = self.checkpoint_combo.findData(sweep.best_epoch)
        if index >= 0:
            self.checkpoint_combo.setCurrentIndex(index)

    @Slot()
    def _on_checkpoint_changed(self, _index: int = 0) -> None:
        epoch = self.checkpoint_combo.currentData()
        self.sweep_plot.set_selected_epoch(epoch)
        if epoch is None:
            self.sweep_hint.setText("")
            return
        text = f"Checkpoint for the comparison: <b>epoch {epoch}</b>."
        if self.sweep_plot.epochs.size:
            text += " Click a point to choose another."
        self.sweep_hint.setText(text)

    @Slot()
    def _refresh_summary(self) -> None:
        project = self.controller.project
        if project.dataset is None:
            self.summary_label.setText("No spectra yet.")
        elif not project.target:
            self.summary_label.setText("No target column chosen.")
        else:
            dataset = project.dataset
            total = dataset.n_samples
            with_value = total
            if project.target in map(str, dataset.references.columns):
                with_value = total - int(missing_values(dataset.references[project.target]).sum())
            spectra = (f"{total} spectra" if with_value == total
                       else f"the {with_value} of {total} spectra that have a value")
            self.summary_label.setText(
                f"Predicting <b>{project.target}</b> ({project.task}) from {spectra}.")

    @Slot()
    def refresh_result(self) -> None:
        """Show the project's latest sweep and comparison, or empty views."""
        if self.runner.is_running:
            return
        project = self.controller.project
        self.result = None
        if project.transfer_runs:
            from specgan_gui.training.comparison import ComparisonResult

            try:
                self.result = ComparisonResult.from_record(project.transfer_runs[-1])
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("failed to read the stored transfer result: %s", exc)
        self.sweep = None
        if project.sweeps:
            from specgan_gui.training.sweep import SweepResult

            try:
                self.sweep = SweepResult.from_record(project.sweeps[-1])
            except (KeyError, ValueError, TypeError) as exc:
                log.warning("failed to read the stored sweep: %s", exc)
        self.comparison_view.show_result(self.result)
        self._show_sweep()
        self._update_buttons()

    @staticmethod
    def _sweep_unit(sweep: SweepResult) -> str:
        return column_unit(sweep.targets[0]) if sweep.targets else ""

    def _show_sweep(self) -> None:
        sweep = self.sweep
        if sweep is None or sweep.epochs.size == 0:
            self.sweep_plot.clear()
            self.sweep_caption.setText(
                "No sweep yet. Sweep the checkpoints to see which GAN epoch transfers best.")
            self._on_checkpoint_changed()
            return
        repeats = int(sweep.settings.get("repeats", 1) or 1)
        self.sweep_plot.show_sweep(sweep.epochs, sweep.values, sweep.spread, sweep.metric,
                                   sweep.best_epoch, self._sweep_unit(sweep), repeats)
        self.sweep_caption.setText(describe_sweep(sweep))
        self._on_checkpoint_changed()

    @Slot()
    def _update_buttons(self, _busy: bool = False) -> None:
        running = self.runner.is_running
        busy = self.controller.is_busy
        has_checkpoints = self.checkpoint_combo.count() > 0
        self.run_button.setEnabled(not busy and has_checkpoints)
        self.sweep_button.setEnabled(not busy and has_checkpoints)
        self.stop_button.setEnabled(running)
        for widget in (self.form, self.checkpoint_combo, self.all_checkpoints_checkbox):
            widget.setEnabled(not running)
        self.sweep_list.setEnabled(not running)
        self.sweep_list.setVisible(not self.all_checkpoints_checkbox.isChecked())


def describe_sweep(sweep: SweepResult) -> str:
    """Return one line naming the sweep's target, checkpoints, folds and repeats."""
    settings = sweep.settings
    target = sweep.targets[0] if sweep.targets else "the target"
    metric = "RMSECV" if sweep.metric == "rmsecv" else "accuracy"
    parts = [f"Cross-validated {metric} of GAN transfer for <b>{target}</b> from "
             f"{sweep.epochs.size} checkpoints"]
    if len(sweep.targets) > 1:
        parts.append(f"further targets {', '.join(sweep.targets[1:])} are fitted too but "
                     "only the first is plotted")
    scheme = {"loo": "leave-one-out", "kfold": f"{settings.get('n_folds')}-fold"}.get(
        settings.get("cv"), "auto cross-validation")
    repeats = int(settings.get("repeats", 1) or 1)
    parts.append(scheme + (f", {repeats} repeats" if repeats > 1 else ""))
    if settings.get("group_column"):
        parts.append(f"grouped by {settings['group_column']}")
    if sweep.created:
        parts.append(f"created {sweep.created.replace('T', ' ')}")
    return "; ".join(parts) + "."


def _sweep_task(project, settings: TransferSettings, epochs: list[int] | None, task_state):
    from specgan_gui.training import workflow

    return workflow.run_sweep(project, settings, epochs=epochs, task=task_state)


def _transfer_task(project, settings: TransferSettings, epoch: int, task_state):
    from specgan_gui.training import workflow

    return workflow.run_transfer(project, settings, checkpoint_epoch=epoch, task=task_state)
