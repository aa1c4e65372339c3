"""GAN epoch throughput at the reference size, on the CPU and (when present) on CUDA."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

from benchmarks.common import (
    copy_bandwidth,
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

#: Passes over arrays the size of a large Dense weight matrix (61.2 MB at the
#: reference size) in one batch with one discriminator step.
#: Discriminator Dense(1024), 13 passes: forward and input gradient in its
#: step (2), the weight gradient written (1) and read for its norm (1), fused
#: Adam (7: it reads weight, gradient and both moments, and writes weight and
#: moments), and forward and input gradient in the generator step (2).
#: Generator Dense(14944), 11 passes: forward, weight gradient, input
#: gradient and norm (1 each), and Adam (7).
DENSE_WEIGHT_PASSES_PER_BATCH = 13 + 11


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

    bandwidth = copy_bandwidth()
    weight_bytes = 4 * architecture.hidden_units * architecture.reduced_points * (
        architecture.bottleneck_channels
    )
    batches = -(-spectra.shape[0] // BATCH_SIZE)
    traffic = DENSE_WEIGHT_PASSES_PER_BATCH * batches * weight_bytes
    floor = traffic / bandwidth
    figures.update(copy_bandwidth=bandwidth, dense_traffic_bytes=traffic,
                   dense_traffic_seconds=floor)
    print(f"  memory: copying a {weight_bytes / 1e6:.1f} MB array moves "
          f"{bandwidth / 1e9:.1f} GB/s (read and write); an epoch passes "
          f"{DENSE_WEIGHT_PASSES_PER_BATCH * batches} times over arrays of that size for the "
          f"two large Dense layers and their Adam states, {traffic / 1e9:.2f} GB, which takes "
          f"at least {1000 * floor:.0f} ms at that rate, {100 * floor / ours:.0f} % of the "
          f"trainer's epoch; an epoch at 50 % of the matrix product would take "
          f"{1000 * flops / (0.5 * matmul):.0f} ms")

    kernels = library_kernel_seconds(architecture, repeats=5 if quick else 15)
    kernel_total = sum(kernels.values())
    figures.update({f"kernel_seconds_{name}": value for name, value in kernels.items()})
    parts = ", ".join(f"{name} {1000 * value:.0f} ms" for name, value in kernels.items())
    print(f"  the library kernels an epoch cannot avoid, timed one by one at their shapes: "
          f"{parts}; together {1000 * kernel_total:.0f} ms, "
          f"{100 * kernel_total / ours:.0f} % of the trainer's epoch")

    repeats_apart = 3 if quick else 7
    apart = _epoch_seconds_without_kept_memory(repeats_apart)
    figures.update(
        trainer_epoch_seconds_default_malloc=apart["trainer"],
        plain_epoch_seconds_default_malloc=apart["plain"],
    )
    print("  in a separate process with SPECGAN_KEEP_FREED_MEMORY=0 (glibc unmaps freed "
          f"blocks above 32 MB): trainer {apart['trainer']:.3f} s, plain {apart['plain']:.3f} s "
          f"per epoch (median of {repeats_apart}); {100 * flops / apart['trainer'] / matmul:.1f} "
          f"% and {100 * flops / apart['plain'] / matmul:.1f} % of the matrix product")
    return figures


def library_kernel_seconds(architecture: GANArchitecture, repeats: int = 15) -> dict:
    """Time, one by one, the matrix products, convolutions and Adam steps of one epoch.

    Each kernel runs at the shape and with the gradients that the trainer
    needs at the reference size (one batch of 40 per epoch): the
    discriminator step on 80 spectra (real and generated), the generator
    step on 40.  Pooling, tanh, gradient norms and copies are left out, so
    the sum is a lower bound on an epoch with these PyTorch kernels.
    """
    import torch.nn.functional as F

    from specgan_gui.models.gan1d import Discriminator, Generator

    a = architecture
    batch, both = BATCH_SIZE, 2 * BATCH_SIZE
    flat, hidden = a.reduced_points * a.bottleneck_channels, a.hidden_units
    half = a.padded_points // 2
    discriminator_weight = torch.randn(hidden, flat) * 0.05
    generator_weight = torch.randn(flat, hidden) * 0.05

    def product_calls():
        for rows in (both, batch):  # discriminator Dense(1024) in both steps
            features, upstream = torch.randn(rows, flat), torch.randn(rows, hidden)
            yield lambda f=features: f @ discriminator_weight.t()
            yield lambda u=upstream: u @ discriminator_weight
        features, upstream = torch.randn(both, flat), torch.randn(both, hidden)
        yield lambda: upstream.t() @ features  # its weight gradient, discriminator step
        hidden_values, upstream = torch.randn(batch, hidden), torch.randn(batch, flat)
        yield lambda: hidden_values @ generator_weight.t()  # generator Dense(14944)
        yield lambda: upstream @ generator_weight
        yield lambda: upstream.t() @ hidden_values

    def convolution_calls():
        # (batch, input channels, length, output channels, weight gradient, input gradient)
        shapes = [
            (both, 1, a.padded_points, a.discriminator_filters, True, False),
            (batch, 1, a.padded_points, a.discriminator_filters, False, True),
            (both, a.discriminator_filters, half, a.bottleneck_channels, True, True),
            (batch, a.discriminator_filters, half, a.bottleneck_channels, False, True),
            # the generator's fused upsampling convolutions (two output phases)
            (batch, a.bottleneck_channels, a.reduced_points, 2 * a.generator_filters, True, True),
            (batch, a.generator_filters, half, 2, True, True),
        ]
        for rows, inputs, length, outputs, weight_grad, input_grad in shapes:
            x = torch.randn(rows, inputs, length, requires_grad=input_grad)
            w = torch.randn(outputs, inputs, 3, requires_grad=weight_grad)
            y = F.conv1d(x, w, padding=1)
            upstream = torch.randn_like(y)
            needed = [t for t, need in ((x, input_grad), (w, weight_grad)) if need]
            yield lambda x=x, w=w: F.conv1d(x, w, padding=1)
            yield lambda y=y, u=upstream, needed=needed: torch.autograd.grad(
                y, needed, u, retain_graph=True
            )

    def adam_calls():
        for network in (Generator(a), Discriminator(a)):
            for parameter in network.parameters():
                parameter.grad = torch.randn_like(parameter) * 1e-3
            optimizer = torch.optim.Adam(network.parameters(), lr=1e-6, fused=True)
            yield optimizer.step

    def total(calls) -> float:
        seconds = 0.0
        for call in calls:
            for _ in range(2):
                call()
            seconds += median([time_call(call) for _ in range(repeats)])
        return seconds

    return {
        "Dense products": total(product_calls()),
        "convolutions": total(convolution_calls()),
        "Adam": total(adam_calls()),
    }


def _epoch_seconds_without_kept_memory(repeats: int) -> dict:
    """Time trainer and plain epochs in a child process with glibc's default memory release."""
    environment = dict(os.environ, SPECGAN_KEEP_FREED_MEMORY="0")
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.throughput", "--child", str(repeats)],
        capture_output=True, text=True, env=environment, check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def _child(repeats: int) -> None:
    """Print the median trainer and plain epoch seconds as JSON (for the parent above)."""
    spectra = reference_spectra()
    architecture = GANArchitecture(spectra.shape[1])
    trainer = GANTrainer(spectra, architecture, _reference_settings())
    plain = PlainGAN(architecture)
    real = pad_spectra(torch.from_numpy(spectra).unsqueeze(1), architecture.padded_points)
    noise = torch.Generator().manual_seed(0)
    ours, theirs = [], []
    for index in range(repeats + 2):
        trainer_seconds = _train_one_more_epoch(trainer)
        plain_seconds = time_call(lambda: plain.train_epoch(real, BATCH_SIZE, noise))
        if index >= 2:
            ours.append(trainer_seconds)
            theirs.append(plain_seconds)
    print(json.dumps({"trainer": median(ours), "plain": median(theirs)}))


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


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        _child(int(sys.argv[2]))
    else:
        sys.exit("usage: python -m benchmarks.throughput --child REPEATS (run by python -m benchmarks)")
