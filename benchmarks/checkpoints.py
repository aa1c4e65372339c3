"""Cost of checkpoints: the training pause, project file sizes and resident memory."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from benchmarks.common import (
    median,
    peak_resident_memory_mb,
    reference_project,
    reference_spectra,
    resident_memory_mb,
    time_call,
)
from specgan_gui.models.gan1d import GANArchitecture
from specgan_gui.project.store import save_project
from specgan_gui.training.gan_trainer import GANTrainer, GANTrainingSettings
from specgan_gui.training.workflow import train_gan

TARGET_EPOCHS = 10_000
DISK_LIMIT_BYTES = 2e9


def tree_bytes(tree) -> int:
    """Return the bytes of every array and scalar leaf of a nested dict."""
    if isinstance(tree, dict):
        return sum(tree_bytes(value) for value in tree.values())
    return int(np.asarray(tree).nbytes)


def measure_pause(repeats: int) -> dict:
    """Time the trainer's checkpoint copy against a bare copy of the same arrays."""
    spectra = reference_spectra()
    trainer = GANTrainer(
        spectra, GANArchitecture(spectra.shape[1]),
        GANTrainingSettings(epochs=1, device="cpu", precision="float32"),
    )
    trainer.run()
    weights = {k: v.detach().numpy() for k, v in trainer.discriminator.state_dict().items()}
    checkpoint_seconds = median([time_call(trainer._checkpoint) for _ in range(repeats)])
    copy_seconds = median([
        time_call(lambda: {k: v.copy() for k, v in weights.items()}) for _ in range(repeats)
    ])
    return {"checkpoint_seconds": checkpoint_seconds, "copy_seconds": copy_seconds}


def run(quick: bool) -> dict:
    repeats = 3 if quick else 9
    pause = measure_pause(repeats)
    print(f"  checkpoint pause: {1000 * pause['checkpoint_seconds']:.1f} ms per checkpoint "
          f"(median of {repeats}); a bare copy of the same discriminator arrays takes "
          f"{1000 * pause['copy_seconds']:.1f} ms")

    # Frequent checkpoints and a small retention, so that dropping old
    # checkpoints happens many times within a short run.
    epochs, interval, kept, sample_every = (30, 5, 3, 5) if quick else (150, 10, 5, 10)
    project = reference_project()
    settings = GANTrainingSettings(
        epochs=epochs, batch_size=40, device="cpu", precision="float32",
        checkpoint_interval=interval, max_checkpoints=kept,
    )
    samples: list[tuple[int, float]] = []

    def sample_memory(stats) -> None:
        if stats.epoch % sample_every == 0 or stats.epoch == 1:
            samples.append((stats.epoch, resident_memory_mb()))

    train_gan(project, settings, on_epoch=sample_memory)
    text = ", ".join(f"{epoch}: {mb:.0f}" for epoch, mb in samples)
    print(f"  resident memory in MB by epoch ({epochs} epochs, a checkpoint every "
          f"{interval} epochs, {kept} kept): {text}; peak {peak_resident_memory_mb():.0f}")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "reference.h5"
        save_seconds = time_call(lambda: save_project(project, path))
        file_bytes = path.stat().st_size
    checkpoint_bytes = tree_bytes(next(iter(project.checkpoints.values())))
    resume_bytes = tree_bytes(project.resume_state)
    snapshot_bytes = tree_bytes(next(iter(project.snapshots.values())))
    history_row_bytes = tree_bytes(project.history) / max(project.epochs_trained, 1)
    print(f"  project file after {epochs} epochs with {len(project.checkpoints)} checkpoints: "
          f"{file_bytes / 1e6:.0f} MB, saved in {save_seconds:.1f} s")
    print(f"  per checkpoint {checkpoint_bytes / 1e6:.1f} MB, resume state "
          f"{resume_bytes / 1e6:.1f} MB, per snapshot {snapshot_bytes / 1e3:.1f} kB, "
          f"history {history_row_bytes:.0f} bytes per epoch")

    defaults = GANTrainingSettings()
    projected = (
        defaults.max_checkpoints * checkpoint_bytes
        + resume_bytes
        + TARGET_EPOCHS // defaults.snapshot_interval * snapshot_bytes
        + TARGET_EPOCHS * history_row_bytes
    )
    # A save writes a temporary file beside the old one before replacing it.
    during_save = 2 * projected
    verdict = "within" if during_save < DISK_LIMIT_BYTES else "OVER"
    print(f"  {TARGET_EPOCHS} epochs with the default settings (checkpoint every "
          f"{defaults.checkpoint_interval} epochs, {defaults.max_checkpoints} kept, a snapshot "
          f"every {defaults.snapshot_interval} epochs): about {projected / 1e9:.2f} GB of "
          f"arrays in the project file and {during_save / 1e9:.2f} GB while a save writes the "
          f"new file beside the old one, {verdict} the {DISK_LIMIT_BYTES / 1e9:.0f} GB limit")
    return {
        **pause, "memory_samples": samples, "file_bytes": file_bytes,
        "checkpoint_bytes": checkpoint_bytes, "resume_bytes": resume_bytes,
        "projected_bytes": projected,
    }
