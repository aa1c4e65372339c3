"""The steps of a session on a `Project`: train the GAN, transfer, predict.

The window and the command line both call these functions, so a project
built by one behaves the same in the other.  They mutate the project they
are given and report through a `TaskState`; the window runs them in a
worker thread and does not edit the project while one runs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, SettingsError
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.project.project import Project
from specgan_gui.training.comparison import (
    ComparisonResult,
    compare_models,
    left_out_message,
    missing_target,
)
from specgan_gui.training.diagnostics import (
    REALISM_SAMPLE_COUNT,
    REALISM_SEED,
    Alarm,
    HealthMonitor,
    RealismRecord,
    realism_measures,
)
from specgan_gui.training.gan_trainer import (
    Checkpoint,
    EpochStats,
    GANTrainer,
    GANTrainingSettings,
    Snapshot,
    TrainingCallbacks,
    TrainingOutcome,
)
from specgan_gui.training.prediction import FittedModel, predict
from specgan_gui.training.sweep import SweepResult, sweep_checkpoints
from specgan_gui.training.task import TaskState
from specgan_gui.training.transfer import TransferSettings

log = logging.getLogger(__name__)


def project_pipeline(project: Project) -> Pipeline:
    """Return the project's pipeline, unfitted, as stored in its settings."""
    return Pipeline.from_spec(project.preprocessing)


def fitted_pipeline(project: Project) -> Pipeline:
    """Return the project's pipeline fitted on all its spectra (the GAN's view)."""
    if project.dataset is None:
        raise DataError("The project has no spectra yet; import spectra or open an example.")
    if project.preprocessing_state:
        pipeline = Pipeline.from_state(project.preprocessing, project.preprocessing_state)
        if pipeline.is_fitted and np.array_equal(pipeline.input_axis, project.dataset.axis):
            return pipeline
    pipeline = project_pipeline(project).fit(project.dataset.axis, project.dataset.spectra)
    project.preprocessing_state = pipeline.fitted_state()
    return pipeline


def gan_architecture(project: Project, **overrides) -> GANArchitecture:
    """Return the architecture for the project's preprocessed spectrum length."""
    pipeline = fitted_pipeline(project)
    values = dict(project.gan_architecture or {})
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["n_points"] = int(pipeline.output_axis.size)
    return GANArchitecture.from_dict(values)


class _ProjectRecorder(TrainingCallbacks):
    """Stores each epoch, snapshot, checkpoint, realism row and alarm in the project.

    With `real` and `generate` set, each snapshot epoch also evaluates the
    realism measures on `REALISM_SAMPLE_COUNT` spectra from `generate` (fixed
    noise codes) against `real`, and the `monitor` checks them and every
    epoch's statistics for alarms.
    """

    def __init__(
        self,
        project: Project,
        settings: GANTrainingSettings,
        on_epoch=None,
        on_snapshot=None,
        on_alarm=None,
        on_realism=None,
        real: np.ndarray | None = None,
        generate: Callable[..., np.ndarray] | None = None,
        monitor: HealthMonitor | None = None,
    ):
        self.project = project
        self.settings = settings
        self.on_epoch_callback = on_epoch
        self.on_snapshot_callback = on_snapshot
        self.on_alarm_callback = on_alarm
        self.on_realism_callback = on_realism
        self.real = real
        self.generate = generate
        self.monitor = monitor if monitor is not None else HealthMonitor()
        #: Seconds spent generating spectra for and computing realism measures.
        self.realism_seconds = 0.0
        self.realism_evaluations = 0
        #: Training seconds of the epochs of this run (`EpochStats.seconds`).
        self.training_seconds = 0.0

    def on_epoch(self, stats: EpochStats) -> None:
        self.training_seconds += stats.seconds
        self.project.append_history({name: getattr(stats, name) for name in EpochStats.FIELDS})
        if self.on_epoch_callback is not None:
            self.on_epoch_callback(stats)
        self.record_alarms(self.monitor.observe_epoch(stats))

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self.project.add_snapshot(snapshot.epoch, snapshot.spectra)
        if self.on_snapshot_callback is not None:
            self.on_snapshot_callback(snapshot)
        self._evaluate_realism(snapshot.epoch)

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.project.add_checkpoint(
            checkpoint.epoch, checkpoint.discriminator, self.settings.max_checkpoints
        )

    def record_alarms(self, alarms: list[Alarm]) -> None:
        """Store alarms in the project and pass each to the alarm callback."""
        for alarm in alarms:
            self.project.alarms.append(alarm.to_tree())
            self.project.modified = True
            if self.on_alarm_callback is not None:
                self.on_alarm_callback(alarm)

    def _evaluate_realism(self, epoch: int) -> None:
        if self.real is None or self.generate is None or self.real.shape[0] < 2:
            return
        stored = self.project.realism.get("epoch")
        if stored is not None and stored.size and epoch <= stored[-1]:
            return  # this epoch has a row already; keep one row per epoch
        # NOTE: one evaluation took about 0.14 s for 40 spectra of 1841 points on a
        # loaded 2-core CPU, 1 % of training at a 10-epoch snapshot interval.  Every
        # snapshot is evaluated, so intervals of 1 or 2 epochs cost 5 to 10 times more.
        started = time.perf_counter()
        generated = self.generate(REALISM_SAMPLE_COUNT, seed=REALISM_SEED)
        measures = realism_measures(self.real, generated)
        self.realism_seconds += time.perf_counter() - started
        self.realism_evaluations += 1
        _append_realism(self.project, epoch, measures)
        if self.on_realism_callback is not None:
            self.on_realism_callback(RealismRecord(epoch, measures))
        self.record_alarms(self.monitor.observe_realism(epoch, measures))


def _append_realism(project: Project, epoch: int, measures: dict[str, float]) -> None:
    """Append one row to `project.realism`, NaN for columns the row lacks."""
    row = {"epoch": float(epoch), **{name: float(value) for name, value in measures.items()}}
    n_rows = max((column.shape[0] for column in project.realism.values()), default=0)
    for name in row:
        if name not in project.realism:
            project.realism[name] = np.full(n_rows, np.nan)
    for name, column in project.realism.items():
        project.realism[name] = np.append(column, row.get(name, np.nan))
    project.modified = True


def train_gan(
    project: Project,
    settings: GANTrainingSettings,
    architecture: GANArchitecture | None = None,
    task: TaskState | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    on_snapshot: Callable[[Snapshot], None] | None = None,
    on_alarm: Callable[[Alarm], None] | None = None,
    on_realism: Callable[[RealismRecord], None] | None = None,
) -> TrainingOutcome:
    """Train (or continue training) the project's GAN up to ``settings.epochs``.

    The run continues from the project's resume state when there is one and
    the architecture is unchanged; a different architecture starts over and
    clears the old history, since its checkpoints would no longer fit.

    Every snapshot epoch also stores a row of realism measures in
    `Project.realism`, and GAN health alarms go to `Project.alarms`; the
    callbacks receive each of them as it arrives, in the training thread.
    A continued run checks the stored history first, so an alarm raised
    before the stop is not raised again while its episode lasts.
    """
    pipeline = fitted_pipeline(project)
    scaled = pipeline.transform(project.dataset.spectra)
    if architecture is None:
        architecture = gan_architecture(project)
    if architecture.n_points != scaled.shape[1]:
        raise SettingsError(
            f"The GAN is built for {architecture.n_points} points but the preprocessed "
            f"spectra have {scaled.shape[1]}; rebuild it for the current range."
        )
    resume = project.resume_state
    if resume is not None:
        stored = GANArchitecture.from_dict(dict(resume["architecture"]))
        if stored != architecture:
            log.info("architecture changed from %s to %s: starting a new run", stored, architecture)
            project.reset_training()
            resume = None
        elif int(resume["epoch"]) >= settings.epochs:
            raise SettingsError(
                f"The GAN has already trained {int(resume['epoch'])} epochs; set more "
                f"epochs than that to continue, or start a new run (`specgan train "
                f"--restart`, or Reset on the GAN training page)."
            )
    elif project.epochs_trained:
        project.reset_training()
    project.gan_architecture = architecture.to_dict()
    project.gan_settings = settings.to_dict()
    trainer = GANTrainer(scaled, architecture, settings, resume_state=resume)
    monitor = (
        HealthMonitor.replay(project.history, project.realism) if resume is not None
        else HealthMonitor()
    )
    recorder = _ProjectRecorder(
        project, settings, on_epoch, on_snapshot, on_alarm, on_realism,
        real=np.asarray(scaled, dtype=np.float64), generate=trainer.generate, monitor=monitor,
    )
    outcome = trainer.run(task, recorder)
    last_checkpoint = project.checkpoint_epochs[-1] if project.checkpoints else None
    recorder.record_alarms(monitor.observe_outcome(outcome, last_checkpoint))
    if recorder.realism_evaluations:
        log.info(
            "%d realism evaluations took %.2f s (%.1f ms each), %.1f %% of the %.1f s "
            "of training", recorder.realism_evaluations, recorder.realism_seconds,
            1000 * recorder.realism_seconds / recorder.realism_evaluations,
            100 * recorder.realism_seconds / max(recorder.training_seconds, 1e-9),
            recorder.training_seconds,
        )
    project.resume_state = trainer.resume_state()
    project.modified = True
    return outcome


def latest_checkpoint(project: Project, epoch: int | None = None) -> Checkpoint | None:
    """Return the checkpoint at `epoch` (default: the newest), or None if there is none."""
    epochs = project.checkpoint_epochs
    if not epochs:
        return None
    if epoch is None:
        epoch = epochs[-1]
    if epoch not in project.checkpoints:
        raise SettingsError(
            f"No checkpoint at epoch {epoch}; saved checkpoints: {', '.join(map(str, epochs))}."
        )
    return Checkpoint(epoch=int(epoch), discriminator=project.checkpoints[epoch])


def run_transfer(
    project: Project,
    settings: TransferSettings,
    checkpoint_epoch: int | None = None,
    task: TaskState | None = None,
) -> ComparisonResult:
    """Compare GAN transfer, the same network from scratch, and PLS on identical folds.

    The targets are the project's target and its extra targets.  Samples
    without a value in any target column are left out of the comparison,
    although the GAN trained on them too.  The result's `sample_ids` may
    therefore be fewer than the project's.  The first progress message and
    the result's first warning name the samples left out.  PLS uses the project's PLS pipeline when it
    has one.  The result, the settings and the final fitted models are
    stored in the project.
    """
    _check_transfer_project(project)
    checkpoint = latest_checkpoint(project, checkpoint_epoch)
    if checkpoint is None:
        raise DataError("The GAN has no checkpoint yet; train it first.")
    architecture = GANArchitecture.from_dict(dict(project.gan_architecture))
    targets = project_targets(project)
    dataset, left_out = _samples_with_targets(project, targets, task)
    pls_pipeline = None
    if project.pls_preprocessing is not None:
        pls_pipeline = Pipeline.from_spec(project.pls_preprocessing)
    result = compare_models(
        dataset,
        targets,
        project.task,
        project_pipeline(project),
        architecture,
        checkpoint,
        settings,
        task,
        pls_pipeline=pls_pipeline,
    )
    if left_out:
        # Kept with the result, so the window, `specgan info` and the report
        # show which samples the figures leave out, long after the progress.
        result.warnings.insert(0, left_out)
    project.transfer_settings = settings.to_dict()
    project.transfer_runs.append(result.to_record())
    for name, model in result.models.items():
        project.models[name] = model.to_tree()
    project.modified = True
    return result


def run_sweep(
    project: Project,
    settings: TransferSettings,
    epochs: list[int] | None = None,
    task: TaskState | None = None,
) -> SweepResult:
    """Cross-validate GAN transfer from each stored checkpoint (or those at `epochs`).

    Samples are left out as in `run_transfer`.  The sweep is appended to
    ``project.sweeps`` and the settings are stored as the project's
    transfer settings.
    """
    _check_transfer_project(project)
    available = project.checkpoint_epochs
    if not available:
        raise DataError("The GAN has no checkpoint yet; train it first.")
    chosen = available if epochs is None else sorted({int(e) for e in epochs})
    checkpoints = [latest_checkpoint(project, epoch) for epoch in chosen]
    if not checkpoints:
        raise SettingsError("Choose at least one checkpoint epoch for the sweep.")
    architecture = GANArchitecture.from_dict(dict(project.gan_architecture))
    targets = project_targets(project)
    dataset, _left_out = _samples_with_targets(project, targets, task)
    result = sweep_checkpoints(
        dataset, targets, project.task, project_pipeline(project), architecture,
        checkpoints, settings, task,
    )
    project.transfer_settings = settings.to_dict()
    project.sweeps.append(result.to_record())
    project.modified = True
    return result


def project_targets(project: Project) -> list[str]:
    """Return the project's target followed by its extra targets, without repeats."""
    return list(dict.fromkeys([project.target, *project.extra_targets]))


def _check_transfer_project(project: Project) -> None:
    if project.dataset is None:
        raise DataError("The project has no spectra yet; import spectra or open an example.")
    if not project.target:
        raise DataError(
            "The project has no reference column to predict; choose one on the Data page."
        )
    if project.extra_targets and project.task != "regression":
        raise SettingsError(
            f"Extra targets ({', '.join(project.extra_targets)}) need regression, but the "
            f"project's task is {project.task}. Remove the extra targets or switch to "
            f"regression."
        )


def _samples_with_targets(
    project: Project, targets: list[str], task: TaskState | None
) -> tuple[SpectralDataset, str]:
    """Return the project's samples that have a value in every target column.

    The second item names the samples left out, or is "" when none is.
    """
    dataset = project.dataset
    columns = list(map(str, dataset.references.columns))
    missing = np.zeros(dataset.n_samples, dtype=bool)
    for target in targets:
        if target in columns:
            missing |= missing_target(dataset, target)
    message = ""
    if missing.any() and not missing.all():
        left_out = [dataset.sample_ids[i] for i in np.nonzero(missing)[0]]
        message = left_out_message(targets, left_out, "the comparison")
        log.info("%s", message)
        if task is not None:
            task.report(0.0, message)
        dataset = dataset.subset(np.nonzero(~missing)[0])
    return dataset, message


def predict_samples(
    project: Project, model_name: str, dataset: SpectralDataset | None = None, source: str = ""
) -> dict:
    """Predict with a stored model and store the predictions in the project.

    Without `dataset`, the project's own spectra are predicted.
    """
    if model_name not in project.models:
        # Stored names of further-target models use the division slash for "/"
        # (HDF5 group names cannot hold "/"), so a typed "/" finds them too.
        model_name = model_name.replace("/", "\u2215")
    if model_name not in project.models:
        known = ", ".join(project.models) or "none yet; run a transfer comparison first"
        raise SettingsError(f"No fitted model named {model_name!r}; models: {known}.")
    if dataset is None:
        if project.dataset is None:
            raise DataError("The project has no spectra to predict.")
        dataset = project.dataset
        source = source or "project spectra"
    model = FittedModel.from_tree(project.models[model_name])
    values = predict(model, dataset.axis, dataset.spectra, dataset.axis_unit)
    record = {
        "model": model_name,
        "source": source or dataset.name,
        "sample_ids": np.asarray(dataset.sample_ids, dtype=str),
        "values": np.asarray(values),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    project.predictions.append(record)
    project.modified = True
    return record
