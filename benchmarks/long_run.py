"""A 10 000-epoch reference run with the default settings: resident memory and file size.

This takes about 40 minutes on 2 CPU cores, so `python -m benchmarks` runs
it only when asked: ``--only long_run``.  ``--quick`` trains 300 epochs.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    peak_resident_memory_mb,
    reference_project,
    resident_memory_mb,
    time_call,
)
from specgan_gui.project.store import save_project
from specgan_gui.training.device import keep_freed_memory
from specgan_gui.training.gan_trainer import GANTrainingSettings
from specgan_gui.training.workflow import train_gan

EPOCHS = 10_000
QUICK_EPOCHS = 300


def run(quick: bool) -> dict:
    epochs = QUICK_EPOCHS if quick else EPOCHS
    # As `specgan train` and the window do before training.
    keep_freed_memory()
    project = reference_project()
    settings = GANTrainingSettings(epochs=epochs, device="cpu")
    print(f"  {epochs} epochs with the default settings: a snapshot every "
          f"{settings.snapshot_interval} epochs, a checkpoint every "
          f"{settings.checkpoint_interval} epochs, {settings.max_checkpoints} kept")
    marks = {1, 10, 100, 1000, 2000, 5000, epochs} | set(range(0, epochs + 1, 1000))
    samples: dict[int, tuple[float, float]] = {}
    started = time.perf_counter()

    def sample(stats) -> None:
        if stats.epoch in marks:
            samples[stats.epoch] = (resident_memory_mb(), peak_resident_memory_mb())
            print(f"    epoch {stats.epoch}: resident {samples[stats.epoch][0]:.0f} MB, peak so "
                  f"far {samples[stats.epoch][1]:.0f} MB, {time.perf_counter() - started:.0f} s",
                  flush=True)

    train_gan(project, settings, on_epoch=sample)
    seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long-run.h5"
        save_seconds = time_call(lambda: save_project(project, path))
        file_bytes = path.stat().st_size
        peak_during_save = peak_resident_memory_mb()
    first = samples.get(100, samples.get(min(samples)))
    last = samples[max(samples)]
    print(f"  trained in {seconds / 60:.1f} min ({seconds / epochs:.3f} s per epoch, "
          "snapshots, realism measures and checkpoints included)")
    print(f"  resident memory at epoch 100: {first[0]:.0f} MB; at epoch {max(samples)}: "
          f"{last[0]:.0f} MB; peak during training {last[1]:.0f} MB, "
          f"{peak_during_save:.0f} MB with the save")
    print(f"  project file: {file_bytes / 1e9:.2f} GB with {len(project.checkpoints)} "
          f"checkpoints and {len(project.snapshots)} snapshots, saved in {save_seconds:.1f} s")
    return {
        "epochs": epochs, "seconds": seconds, "memory_samples": samples,
        "file_bytes": file_bytes, "save_seconds": save_seconds,
    }

