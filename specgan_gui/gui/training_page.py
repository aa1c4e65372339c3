"""The GAN training page: settings, run controls, live plots and the run's health.

Besides losses and generated spectra the page shows the GAN health alarms
of the run, the realism measures per snapshot epoch, and a snapshot browser
whose slider moves a marker on the loss plot.  Items from the training
thread arrive in batches about ten times a second (see `TaskRunner`), and
each batch redraws every plot at most once.
"""

from __future__ import annotations

import logging
from functools import partial

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages, plots
from specgan_gui.gui.controller import ProjectController
from specgan_gui.gui.dialogs import ask_yes_no
from specgan_gui.gui.gan_health import (
    ALARM_TITLES,
    AlarmPanel,
    RealismPlot,
    GifExport,
    SnapshotBrowser,
    SnapshotGifRenderer,
)
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.models.architecture import GANArchitecture
from specgan_gui.training.device import DEVICE_CHOICES
from specgan_gui.training.diagnostics import Alarm, RealismRecord
from specgan_gui.training.gan_settings import (
    EpochStats,
    GANTrainingSettings,
    Snapshot,
    TrainingOutcome,
)

log = logging.getLogger(__name__)

#: Maximum number of measured spectra drawn behind the generated ones.
MAX_REAL_SPECTRA = 100
#: Epochs whose mean duration gives the speed and time-left estimate.
SPEED_WINDOW = 20
#: Milliseconds between two redraws of the training plots.  Each redraw
#: takes the window's thread a few milliseconds of a core that training
#: also uses, and PyTorch's threads wait for each other at every step, so
#: the delay of one costs both.  On 2 cores ten redraws a second (the
#: workers' default) left the window at 86 % of the command line's speed.
TRAINING_DELIVERY_INTERVAL_MS = 500

MESSAGES = {
    "no_data": messages.warning("Import spectra or open an example on the Data page first."),
    "invalid_settings": messages.error("Training not started. {error}"),
    "already_trained": messages.warning(
        "The GAN has already trained {epochs} epochs. Set Epochs above {epochs} to continue "
        "this run, or press Reset to start over."
    ),
    "failed": messages.error("Training failed. {error}"),
    "finished": messages.info(
        "Training finished at epoch {epoch}; {checkpoints} checkpoints stored."),
    "stopped": messages.info(
        "Training stopped at epoch {epoch} ({reason}); press Start to continue."),
    "continuing": messages.info("Continuing the stored run from epoch {epoch}."),
    "alarm": messages.warning(
        "GAN health alarm at epoch {epoch}: {title}. The alarm list above the plots "
        "names the settings to try."),
    "gif_progress": messages.info("Rendering the GIF: frame {done} of {total}."),
    "gif_saved": messages.info("Saved {frames} snapshot frames to {path}."),
    "gif_failed": messages.error("The GIF was not saved. {error}"),
}


def _spinbox(minimum: int, maximum: int, value: int, suffix: str, tooltip: str) -> QSpinBox:
    spinbox = QSpinBox()
    spinbox.setRange(minimum, maximum)
    spinbox.setValue(value)
    spinbox.setSuffix(suffix)
    spinbox.setToolTip(tooltip)
    spinbox.setAccelerated(True)
    return spinbox


def _rate_spinbox(value: float, tooltip: str) -> QDoubleSpinBox:
    spinbox = QDoubleSpinBox()
    spinbox.setDecimals(6)
    spinbox.setRange(1e-6, 1.0)
    spinbox.setSingleStep(1e-5)
    spinbox.setValue(value)
    spinbox.setToolTip(tooltip)
    return spinbox


def format_duration(seconds: float) -> str:
    """Return a duration as ``1 h 05 min``, ``3 min 20 s`` or ``12 s``."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


class TrainingPage(QWidget):
    """Train the project's GAN and watch losses and generated spectra while it runs."""

    def __init__(self, controller: ProjectController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.runner = TaskRunner(
            self, name="GAN training", delivery_interval_ms=TRAINING_DELIVERY_INTERVAL_MS)
        self.messages = messages.MessageBar(MESSAGES)
        self._target_epochs = 0
        self._epochs: list[float] = []
        self._discriminator_losses: list[float] = []
        self._generator_losses: list[float] = []
        self._epoch_seconds: list[float] = []
        self._display_pipeline: Pipeline | None = None
        self._generated_items: list[pg.PlotDataItem] = []
        # Snapshot epoch -> scaled spectra, delivered during training or read
        # from the project, so the GUI thread never reads the project while the
        # training thread writes to it.
        self._snapshots: dict[int, np.ndarray] = {}
        self._gif_export: GifExport | None = None
        self._build()

        self.runner.started.connect(self._update_buttons)
        self.runner.epoch_finished.connect(self._on_items_delivered)
        self.runner.finished.connect(self._on_finished)
        self.runner.failed.connect(self._on_failed)
        self.runner.cancelled.connect(self._on_cancelled)
        controller.project_replaced.connect(self._on_project_replaced)
        controller.training_changed.connect(self.refresh)
        controller.settings_changed.connect(self.refresh)
        controller.busy_changed.connect(self._update_buttons)
        self._on_project_replaced()

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        defaults = GANTrainingSettings()
        self.epochs_spinbox = _spinbox(
            1, 1_000_000, defaults.epochs, " epochs",
            "Total epochs of the run; a stored run continues up to this number.")
        self.batch_size_spinbox = _spinbox(
            1, 10_000, defaults.batch_size, " spectra",
            "Real spectra per batch; the last batch of an epoch may be smaller.")
        self.code_length_spinbox = _spinbox(
            1, 10_000, 100, " values",
            "Length of the generator's noise code (uniform on [-1, 1]). 100 worked in the "
            "reference design; 200 made every generated spectrum collapse to a flat line.")
        self.generator_filters_spinbox = _spinbox(
            1, 1024, 64, " filters", "Filters of the generator's hidden convolution.")
        self.discriminator_filters_spinbox = _spinbox(
            1, 1024, 64, " filters",
            "Filters of the discriminator's first convolution; 128 can help when the "
            "discriminator loss spikes.")
        self.discriminator_steps_spinbox = _spinbox(
            1, 100, defaults.discriminator_steps, " steps",
            "Discriminator updates per generator update.")
        self.generator_lr_spinbox = _rate_spinbox(
            defaults.generator_lr, "Adam learning rate of the generator.")
        self.discriminator_lr_spinbox = _rate_spinbox(
            defaults.discriminator_lr, "Adam learning rate of the discriminator.")
        self.seed_spinbox = _spinbox(
            0, 2**31 - 1, defaults.seed, "",
            "Seed of the initial weights, batch order and noise codes; equal seeds repeat a run.")
        self.snapshot_interval_spinbox = _spinbox(
            1, 1_000_000, defaults.snapshot_interval, " epochs",
            "Epochs between two sets of generated spectra stored in the project. Each "
            "snapshot also computes the realism measures: about 1 % of the training time "
            "at 10 epochs for 40 spectra of 1841 points on a CPU, more at shorter intervals.")
        self.checkpoint_interval_spinbox = _spinbox(
            1, 1_000_000, defaults.checkpoint_interval, " epochs",
            "Epochs between two stored discriminator checkpoints (the trunks for transfer).")
        self.max_checkpoints_spinbox = _spinbox(
            1, 1000, defaults.max_checkpoints, " checkpoints",
            "Checkpoints kept in the project; older ones are thinned out evenly over the run.")
        self.device_combo = QComboBox()
        for name in DEVICE_CHOICES:
            self.device_combo.addItem(name, name)
        self.device_combo.setToolTip(
            "auto uses a CUDA GPU when PyTorch finds one, otherwise the CPU.")

        settings_box = QGroupBox("GAN settings")
        form = QFormLayout(settings_box)
        form.addRow("Epochs:", self.epochs_spinbox)
        form.addRow("Batch size:", self.batch_size_spinbox)
        form.addRow("Code length:", self.code_length_spinbox)
        form.addRow("Generator filters:", self.generator_filters_spinbox)
        form.addRow("Discriminator filters:", self.discriminator_filters_spinbox)
        form.addRow("Discriminator steps:", self.discriminator_steps_spinbox)
        form.addRow("Generator learning rate:", self.generator_lr_spinbox)
        form.addRow("Discriminator learning rate:", self.discriminator_lr_spinbox)
        form.addRow("Seed:", self.seed_spinbox)
        form.addRow("Snapshot interval:", self.snapshot_interval_spinbox)
        form.addRow("Checkpoint interval:", self.checkpoint_interval_spinbox)
        form.addRow("Checkpoints kept:", self.max_checkpoints_spinbox)
        form.addRow("Device:", self.device_combo)
        self._setting_widgets = [
            self.epochs_spinbox, self.batch_size_spinbox, self.code_length_spinbox,
            self.generator_filters_spinbox, self.discriminator_filters_spinbox,
            self.discriminator_steps_spinbox, self.generator_lr_spinbox,
            self.discriminator_lr_spinbox, self.seed_spinbox, self.snapshot_interval_spinbox,
            self.checkpoint_interval_spinbox, self.max_checkpoints_spinbox, self.device_combo,
        ]

        self.start_button = QPushButton("Start")
        self.start_button.setToolTip(
            "Train up to the set number of epochs, continuing the stored run when the "
            "architecture is unchanged.")
        self.start_button.clicked.connect(self._on_start_clicked)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setCheckable(True)
        self.pause_button.toggled.connect(self._on_pause_toggled)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current batch; finished epochs are kept.")
        self.stop_button.clicked.connect(self.runner.stop)
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("Forget the GAN run: history, snapshots and checkpoints.")
        self.reset_button.clicked.connect(self._on_reset_clicked)
        buttons = QGridLayout()
        buttons.addWidget(self.start_button, 0, 0)
        buttons.addWidget(self.pause_button, 0, 1)
        buttons.addWidget(self.stop_button, 1, 0)
        buttons.addWidget(self.reset_button, 1, 1)

        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setFormat("")
        self.progress_bar.setTextVisible(True)
        self.speed_label = QLabel()
        self.discriminator_label = QLabel()
        self.discriminator_label.setToolTip(
            "Mean discriminator output (probability of 'real') on real and generated "
            "spectra in the last epoch. Near 1 and 0 the discriminator is winning; both "
            "near 0.5 is the equilibrium.")
        run_box = QGroupBox("Run")
        run_layout = QVBoxLayout(run_box)
        run_layout.addLayout(buttons)
        run_layout.addWidget(self.progress_bar)
        run_layout.addWidget(self.speed_label)
        run_layout.addWidget(self.discriminator_label)

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(settings_box)
        controls_layout.addWidget(run_box)
        controls_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(360)

        self.loss_plot = plots.make_plot_widget("Epoch", "Binary cross-entropy loss")
        # Top left: the generator loss usually climbs towards the top right early on.
        self.loss_plot.getPlotItem().legend.anchor(
            itemPos=(0, 0), parentPos=(0, 0), offset=(10, 10))
        self.loss_plot.getPlotItem().setTitle("Losses", size="11pt")
        # 1-pixel pens, as for the generated spectra: a long jagged loss history
        # drawn 1.6 pixels wide and antialiased took seconds per repaint.
        self.discriminator_loss_curve = self.loss_plot.plot(
            [], [], pen=plots.pen(0, 1.0), name="Discriminator loss")
        self.generator_loss_curve = self.loss_plot.plot(
            [], [], pen=plots.pen(1, 1.0), name="Generator loss")
        for curve in (self.discriminator_loss_curve, self.generator_loss_curve):
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        self.log_scale_checkbox = QCheckBox("Logarithmic loss axis")
        self.log_scale_checkbox.toggled.connect(self._on_log_scale_toggled)
        loss_holder = QWidget()
        loss_layout = QVBoxLayout(loss_holder)
        loss_layout.setContentsMargins(0, 0, 0, 0)
        loss_layout.addWidget(self.loss_plot, 1)
        loss_row = QHBoxLayout()
        loss_row.addWidget(self.log_scale_checkbox)
        loss_row.addStretch(1)
        loss_layout.addLayout(loss_row)

        self.snapshot_marker = pg.InfiniteLine(
            angle=90, movable=False, pen=plots.dashed_pen((200, 30, 30), 1.4),
            label="snapshot", labelOpts={"position": 0.92, "color": (200, 30, 30)})
        self.snapshot_marker.setVisible(False)
        self.loss_plot.addItem(self.snapshot_marker, ignoreBounds=True)

        self.generated_plot = plots.make_plot_widget("Axis", "Intensity")
        self.generated_plot.getPlotItem().setTitle("Generated spectra", size="11pt")
        self.snapshot_browser = SnapshotBrowser()
        self.snapshot_browser.epoch_selected.connect(self._on_snapshot_selected)
        self.snapshot_browser.export_requested.connect(self._on_export_requested)
        generated_holder = QWidget()
        generated_layout = QVBoxLayout(generated_holder)
        generated_layout.setContentsMargins(0, 0, 0, 0)
        generated_layout.addWidget(self.generated_plot, 1)
        generated_layout.addWidget(self.snapshot_browser)

        self.realism_plot = RealismPlot()
        self.alarm_panel = AlarmPanel()

        plot_splitter = QSplitter(Qt.Orientation.Vertical)
        plot_splitter.addWidget(loss_holder)
        plot_splitter.addWidget(generated_holder)
        plot_splitter.addWidget(self.realism_plot)
        plot_splitter.setSizes([300, 330, 260])
        plots_holder = QWidget()
        plots_layout = QVBoxLayout(plots_holder)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.alarm_panel)
        plots_layout.addWidget(plot_splitter, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(scroll)
        splitter.addWidget(plots_holder)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])

        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(splitter, 1)

    # --- settings form -------------------------------------------------------
    def settings_from_form(self) -> GANTrainingSettings:
        """Return the training settings entered in the form."""
        return GANTrainingSettings(
            epochs=self.epochs_spinbox.value(),
            batch_size=self.batch_size_spinbox.value(),
            discriminator_steps=self.discriminator_steps_spinbox.value(),
            generator_lr=self.generator_lr_spinbox.value(),
            discriminator_lr=self.discriminator_lr_spinbox.value(),
            seed=self.seed_spinbox.value(),
            snapshot_interval=self.snapshot_interval_spinbox.value(),
            checkpoint_interval=self.checkpoint_interval_spinbox.value(),
            max_checkpoints=self.max_checkpoints_spinbox.value(),
            device=self.device_combo.currentData(),
        )

    def architecture_overrides(self) -> dict:
        """Return the architecture values entered in the form."""
        return {
            "code_length": self.code_length_spinbox.value(),
            "generator_filters": self.generator_filters_spinbox.value(),
            "discriminator_filters": self.discriminator_filters_spinbox.value(),
        }

    def _fill_form(self) -> None:
        project = self.controller.project
        settings = GANTrainingSettings()
        if project.gan_settings:
            try:
                settings = GANTrainingSettings.from_dict(project.gan_settings)
            except SpecganError as exc:
                log.warning("ignoring invalid stored GAN settings: %s", exc)
        self.epochs_spinbox.setValue(settings.epochs)
        self.batch_size_spinbox.setValue(settings.batch_size)
        self.discriminator_steps_spinbox.setValue(settings.discriminator_steps)
        self.generator_lr_spinbox.setValue(settings.generator_lr)
        self.discriminator_lr_spinbox.setValue(settings.discriminator_lr)
        self.seed_spinbox.setValue(settings.seed)
        self.snapshot_interval_spinbox.setValue(settings.snapshot_interval)
        self.checkpoint_interval_spinbox.setValue(settings.checkpoint_interval)
        self.max_checkpoints_spinbox.setValue(settings.max_checkpoints)
        index = self.device_combo.findData(settings.device)
        self.device_combo.setCurrentIndex(max(index, 0))
        architecture = project.gan_architecture or {}
        self.code_length_spinbox.setValue(int(architecture.get("code_length", 100)))
        self.generator_filters_spinbox.setValue(int(architecture.get("generator_filters", 64)))
        self.discriminator_filters_spinbox.setValue(
            int(architecture.get("discriminator_filters", 64)))

    # --- running -------------------------------------------------------------
    @Slot()
    def _on_start_clicked(self) -> None:
        self.start_training()

    def start_training(self) -> bool:
        """Start (or continue) training in the worker; return True when it started."""
        self.messages.clear()
        project = self.controller.project
        if project.dataset is None:
            self.messages.show_message("no_data")
            return False
        # NOTE: the first start imports torch and scikit-learn here, in the GUI
        # thread, which takes a few seconds.
        from specgan_gui.training.workflow import fitted_pipeline, gan_architecture

        try:
            settings = self.settings_from_form()
            architecture = gan_architecture(project, **self.architecture_overrides())
            self._display_pipeline = fitted_pipeline(project)
        except SpecganError as exc:
            self.messages.show_message("invalid_settings", error=str(exc))
            return False
        if not self._confirm_run(architecture, settings):
            return False

        continuing = (
            project.resume_state is not None and self._stored_architecture() == architecture
        )
        if continuing:
            self.messages.show_message("continuing", epoch=project.epochs_trained)
        else:
            self._clear_history_plot()
            self._clear_health()
        self._target_epochs = settings.epochs
        self._epoch_seconds = []
        self._draw_real_spectra()
        self.runner.start(partial(_train_task, project, settings, architecture))
        self.controller.show_status(f"GAN training started ({settings.epochs} epochs)")
        return True

    def _stored_architecture(self) -> GANArchitecture | None:
        resume = self.controller.project.resume_state
        if resume is None or "architecture" not in resume:
            return None
        return GANArchitecture.from_dict(dict(resume["architecture"]))

    def _confirm_run(self, architecture: GANArchitecture, settings: GANTrainingSettings) -> bool:
        project = self.controller.project
        trained = project.epochs_trained
        stored = self._stored_architecture()
        if stored is not None and stored == architecture:
            if trained >= settings.epochs:
                self.messages.show_message("already_trained", epochs=trained)
                return False
            return True
        if trained == 0 and not project.checkpoints:
            return True
        reason = (
            "The code length or filter counts differ from the stored run"
            if stored is not None else "The stored run cannot be continued"
        )
        return ask_yes_no(
            self, "Start a new run?",
            f"{reason}, so training starts over and clears the stored {trained} epochs and "
            f"{len(project.checkpoints)} checkpoints. Continue?",
        )

    @Slot(bool)
    def _on_pause_toggled(self, paused: bool) -> None:
        if paused:
            self.runner.pause()
            self.pause_button.setText("Resume")
            self.controller.show_status("GAN training paused")
        else:
            self.runner.resume()
            self.pause_button.setText("Pause")
            self.controller.show_status("GAN training resumed")

    @Slot()
    def _on_reset_clicked(self) -> None:
        project = self.controller.project
        if ask_yes_no(
            self, "Reset the GAN training?",
            f"Forget the GAN run: {project.epochs_trained} epochs of history, "
            f"{len(project.snapshots)} snapshots and {len(project.checkpoints)} checkpoints? "
            "Transfer results and fitted models are kept.",
        ):
            self.controller.reset_training()
            self.messages.clear()

    @Slot(object)
    def _on_items_delivered(self, items: list) -> None:
        latest_stats = None
        snapshot_epochs: list[int] = []
        realism_rows: list[tuple[int, dict]] = []
        for item in items:
            if isinstance(item, EpochStats):
                self._epochs.append(float(item.epoch))
                self._discriminator_losses.append(float(item.discriminator_loss))
                self._generator_losses.append(float(item.generator_loss))
                self._epoch_seconds.append(float(item.seconds))
                latest_stats = item
            elif isinstance(item, Snapshot):
                self._snapshots[int(item.epoch)] = item.spectra
                snapshot_epochs.append(int(item.epoch))
            elif isinstance(item, RealismRecord):
                realism_rows.append((item.epoch, item.measures))
            elif isinstance(item, Alarm):
                self.alarm_panel.add_alarm(item)
                self.messages.show_message(
                    "alarm", epoch=item.epoch, title=ALARM_TITLES.get(item.kind, item.kind))
        self._update_loss_curves()
        if latest_stats is not None:
            self._show_epoch_stats(latest_stats)
        # Draws the newest snapshot once when the slider follows the newest epoch.
        self.snapshot_browser.add_epochs(snapshot_epochs)
        self.realism_plot.add_rows(realism_rows)

    def _show_epoch_stats(self, stats: EpochStats) -> None:
        total = max(self._target_epochs, stats.epoch)
        self.progress_bar.setValue(int(1000 * stats.epoch / total))
        self.progress_bar.setFormat(f"epoch {stats.epoch} / {total}")
        recent = [s for s in self._epoch_seconds[-SPEED_WINDOW:] if s > 0]
        if recent:
            rate = 1.0 / float(np.mean(recent))
            left = (total - stats.epoch) / rate
            self.speed_label.setText(
                f"{rate:.2f} epochs/s · about {format_duration(left)} left")
        self.discriminator_label.setText(
            f"D(real) {stats.d_real:.3f} · D(fake) {stats.d_fake:.3f}")

    @Slot(object)
    def _on_finished(self, outcome: TrainingOutcome) -> None:
        project = self.controller.project
        if outcome.stopped:
            self.messages.show_message("stopped", epoch=outcome.epochs_completed,
                                       reason=outcome.reason)
        else:
            self.messages.show_message("finished", epoch=outcome.epochs_completed,
                                       checkpoints=len(project.checkpoints))
        self.controller.show_status(f"GAN training ended at epoch {outcome.epochs_completed}")
        self._after_run()

    @Slot(str, str)
    def _on_failed(self, message: str, details: str) -> None:
        self.messages.show_message("failed", details=details, error=message)
        self._after_run()

    @Slot()
    def _on_cancelled(self) -> None:
        self.messages.show_message("stopped", epoch=self.controller.project.epochs_trained,
                                   reason="stopped by user")
        self._after_run()

    def _after_run(self) -> None:
        # Uncheck Pause without its slot: the run is over, so there is
        # nothing to resume and the status bar must not say "resumed".
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(False)
        self.pause_button.blockSignals(False)
        self.pause_button.setText("Pause")
        self.controller.notify_training_changed()

    # --- showing the project -------------------------------------------------
    @Slot()
    def _on_project_replaced(self) -> None:
        if self._gif_export is not None:
            self._gif_export.cancel()  # its frames belong to the old project
        self.messages.clear()
        self._fill_form()
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Redraw history, latest snapshot and labels from the project (not while training)."""
        if self.runner.is_running:
            return
        project = self.controller.project
        history = project.history
        self._epochs = list(map(float, history.get("epoch", [])))
        self._discriminator_losses = list(map(float, history.get("discriminator_loss", [])))
        self._generator_losses = list(map(float, history.get("generator_loss", [])))
        self._epoch_seconds = list(map(float, history.get("seconds", [])))
        self._update_loss_curves()
        self._display_pipeline = self._stored_pipeline()
        self._draw_real_spectra()
        self._snapshots = dict(project.snapshots)
        self.snapshot_browser.set_epochs(list(self._snapshots))
        self.snapshot_marker.setVisible(bool(self._snapshots))
        self.realism_plot.set_rows(project.realism)
        self.alarm_panel.set_alarms([Alarm.from_tree(tree) for tree in project.alarms])
        trained = project.epochs_trained
        self._target_epochs = max(self.epochs_spinbox.value(), trained)
        self.progress_bar.setValue(int(1000 * trained / max(self._target_epochs, 1)))
        self.progress_bar.setFormat(
            f"epoch {trained} / {self._target_epochs}" if trained else "not trained yet")
        self.speed_label.setText(
            f"{len(project.checkpoints)} checkpoints stored" if project.checkpoints else "")
        if "d_real" in history and history["d_real"].size:
            self.discriminator_label.setText(
                f"D(real) {history['d_real'][-1]:.3f} · D(fake) {history['d_fake'][-1]:.3f}")
        else:
            self.discriminator_label.setText("")
        self._update_buttons()

    def _stored_pipeline(self) -> Pipeline | None:
        project = self.controller.project
        if project.dataset is None:
            return None
        try:
            if project.preprocessing_state:
                pipeline = Pipeline.from_state(project.preprocessing, project.preprocessing_state)
                if pipeline.is_fitted:
                    return pipeline
            return Pipeline.from_spec(project.preprocessing).fit(
                project.dataset.axis, project.dataset.spectra)
        except SpecganError as exc:
            log.warning("failed to fit the display pipeline: %s", exc)
            return None

    def _clear_health(self) -> None:
        self._snapshots = {}
        self.snapshot_browser.set_epochs([])
        self.snapshot_marker.setVisible(False)
        self.realism_plot.set_rows({})
        self.alarm_panel.set_alarms([])

    @Slot(int)
    def _on_snapshot_selected(self, epoch: int) -> None:
        spectra = self._snapshots.get(epoch)
        if spectra is None:
            return
        self._show_snapshot(epoch, spectra)
        self.snapshot_marker.setPos(epoch)
        self.snapshot_marker.label.setFormat(f"snapshot {epoch}")
        self.snapshot_marker.setVisible(True)

    @Slot()
    def _on_export_requested(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export snapshots as GIF", "gan_snapshots.gif", "Animated GIF (*.gif)")
        if path:
            self.start_gif_export(path)

    def start_gif_export(self, path) -> bool:
        """Start writing the stored snapshots to an animated GIF at `path`.

        Frames render one per turn of the event loop (about 0.1 s each, up
        to 150 frames), so the window stays responsive.  The message bar
        shows the progress and the outcome.  Returns whether the export
        started.
        """
        if self._gif_export is not None and self._gif_export.is_running:
            return False
        pipeline = self._display_pipeline
        dataset = self.controller.project.dataset
        if pipeline is None or dataset is None or not self._snapshots:
            self.messages.show_message("gif_failed", error="There are no snapshots yet.")
            return False
        axis, measured = pipeline.transform_before_scale(dataset.spectra)
        rows = np.arange(measured.shape[0])
        if rows.size > MAX_REAL_SPECTRA:
            rows = np.linspace(0, rows.size - 1, MAX_REAL_SPECTRA).astype(int)
        try:
            renderer = SnapshotGifRenderer(
                dict(self._snapshots), pipeline.output_axis, pipeline.inverse_scale,
                dataset.axis_label, units_label(pipeline, dataset), measured[rows],
            )
        except ValueError as exc:
            self.messages.show_message("gif_failed", error=str(exc))
            return False
        export = GifExport(renderer, path, self)
        export.progress.connect(
            lambda done, total: self.messages.show_message("gif_progress", done=done, total=total))
        export.finished.connect(
            lambda frames: self._after_gif_export("gif_saved", frames=frames, path=str(path)))
        export.failed.connect(lambda error: self._after_gif_export("gif_failed", error=error))
        self._gif_export = export
        self.snapshot_browser.export_button.setEnabled(False)
        export.start()
        return True

    def _after_gif_export(self, message: str, **values) -> None:
        self.messages.show_message(message, **values)
        self.snapshot_browser.export_button.setEnabled(bool(self._snapshots))
        if self._gif_export is not None:
            self._gif_export.deleteLater()
            self._gif_export = None

    def _clear_history_plot(self) -> None:
        self._epochs, self._discriminator_losses, self._generator_losses = [], [], []
        self._update_loss_curves()
        self._draw_real_spectra()

    def _update_loss_curves(self) -> None:
        epochs = np.asarray(self._epochs, dtype=np.float64)
        self.discriminator_loss_curve.setData(
            epochs, np.asarray(self._discriminator_losses, dtype=np.float64))
        self.generator_loss_curve.setData(
            epochs, np.asarray(self._generator_losses, dtype=np.float64))

    def _draw_real_spectra(self) -> None:
        plot = self.generated_plot.getPlotItem()
        plots.clear_plot(self.generated_plot)
        self._generated_items = []
        project = self.controller.project
        pipeline = self._display_pipeline
        dataset = project.dataset
        if dataset is None or pipeline is None:
            plots.set_axis_labels(self.generated_plot, "Axis", "Intensity")
            plot.setTitle("Generated spectra", size="11pt")
            return
        # Measured spectra through every step but the final scaling: the units that
        # `inverse_scale` maps generated spectra back to, even after a derivative.
        axis, measured = pipeline.transform_before_scale(dataset.spectra)
        plots.set_axis_labels(self.generated_plot, dataset.axis_label,
                              units_label(pipeline, dataset))
        rows = np.arange(measured.shape[0])
        if rows.size > MAX_REAL_SPECTRA:
            rows = np.linspace(0, rows.size - 1, MAX_REAL_SPECTRA).astype(int)
        # One curve with a NaN gap between spectra, drawn without antialiasing:
        # every repaint for a new snapshot strokes these too, and one path of
        # thin aliased lines keeps that to milliseconds (docs/performance.md).
        gap = np.full((rows.size, 1), np.nan)
        x = np.hstack([np.broadcast_to(axis, (rows.size, axis.size)), gap]).ravel()
        y = np.hstack([measured[rows], gap]).ravel()
        grey = pg.mkPen(plots.REAL_SPECTRUM_COLOR, width=1.0)
        self.generated_plot.plot(x, y, pen=grey, connect="finite", antialias=False,
                                 name=f"Measured ({measured.shape[0]} spectra)")
        plot.setTitle("Measured spectra (no generated spectra yet)", size="11pt")

    def _show_snapshot(self, epoch: int, scaled: np.ndarray) -> None:
        pipeline = self._display_pipeline
        if pipeline is None or not pipeline.is_fitted:
            return
        axis = pipeline.output_axis
        if scaled.shape[1] != axis.size:
            log.warning("snapshot of %d points does not fit the %d-point axis",
                        scaled.shape[1], axis.size)
            return
        spectra = pipeline.inverse_scale(scaled)
        while len(self._generated_items) < spectra.shape[0]:
            index = len(self._generated_items)
            name = f"Generated ({spectra.shape[0]} spectra)" if index == 0 else None
            # A 1-pixel pen: Qt strokes wider antialiased lines through the jagged
            # output of an early generator a hundred times slower, stalling the window.
            item = self.generated_plot.plot([], [], pen=plots.pen(index, 1.0), name=name)
            item.setZValue(10)
            self._generated_items.append(item)
        for item, spectrum in zip(self._generated_items, spectra):
            item.setData(axis, spectrum)
        self.generated_plot.getPlotItem().setTitle(
            f"Generated spectra at epoch {epoch}", size="11pt")

    @Slot(bool)
    def _on_log_scale_toggled(self, checked: bool) -> None:
        self.loss_plot.getPlotItem().setLogMode(y=checked)

    @Slot()
    def _update_buttons(self, _busy: bool = False) -> None:
        running = self.runner.is_running
        busy = self.controller.is_busy
        has_data = self.controller.dataset is not None
        self.start_button.setEnabled(not busy and has_data)
        self.pause_button.setEnabled(running)
        self.stop_button.setEnabled(running)
        project = self.controller.project
        trained = bool(project.epochs_trained or project.checkpoints)
        self.reset_button.setEnabled(not busy and trained)
        for widget in self._setting_widgets:
            widget.setEnabled(not running)


def units_label(pipeline: Pipeline, dataset: SpectralDataset) -> str:
    """Return the y label of spectra before the final scaling, such as "First derivative of …"."""
    label = pipeline.units_label(dataset.y_unit)
    return label[:1].upper() + label[1:]


def _train_task(project, settings: GANTrainingSettings, architecture: GANArchitecture,
                task_state) -> TrainingOutcome:
    """Train in the worker thread; stats, snapshots, realism rows and alarms go to the GUI."""
    # Imported here because it loads torch, which would slow the window's start.
    from specgan_gui.training.workflow import train_gan

    return train_gan(
        project, settings, architecture, task=task_state,
        on_epoch=task_state.post, on_snapshot=task_state.post,
        on_alarm=task_state.post, on_realism=task_state.post,
    )
