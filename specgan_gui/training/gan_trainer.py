"""GAN1D training loop with callbacks, cooperative stop and exact resume.

Per batch, as in the reference design, the discriminator takes
``discriminator_steps`` steps on real spectra (label 1) and generated
spectra (label 0).  Then the generator takes one step with its outputs
labelled 1, while the discriminator is frozen.  Usage::

    trainer = GANTrainer(scaled_spectra, GANArchitecture(n_points), settings)
    outcome = trainer.run(task_state, callbacks)
    state = trainer.resume_state()  # store it; GANTrainer(..., resume_state=state)

The trainer draws all its random numbers (initial weights, batch order,
noise codes) from its own generators seeded from ``settings.seed``, never
from torch's global generator, so a run on the CPU repeats bit for bit and
`resume_state` continues it exactly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import numbers
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from specgan_gui.errors import DataError, SettingsError
from specgan_gui.models.gan1d import (
    Discriminator,
    GANArchitecture,
    Generator,
    load_numpy_state,
    pad_spectra,
    state_to_numpy,
)
from specgan_gui.training.device import keep_freed_memory, resolve_device, resolve_precision

# The settings and records live in a torch-free module so that the window
# starts without torch.  Importing them here keeps `gan_trainer` imports working.
from specgan_gui.training.gan_settings import (  # noqa: F401
    Checkpoint,
    EpochStats,
    GANTrainingSettings,
    Snapshot,
    TrainingCallbacks,
    TrainingOutcome,
)
from specgan_gui.training.task import Cancelled, TaskState

logger = logging.getLogger(__name__)

#: Nested state for the project store: string keys without "/", leaves are
#: arrays or scalars, no lists and no None.
Tree = dict[str, Union["Tree", np.ndarray, int, float, bool, str]]

#: Version of the layout of `GANTrainer.resume_state`.
RESUME_STATE_VERSION = 1

#: Adam's second-moment decay, fixed as in the reference design.
ADAM_BETA2 = 0.999

#: Largest number of spectra `GANTrainer.generate` pushes through the
#: generator at once, to bound memory for large requests.
GENERATE_CHUNK = 256


# --- per-epoch bookkeeping ----------------------------------------------------

# Order of the running sums stored in a resume state taken mid-epoch.
_SUM_FIELDS = (
    "discriminator_loss", "d_real", "d_fake", "discriminator_grad_norm",
    "discriminator_steps", "generator_loss", "generator_grad_norm",
    "generator_steps", "seconds",
)


@dataclass
class _EpochProgress:
    """Position inside the current epoch and running sums of its statistics."""

    permutation: torch.Tensor  # (n_spectra,) int64 batch order, on the CPU
    next_sample: int = 0
    sums: dict[str, float] = field(default_factory=lambda: dict.fromkeys(_SUM_FIELDS, 0.0))

    def to_stats(self, epoch: int) -> EpochStats:
        d_steps = max(self.sums["discriminator_steps"], 1.0)
        g_steps = max(self.sums["generator_steps"], 1.0)
        return EpochStats(
            epoch=epoch,
            discriminator_loss=self.sums["discriminator_loss"] / d_steps,
            generator_loss=self.sums["generator_loss"] / g_steps,
            d_real=self.sums["d_real"] / d_steps,
            d_fake=self.sums["d_fake"] / d_steps,
            discriminator_grad_norm=self.sums["discriminator_grad_norm"] / d_steps,
            generator_grad_norm=self.sums["generator_grad_norm"] / g_steps,
            seconds=self.sums["seconds"],
        )


class _NonFiniteLoss(Exception):
    """A loss or gradient norm was NaN or infinite; its update was not applied."""


# --- the trainer --------------------------------------------------------------


class GANTrainer:
    """Trains a GAN1D generator and discriminator on scaled spectra.

    Parameters
    ----------
    spectra_scaled
        ``(n_spectra, n_points)`` spectra scaled to [-1, 1], unpadded.
    architecture
        Network construction settings; ``n_points`` must match the spectra.
    settings
        Training settings.  On resume they replace the stored ones, so a
        run can be continued to a higher ``epochs`` or with new rates.
    resume_state
        A tree from `resume_state` of an earlier trainer with the same
        architecture, to continue that run exactly.

    Raises
    ------
    DataError
        If the spectra are empty, not finite or of the wrong length.
    SettingsError
        If a setting is invalid, the device is unavailable, or the resume
        state belongs to another architecture.
    """

    def __init__(
        self,
        spectra_scaled: np.ndarray,
        architecture: GANArchitecture,
        settings: GANTrainingSettings,
        resume_state: Tree | None = None,
    ):
        settings.validate()
        self.architecture = architecture
        self.settings = settings
        self.device = resolve_device(settings.device)
        if self.device.type == "cpu":
            keep_freed_memory()
        #: bf16 for mixed precision under `torch.autocast`, None for float32.
        self.autocast_dtype = resolve_precision(settings.precision, self.device)
        spectra = _check_spectra(spectra_scaled, architecture)
        self.n_spectra = spectra.shape[0]
        # (n_spectra, 1, padded_points) on the training device
        self._real = pad_spectra(
            torch.from_numpy(spectra).unsqueeze(1), architecture.padded_points
        ).to(self.device)

        init_seed, shuffle_seed, noise_seed, snapshot_seed = (
            int(s) for s in np.random.SeedSequence(settings.seed).generate_state(4)
        )
        # nn.init draws from torch's global generator, so the networks are
        # built inside a fork of it, which restores the caller's state after.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(init_seed)
            generator = Generator(architecture)
            discriminator = Discriminator(architecture)
        self.generator = generator.to(self.device)
        self.discriminator = discriminator.to(self.device)
        self._generator_optimizer = self._make_adam(self.generator, settings.generator_lr)
        self._discriminator_optimizer = self._make_adam(
            self.discriminator, settings.discriminator_lr
        )
        # The modules that the training passes call: the networks themselves,
        # or on CUDA their torch.compile wrappers, which share the parameters.
        self._generator_forward: nn.Module = self.generator
        self._discriminator_forward: nn.Module = self.discriminator
        # Noise codes and batch orders come from CPU generators so that a run
        # draws the same numbers whatever the device.
        self._shuffle_rng = torch.Generator().manual_seed(shuffle_seed)
        self._noise_rng = torch.Generator().manual_seed(noise_seed)
        self._snapshot_noise = self._uniform_code(
            settings.snapshot_count, torch.Generator().manual_seed(snapshot_seed)
        )

        self._epoch = 0
        self._progress: _EpochProgress | None = None
        # Discriminator weights at the start of the current epoch, so the
        # final checkpoint of a run that ends mid-epoch contains the weights
        # of the last completed epoch rather than a partly trained state.
        self._epoch_start_discriminator: dict[str, torch.Tensor] | None = None
        self._targets: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        if resume_state is not None:
            try:
                self._load_resume_state(resume_state)
            except KeyError as error:
                raise SettingsError(
                    f"The saved GAN training state is missing the entry {error}, so it is "
                    "damaged or incomplete. Reset the GAN training."
                ) from error
        if self.device.type == "cuda":
            # NOTE: inductor compilation and bf16 autocast have not yet run on a
            # GPU.  The tests cover the compile path with the "eager" backend on the CPU.
            self._compile_for_training()

    # --- public API -----------------------------------------------------------

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return self._epoch

    def run(
        self,
        task: TaskState | None = None,
        callbacks: TrainingCallbacks | None = None,
    ) -> TrainingOutcome:
        """Train until ``settings.epochs`` epochs are completed or a stop.

        Between batches the trainer calls ``task.checkpoint()``, which blocks
        while the task is paused.  A stop request or a non-finite loss ends
        the run normally with ``stopped=True``.  Whatever the end, a
        `Checkpoint` of the last completed epoch is emitted (unless one for
        that epoch was just emitted, or no epoch was completed).
        """
        task = task if task is not None else TaskState()
        callbacks = callbacks if callbacks is not None else TrainingCallbacks()
        total = self.settings.epochs
        start_epoch = self._epoch
        started = time.perf_counter()
        logger.info(
            "GAN training started at epoch %d of %d: %d spectra of %d points "
            "(padded to %d), batch size %d, %d discriminator step(s), device %s",
            start_epoch, total, self.n_spectra, self.architecture.n_points,
            self.architecture.padded_points, self.settings.batch_size,
            self.settings.discriminator_steps, self.device,
        )
        stopped, reason = False, "finished"
        last_checkpoint = None
        try:
            while self._epoch < total:
                stats = self._train_epoch(task)
                logger.debug("epoch %s", stats)
                callbacks.on_epoch(stats)
                if self._epoch % self.settings.snapshot_interval == 0:
                    callbacks.on_snapshot(self.snapshot())
                if self._epoch % self.settings.checkpoint_interval == 0:
                    callbacks.on_checkpoint(self._checkpoint())
                    last_checkpoint = self._epoch
                task.report(self._epoch / total, f"epoch {self._epoch} of {total}")
        except Cancelled:
            stopped, reason = True, "stopped by user"
        except _NonFiniteLoss as error:
            stopped, reason = True, str(error)
            logger.warning("GAN training stopped: %s", reason)

        if self._epoch > 0 and last_checkpoint != self._epoch:
            callbacks.on_checkpoint(self._checkpoint())
        logger.info(
            "GAN training ended at epoch %d of %d (%s): %d epoch(s) in %.1f s on %s",
            self._epoch, total, reason, self._epoch - start_epoch,
            time.perf_counter() - started, self.device,
        )
        return TrainingOutcome(self._epoch, stopped, reason)

    def snapshot(self) -> Snapshot:
        """Generate spectra from the fixed snapshot noise codes."""
        return Snapshot(self._epoch, self._generate_from(self._snapshot_noise))

    def generate(self, n: int, seed: int | None = None) -> np.ndarray:
        """Generate ``n`` spectra, float32 ``(n, n_points)``, in scaled units.

        ``seed`` fixes the noise codes; without it they differ per call.
        Not safe to call from another thread while `run` is training.
        """
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"number of spectra to generate must be an integer >= 0, got {n!r}")
        count = int(n)
        rng = torch.Generator()
        if seed is None:
            rng.seed()
        else:
            rng.manual_seed(int(seed))
        return self._generate_from(self._uniform_code(count, rng))

    def resume_state(self) -> Tree:
        """Return everything needed to continue this run exactly.

        The tree contains the epoch, architecture, settings, both networks, both
        Adam states, the random generator states and the snapshot noise, all
        as NumPy copies on the CPU.  A state taken mid-epoch (after a stop
        between batches) also contains the position in that epoch.
        """
        state: Tree = {
            "version": RESUME_STATE_VERSION,
            "epoch": self._epoch,
            "architecture": self.architecture.to_dict(),
            "settings": self.settings.to_dict(),
            "generator": state_to_numpy(self.generator),
            "discriminator": state_to_numpy(self.discriminator),
            "generator_optimizer": _optimizer_to_tree(self._generator_optimizer),
            "discriminator_optimizer": _optimizer_to_tree(self._discriminator_optimizer),
            "rng": {
                "shuffle": self._shuffle_rng.get_state().numpy().copy(),
                "noise": self._noise_rng.get_state().numpy().copy(),
            },
            "snapshot_noise": self._snapshot_noise.numpy().copy(),
        }
        if self._progress is not None:
            progress = self._progress
            state["epoch_progress"] = {
                "permutation": progress.permutation.numpy().copy(),
                "next_sample": progress.next_sample,
                "sums": np.array([progress.sums[k] for k in _SUM_FIELDS], dtype=np.float64),
                "discriminator_at_epoch_start": {
                    name: tensor.cpu().numpy().copy()
                    for name, tensor in self._epoch_start_discriminator.items()
                },
            }
        return state

    # --- one epoch, one batch -------------------------------------------------

    def _train_epoch(self, task: TaskState) -> EpochStats:
        """Train the rest of the current epoch; raise Cancelled or _NonFiniteLoss."""
        if self._progress is None:
            self._progress = _EpochProgress(
                torch.randperm(self.n_spectra, generator=self._shuffle_rng)
            )
            self._save_epoch_start_discriminator()
        progress = self._progress
        batch_size = self.settings.batch_size
        while progress.next_sample < self.n_spectra:
            task.checkpoint()
            started = time.perf_counter()
            rows = progress.permutation[progress.next_sample:progress.next_sample + batch_size]
            real = self._real[rows.to(self.device)]  # (batch, 1, padded_points)
            self._train_batch(real, progress.sums)
            progress.next_sample += len(rows)
            progress.sums["seconds"] += time.perf_counter() - started
        self._epoch += 1
        self._progress = None
        return progress.to_stats(self._epoch)

    def _train_batch(self, real: torch.Tensor, sums: dict[str, float]) -> None:
        """Take the discriminator steps and then the generator step on one batch."""
        batch = real.shape[0]
        real_and_fake_targets, generator_targets = self._batch_targets(batch)
        generated = None
        for step in range(self.settings.discriminator_steps):
            code = self._uniform_code(batch, self._noise_rng).to(self.device)
            if step == self.settings.discriminator_steps - 1:
                # Keep the graph of the last generated batch: the generator step
                # reuses these spectra, which stay valid because only the
                # discriminator has been updated since they were generated.
                with self._autocast():
                    generated = self._generator_forward(code)  # (batch, 1, padded_points)
                fake = generated.detach()
            else:
                with torch.no_grad(), self._autocast():
                    fake = self._generator_forward(code)
            self._discriminator_step(real, fake, real_and_fake_targets, sums)
        self._generator_step(generated, generator_targets, sums)

    def _discriminator_step(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        targets: torch.Tensor,
        sums: dict[str, float],
    ) -> None:
        batch = real.shape[0]
        # One pass over real and generated spectra together: the network has
        # no batch statistics, so this equals two separate passes.
        with self._autocast():
            # (2 * batch, 1) logits; autocast computes this loss in float32.
            logits = self._discriminator_forward(torch.cat([real, fake.to(real.dtype)]))
            loss = F.binary_cross_entropy_with_logits(logits, targets)
        self._discriminator_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = _grad_norm(self.discriminator.parameters())
        probabilities = torch.sigmoid(logits.detach())
        # One transfer to the CPU per step, for the check and the statistics.
        values = torch.stack([
            loss.detach(), grad_norm,
            probabilities[:batch].mean(), probabilities[batch:].mean(),
        ]).tolist()
        self._check_finite("discriminator", values[0], values[1])
        self._discriminator_optimizer.step()

        sums["discriminator_loss"] += values[0]
        sums["discriminator_grad_norm"] += values[1]
        sums["d_real"] += values[2]
        sums["d_fake"] += values[3]
        sums["discriminator_steps"] += 1

    def _generator_step(
        self, generated: torch.Tensor, targets: torch.Tensor, sums: dict[str, float]
    ) -> None:
        # Freeze the discriminator so this backward pass computes no weight
        # gradients for it.  They would be cleared before its next step anyway.
        self.discriminator.requires_grad_(False)
        try:
            with self._autocast():
                logits = self._discriminator_forward(generated)  # (batch, 1)
                loss = F.binary_cross_entropy_with_logits(logits, targets)
            self._generator_optimizer.zero_grad(set_to_none=True)
            loss.backward()
        finally:
            self.discriminator.requires_grad_(True)
        grad_norm = _grad_norm(self.generator.parameters())
        values = torch.stack([loss.detach(), grad_norm]).tolist()
        self._check_finite("generator", values[0], values[1])
        self._generator_optimizer.step()

        sums["generator_loss"] += values[0]
        sums["generator_grad_norm"] += values[1]
        sums["generator_steps"] += 1

    def _check_finite(self, network: str, loss: float, grad_norm: float) -> None:
        if math.isfinite(loss) and math.isfinite(grad_norm):
            return
        batch_index = self._progress.next_sample // self.settings.batch_size + 1
        if self._epoch > 0:
            checkpoint_note = (
                f"the final checkpoint contains the weights after epoch {self._epoch}"
            )
        else:
            checkpoint_note = "no epoch was completed"
        raise _NonFiniteLoss(
            f"non-finite {network} loss ({loss}) or gradient norm ({grad_norm}) in "
            f"epoch {self._epoch + 1}, batch {batch_index}, so training stopped before "
            f"that update; {checkpoint_note}. Try lower learning rates."
        )

    # --- helpers --------------------------------------------------------------

    def _make_adam(self, network: nn.Module, lr: float) -> torch.optim.Adam:
        # The fused kernel updates all 15 M weights in one pass: on a 2-core
        # CPU one step took 9 ms against 45 ms for foreach (torch 2.13).
        return torch.optim.Adam(
            network.parameters(), lr=lr, betas=(self.settings.adam_beta1, ADAM_BETA2),
            fused=True,
        )

    def _autocast(self) -> contextlib.AbstractContextManager:
        """Return a bf16 autocast context when the precision resolved to bf16, else a null context."""
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _compile_for_training(self, backend: str | Callable = "inductor") -> bool:
        """Route the training passes through `torch.compile` wrappers of both networks.

        Every variant of the passes that an epoch makes (each batch size, the
        discriminator trainable and frozen) is compiled here on zero inputs,
        without optimizer steps.  A compiler failure therefore shows at
        construction, and training falls back to the plain networks.
        Returns whether the compiled wrappers are in use.
        """
        generator = torch.compile(self.generator, backend=backend)
        discriminator = torch.compile(self.discriminator, backend=backend)
        full = min(self.settings.batch_size, self.n_spectra)
        sizes = sorted({full, self.n_spectra % self.settings.batch_size} - {0})
        started = time.perf_counter()
        try:
            for batch in sizes:
                self._warm_up(generator, discriminator, batch)
        # Compilation fails with many exception types (missing compiler,
        # unsupported operator, backend errors), and every one of them means
        # the same here: train without it.
        except Exception as error:  # noqa: BLE001
            logger.warning(
                "torch.compile of the GAN networks failed on %s, so training runs "
                "uncompiled: %s: %s", self.device, type(error).__name__, error,
            )
            return False
        finally:
            self._generator_optimizer.zero_grad(set_to_none=True)
            self._discriminator_optimizer.zero_grad(set_to_none=True)
            self.discriminator.requires_grad_(True)
        self._generator_forward, self._discriminator_forward = generator, discriminator
        logger.info(
            "GAN networks compiled with torch.compile (%s) for batch sizes %s in %.1f s",
            backend, sizes, time.perf_counter() - started,
        )
        return True

    def _warm_up(self, generator: nn.Module, discriminator: nn.Module, batch: int) -> None:
        """Run the passes of one training batch on zeros, leaving gradients to be cleared."""
        code = torch.zeros(batch, self.architecture.code_length, device=self.device)
        real = torch.zeros(batch, 1, self.architecture.padded_points, device=self.device)
        if self.settings.discriminator_steps > 1:
            with torch.no_grad(), self._autocast():
                generator(code)
        with self._autocast():
            generated = generator(code)
            logits = discriminator(torch.cat([real, generated.detach().to(real.dtype)]))
        logits.float().sum().backward()
        self.discriminator.requires_grad_(False)
        with self._autocast():
            logits = discriminator(generated)
        logits.float().sum().backward()
        self.discriminator.requires_grad_(True)

    def _uniform_code(self, count: int, rng: torch.Generator) -> torch.Tensor:
        """Draw ``(count, code_length)`` noise codes, uniform on [-1, 1], on the CPU."""
        return torch.rand(count, self.architecture.code_length, generator=rng) * 2 - 1

    def _batch_targets(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Labels per batch size: (real 1 then generated 0, and all 1)."""
        if batch not in self._targets:
            ones = torch.ones(batch, 1, device=self.device)
            self._targets[batch] = (torch.cat([ones, torch.zeros_like(ones)]), ones)
        return self._targets[batch]

    @torch.no_grad()
    def _generate_from(self, codes: torch.Tensor) -> np.ndarray:
        n_points = self.architecture.n_points
        parts = [np.empty((0, n_points), dtype=np.float32)]
        for start in range(0, codes.shape[0], GENERATE_CHUNK):
            chunk = codes[start:start + GENERATE_CHUNK].to(self.device)
            spectra = self.generator(chunk)[:, 0, :n_points]  # (chunk, n_points)
            parts.append(spectra.float().cpu().numpy())
        return np.concatenate(parts)

    def _save_epoch_start_discriminator(self) -> None:
        state = self.discriminator.state_dict()
        if self._epoch_start_discriminator is None:
            self._epoch_start_discriminator = {k: v.detach().clone() for k, v in state.items()}
        else:
            for name, tensor in state.items():
                self._epoch_start_discriminator[name].copy_(tensor)

    def _checkpoint(self) -> Checkpoint:
        """Discriminator weights of the last completed epoch."""
        progress = self._progress
        if progress is not None and progress.sums["discriminator_steps"] > 0:
            weights = {
                name: tensor.cpu().numpy().copy()
                for name, tensor in self._epoch_start_discriminator.items()
            }
        else:
            weights = state_to_numpy(self.discriminator)
        return Checkpoint(self._epoch, weights)

    def _load_resume_state(self, state: Tree) -> None:
        stored = GANArchitecture.from_dict(state["architecture"])
        if stored != self.architecture:
            raise SettingsError(
                f"The saved GAN training state was made with architecture "
                f"{stored.to_dict()}, but training was started with "
                f"{self.architecture.to_dict()}. Resume with the saved architecture "
                "or reset the GAN training."
            )
        version = int(state.get("version", RESUME_STATE_VERSION))
        if version != RESUME_STATE_VERSION:
            raise SettingsError(
                f"The saved GAN training state has version {version}; this program "
                f"reads version {RESUME_STATE_VERSION}. Reset the GAN training."
            )
        stored_settings = dict(state.get("settings", {}))
        changed = {
            k: v for k, v in self.settings.to_dict().items() if stored_settings.get(k) != v
        }
        if changed:
            logger.info("resuming GAN training with changed settings %s", changed)

        load_numpy_state(self.generator, state["generator"])
        load_numpy_state(self.discriminator, state["discriminator"])
        _optimizer_from_tree(self._generator_optimizer, state["generator_optimizer"])
        _optimizer_from_tree(self._discriminator_optimizer, state["discriminator_optimizer"])
        self._apply_optimizer_settings()
        self._shuffle_rng.set_state(_byte_tensor(state["rng"]["shuffle"]))
        self._noise_rng.set_state(_byte_tensor(state["rng"]["noise"]))
        self._restore_snapshot_noise(np.asarray(state["snapshot_noise"], dtype=np.float32))
        self._epoch = int(state["epoch"])

        progress = state.get("epoch_progress")
        if progress is not None:
            sums = np.asarray(progress["sums"], dtype=np.float64)
            self._progress = _EpochProgress(
                torch.from_numpy(np.asarray(progress["permutation"], dtype=np.int64).copy()),
                int(progress["next_sample"]),
                {k: float(v) for k, v in zip(_SUM_FIELDS, sums)},
            )
            self._epoch_start_discriminator = {
                name: torch.from_numpy(np.array(array, copy=True)).to(self.device)
                for name, array in progress["discriminator_at_epoch_start"].items()
            }
            if self._progress.permutation.shape[0] != self.n_spectra:
                raise DataError(
                    f"The saved GAN training state stopped inside an epoch over "
                    f"{self._progress.permutation.shape[0]} spectra, but "
                    f"{self.n_spectra} spectra were given. Resume with the same "
                    "spectra or reset the GAN training."
                )

    def _apply_optimizer_settings(self) -> None:
        """Set rates and betas from the current settings after loading a state."""
        pairs = (
            (self._generator_optimizer, self.settings.generator_lr),
            (self._discriminator_optimizer, self.settings.discriminator_lr),
        )
        for optimizer, lr in pairs:
            for group in optimizer.param_groups:
                group["lr"] = lr
                group["betas"] = (self.settings.adam_beta1, ADAM_BETA2)
                # States stored by older versions select the foreach kernel.  Use the
                # fused one, as the constructor does.
                group["fused"], group["foreach"] = True, None

    def _restore_snapshot_noise(self, stored: np.ndarray) -> None:
        # Keep the stored codes so snapshots stay comparable.  A changed
        # snapshot_count keeps the first rows and draws any extra ones anew.
        if stored.shape[1:] != tuple(self._snapshot_noise.shape[1:]):
            raise SettingsError(
                f"The saved snapshot noise has shape {stored.shape}, which does not "
                f"fit code length {self.architecture.code_length}. Reset the GAN training."
            )
        rows = min(stored.shape[0], self._snapshot_noise.shape[0])
        self._snapshot_noise[:rows] = torch.from_numpy(stored[:rows].copy())


def _check_spectra(spectra: np.ndarray, architecture: GANArchitecture) -> np.ndarray:
    array = np.asarray(spectra, dtype=np.float32)
    if array.ndim != 2 or array.shape[0] < 1:
        raise DataError(
            f"GAN training needs a (spectra, points) matrix with at least one "
            f"spectrum, got an array of shape {array.shape}."
        )
    if array.shape[1] != architecture.n_points:
        raise DataError(
            f"The spectra have {array.shape[1]} points, but the GAN architecture "
            f"expects {architecture.n_points}. Rebuild the architecture for this "
            "preprocessing."
        )
    bad = int(np.count_nonzero(~np.isfinite(array)))
    if bad:
        raise DataError(
            f"The scaled spectra contain {bad} NaN or infinite value(s). Remove or "
            "repair those spectra before training."
        )
    peak = float(np.abs(array).max())
    if peak > 1.0 + 1e-4:
        logger.warning(
            "scaled spectra reach %.3g, outside [-1, 1]; the generator's tanh "
            "output cannot reproduce them", peak,
        )
    return np.ascontiguousarray(array)


def _grad_norm(parameters: Iterable[nn.Parameter]) -> torch.Tensor:
    grads = [p.grad for p in parameters if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads, norm_type=2.0)


def _byte_tensor(array: Any) -> torch.Tensor:
    return torch.from_numpy(np.array(array, dtype=np.uint8, copy=True))


def _optimizer_to_tree(optimizer: torch.optim.Optimizer) -> Tree:
    """Flatten an optimizer state dict: arrays per parameter, groups as JSON."""
    state_dict = optimizer.state_dict()
    tree: Tree = {"param_groups": json.dumps(state_dict["param_groups"])}
    per_parameter: Tree = {}
    for index, values in state_dict["state"].items():
        per_parameter[str(index)] = {
            name: value.detach().cpu().numpy().copy() if torch.is_tensor(value) else value
            for name, value in values.items()
        }
    if per_parameter:
        tree["state"] = per_parameter
    return tree


def _optimizer_from_tree(optimizer: torch.optim.Optimizer, tree: Tree) -> None:
    """Load a tree written by `_optimizer_to_tree` into a matching optimizer."""
    state = {}
    for index, values in tree.get("state", {}).items():
        entry = {}
        for name, value in values.items():
            if name == "step":
                # Adam keeps its step count as a float32 scalar tensor.
                entry[name] = torch.tensor(float(np.asarray(value)), dtype=torch.float32)
            else:
                entry[name] = torch.from_numpy(np.array(value, copy=True))
        state[int(index)] = entry
    groups = json.loads(tree["param_groups"])
    optimizer.load_state_dict({"state": state, "param_groups": groups})
