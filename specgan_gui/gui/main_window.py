"""The main window: the five pages in work order, the File menu and the status bar."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QByteArray, Slot
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QTabWidget, QWidget

from specgan_gui.errors import SpecganError
from specgan_gui.gui.controller import ProjectController
from specgan_gui.gui.data_page import DataPage
from specgan_gui.gui.dialogs import ask_save_discard_cancel, ask_yes_no, show_error
from specgan_gui.gui.prediction_page import PredictionPage
from specgan_gui.gui.preprocessing_page import PreprocessingPage
from specgan_gui.gui.settings import APPLICATION_NAME, window_settings
from specgan_gui.gui.training_page import TrainingPage
from specgan_gui.gui.transfer_page import TransferPage
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.io.examples import EXAMPLES, load_example
from specgan_gui.project.project import Project
from specgan_gui.project.store import load_project, save_project

log = logging.getLogger(__name__)

PROJECT_FILTER = "SpecGAN projects (*.h5 *.hdf5);;All files (*)"
DEFAULT_SIZE = (1280, 800)
#: Bounded wait for a stopped task before the window closes anyway.
CLOSE_WAIT_MS = 10_000
STATUS_TIMEOUT_MS = 8_000


class MainWindow(QMainWindow):
    """The SpecGAN window; owns the project controller and the project-file worker."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = ProjectController(parent=self)
        self.file_runner = TaskRunner(self, name="project file")
        self.controller.register_runner(self.file_runner)
        self._after_save: Callable[[], None] | None = None
        self._closing_without_asking = False

        self.data_page = DataPage(self.controller)
        self.preprocessing_page = PreprocessingPage(self.controller)
        self.training_page = TrainingPage(self.controller)
        self.transfer_page = TransferPage(self.controller)
        self.prediction_page = PredictionPage(self.controller)
        self.pages = QTabWidget()
        self.pages.setDocumentMode(True)
        self.pages.addTab(self.data_page, "1 · Data")
        self.pages.addTab(self.preprocessing_page, "2 · Preprocessing")
        self.pages.addTab(self.training_page, "3 · GAN training")
        self.pages.addTab(self.transfer_page, "4 · Transfer")
        self.pages.addTab(self.prediction_page, "5 · Prediction")
        self.setCentralWidget(self.pages)
        # The preview worker is not registered: it only reads the spectra, and the
        # pages need not lock their controls while it runs.
        for runner in (self.preprocessing_page.suggest_runner, self.training_page.runner,
                       self.transfer_page.runner, self.prediction_page.runner):
            self.controller.register_runner(runner)

        self.summary_label = QLabel()
        self.statusBar().addPermanentWidget(self.summary_label)
        self._build_menus()

        self.controller.modified_changed.connect(self._update_title)
        self.controller.project_replaced.connect(self._update_title)
        self.controller.status_message_requested.connect(self.show_status)
        self.controller.busy_changed.connect(self._on_busy_changed)
        for signal in (self.controller.project_replaced, self.controller.dataset_changed,
                       self.controller.settings_changed, self.controller.training_changed,
                       self.controller.results_changed, self.controller.predictions_changed):
            signal.connect(self._update_summary)
        self.data_page.example_requested.connect(self._on_example_requested)
        self.data_page.preprocessing_requested.connect(self._on_preprocessing_requested)
        self.file_runner.finished.connect(self._on_file_task_finished)
        self.file_runner.failed.connect(self._on_file_task_failed)

        self.resize(*DEFAULT_SIZE)
        self._restore_geometry()
        self._update_title()
        self._update_summary()

    # --- menus ---------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.new_action = self._action("&New", QKeySequence.StandardKey.New, self._on_new)
        self.open_action = self._action("&Open…", QKeySequence.StandardKey.Open, self._on_open)
        file_menu.addAction(self.new_action)
        file_menu.addAction(self.open_action)
        example_menu = file_menu.addMenu("Open &Example")
        self.example_actions: dict[str, QAction] = {}
        for name, info in EXAMPLES.items():
            action = QAction(f"{name}: {info['description']}", self)
            action.triggered.connect(
                lambda _checked=False, example=name: self._on_example_requested(example))
            example_menu.addAction(action)
            self.example_actions[name] = action
        file_menu.addSeparator()
        self.save_action = self._action("&Save", QKeySequence.StandardKey.Save, self._on_save)
        self.save_as_action = self._action(
            "Save &As…", QKeySequence("Ctrl+Shift+S"), self._on_save_as
        )
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addSeparator()
        self.quit_action = self._action("&Quit", QKeySequence("Ctrl+Q"), self.close)
        file_menu.addAction(self.quit_action)

    def _action(self, text: str, shortcut, slot) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    @Slot()
    def _on_new(self) -> None:
        self.new_project()

    @Slot()
    def _on_open(self) -> None:
        self.open_project()

    @Slot()
    def _on_save(self) -> None:
        self.save_project()

    @Slot()
    def _on_save_as(self) -> None:
        self.save_project_as()

    @Slot(str)
    def _on_example_requested(self, name: str) -> None:
        self.open_example(name)

    @Slot()
    def _on_preprocessing_requested(self) -> None:
        self.pages.setCurrentWidget(self.preprocessing_page)

    # --- project files -------------------------------------------------------
    def new_project(self, ask: bool = True) -> None:
        """Replace the project with an empty one, asking about unsaved changes first."""
        self._after_unsaved_check(lambda: self._replace(Project(), "New project"), ask)

    def open_example(self, name: str, ask: bool = True) -> None:
        """Replace the project with a bundled example, asking about unsaved changes first."""
        def replace() -> None:
            try:
                dataset = load_example(name)
            except SpecganError as exc:
                show_error(self, "Example not opened", str(exc))
                return
            info = EXAMPLES[name]
            project = Project()
            self.controller.replace_project(project)
            self.controller.set_dataset(dataset, target=info.get("target"), task=info.get("task"))
            # A fresh example contains nothing that reopening it would not restore.
            self.controller.mark_unmodified()
            self.show_status(f"Opened example {name}: {info['description']}")

        self._after_unsaved_check(replace, ask)

    def open_project(self, path: str | Path | None = None, ask: bool = True) -> None:
        """Load a project file in the worker; without `path`, ask with a file dialog."""
        def load() -> None:
            chosen = path
            if chosen is None:
                settings = window_settings()
                folder = str(settings.value("last_project_folder", ""))
                chosen, _ = QFileDialog.getOpenFileName(self, "Open project", folder,
                                                        PROJECT_FILTER)
                if not chosen:
                    return
                settings.setValue("last_project_folder", str(Path(chosen).parent))
            self._start_file_task("open", Path(chosen))

        self._after_unsaved_check(load, ask)

    def save_project(self, then: Callable[[], None] | None = None) -> bool:
        """Save to the project's file (or ask for one); return True when a save started."""
        path = self.controller.project.path
        if path is None:
            return self.save_project_as(then=then)
        return self._start_file_task("save", Path(path), then)

    def save_project_as(self, path: str | Path | None = None,
                        then: Callable[[], None] | None = None) -> bool:
        """Save under a new name; without `path`, ask with a file dialog."""
        if path is None:
            settings = window_settings()
            folder = str(settings.value("last_project_folder", ""))
            suggested = str(Path(folder) / f"{Path(self.controller.display_name()).stem}.h5")
            path, _ = QFileDialog.getSaveFileName(self, "Save project as", suggested,
                                                  PROJECT_FILTER)
            if not path:
                return False
            if Path(path).suffix.lower() not in (".h5", ".hdf5"):
                path = f"{path}.h5"
            settings.setValue("last_project_folder", str(Path(path).parent))
        return self._start_file_task("save", Path(path), then)

    def _start_file_task(self, kind: str, path: Path,
                         then: Callable[[], None] | None = None) -> bool:
        if self.controller.is_busy:
            self.show_status("Wait for the running task to end, or stop it, first.")
            return False
        self._after_save = then
        project = self.controller.project
        if kind == "save":
            self.show_status(f"Saving to {path}…")
            task = partial(_save_task, project, path)
        else:
            self.show_status(f"Opening {path}…")
            task = partial(_load_task, path)
        self.file_runner.start(task, name=f"{kind} {path.name}")
        return True

    @Slot(object)
    def _on_file_task_finished(self, result) -> None:
        kind, value = result
        if kind == "save":
            self.controller.mark_saved(value)
            self.show_status(f"Saved {value}")
            then, self._after_save = self._after_save, None
            if then is not None:
                then()
        else:
            self.controller.replace_project(value)
            self.show_status(f"Opened {value.path}")

    @Slot(str, str)
    def _on_file_task_failed(self, message: str, details: str) -> None:
        self._after_save = None
        self.show_status("The project file task failed.")
        show_error(self, "Project file", message, details)

    def _replace(self, project: Project, status: str) -> None:
        self.controller.replace_project(project)
        self.show_status(status)

    def _after_unsaved_check(self, action: Callable[[], None], ask: bool = True) -> None:
        """Run `action` once unsaved changes are saved or discarded; not on Cancel."""
        if self.controller.is_busy:
            self.show_status("Wait for the running task to end, or stop it, first.")
            return
        if not ask or not self.controller.modified:
            action()
            return
        answer = ask_save_discard_cancel(
            self, f"{self.controller.display_name()} has unsaved changes. Save them first?"
        )
        if answer == "save":
            self.save_project(then=action)
        elif answer == "discard":
            action()

    # --- closing -------------------------------------------------------------
    @Slot()
    def close_without_asking(self) -> None:
        """Close without questions: stop tasks, drop unsaved changes (scripted checks)."""
        self._closing_without_asking = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt's name)
        if not self._ready_to_close():
            event.ignore()
            return
        self.preprocessing_page.shutdown(CLOSE_WAIT_MS)
        self._save_geometry()
        log.info("window closed")
        event.accept()

    def _ready_to_close(self) -> bool:
        if self.controller.is_busy:
            if self.file_runner.is_running:
                # A save or load ends on its own; interrupting a save would lose it.
                self.file_runner.wait(CLOSE_WAIT_MS)
            if self.controller.is_busy:
                if not self._closing_without_asking and not ask_yes_no(
                    self, "Stop the running task?",
                    "A task is still running. Stop it and close the window? Training that "
                    "has finished so far is kept in the project.",
                ):
                    return False
                if not self.controller.stop_tasks(CLOSE_WAIT_MS):
                    show_error(
                        self, "Task still running",
                        f"The task did not stop within {CLOSE_WAIT_MS // 1000} s. "
                        "Try closing again in a moment.",
                    )
                    return False
        if self._closing_without_asking or not self.controller.modified:
            return True
        answer = ask_save_discard_cancel(
            self, f"{self.controller.display_name()} has unsaved changes. Save before closing?"
        )
        if answer == "discard":
            return True
        if answer == "save":
            self.save_project(then=self.close)
        return False

    def _save_geometry(self) -> None:
        settings = window_settings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/state", self.saveState())

    def _restore_geometry(self) -> None:
        settings = window_settings()
        geometry = settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    # --- title and status ----------------------------------------------------
    @Slot()
    def _update_title(self, _modified: bool = False) -> None:
        self.setWindowTitle(f"{self.controller.display_name()}[*] — {APPLICATION_NAME}")
        self.setWindowModified(self.controller.modified)

    @Slot()
    def _update_summary(self) -> None:
        project = self.controller.project
        dataset = project.dataset
        if dataset is None:
            self.summary_label.setText("No spectra")
            return
        parts = [f"{dataset.n_samples} spectra × {dataset.n_points} points"]
        if project.target:
            parts.append(f"target {project.target} ({project.task})")
        if not self.controller.is_busy:
            parts.append(f"{project.epochs_trained} GAN epochs")
            parts.append(f"{len(project.models)} models")
        self.summary_label.setText(" · ".join(parts))

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, STATUS_TIMEOUT_MS)

    @Slot(bool)
    def _on_busy_changed(self, busy: bool) -> None:
        for action in (self.new_action, self.open_action, self.save_action,
                       self.save_as_action, *self.example_actions.values()):
            action.setEnabled(not busy)
        self._update_summary()


def _save_task(project: Project, path: Path, task_state) -> tuple[str, Path]:
    task_state.report(0.0, f"Saving {path.name}")
    return "save", save_project(project, path)


def _load_task(path: Path, task_state) -> tuple[str, Project]:
    task_state.report(0.0, f"Opening {path.name}")
    return "open", load_project(path)
