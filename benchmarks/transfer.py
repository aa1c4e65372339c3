"""Time of the transfer comparison and the checkpoint sweep at the reference size."""

from __future__ import annotations

from benchmarks.common import reference_project, time_call
from specgan_gui.training.gan_trainer import GANTrainingSettings
from specgan_gui.training.transfer import TransferSettings
from specgan_gui.training.workflow import run_sweep, run_transfer, train_gan


def run(quick: bool) -> dict:
    project = reference_project()
    project.task = "classification"  # the coffee example's target is the origin
    gan_epochs, sweep_checkpoints = (2, 2) if quick else (4, 2)
    train_gan(project, GANTrainingSettings(
        epochs=gan_epochs, device="cpu", checkpoint_interval=gan_epochs // sweep_checkpoints,
    ))
    # NOTE: the default of 200 fine-tuning epochs takes too long for one
    # benchmark run on 2 cores, so the time for it is extrapolated linearly.
    settings = TransferSettings(device="cpu", epochs=10 if quick else 40)
    default_epochs = TransferSettings().epochs
    folds = settings.n_folds * settings.repeats
    print(f"  {project.dataset.n_samples} spectra of {project.dataset.spectra.shape[1]} points, "
          f"target {project.target!r} ({project.task}), {settings.n_folds}-fold "
          f"cross-validation x {settings.repeats}, {settings.epochs} fine-tuning epochs, "
          f"batch {settings.batch_size}")

    transfer_seconds = time_call(lambda: run_transfer(project, settings))
    scale = default_epochs / settings.epochs
    print(f"  comparison (GAN transfer, the same network from scratch, PLS): "
          f"{transfer_seconds:.0f} s, {transfer_seconds / folds:.1f} s per fold; with the "
          f"default {default_epochs} fine-tuning epochs about {scale * transfer_seconds / 60:.0f} "
          f"min (linear estimate)")
    epochs = project.checkpoint_epochs[-sweep_checkpoints:]
    sweep_seconds = time_call(lambda: run_sweep(project, settings, epochs=epochs))
    per_fold = sweep_seconds / (folds * len(epochs))
    print(f"  sweep over {len(epochs)} checkpoints: {sweep_seconds:.0f} s, "
          f"{per_fold:.1f} s per checkpoint and fold; with the default {default_epochs} "
          f"fine-tuning epochs about {scale * per_fold:.0f} s per checkpoint and fold "
          "(linear estimate)")
    return {
        "transfer_seconds": transfer_seconds, "sweep_seconds": sweep_seconds,
        "folds": folds, "sweep_checkpoints": len(epochs),
    }
