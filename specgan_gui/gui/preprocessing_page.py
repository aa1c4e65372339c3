"""The Preprocessing page: build the pipeline, preview its effect, store it in the project.

The user edits an ordered step list (add, remove, move, switch off), the
parameters of the selected step, or loads a preset or a suggested pipeline.
Every edit schedules a preview after a short pause: the page fits the
edited pipeline on all spectra (as the GAN receives them) and draws the spectra
before and after it, and the input and output of the selected step.  The
pipeline reaches the project only through Apply, which asks before it
clears a GAN run and results built on the old pipeline.

The preview keeps each step's output and recomputes only the steps from the
first changed one on, so editing a late step never reruns an early one.
Most steps take milliseconds; the iterative baselines (AsLS, arPLS,
airPLS) take up to a second on a hundred spectra, so whenever one of them
must be recomputed the preview runs in a worker thread and the page says
it is computing.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import (
    PRESETS,
    Pipeline,
    default_params,
    format_step,
    format_steps,
    make_step,
    parse_steps,
    range_dropped_warning,
    step_info,
    step_kinds,
    validate,
)
from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages, plots
from specgan_gui.gui.controller import ProjectController
from specgan_gui.gui.data_page import intensity_label
from specgan_gui.gui.dialogs import ask_yes_no
from specgan_gui.gui.step_form import StepForm
from specgan_gui.gui.worker import TaskRunner

log = logging.getLogger(__name__)

#: Pause after the last edit before the preview is recomputed, in milliseconds.
PREVIEW_DELAY_MS = 150
#: Step kinds that iterate on each spectrum and may take a second: previewed in a worker.
SLOW_KINDS = frozenset({"asls", "arpls", "airpls"})
#: Spectra drawn in each plot; more only slow the drawing down.
MAX_PREVIEW_SPECTRA = 200
PRESET_PLACEHOLDER = "Load a preset…"
_KNOWN_KINDS = frozenset(info.kind for info in step_kinds())

MESSAGES = {
    "no_data": messages.info("Import spectra or open an example on the Data page first."),
    "settings_warnings": messages.warning("{warnings}"),
    "preview_failed": messages.error("No preview: {error}"),
    "preview_blocked": messages.error(
        "The after plots stay empty until the problems above are fixed."),
    "computing": messages.info(
        "Computing the preview: the baseline steps iterate on every spectrum and may take "
        "a second."),
    "plot_limited": messages.info(
        "The plots show {shown} of {count} spectra; every spectrum is preprocessed."),
    "preset_loaded": messages.info("Preset {label}: {description} Press Apply to store it."),
    "apply_refused": messages.error("The pipeline was not applied. {error}"),
    "applied": messages.info(
        "Stored the pipeline {steps}; the models receive {points} points per spectrum."),
    "no_target": messages.warning(
        "Choose a target column on the Data page first: Suggest ranks pipelines by how well "
        "PLS predicts it."),
    "suggest_failed": messages.error("Suggest failed. {error}"),
    "suggest_stopped": messages.info("Suggest stopped; no ranking was made."),
    "suggest_finished": messages.info(
        "Best pipeline by cross-validated PLS: {best}. Select a row and press Use selected "
        "to load it into the step list."),
    "pls_refused": messages.error("PLS's pipeline was not changed. {error}"),
    "pls_set": messages.info(
        "PLS now uses its own pipeline {steps}; the GAN and the networks keep theirs. "
        "Transfer runs from now on use it. {note}"),
    "unexpected_error": messages.error("{error}"),
}


@dataclass
class EditedStep:
    """One row of the step list: kind, parameters, and whether the pipeline uses it."""

    kind: str
    params: dict
    enabled: bool = True

    def spec(self) -> dict:
        return {"kind": self.kind, "params": copy.deepcopy(self.params)}


def normalised_spec(spec: list[dict]) -> list[dict]:
    """Return `spec` with every parameter filled and converted as the project stores it.

    A spec with an invalid step is returned as it is, so it never equals a
    stored (valid) pipeline.
    """
    try:
        return Pipeline.from_spec(spec).to_spec()
    except SpecganError:
        return copy.deepcopy(spec)


def compute_stages(
    axis: np.ndarray,
    spectra: np.ndarray,
    spec: list[dict],
    cached_spec: list[dict] | None = None,
    cached_stages: list[tuple] | None = None,
) -> tuple[list[tuple], str]:
    """Fit `spec` step by step on `spectra` and return every stage and the first error.

    The stages are ``(axis, spectra)`` before the first step and after each
    step, as `Pipeline.fit_stages` returns them.  Stages of a leading part
    of `cached_spec` that `spec` repeats unchanged are reused, because a
    stage depends only on the steps before it and the input spectra.  On an
    invalid step the list ends before it and the error is that step's message.
    """
    stages: list[tuple] = [(np.asarray(axis, dtype=np.float64),
                            np.asarray(spectra, dtype=np.float64))]
    common = 0
    if cached_spec and cached_stages:
        common = _unchanged_prefix(spec, cached_spec, cached_stages)
        stages = list(cached_stages[:common + 1])
    for position, item in enumerate(spec[common:], start=common + 1):
        try:
            step = make_step(item["kind"], item.get("params"))
            stages.append(Pipeline([step]).fit_stages(*stages[-1])[-1])
        except SpecganError as error:
            return stages, f"Step {position} ({step_label(item['kind'])}): {error}"
        except Exception as error:  # a numerical library failing on odd data must not crash
            log.exception("preview step %d (%s) failed", position, item.get("kind"))
            return stages, (
                f"Step {position} ({step_label(item['kind'])}) failed unexpectedly: "
                f"{type(error).__name__}: {error}"
            )
    return stages, ""


def step_label(kind: str) -> str:
    """Return the menu label of a step kind, or the kind itself when it is unknown."""
    try:
        return step_info(kind).label
    except SpecganError:
        return kind


def stage_units(spec: list[dict], y_unit: str) -> str:
    """Return the y label of spectra after the steps of `spec`, e.g. "First derivative of …".

    After a final scaling the label is "Scaled to [-1, 1]"; the units before
    it are those of the same spec without its last step.
    """
    try:
        pipeline = Pipeline.from_spec(spec)
    except SpecganError:
        return "Intensity after the steps above"
    if pipeline.final_scale is not None:
        return "Scaled to [-1, 1]"
    label = pipeline.units_label(y_unit)
    return label[:1].upper() + label[1:]


class SpectraCurves:
    """All spectra of one plot as reusable curves, so a redraw only calls `setData`."""

    def __init__(self, widget: pg.PlotWidget):
        self.widget = widget
        self.items: list[pg.PlotDataItem] = []
        # The pen last given to each item. pyqtgraph stores a copy, so comparing with the
        # item's own pen would never find it unchanged.
        self.pens: list = []
        self.shown = 0

    def set_spectra(self, axis: np.ndarray, spectra: np.ndarray, pens: list) -> None:
        """Draw one curve per row of `spectra` ``(n, points)`` with the pens in order."""
        count = spectra.shape[0]
        while len(self.items) < count:
            item = pg.PlotDataItem()
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
            self.widget.addItem(item)
            self.items.append(item)
            self.pens.append(None)
        for index, (row, pen) in enumerate(zip(spectra, pens)):
            item = self.items[index]
            if self.pens[index] is not pen:
                item.setPen(pen)
                self.pens[index] = pen
            item.setData(axis, row)
            item.setVisible(True)
        for item in self.items[count:self.shown]:
            item.setData([], [])
            item.setVisible(False)
        self.shown = count
        self.widget.getPlotItem().enableAutoRange()

    def clear(self) -> None:
        """Hide every curve."""
        self.set_spectra(np.zeros(0), np.zeros((0, 0)), [])

    def data(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Return ``(x, y)`` of every curve shown, in row order."""
        return [self.items[i].getData() for i in range(self.shown)]


class PreprocessingPage(QWidget):
    """Build the preprocessing pipeline, preview it on the spectra and store it."""

    def __init__(self, controller: ProjectController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.messages = messages.MessageBar(MESSAGES)
        self.preview_runner = TaskRunner(self, name="preprocessing preview")
        self.suggest_runner = TaskRunner(self, name="pipeline suggestion")
        self.steps: list[EditedStep] = []
        # The stored pipeline the step list was last loaded from (or applied as).
        self._loaded_spec: list[dict] = []
        self._applying = False
        self._updating_list = False
        # Preview cache: the enabled spec and its stages; see `compute_stages`.
        self._stage_spec: list[dict] = []
        self._stages: list[tuple] = []
        self._stage_error = ""
        self._data_generation = 0
        self._preview_pending = False
        self._rows = np.zeros(0, dtype=int)
        self._pens: list = []
        self.suggestions: list = []
        self.last_preview_seconds = 0.0
        self._build()

        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)
        self.preview_runner.finished.connect(self._on_preview_finished)
        self.preview_runner.failed.connect(self._on_preview_failed)
        self.suggest_runner.progress.connect(self._on_suggest_progress)
        self.suggest_runner.finished.connect(self._on_suggest_finished)
        self.suggest_runner.failed.connect(self._on_suggest_failed)
        self.suggest_runner.cancelled.connect(self._on_suggest_cancelled)
        self.suggest_runner.running_changed.connect(self._update_buttons)
        controller.project_replaced.connect(self.reload)
        controller.dataset_changed.connect(self.reload)
        controller.settings_changed.connect(self._on_settings_changed)
        controller.busy_changed.connect(self._update_buttons)
        self.reload()

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        self.preset_combo = QComboBox()
        self.preset_combo.addItem(PRESET_PLACEHOLDER, None)
        for name, preset in PRESETS.items():
            self.preset_combo.addItem(preset.label, name)
            self.preset_combo.setItemData(
                self.preset_combo.count() - 1, preset.description, Qt.ItemDataRole.ToolTipRole)
        self.preset_combo.setToolTip(
            "Replace the step list with a standard pipeline for a kind of measurement; "
            "nothing is stored until Apply.")
        self.preset_combo.activated.connect(self._on_preset_activated)
        preset_row = QHBoxLayout()
        preset_row.addWidget(QLabel("Preset:"))
        preset_row.addWidget(self.preset_combo, 1)

        self.step_list = QListWidget()
        self.step_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.step_list.setToolTip(
            "Steps run from top to bottom. Untick a step to leave it out without losing "
            "its settings.")
        self.step_list.currentRowChanged.connect(self._on_current_row_changed)
        self.step_list.itemChanged.connect(self._on_item_changed)
        self.step_list.setMinimumHeight(130)
        self.add_button = QToolButton()
        self.add_button.setText("Add step")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setToolTip(
            "Insert a step after the selected one (before a final scaling step).")
        self.add_menu = QMenu(self.add_button)
        self.add_menu.setToolTipsVisible(True)
        self.add_actions = {}
        for info in step_kinds():
            if info.legacy:
                continue
            action = self.add_menu.addAction(info.label)
            action.setToolTip(info.description)
            action.triggered.connect(lambda _checked=False, kind=info.kind: self.add_step(kind))
            self.add_actions[info.kind] = action
        self.add_button.setMenu(self.add_menu)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        self.up_button = QPushButton("Up")
        self.up_button.setToolTip("Move the selected step one place earlier.")
        self.up_button.clicked.connect(lambda: self.move_step(-1))
        self.down_button = QPushButton("Down")
        self.down_button.setToolTip("Move the selected step one place later.")
        self.down_button.clicked.connect(lambda: self.move_step(1))
        list_buttons = QHBoxLayout()
        for button in (self.add_button, self.remove_button, self.up_button, self.down_button):
            list_buttons.addWidget(button)
        list_buttons.addStretch(1)
        steps_box = QGroupBox("Steps")
        steps_layout = QVBoxLayout(steps_box)
        steps_layout.addLayout(preset_row)
        steps_layout.addWidget(self.step_list, 1)
        steps_layout.addLayout(list_buttons)

        self.step_form = StepForm()
        self.step_form.params_changed.connect(self._on_params_changed)
        form_box = QGroupBox("Parameters of the selected step")
        form_layout = QVBoxLayout(form_box)
        form_layout.addWidget(self.step_form)

        self.apply_button = QPushButton("Apply")
        self.apply_button.setToolTip(
            "Store the ticked steps as the project's pipeline. The GAN, the transfer "
            "networks and PLS all use it.")
        self.apply_button.clicked.connect(self._on_apply_clicked)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("Reload the pipeline stored in the project.")
        self.revert_button.clicked.connect(self._on_revert_clicked)
        self.suggest_button = QPushButton("Suggest…")
        self.suggest_button.setToolTip(
            "Rank a set of standard pipelines by nested cross-validation with PLS on the "
            "target column, to start from a sound choice.")
        self.suggest_button.clicked.connect(self._on_suggest_clicked)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        action_row = QHBoxLayout()
        action_row.addWidget(self.apply_button)
        action_row.addWidget(self.revert_button)
        action_row.addStretch(1)
        action_row.addWidget(self.suggest_button)

        self.suggest_box = self._build_suggest_box()
        self.pls_box = self._build_pls_box()

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(steps_box, 1)
        controls_layout.addWidget(form_box)
        controls_layout.addLayout(action_row)
        controls_layout.addWidget(self.state_label)
        controls_layout.addWidget(self.pls_box)
        controls_layout.addWidget(self.suggest_box)
        controls_layout.addStretch(0)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(380)

        self.before_plot = plots.make_plot_widget(legend=False)
        self.after_plot = plots.make_plot_widget(legend=False)
        self.step_input_plot = plots.make_plot_widget(legend=False)
        self.step_output_plot = plots.make_plot_widget(legend=False)
        self.before_curves = SpectraCurves(self.before_plot)
        self.after_curves = SpectraCurves(self.after_plot)
        self.step_input_curves = SpectraCurves(self.step_input_plot)
        self.step_output_curves = SpectraCurves(self.step_output_plot)
        self.color_label = QLabel()
        self.color_label.setWordWrap(True)
        self.scale_label = QLabel()
        self.scale_label.setWordWrap(True)
        self.scale_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        note_row = QHBoxLayout()
        note_row.addWidget(self.color_label, 1)
        note_row.addWidget(self.scale_label, 1)
        grid = QGridLayout()
        grid.addWidget(self.before_plot, 0, 0)
        grid.addWidget(self.after_plot, 0, 1)
        grid.addWidget(self.step_input_plot, 1, 0)
        grid.addWidget(self.step_output_plot, 1, 1)
        plot_holder = QWidget()
        plot_layout = QVBoxLayout(plot_holder)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        plot_layout.addLayout(grid, 1)
        plot_layout.addLayout(note_row)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(plot_holder)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([400, 880])
        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(splitter, 1)

    def _build_pls_box(self) -> QGroupBox:
        self.pls_label = QLabel()
        self.pls_label.setWordWrap(True)
        self.pls_from_list_button = QPushButton("Use step list for PLS")
        self.pls_from_list_button.setToolTip(
            "Give PLS the ticked steps as a pipeline of its own. The GAN, the transfer "
            "networks and their stored pipeline stay as they are, and the GAN run is kept.")
        self.pls_from_list_button.clicked.connect(lambda: self.set_pls_pipeline(self.spec()))
        self.pls_same_button = QPushButton("Same as networks")
        self.pls_same_button.setToolTip("Let PLS use the project's pipeline again.")
        self.pls_same_button.clicked.connect(lambda: self.set_pls_pipeline(None))
        buttons = QHBoxLayout()
        buttons.addWidget(self.pls_from_list_button)
        buttons.addWidget(self.pls_same_button)
        buttons.addStretch(1)
        box = QGroupBox("PLS pipeline")
        box.setToolTip(
            "PLS often does best on derivatives or scatter-corrected spectra that a network "
            "does not need. The comparison fits either pipeline inside every training fold, "
            "and its table says which pipeline each model used.")
        layout = QVBoxLayout(box)
        layout.addWidget(self.pls_label)
        layout.addLayout(buttons)
        return box

    def set_pls_pipeline(self, spec: list[dict] | None) -> bool:
        """Give PLS its own pipeline `spec`, or the networks' one with None.

        A pipeline that cannot run on the spectra is rejected with a message
        and PLS keeps what it had.  Returns True when `spec` is in effect.
        """
        self.messages.clear("pls_refused", "pls_set")
        dataset = self.controller.dataset
        if dataset is None:
            self.messages.show_message("no_data")
            return False
        if spec is not None:
            spec = normalised_spec(spec)
            stages, error = self._final_stages(spec, dataset)
            if error:
                self.messages.show_message("pls_refused", error=error)
                return False
            warnings = validate(spec, dataset.axis, for_gan=False)
            if warnings:
                self.messages.show_message("pls_refused", error=" ".join(warnings))
                return False
        self.controller.set_pls_preprocessing(spec)
        if spec is not None:
            dropped = range_dropped_warning(spec, self.controller.project.preprocessing)
            self.messages.show_message("pls_set", steps=_steps_text(spec), note=dropped)
        self._update_pls_label()
        return True

    def _update_pls_label(self) -> None:
        spec = self.controller.project.pls_preprocessing
        if spec is None:
            self.pls_label.setText("PLS uses the same pipeline as the GAN and the networks.")
        else:
            self.pls_label.setText(f"PLS uses its own pipeline: {_steps_text(spec)}")
        has_data = self.controller.dataset is not None
        self.pls_from_list_button.setEnabled(has_data and not self.controller.is_busy)
        self.pls_same_button.setEnabled(spec is not None and not self.controller.is_busy)

    def _build_suggest_box(self) -> QGroupBox:
        self.suggest_progress = QProgressBar()
        self.suggest_progress.setRange(0, 1000)
        self.suggest_label = QLabel()
        self.suggest_label.setWordWrap(True)
        self.suggest_table = QTableWidget(0, 0)
        self.suggest_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.suggest_table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.suggest_table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.suggest_table.verticalHeader().setVisible(False)
        self.suggest_table.setMinimumHeight(160)
        self.suggest_table.cellDoubleClicked.connect(lambda row, _column: self.use_suggestion(row))
        self.use_suggestion_button = QPushButton("Use selected")
        self.use_suggestion_button.setToolTip(
            "Load the selected pipeline into the step list; Apply stores it.")
        self.use_suggestion_button.clicked.connect(lambda: self.use_suggestion())
        self.use_suggestion_for_pls_button = QPushButton("Use for PLS")
        self.use_suggestion_for_pls_button.setToolTip(
            "Give PLS the selected pipeline as its own, keeping the networks' pipeline.")
        self.use_suggestion_for_pls_button.clicked.connect(self._use_suggestion_for_pls)
        self.stop_suggest_button = QPushButton("Stop")
        self.stop_suggest_button.clicked.connect(self.suggest_runner.stop)
        buttons = QHBoxLayout()
        buttons.addWidget(self.use_suggestion_button)
        buttons.addWidget(self.use_suggestion_for_pls_button)
        buttons.addStretch(1)
        buttons.addWidget(self.stop_suggest_button)
        box = QGroupBox("Suggested pipelines")
        layout = QVBoxLayout(box)
        layout.addWidget(self.suggest_progress)
        layout.addWidget(self.suggest_label)
        layout.addWidget(self.suggest_table, 1)
        layout.addLayout(buttons)
        box.setVisible(False)
        return box

    # --- the step list -------------------------------------------------------
    def spec(self) -> list[dict]:
        """Return the ticked steps as a pipeline spec, in the form the project stores."""
        return normalised_spec([step.spec() for step in self.steps if step.enabled])

    def load_spec(self, spec: list[dict], select: int | None = None) -> None:
        """Show `spec` as the step list (every step ticked) without storing it."""
        self.preset_combo.setCurrentIndex(0)
        self.messages.clear("preset_loaded")
        self.steps = [
            EditedStep(item["kind"], copy.deepcopy(item.get("params") or {})) for item in spec
        ]
        if select is None:
            select = 0 if self.steps else -1
        self._rebuild_list(select)
        self._steps_edited()

    def load_steps(self, text: str) -> None:
        """Show steps written in text syntax, such as ``cut:950-1550,savgol:15:2:1,scale``.

        Raises
        ------
        SettingsError
            When the text is not valid step syntax.
        """
        self.load_spec(parse_steps(text))

    def add_step(self, kind: str) -> int:
        """Insert a step of `kind` with default parameters; return its row.

        The step goes after the selected one, but before a final scaling
        step, which belongs last; a new scaling step goes at the end.
        """
        row = self.step_list.currentRow()
        last_is_scale = bool(self.steps) and self.steps[-1].kind == "scale"
        if kind == "scale":
            position = len(self.steps)
        elif row < 0:
            position = len(self.steps) - 1 if last_is_scale else len(self.steps)
        else:
            position = row + 1
            if last_is_scale and position == len(self.steps):
                position -= 1
        params = default_params(kind, self._axis_before(position))
        self.steps.insert(position, EditedStep(kind, params))
        self._rebuild_list(position)
        self._steps_edited()
        return position

    def remove_step(self, row: int | None = None) -> None:
        """Remove the step in `row` (default: the selected one)."""
        row = self.step_list.currentRow() if row is None else row
        if not 0 <= row < len(self.steps):
            return
        del self.steps[row]
        self._rebuild_list(min(row, len(self.steps) - 1))
        self._steps_edited()

    def move_step(self, offset: int, row: int | None = None) -> None:
        """Move the step in `row` (default: the selected one) by `offset` places."""
        row = self.step_list.currentRow() if row is None else row
        target = row + offset
        if not (0 <= row < len(self.steps) and 0 <= target < len(self.steps)):
            return
        self.steps[row], self.steps[target] = self.steps[target], self.steps[row]
        self._rebuild_list(target)
        self._steps_edited()

    def set_step_enabled(self, row: int, enabled: bool) -> None:
        """Tick or untick the step in `row`, as its check box does."""
        self.step_list.item(row).setCheckState(
            Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)

    def select_step(self, row: int) -> None:
        """Select the step in `row`, showing its parameters and its own effect."""
        self.step_list.setCurrentRow(row)

    def _axis_before(self, position: int) -> np.ndarray | None:
        """Return the axis that a step inserted at `position` receives, when known."""
        dataset = self.controller.dataset
        if dataset is None:
            return None
        enabled_before = sum(1 for step in self.steps[:position] if step.enabled)
        if enabled_before < len(self._stages) and self._stage_spec == self._enabled_raw()[
                :len(self._stage_spec)]:
            return self._stages[enabled_before][0]
        return dataset.axis

    def _enabled_raw(self) -> list[dict]:
        return [step.spec() for step in self.steps if step.enabled]

    def _rebuild_list(self, select: int) -> None:
        self._updating_list = True
        try:
            self.step_list.clear()
            for position, step in enumerate(self.steps):
                item = QListWidgetItem(self._item_text(position, step))
                item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if step.enabled
                                   else Qt.CheckState.Unchecked)
                item.setToolTip(step_info(step.kind).description
                                if step.kind in _KNOWN_KINDS else "")
                self.step_list.addItem(item)
        finally:
            self._updating_list = False
        self.step_list.setCurrentRow(select)
        if select < 0:
            self._show_form(-1)

    @staticmethod
    def _item_text(position: int, step: EditedStep) -> str:
        try:
            text = format_step(step.spec())
        except (SpecganError, KeyError, TypeError, ValueError):
            text = step.kind
        off = "" if step.enabled else " (off)"
        return f"{position + 1}. {step_label(step.kind)}{off}  ·  {text}"

    def _refresh_item_texts(self) -> None:
        self._updating_list = True
        try:
            for position, step in enumerate(self.steps):
                self.step_list.item(position).setText(self._item_text(position, step))
        finally:
            self._updating_list = False

    def _show_form(self, row: int) -> None:
        if not 0 <= row < len(self.steps):
            self.step_form.clear()
            return
        step = self.steps[row]
        if step.kind not in _KNOWN_KINDS:
            self.step_form.clear(f"Unknown step {step.kind!r}; remove it.")
            return
        dataset = self.controller.dataset
        self.step_form.set_step(
            step_info(step.kind), step.params,
            axis_unit=dataset.axis_unit if dataset is not None else "",
            axis=self._axis_before(row),
        )

    @Slot(int)
    def _on_current_row_changed(self, row: int) -> None:
        if self._updating_list:
            return
        self._show_form(row)
        self._update_buttons()
        self._draw_selected_step()

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        if self._updating_list:
            return
        row = self.step_list.row(item)
        enabled = item.checkState() == Qt.CheckState.Checked
        if 0 <= row < len(self.steps) and self.steps[row].enabled != enabled:
            self.steps[row].enabled = enabled
            self._refresh_item_texts()
            self._steps_edited()

    @Slot(dict)
    def _on_params_changed(self, params: dict) -> None:
        row = self.step_list.currentRow()
        if not 0 <= row < len(self.steps):
            return
        self.steps[row].params = params
        self._refresh_item_texts()
        self._steps_edited()

    @Slot()
    def _on_remove_clicked(self) -> None:
        self.remove_step()

    def _steps_edited(self) -> None:
        """Note an edit: update the state line and schedule a preview."""
        self._update_state_label()
        self._update_buttons()
        self.schedule_preview()

    # --- presets and suggestions ---------------------------------------------
    @Slot(int)
    def _on_preset_activated(self, index: int) -> None:
        name = self.preset_combo.itemData(index)
        if name:
            self.load_preset(name)

    def load_preset(self, name: str) -> None:
        """Replace the step list with the preset `name` (see `PRESETS`); nothing is stored."""
        preset = PRESETS[name]
        self.load_spec(preset.spec())
        self.preset_combo.setCurrentIndex(self.preset_combo.findData(name))
        self.messages.show_message(
            "preset_loaded", label=preset.label, description=preset.description)

    @Slot()
    def _on_suggest_clicked(self) -> None:
        self.start_suggest()

    def start_suggest(self) -> bool:
        """Rank the standard pipelines with PLS in the worker; return True when it started."""
        self.messages.clear("suggest_failed", "suggest_stopped", "suggest_finished", "no_target")
        project = self.controller.project
        dataset = project.dataset
        if dataset is None:
            self.messages.show_message("no_data")
            return False
        if not project.target:
            self.messages.show_message("no_target")
            return False
        if self.controller.is_busy:
            self.controller.show_status("Wait for the running task to end, or stop it, first.")
            return False
        windows = _windows_of(self.spec()) or _windows_of(project.preprocessing)
        self.suggest_box.setVisible(True)
        self.suggest_table.setRowCount(0)
        self.suggest_progress.setValue(0)
        self.suggest_label.setText("Scoring the standard pipelines by cross-validated PLS…")
        self.suggest_runner.start(
            partial(_suggest_task, dataset, project.target, project.task, windows))
        self.controller.show_status("Ranking standard pipelines with PLS")
        return True

    @Slot(float, str)
    def _on_suggest_progress(self, fraction: float, text: str) -> None:
        self.suggest_progress.setValue(int(1000 * fraction))
        self.suggest_label.setText(text)

    @Slot(object)
    def _on_suggest_finished(self, suggestions: list) -> None:
        self.suggestions = list(suggestions)
        self.suggest_progress.setValue(1000)
        self._fill_suggestions()
        scored = [s for s in self.suggestions if s.score is not None]
        if scored:
            best = scored[0]
            self.suggest_table.selectRow(0)
            self.messages.show_message(
                "suggest_finished", best=f"{best.name} ({_score_text(best)})")
        self.suggest_label.setText(
            f"{len(scored)} of {len(self.suggestions)} pipelines scored, best first, by "
            "nested cross-validation with PLS.")
        self.controller.show_status("Pipeline ranking finished")

    @Slot(str, str)
    def _on_suggest_failed(self, message: str, details: str) -> None:
        self.suggest_label.setText("Failed.")
        self.messages.show_message("suggest_failed", details=details, error=message)

    @Slot()
    def _on_suggest_cancelled(self) -> None:
        self.suggest_label.setText("Stopped.")
        self.suggest_progress.setValue(0)
        self.messages.show_message("suggest_stopped")

    def _fill_suggestions(self) -> None:
        table = self.suggest_table
        regression = bool(self.suggestions) and self.suggestions[0].metric == "rmsecv"
        target = self.controller.project.target or ""
        headers = ["Pipeline", f"RMSECV ({target})" if regression else "Accuracy"]
        if regression:
            headers.append("R²")
        headers += ["PLS components", "Steps"]

        table.clear()
        table.setColumnCount(len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.setRowCount(len(self.suggestions))

        for row, suggestion in enumerate(self.suggestions):
            if suggestion.score is None:
                score = "failed"
            else:
                score = f"{suggestion.score:.4g}" if regression else f"{suggestion.score:.3f}"
            cells = [suggestion.name, score]
            if regression:
                cells.append("" if suggestion.r2 is None else f"{suggestion.r2:.3f}")
            cells += [
                "" if suggestion.score is None else f"{suggestion.components:g}",
                suggestion.steps,
            ]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(suggestion.error or suggestion.description)
                table.setItem(row, column, item)

        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)

    def use_suggestion(self, row: int | None = None) -> bool:
        """Load the suggested pipeline in `row` (default: the selected one) into the list."""
        if row is None:
            row = self.suggest_table.currentRow()
        if not 0 <= row < len(self.suggestions):
            return False
        suggestion = self.suggestions[row]
        self.load_spec(suggestion.spec())
        self.controller.show_status(
            f"Loaded the suggested pipeline {suggestion.name}; press Apply to store it.")
        return True

    @Slot()
    def _use_suggestion_for_pls(self) -> None:
        row = self.suggest_table.currentRow()
        if 0 <= row < len(self.suggestions):
            self.set_pls_pipeline(self.suggestions[row].spec())

    # --- storing ---------------------------------------------------------------
    @Slot()
    def _on_apply_clicked(self) -> None:
        self.apply()

    def apply(self) -> bool:
        """Store the ticked steps in the project; return True when they are in effect.

        A pipeline that cannot run on the spectra is rejected with a message.
        A pipeline with warnings, or one that would clear a GAN run or
        results, is stored only after the user agrees.
        """
        self.messages.clear("apply_refused", "applied")
        dataset = self.controller.dataset
        if dataset is None:
            self.messages.show_message("no_data")
            return False
        spec = self.spec()
        if spec == self.controller.project.preprocessing:
            self.controller.show_status("The pipeline is already stored.")
            return True
        if self.controller.is_busy:
            self.controller.show_status("Wait for the running task to end, or stop it, first.")
            return False
        stages, error = self._final_stages(spec, dataset)
        if error:
            self.messages.show_message("apply_refused", error=error)
            return False
        warnings = validate(spec, dataset.axis)
        if warnings and not ask_yes_no(
            self, "Apply with warnings?",
            "The pipeline runs, but:\n\n" + "\n".join(f"• {w}" for w in warnings)
            + "\n\nStore it anyway?",
        ):
            return False
        self._applying = True
        try:
            stored = self.controller.set_preprocessing(spec, parent=self)
        finally:
            self._applying = False
        if not stored:
            return False
        self._loaded_spec = copy.deepcopy(self.controller.project.preprocessing)
        self._update_state_label()
        self._update_buttons()
        self.messages.show_message(
            "applied", steps=_steps_text(spec),
            points=stages[-1][0].size)
        self.controller.show_status(f"Preprocessing: {_steps_text(spec)}")
        return True

    def set_pipeline(self, spec: list[dict]) -> bool:
        """Load `spec` into the step list and apply it (scripted use); see `apply`."""
        self.load_spec(spec)
        return self.apply()

    def _final_stages(self, spec: list[dict], dataset: SpectralDataset) -> tuple[list, str]:
        """Return the stages of `spec` from the preview cache, or compute them now."""
        if self._stage_spec == spec and len(self._stages) == len(spec) + 1:
            return self._stages, ""
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            stages, error = compute_stages(
                dataset.axis, dataset.spectra, spec, self._stage_spec, self._stages)
        finally:
            QApplication.restoreOverrideCursor()
        return stages, error

    @Slot()
    def _on_revert_clicked(self) -> None:
        self.revert()

    def revert(self) -> None:
        """Reload the pipeline stored in the project into the step list."""
        self.load_spec(self.controller.project.preprocessing)
        self._loaded_spec = copy.deepcopy(self.controller.project.preprocessing)
        self.messages.clear("applied", "apply_refused")

    # --- following the project ---------------------------------------------
    @Slot()
    def reload(self) -> None:
        """Rebuild the page from the project: new spectra, new stored pipeline."""
        self._data_generation += 1
        self._stage_spec, self._stages, self._stage_error = [], [], ""
        self.messages.clear()
        self.suggestions = []
        self.suggest_table.setRowCount(0)
        self.suggest_box.setVisible(False)
        self._refresh_colors()
        self._draw_before()
        self.revert()

    @Slot()
    def _on_settings_changed(self) -> None:
        if self._applying:
            return
        stored = self.controller.project.preprocessing
        if stored != self._loaded_spec:
            self.revert()
        else:
            self._update_state_label()
            self._update_buttons()
        # The target may have changed, and with it the colours.
        self._refresh_colors()
        self._draw_before()
        self._draw_after()
        self._draw_selected_step()

    def _update_state_label(self) -> None:
        self._update_pls_label()
        if self.controller.dataset is None:
            self.state_label.setText("")
            return
        stored = self.controller.project.preprocessing
        if self.spec() == stored:
            self.state_label.setText("The step list is the project's pipeline.")
            self.state_label.setStyleSheet("")
        else:
            self.state_label.setText(f"Not applied yet. The project uses: {_steps_text(stored)}")
            self.state_label.setStyleSheet("color: #9a6700;")

    @Slot()
    def _update_buttons(self, _busy: bool = False) -> None:
        busy = self.controller.is_busy
        has_data = self.controller.dataset is not None
        row = self.step_list.currentRow()
        changed = has_data and self.spec() != self.controller.project.preprocessing
        self.apply_button.setEnabled(not busy and changed)
        self.revert_button.setEnabled(changed)
        self.suggest_button.setEnabled(not busy and has_data)
        self.remove_button.setEnabled(0 <= row < len(self.steps))
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < len(self.steps) - 1)
        running = self.suggest_runner.is_running
        self.stop_suggest_button.setEnabled(running)
        self.use_suggestion_button.setEnabled(not running and bool(self.suggestions))
        self.use_suggestion_for_pls_button.setEnabled(
            not running and not busy and bool(self.suggestions))
        self._update_pls_label()

    # --- preview -------------------------------------------------------------
    @property
    def preview_pending(self) -> bool:
        """True while a preview waits for the pause after an edit or runs in the worker."""
        return self._preview_timer.isActive() or self.preview_runner.is_running

    def schedule_preview(self) -> None:
        """Recompute the preview once the edits pause for `PREVIEW_DELAY_MS`."""
        self._preview_timer.start()

    @Slot()
    def update_preview(self) -> None:
        """Recompute and draw the preview now, in a worker when a slow step must run."""
        self._preview_timer.stop()
        self.messages.clear("settings_warnings", "preview_failed", "preview_blocked",
                            "computing", "no_data")
        dataset = self.controller.dataset
        if dataset is None:
            self.messages.show_message("no_data")
            self._draw_after()
            self._draw_selected_step()
            return
        spec = self._enabled_raw()
        warnings = validate(spec, dataset.axis)
        if warnings:
            self.messages.show_message("settings_warnings", warnings="\n".join(warnings))
        pending = _unchanged_prefix(spec, self._stage_spec, self._stages)
        if any(item["kind"] in SLOW_KINDS for item in spec[pending:]):
            self._start_preview_worker(spec, dataset)
            return
        started = time.perf_counter()
        stages, error = compute_stages(
            dataset.axis, dataset.spectra, spec, self._stage_spec, self._stages)
        self._show_stages(spec, stages, error)
        self.last_preview_seconds = time.perf_counter() - started
        log.debug("preview of %s took %.3f s", _steps_text(spec),
                  self.last_preview_seconds)

    def _start_preview_worker(self, spec: list[dict], dataset: SpectralDataset) -> None:
        self.messages.show_message("computing")
        if self.preview_runner.is_running:
            self._preview_pending = True
            return
        self._preview_pending = False
        self.preview_runner.start(partial(
            _preview_task, self._data_generation, dataset.axis, dataset.spectra,
            copy.deepcopy(spec), self._stage_spec, self._stages,
        ))

    @Slot(object)
    def _on_preview_finished(self, payload) -> None:
        generation, spec, stages, error = payload
        pending, self._preview_pending = self._preview_pending, False
        if generation != self._data_generation:
            # The spectra changed meanwhile; these stages belong to the old ones.
            if pending:
                self.update_preview()
            return
        self.messages.clear("computing")
        if spec == self._enabled_raw():
            self._show_stages(spec, stages, error)
            return
        # The steps changed meanwhile: keep the stages as a cache and compute the new ones.
        self._stage_spec = copy.deepcopy(spec[:len(stages) - 1])
        self._stages, self._stage_error = stages, error
        self.update_preview()

    @Slot(str, str)
    def _on_preview_failed(self, message: str, details: str) -> None:
        self.messages.clear("computing")
        self.messages.show_message("unexpected_error", details=details, error=message)

    def _show_stages(self, spec: list[dict], stages: list[tuple], error: str) -> None:
        self._stage_spec = copy.deepcopy(spec[:len(stages) - 1])
        self._stages = stages
        self._stage_error = error
        if error:
            if "settings_warnings" in self.messages.active_keys():
                self.messages.show_message("preview_blocked")
            else:
                self.messages.show_message("preview_failed", error=error)
        self._draw_after()
        self._draw_selected_step()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop the preview and suggestion workers and wait for them (before closing)."""
        self._preview_timer.stop()
        for runner in (self.preview_runner, self.suggest_runner):
            if runner.is_running:
                runner.stop()
                runner.wait(timeout_ms)

    # --- drawing ---------------------------------------------------------------
    def _refresh_colors(self) -> None:
        """Choose the plotted rows and one pen per row: by class or by reference value."""
        project = self.controller.project
        dataset = project.dataset
        self.messages.clear("plot_limited")
        if dataset is None:
            self._rows, self._pens = np.zeros(0, dtype=int), []
            self.color_label.setText("")
            return
        rows = np.arange(dataset.n_samples)
        if rows.size > MAX_PREVIEW_SPECTRA:
            rows = np.linspace(0, rows.size - 1, MAX_PREVIEW_SPECTRA).astype(int)
            self.messages.show_message("plot_limited", shown=rows.size, count=dataset.n_samples)
        self._rows = rows
        target = project.target if project.target in dataset.references.columns else None
        if target is not None and project.task == "classification":
            labels = dataset.references[target].astype(str).to_numpy()[rows]
            classes = sorted(set(labels))
            self._pens = [plots.pen(classes.index(label), 1.0) for label in labels]
            names = " ".join(
                f'<span style="color:{plots.PALETTE[i % len(plots.PALETTE)]}">■</span> {label}'
                for i, label in enumerate(classes[:10]))
            self.color_label.setText(f"Colours by {target}: {names}")
        elif target is not None and target in dataset.numeric_columns():
            values = pd.to_numeric(dataset.references[target], errors="coerce").to_numpy(float)
            self._pens = [pg.mkPen(color, width=1.0) for color in plots.value_colors(values[rows])]
            finite = values[np.isfinite(values)]
            span = f" from {finite.min():g} (dark) to {finite.max():g} (yellow)" \
                if finite.size else ""
            self.color_label.setText(f"Colours by {target}{span}.")
        else:
            self._pens = [plots.pen(0, 1.0)] * rows.size
            self.color_label.setText("")

    def _draw_before(self) -> None:
        dataset = self.controller.dataset
        if dataset is None:
            self.before_curves.clear()
            _label_plot(self.before_plot, "Before preprocessing", "Axis", "Intensity")
            return
        self.before_curves.set_spectra(dataset.axis, dataset.spectra[self._rows], self._pens)
        _label_plot(
            self.before_plot,
            f"Before preprocessing ({dataset.n_points} points)",
            dataset.axis_label, intensity_label(dataset),
        )

    def _draw_after(self) -> None:
        dataset = self.controller.dataset
        spec = self._enabled_raw()
        complete = (not self._stage_error and len(self._stages) == len(spec) + 1
                    and self._stage_spec == spec)
        if dataset is None or not complete:
            self.after_curves.clear()
            self.scale_label.setText("")
            title = "After preprocessing" if dataset is None else \
                "After preprocessing: no preview (see the message above)"
            _label_plot(self.after_plot, title, dataset.axis_label if dataset else "Axis", "")
            return
        # Before the final scaling, in the units that `Pipeline.units_label` names: the
        # GAN training page shows measured and generated spectra in the same units.
        scaled = bool(spec) and spec[-1]["kind"] == "scale"
        shown = len(spec) - 1 if scaled else len(spec)
        axis, spectra = self._stages[shown]
        self.after_curves.set_spectra(axis, spectra[self._rows], self._pens)
        _label_plot(self.after_plot, f"After preprocessing ({axis.size} points)",
                    dataset.axis_label, stage_units(spec[:shown], dataset.y_unit))
        self.scale_label.setText(
            "The after plot leaves out the final scaling to [-1, 1]." if scaled else "")

    def _draw_selected_step(self) -> None:
        dataset = self.controller.dataset
        row = self.step_list.currentRow()
        x_label = dataset.axis_label if dataset is not None else "Axis"
        curves = (self.step_input_curves, self.step_output_curves)
        widgets = (self.step_input_plot, self.step_output_plot)
        if dataset is None or not 0 <= row < len(self.steps):
            for curve, widget, title in zip(curves, widgets, ("Input of the selected step",
                                                              "Output of the selected step")):
                curve.clear()
                _label_plot(widget, title, x_label, "")
            return

        step = self.steps[row]
        name = f"step {row + 1} ({step_label(step.kind)})"
        if not step.enabled:
            for curve, widget in zip(curves, widgets):
                curve.clear()
                _label_plot(widget, f"{name[:1].upper()}{name[1:]} is switched off", x_label, "")
            return

        spec = self._enabled_raw()
        index = sum(1 for s in self.steps[:row] if s.enabled)
        known = self._stage_spec == spec[:len(self._stage_spec)]
        for offset, (curve, widget, word) in enumerate(zip(curves, widgets, ("Input", "Output"))):
            stage = index + offset
            if known and stage < len(self._stages):
                axis, spectra = self._stages[stage]
                curve.set_spectra(axis, spectra[self._rows], self._pens)
                _label_plot(widget, f"{word} of {name}", x_label,
                            stage_units(spec[:stage], dataset.y_unit))
            else:
                curve.clear()
                _label_plot(widget, f"{word} of {name}: not available", x_label, "")


def _label_plot(widget: pg.PlotWidget, title: str, x_label: str, y_label: str) -> None:
    plots.set_axis_labels(widget, x_label, y_label)
    widget.getPlotItem().setTitle(title, size="11pt")


def _unchanged_prefix(spec: list[dict], cached_spec: list[dict], stages: list) -> int:
    """Return how many leading steps of `spec` have cached stages."""
    common = 0
    for new, old in zip(spec, cached_spec):
        if new != old or common + 1 >= len(stages):
            break
        common += 1
    return common


def _windows_of(spec: list[dict]) -> list[list[float]] | None:
    """Return the windows of the first cut or crop step of `spec`, or None."""
    for item in spec:
        params = item.get("params") or {}
        if item.get("kind") == "cut" and params.get("windows"):
            return [list(map(float, window)) for window in params["windows"]]
        if item.get("kind") == "crop" and "low" in params and "high" in params:
            return [[float(params["low"]), float(params["high"])]]
    return None


def _steps_text(spec: list[dict]) -> str:
    """Return a spec in step text syntax with spaces after the commas, or "no steps"."""
    return format_steps(spec).replace(",", ", ") if spec else "no steps"


def _score_text(suggestion) -> str:
    if suggestion.score is None:
        return "failed"
    if suggestion.metric == "accuracy":
        return f"accuracy {suggestion.score:.3f}"
    return f"RMSECV {suggestion.score:.4g}"


def _preview_task(generation: int, axis, spectra, spec, cached_spec, cached_stages, task_state):
    """Compute the preview stages in the worker thread; the widgets stay untouched."""
    stages, error = compute_stages(axis, spectra, spec, cached_spec, cached_stages)
    return generation, spec, stages, error


def _suggest_task(dataset, target, task, windows, task_state):
    # Imported here: scikit-learn takes seconds to load and the window should open without it.
    from specgan_gui.training.suggest import suggest_pipelines

    return suggest_pipelines(dataset, target, task, task_state=task_state, windows=windows)

