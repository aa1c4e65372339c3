"""Settings and records of GAN training, without PyTorch.

The window builds, shows and checks these without importing torch.
`specgan_gui.training.gan_trainer` runs the training and re-exports them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import numbers
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from specgan_gui.errors import SettingsError
from specgan_gui.training.device import DEVICE_CHOICES, PRECISION_CHOICES

logger = logging.getLogger(__name__)


@dataclass
class GANTrainingSettings:
    """Settings of one GAN training run.

    Attributes
    ----------
    epochs
        Total epochs to train, counted from the start of the run (a resumed
        run continues up to this number).
    batch_size
        Real spectra per batch; the last batch of an epoch may be smaller.
    discriminator_steps
        Discriminator updates per batch before each generator update.
    generator_lr, discriminator_lr
        Adam learning rates.
    adam_beta1
        Adam's first-moment decay (0.5 in the reference; beta2 is 0.999).
    seed
        Seed of the initial weights, batch order and noise codes.
    snapshot_interval
        Epochs between snapshots of generated spectra.
    snapshot_count
        Spectra per snapshot, generated from one fixed batch of noise codes.
    checkpoint_interval
        Epochs between discriminator checkpoints.
    max_checkpoints
        Checkpoints the project keeps (the trainer emits them all).
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"`` (see `resolve_device`).
    precision
        ``"auto"``, ``"float32"`` or ``"bf16"`` (see `resolve_precision`):
        auto trains in bf16 mixed precision on a CUDA GPU that supports it
        and in float32 everywhere else.  Only float32 on the CPU repeats a
        run bit for bit.
    """

    epochs: int = 1000
    batch_size: int = 40
    discriminator_steps: int = 1
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    adam_beta1: float = 0.5
    seed: int = 0
    snapshot_interval: int = 10
    snapshot_count: int = 8
    checkpoint_interval: int = 100
    # 8 discriminator checkpoints of 61 MB at the reference size, the 369 MB
    # resume state and 10 000 epochs of snapshots make a 0.92 GB project file.
    # A save writes the new file beside the old one, so disk use peaks at 1.84 GB.
    max_checkpoints: int = 8
    device: str = "auto"
    precision: str = "auto"

    _POSITIVE_INTS: ClassVar[tuple[str, ...]] = (
        "epochs", "batch_size", "discriminator_steps", "snapshot_interval",
        "snapshot_count", "checkpoint_interval", "max_checkpoints",
    )

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every value and normalise NumPy scalars to Python types.

        Raises
        ------
        SettingsError
            Naming the first invalid setting and its value.
        """
        for name in self._POSITIVE_INTS:
            setattr(self, name, _as_int(name, getattr(self, name), minimum=1))
        self.seed = _as_int("seed", self.seed, minimum=0)
        for name in ("generator_lr", "discriminator_lr"):
            value = _as_float(name, getattr(self, name))
            if not value > 0:
                raise SettingsError(f"GAN setting {name} must be above 0, got {value!r}.")
            setattr(self, name, value)
        beta1 = _as_float("adam_beta1", self.adam_beta1)
        if not 0 <= beta1 < 1:
            raise SettingsError(
                f"GAN setting adam_beta1 must be at least 0 and below 1, got {beta1!r}."
            )
        self.adam_beta1 = beta1
        device = str(self.device).strip().lower()
        if device not in DEVICE_CHOICES and not device.startswith("cuda:"):
            raise SettingsError(
                f"GAN setting device must be one of {', '.join(DEVICE_CHOICES)}, "
                f"got {self.device!r}."
            )
        self.device = device
        precision = str(self.precision).strip().lower()
        if precision not in PRECISION_CHOICES:
            raise SettingsError(
                f"GAN setting precision must be one of {', '.join(PRECISION_CHOICES)}, "
                f"got {self.precision!r}."
            )
        self.precision = precision

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> GANTrainingSettings:
        """Build settings from a dict, ignoring keys this version does not know."""
        known = {f.name for f in dataclasses.fields(cls)}
        ignored = sorted(set(values) - known)
        if ignored:
            logger.debug("ignoring unknown GAN settings %s", ignored)
        return cls(**{k: v for k, v in values.items() if k in known})


def _as_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, (bool, np.bool_)):
        number = None
    elif isinstance(value, numbers.Integral):
        number = int(value)
    elif isinstance(value, numbers.Real) and float(value).is_integer():
        number = int(value)
    else:
        number = None
    if number is None or number < minimum:
        raise SettingsError(
            f"GAN setting {name} must be an integer of at least {minimum}, got {value!r}."
        )
    return number


def _as_float(name: str, value: Any) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise SettingsError(f"GAN setting {name} must be a number, got {value!r}.")
    number = float(value)
    if not math.isfinite(number):
        raise SettingsError(f"GAN setting {name} must be a finite number, got {value!r}.")
    return number


@dataclass
class EpochStats:
    """Averages over the batches of one epoch (one row of the loss history).

    Attributes
    ----------
    epoch
        Completed epochs, counting this one (1-based).
    discriminator_loss, generator_loss
        Binary cross-entropy losses.  The discriminator's is the mean over
        real and generated spectra together, averaged over its steps.
    d_real, d_fake
        Mean discriminator output (sigmoid, probability of "real") on real
        and on generated spectra.
    discriminator_grad_norm, generator_grad_norm
        Total L2 norm of each network's gradients before its optimizer step.
    seconds
        Training time of the epoch, without pauses and callbacks.
    """

    epoch: int
    discriminator_loss: float
    generator_loss: float
    d_real: float
    d_fake: float
    discriminator_grad_norm: float
    generator_grad_norm: float
    seconds: float

    FIELDS: ClassVar[tuple[str, ...]]

    def to_dict(self) -> dict[str, float]:
        return dataclasses.asdict(self)


EpochStats.FIELDS = tuple(f.name for f in dataclasses.fields(EpochStats))


@dataclass
class Snapshot:
    """Generated spectra at one epoch.

    ``spectra`` is float32 ``(snapshot_count, n_points)`` in scaled units,
    unpadded, always from the same noise codes so epochs can be compared.
    """

    epoch: int
    spectra: np.ndarray


@dataclass
class Checkpoint:
    """Discriminator weights (`state_to_numpy` layout) after ``epoch`` epochs."""

    epoch: int
    discriminator: dict[str, np.ndarray]


@dataclass
class TrainingOutcome:
    """Result of `GANTrainer.run`.

    ``stopped`` is True when training ended before ``settings.epochs``: on a
    user's stop request (``reason`` "stopped by user") or on a non-finite
    loss (``reason`` names the epoch and batch).
    """

    epochs_completed: int
    stopped: bool
    reason: str


class TrainingCallbacks:
    """Receiver of training events; subclass it and override what you need.

    The methods run in the training thread, between epochs.
    """

    def on_epoch(self, stats: EpochStats) -> None:
        """Receive the statistics of a completed epoch."""

    def on_snapshot(self, snapshot: Snapshot) -> None:
        """Receive generated spectra every ``snapshot_interval`` epochs."""

    def on_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Receive discriminator weights every ``checkpoint_interval`` epochs
        and at the last completed epoch when a run ends."""
