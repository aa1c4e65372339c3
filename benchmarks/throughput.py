"""GAN epoch throughput at the reference size, on the CPU and (when present) on CUDA."""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks.common import (
    load_average,
    matmul_flop_rate,
    median,
    reference_spectra,
    time_call,
)
from benchmarks.plain import PlainGAN
from specgan_gui.models.gan1d import GANArchitecture, pad_spectra, training_epoch_flops
from specgan_gui.training.gan_trainer import (
    GANTrainer,
    GANTrainingSettings,
    TrainingCallbacks,
)

BATCH_SIZE = 40


class _EpochSeconds(TrainingCallbacks):
    """Collect `EpochStats.seconds`: training time without callbacks."""

    def __init__(self):
        self.seconds: list[float] = []

    def on_epoch(self, stats):
        self.seconds.append(stats.seconds)


def _train_one_more_epoch(trainer: GANTrainer) -> float:
    recorder = _EpochSeconds()
    trainer.settings.epochs = trainer.epoch + 1
    trainer.run(callbacks=recorder)
    return recorder.seconds[-1]


def _reference_settings(**values) -> GANTrainingSettings:
    return GANTrainingSettings(
        **{"epochs": 1, "batch_size": BATCH_SIZE, "device": "cpu", "precision": "float32",
           **values}
    )


def check_plain_matches_trainer(spectra: np.ndarray, architecture: GANArchitecture) -> dict:
    """Train one batch with both versions from the same weights; return the differences.

    The trainer draws its batch order and noise codes from its own seeded
    generators, so copies of those generators give the plain version the
    same batch and codes.
    """
    trainer = GANTrainer(spectra, architecture, _reference_settings())
    plain = PlainGAN(architecture)
    plain.generator.load_state_dict(trainer.generator.state_dict())
    plain.discriminator.load_state_dict(trainer.discriminator.state_dict())
    shuffle = torch.Generator()
    shuffle.set_state(trainer._shuffle_rng.get_state())
    noise = torch.Generator()
    noise.set_state(trainer._noise_rng.get_state())
    order = torch.randperm(spectra.shape[0], generator=shuffle)
    code = torch.rand(spectra.shape[0], architecture.code_length, generator=noise) * 2 - 1

    losses: list = []

    class Losses(TrainingCallbacks):
        def on_epoch(self, stats):
            losses.append((stats.discriminator_loss, stats.generator_loss))

    trainer.run(callbacks=Losses())
    real = pad_spectra(torch.from_numpy(spectra).unsqueeze(1), architecture.padded_points)
    plain_losses = plain.train_batch(real[order], code)
    weight_difference = 0.0
    for ours, theirs in ((trainer.generator, plain.generator),
                         (trainer.discriminator, plain.discriminator)):
        for name, value in ours.state_dict().items():
            difference = (value - theirs.state_dict()[name]).abs().max().item()
            weight_difference = max(weight_difference, difference)
    return {
        "max_weight_difference": weight_difference,
        "discriminator_loss_difference": abs(losses[0][0] - plain_losses[0]),
        "generator_loss_difference": abs(losses[0][1] - plain_losses[1]),
    }


def run_cpu(quick: bool) -> dict:
    """Time trainer and plain epochs interleaved in this process and print the figures."""
    repeats = 3 if quick else 15
    spectra = reference_spectra()
    architecture = GANArchitecture(spectra.shape[1])
    flops = training_epoch_flops(architecture, spectra.shape[0], BATCH_SIZE)
    plain_flops = training_epoch_flops(
        architecture, spectra.shape[0], BATCH_SIZE, reuse_generated=False
    )
    print(f"  reference: {spectra.shape[0]} coffee spectra of {spectra.shape[1]} points, "
          f"batch {BATCH_SIZE}, code length {architecture.code_length}, "
          f"{torch.get_num_threads()} torch threads, load average {load_average()}")

    matches = check_plain_matches_trainer(spectra, architecture)
    print("  one batch from the same weights, trainer against plain version: "
          f"max weight difference {matches['max_weight_difference']:.2e}, loss differences "
          f"{matches['discriminator_loss_difference']:.2e} (discriminator) and "
          f"{matches['generator_loss_difference']:.2e} (generator)")

    trainer = GANTrainer(spectra, architecture, _reference_settings())
    plain = PlainGAN(architecture)
    real = pad_spectra(torch.from_numpy(spectra).unsqueeze(1), architecture.padded_points)
    noise = torch.Generator().manual_seed(0)
    for _ in range(2):
        _train_one_more_epoch(trainer)
        plain.train_epoch(real, BATCH_SIZE, noise)
    trainer_seconds, plain_seconds, matmul_rates = [], [], []
    for _ in range(repeats):
        matmul_rates.append(matmul_flop_rate(repeats=3))
        trainer_seconds.append(_train_one_more_epoch(trainer))
        plain_seconds.append(time_call(lambda: plain.train_epoch(real, BATCH_SIZE, noise)))
    matmul = median(matmul_rates)
    ours, theirs = median(trainer_seconds), median(plain_seconds)
    figures = {
        "epoch_flops": flops,
        "plain_epoch_flops": plain_flops,
        "matmul_flop_rate": matmul,
        "trainer_epoch_seconds": ours,
        "plain_epoch_seconds": theirs,
        "trainer_flop_rate": flops / ours,
        "plain_flop_rate": flops / theirs,
        **matches,
    }
    print(f"  FLOPs per epoch (analytic, as the trainer runs it): {flops / 1e9:.2f} G "
          f"(the plain version computes {plain_flops / 1e9:.2f} G)")
    print(f"  float32 matrix product {2048}x{2048}: {matmul / 1e9:.1f} GFLOP/s "
          f"(median of {repeats})")
    for label, seconds in (("trainer", ours), ("plain  ", theirs)):
        rate = flops / seconds
        print(f"  {label}: median epoch {seconds:.3f} s over {repeats} epochs, "
              f"{rate / 1e9:.1f} GFLOP/s, {100 * rate / matmul:.1f} % of the matrix product")
    print(f"  speed-up of the trainer over the plain version: {theirs / ours:.2f}x "
          "(both rates count the trainer's FLOPs, the work an epoch needs)")
    return figures


def run_gpu(quick: bool) -> dict:
    """Time the trainer on CUDA (bf16 and float32) and extrapolate to 10 000 epochs."""
    if not torch.cuda.is_available():
        print("  skipped: CUDA is not available (torch "
              f"{torch.__version__}, CUDA build {torch.version.cuda})")
        return {}
    epochs = 200 if quick else 1000
    spectra = reference_spectra()
    architecture = GANArchitecture(spectra.shape[1])
    figures = {"gpu": torch.cuda.get_device_name()}
    print(f"  GPU: {figures['gpu']}")
    for precision in ("auto", "float32"):
        settings = GANTrainingSettings(
            epochs=20, batch_size=BATCH_SIZE, device="cuda", precision=precision
        )
        started = time.perf_counter()
        trainer = GANTrainer(spectra, architecture, settings)
        trainer.run()  # warm-up, including the first cuBLAS and cuDNN calls
        setup = time.perf_counter() - started
        trainer.settings.epochs = trainer.epoch + epochs
        torch.cuda.synchronize()
        seconds = time_call(trainer.run)
        torch.cuda.synchronize()
        name = "bf16" if trainer.autocast_dtype is not None else "float32"
        per_epoch = seconds / epochs
        figures[f"{name}_epoch_seconds"] = per_epoch
        print(f"  precision {precision} ({name}, compiled: "
              f"{trainer._generator_forward is not trainer.generator}): "
              f"{1000 * per_epoch:.2f} ms per epoch over {epochs} epochs with the default "
              f"snapshots and checkpoints, so 10 000 epochs take {10_000 * per_epoch:.1f} s "
              f"(plus {setup:.1f} s of set-up and compilation)")
    return figures
