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
    # The full run uses the default settings: at most 200 fine-tuning epochs
    # with early stopping.  --quick caps the fits at 10 epochs.
    settings = TransferSettings(device="cpu", **({"epochs": 10} if quick else {}))
    folds = settings.n_folds * settings.repeats
    print(f"  {project.dataset.n_samples} spectra of {project.dataset.spectra.shape[1]} points, "
          f"target {project.target!r} ({project.task}), {settings.n_folds}-fold "
          f"cross-validation x {settings.repeats}, at most {settings.epochs} fine-tuning epochs, "
          f"early stopping {'on' if settings.early_stopping else 'off'} (patience "
          f"{settings.patience}), batch {settings.batch_size}")

    epochs = project.checkpoint_epochs[-sweep_checkpoints:]
    sweep_seconds = time_call(lambda: run_sweep(project, settings, epochs=epochs))
    per_fit = sweep_seconds / (folds * len(epochs))
    print(f"  sweep over {len(epochs)} checkpoints (GAN transfer only): {sweep_seconds:.0f} s, "
          f"{per_fit:.1f} s per checkpoint and fold")
    transfer_seconds = time_call(lambda: run_transfer(project, settings))
    print(f"  comparison (GAN transfer, the same network from scratch, PLS): "
          f"{transfer_seconds:.0f} s, {transfer_seconds / folds:.1f} s per fold")
    total = sweep_seconds + transfer_seconds
    print(f"  sweep and comparison together: {total / 60:.1f} min (target: under 10 min)")
    return {
        "transfer_seconds": transfer_seconds, "sweep_seconds": sweep_seconds,
        "total_seconds": total,
        "folds": folds, "sweep_checkpoints": len(epochs),
    }
