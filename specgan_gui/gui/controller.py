"""The one owner of the open project; pages change it and hear about changes here.

Pages never talk to each other.  They call the controller's methods, which
change the `Project` and emit one signal per kind of change.  While any
registered task runs, the engine may be changing the project in its worker
thread, so the controller reports itself busy and pages keep their editing
controls disabled until the task ends.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtWidgets import QWidget

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline, validate
from specgan_gui.errors import SpecganError
from specgan_gui.gui.dialogs import ask_yes_no
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.project.project import Project

log = logging.getLogger(__name__)

TASKS = ("regression", "classification")


def default_task(dataset: SpectralDataset, column: str) -> str:
    """Return "regression" for a numeric reference column, else "classification"."""
    if column in dataset.numeric_columns():
        return "regression"
    return "classification"


def pipeline_fits(
    spec: list[dict], dataset: SpectralDataset, for_gan: bool = True
) -> tuple[bool, str]:
    """Return whether `spec` runs on `dataset` without a warning, and else why not."""
    warnings = validate(spec, dataset.axis, for_gan=for_gan)
    if warnings:
        return False, " ".join(warnings)
    try:
        Pipeline.from_spec(spec).fit(dataset.axis, dataset.spectra)
    except SpecganError as error:
        return False, str(error)
    return True, ""


class ProjectController(QObject):
    """Holds the `Project` and emits a signal for every kind of change."""

    dataset_changed = Signal()
    #: The modelling target, task or preprocessing pipeline changed.
    settings_changed = Signal()
    training_changed = Signal()
    results_changed = Signal()
    predictions_changed = Signal()
    modified_changed = Signal(bool)
    project_replaced = Signal()
    #: True while any registered task runs.
    busy_changed = Signal(bool)
    #: A short text for the window's status bar.
    status_message_requested = Signal(str)

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self._project = project if project is not None else Project()
        self._runners: list[TaskRunner] = []
        self._busy = False
        self._last_modified = self._project.modified

    # --- the project ---------------------------------------------------------
    @property
    def project(self) -> Project:
        return self._project

    @property
    def dataset(self) -> SpectralDataset | None:
        return self._project.dataset

    @property
    def modified(self) -> bool:
        return bool(self._project.modified)

    def display_name(self) -> str:
        """Return the name shown in the window title: file name, data set name or "Untitled"."""
        if self._project.path is not None:
            return Path(self._project.path).name
        if self._project.dataset is not None and self._project.dataset.name:
            return self._project.dataset.name
        return "Untitled"

    def replace_project(self, project: Project) -> None:
        """Make `project` the open project and tell every page to rebuild."""
        self._project = project
        log.info("project replaced: %s", self.display_name())
        self.project_replaced.emit()
        self._emit_modified(force=True)

    def mark_saved(self, path) -> None:
        """Record that the project was written to `path` and is unmodified."""
        self._project.path = Path(path)
        self._project.modified = False
        self._emit_modified(force=True)

    def mark_unmodified(self) -> None:
        """Record that the project contains nothing worth a save question (a fresh example)."""
        self._project.modified = False
        self._emit_modified(force=True)

    def _emit_modified(self, force: bool = False) -> None:
        modified = self.modified
        if force or modified != self._last_modified:
            self._last_modified = modified
            self.modified_changed.emit(modified)

    # --- tasks ---------------------------------------------------------------
    def register_runner(self, runner: TaskRunner) -> None:
        """Count `runner`'s tasks in `is_busy` and stop them in `stop_tasks`."""
        self._runners.append(runner)
        runner.running_changed.connect(self._update_busy)

    @property
    def is_busy(self) -> bool:
        return any(runner.is_running for runner in self._runners)

    def running_runner(self) -> TaskRunner | None:
        """Return the runner whose task runs now, or None."""
        return next((runner for runner in self._runners if runner.is_running), None)

    @Slot(bool)
    def _update_busy(self, _running: bool = False) -> None:
        busy = self.is_busy
        if busy != self._busy:
            self._busy = busy
            self.busy_changed.emit(busy)

    def stop_tasks(self, timeout_ms: int = 10_000) -> bool:
        """Ask every running task to stop and wait up to `timeout_ms` for each.

        Returns True when no task runs any more.
        """
        all_stopped = True
        for runner in self._runners:
            if runner.is_running:
                runner.stop()
                all_stopped = runner.wait(timeout_ms) and all_stopped
        return all_stopped

    # --- data and modelling settings -----------------------------------------
    def set_dataset(self, dataset: SpectralDataset, target: str | None = None,
                    task: str | None = None) -> None:
        """Replace the spectra; clears the GAN run, transfer results and models.

        The target defaults to the first reference column and the task to
        what that column's type allows.  The preprocessing pipeline (and
        PLS's own one) is kept when it runs on the new spectra without a
        warning, so a lab that imports the next batch keeps its choice.
        Otherwise it is reset to the final scaling alone, because a range
        step of the old pipeline may not fit the new axis.  The status bar
        then shows the reason.
        """
        project = self._project
        old_spec = project.preprocessing
        fits, reason = pipeline_fits(old_spec, dataset)
        if project.pls_preprocessing is not None:
            pls_fits, _ = pipeline_fits(project.pls_preprocessing, dataset, for_gan=False)
            if not pls_fits:
                project.pls_preprocessing = None
        project.dataset = dataset
        columns = [str(c) for c in dataset.references.columns]
        if target is None or target not in columns:
            target = columns[0] if columns else None
        project.target = target
        if target is not None:
            project.task = task if task in TASKS else default_task(dataset, target)
        if not fits:
            project.preprocessing = [{"kind": "scale", "params": {}}]
        project.preprocessing_state = {}
        project.gan_architecture = None
        project.reset_training()
        self._clear_results()
        log.info("data set %r: %d spectra x %d points, target %s",
                 dataset.name, dataset.n_samples, dataset.n_points, target)
        if old_spec != project.preprocessing:
            self.show_status(
                f"Preprocessing reset to scaling alone: the previous pipeline does not fit "
                f"the new spectra ({reason})")
        self.dataset_changed.emit()
        self.settings_changed.emit()
        self.training_changed.emit()
        self.results_changed.emit()
        self._emit_modified()

    def set_references(self, references: pd.DataFrame) -> None:
        """Replace the reference table of the current spectra (same row order)."""
        dataset = self._project.dataset
        if dataset is None:
            return
        dataset.references = references.reset_index(drop=True)
        self._project.dataset = dataset  # marks the project modified
        if self._project.target not in dataset.references.columns:
            columns = [str(c) for c in dataset.references.columns]
            self._project.target = columns[0] if columns else None
            if self._project.target is not None:
                self._project.task = default_task(dataset, self._project.target)
        self.dataset_changed.emit()
        self.settings_changed.emit()
        self._emit_modified()

    def set_target(self, target: str | None, task: str) -> None:
        """Choose the reference column to predict and the kind of model."""
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        project = self._project
        if project.target == target and project.task == task:
            return
        project.target = target
        project.task = task
        self._clear_results()
        self.settings_changed.emit()
        self.results_changed.emit()
        self._emit_modified()

    def set_preprocessing(self, spec: list[dict], parent: QWidget | None = None,
                          ask: bool = True) -> bool:
        """Store a new pipeline spec; clears the GAN run and the results built on the old one.

        With `ask`, a question (over `parent`) lists what would be cleared and
        a "No" keeps everything.  Returns True when `spec` is the project's
        pipeline afterwards.
        """
        project = self._project
        if spec == project.preprocessing:
            return True
        if ask and self.has_training():
            if not ask_yes_no(
                parent, "Clear training?",
                f"Changing the preprocessing clears the GAN training ({project.epochs_trained} "
                f"epochs, {len(project.checkpoints)} checkpoints), the transfer results and "
                "the fitted models, which were built on the old pipeline. Continue?",
            ):
                return False
        log.info("preprocessing set to %s", spec)
        project.preprocessing = [dict(step) for step in spec]
        project.preprocessing_state = {}
        project.gan_architecture = None
        project.reset_training()
        self._clear_results()
        self.settings_changed.emit()
        self.training_changed.emit()
        self.results_changed.emit()
        self._emit_modified()
        return True

    def set_pls_preprocessing(self, spec: list[dict] | None) -> None:
        """Give PLS its own pipeline spec, or None for the networks' pipeline.

        The GAN run is kept because its spectra do not change.  Stored
        transfer results stay too: each result row names the pipeline its
        model used.
        """
        project = self._project
        spec = None if spec is None else [dict(step) for step in spec]
        if spec == project.pls_preprocessing:
            return
        log.info("PLS preprocessing set to %s", spec)
        project.pls_preprocessing = spec
        self.settings_changed.emit()
        self._emit_modified()

    # --- training and results ------------------------------------------------
    def has_training(self) -> bool:
        """Return True when a GAN run or transfer results exist."""
        project = self._project
        return bool(
            project.epochs_trained or project.checkpoints or project.resume_state is not None
            or project.transfer_runs or project.models
        )

    def has_results(self) -> bool:
        return bool(self._project.transfer_runs or self._project.models)

    def reset_training(self) -> None:
        """Forget the GAN run (history, snapshots, checkpoints, resume state)."""
        self._project.reset_training()
        self.training_changed.emit()
        self._emit_modified()

    def clear_results(self) -> None:
        """Forget transfer results and fitted models; predictions stay."""
        self._clear_results()
        self.results_changed.emit()
        self._emit_modified()

    def _clear_results(self) -> None:
        # Sweeps go too: each measured transfer to the old target.
        if self._project.transfer_runs or self._project.models or self._project.sweeps:
            self._project.transfer_runs = []
            self._project.models = {}
            self._project.sweeps = []

    def notify_training_changed(self) -> None:
        """Tell pages that a finished task changed the GAN run."""
        self.training_changed.emit()
        self._emit_modified()

    def notify_results_changed(self) -> None:
        """Tell pages that a finished task stored transfer results and models."""
        self.results_changed.emit()
        self._emit_modified()

    def notify_predictions_changed(self) -> None:
        """Tell pages that a finished task stored predictions."""
        self.predictions_changed.emit()
        self._emit_modified()

    def show_status(self, text: str) -> None:
        """Ask the window to show `text` in its status bar."""
        self.status_message_requested.emit(text)
