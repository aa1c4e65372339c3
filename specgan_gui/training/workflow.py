"""The steps of a session on a `Project`: train the GAN, transfer, predict.

The window and the command line both call these functions, so a project
built by one behaves the same in the other.  They mutate the project they
are given and report through a `TaskState`; the window runs them in a
worker thread and does not edit the project while one runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone

import numpy as np

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline
from specgan_gui.errors import DataError, SettingsError
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.project.project import Project
from specgan_gui.training.comparison import ComparisonResult, compare_models, missing_target
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
    """Stores each epoch, snapshot and checkpoint in the project as it arrives."""

    def __init__(self, project: Project, settings: GANTrainingSettings, on_epoch, on_snapshot):
        self.project = project
        self.settings = settings
        self.on_epoch_callback = on_epoch
        self.on_snapshot_callback = on_snapshot

    def on_epoch(self, stats: EpochStats) -> None:
        self.project.append_history({name: getattr(stats, name) for name in EpochStats.FIELDS})
        if self.on_epoch_callback is not None:
            self.on_epoch_callback(stats)

    def on_snapshot(self, snapshot: Snapshot) -> None:
        self.project.add_snapshot(snapshot.epoch, snapshot.spectra)
        if self.on_snapshot_callback is not None:
            self.on_snapshot_callback(snapshot)

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.project.add_checkpoint(
            checkpoint.epoch, checkpoint.discriminator, self.settings.max_checkpoints
        )


def train_gan(
    project: Project,
    settings: GANTrainingSettings,
    architecture: GANArchitecture | None = None,
    task: TaskState | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    on_snapshot: Callable[[Snapshot], None] | None = None,
) -> TrainingOutcome:
    """Train (or continue training) the project's GAN up to ``settings.epochs``.

    The run continues from the project's resume state when there is one and
    the architecture is unchanged; a different architecture starts over and
    clears the old history, since its checkpoints would no longer fit.
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
    recorder = _ProjectRecorder(project, settings, on_epoch, on_snapshot)
    outcome = trainer.run(task, recorder)
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

    Samples without a value in the target column are left out of the
    comparison, although the GAN trained on them too.  The result's
    `sample_ids` may therefore be fewer than the project's, and the first
    progress message names the samples left out.  The result row set and the
    final fitted models are stored in the project.
    """
    if project.dataset is None:
        raise DataError("The project has no spectra yet; import spectra or open an example.")
    if not project.target:
        raise DataError(
            "The project has no reference column to predict; choose one on the Data page."
        )
    checkpoint = latest_checkpoint(project, checkpoint_epoch)
    if checkpoint is None:
        raise DataError("The GAN has no checkpoint yet; train it first.")
    architecture = GANArchitecture.from_dict(dict(project.gan_architecture))
    dataset = project.dataset
    if project.target in map(str, dataset.references.columns):
        missing = missing_target(dataset, project.target)
        if missing.any() and not missing.all():
            left_out = [dataset.sample_ids[i] for i in np.nonzero(missing)[0]]
            message = _left_out_message(project.target, left_out)
            log.info("%s", message)
            if task is not None:
                task.report(0.0, message)
            dataset = dataset.subset(np.nonzero(~missing)[0])
    result = compare_models(
        dataset,
        project.target,
        project.task,
        project_pipeline(project),
        architecture,
        checkpoint,
        settings,
        task,
    )
    project.transfer_runs.append(result.to_record())
    for name, model in result.models.items():
        project.models[name] = model.to_tree()
    project.modified = True
    return result


def _left_out_message(target: str, sample_ids: list[str]) -> str:
    count = len(sample_ids)
    subject = ("1 sample has no {} value and is" if count == 1
               else f"{count} samples have no {{}} value and are").format(repr(target))
    listed = ", ".join(sample_ids[:10]) + (f" and {count - 10} more" if count > 10 else "")
    return f"{subject} left out of the comparison: {listed}"


def predict_samples(
    project: Project, model_name: str, dataset: SpectralDataset | None = None, source: str = ""
) -> dict:
    """Predict with a stored model and store the predictions in the project.

    Without `dataset`, the project's own spectra are predicted.
    """
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
