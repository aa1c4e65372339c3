"""Settings of transfer fine-tuning and of the comparison, without PyTorch.

The window builds and checks `TransferSettings` without importing torch.
`specgan_gui.training.transfer` trains the networks and re-exports these names.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from specgan_gui.errors import SettingsError
from specgan_gui.training.device import DEVICE_CHOICES

TASKS = ("regression", "classification")
CV_SCHEMES = ("auto", "loo", "kfold")

#: ``(name, minimum, maximum)`` of the integer transfer settings.
INTEGER_RANGES = (
    ("epochs", 1, 100_000),
    ("batch_size", 1, 100_000),
    ("n_folds", 2, 1000),
    ("max_pls_components", 1, 1000),
    ("pls_components", 0, 1000),
    ("seed", 0, 2**31 - 1),
    ("repeats", 1, 100),
    ("patience", 1, 100_000),
    ("head_units", 0, 65_536),
)

#: Allowed range of `TransferSettings.validation_fraction`.
VALIDATION_FRACTION_RANGE = (0.05, 0.5)


@dataclass
class TransferSettings:
    """Settings of fine-tuning and of the cross-validated comparison.

    Attributes
    ----------
    epochs
        Fine-tuning epochs of each network in each fold.
    learning_rate
        Adam learning rate of the networks.
    batch_size
        Spectra per mini-batch.
    freeze_trunk
        Train only the new head of the GAN transfer network, keeping the
        loaded convolution and Dense(1024) weights fixed.
    cv
        ``"auto"`` (leave-one-out up to 30 samples, k-fold above),
        ``"loo"`` (leave-one-out) or ``"kfold"``.
    n_folds
        Number of folds for k-fold cross-validation.
    seed
        Seed of fold assignment, network initialisation and batch order.
    max_pls_components
        Largest number of PLS components the inner cross-validation tries.
    pls_components
        Fixed number of PLS components. With 0 the inner cross-validation
        on each training fold chooses it.
    device
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    repeats
        Repetitions of the cross-validation.  Repeat ``r`` uses seed
        ``seed + r`` for the k-fold split, the network initialisation and
        the batch order.  Leave-one-out splits are the same in every repeat.
    group_column
        Reference column whose equal values (replicates of one physical
        sample, a measuring day) always fall into the same fold; ``""``
        for none.  With groups, leave-one-out leaves one group out.
    early_stopping
        Hold out `validation_fraction` of each training fold and stop when
        its loss has not improved for `patience` epochs, restoring the best
        weights.  `epochs` is then the maximum.  The final model, fitted on
        all samples without validation, trains for the median of the fold
        fits' best epochs.
    validation_fraction
        Fraction of a training fold held out for early stopping, 0.05 to 0.5.
    patience
        Epochs without a lower validation loss before training stops.
    head_units
        0 gives a linear head on the Dense(1024) features; N > 0 inserts a
        hidden Linear(hidden_units, N) layer with ReLU before the output.
    """

    epochs: int = 200
    learning_rate: float = 1e-4
    batch_size: int = 32
    freeze_trunk: bool = False
    cv: str = "auto"
    n_folds: int = 5
    seed: int = 0
    max_pls_components: int = 15
    pls_components: int = 0
    device: str = "auto"
    repeats: int = 1
    group_column: str = ""
    early_stopping: bool = True
    validation_fraction: float = 0.2
    patience: int = 20
    head_units: int = 0

    def __post_init__(self) -> None:
        for name, minimum, maximum in INTEGER_RANGES:
            value = getattr(self, name)
            valid = not isinstance(value, bool) and isinstance(value, (int, float, np.integer,
                                                                      np.floating))
            if not valid or int(value) != value or not minimum <= value <= maximum:
                raise SettingsError(
                    f"Transfer setting {name} must be an integer from {minimum} to "
                    f"{maximum}, got {value!r}."
                )
            setattr(self, name, int(value))
        given = self.validation_fraction
        try:
            self.validation_fraction = float(given)
        except (TypeError, ValueError):
            self.validation_fraction = math.nan
        low, high = VALIDATION_FRACTION_RANGE
        if isinstance(given, bool) or not low <= self.validation_fraction <= high:
            raise SettingsError(
                f"Transfer setting validation_fraction must be a number from {low} to "
                f"{high}, got {given!r}."
            )
        self.early_stopping = bool(self.early_stopping)
        self.group_column = "" if self.group_column is None else str(self.group_column).strip()
        self.learning_rate = float(self.learning_rate)
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise SettingsError(
                f"Transfer setting learning_rate must be a positive number, got "
                f"{self.learning_rate!r}."
            )
        if self.cv not in CV_SCHEMES:
            raise SettingsError(
                f"Unknown cross-validation scheme {self.cv!r}. Choose one of "
                f"{', '.join(CV_SCHEMES)}."
            )
        self.freeze_trunk = bool(self.freeze_trunk)
        self.device = str(self.device).strip().lower()
        if self.device not in DEVICE_CHOICES and not self.device.startswith("cuda:"):
            raise SettingsError(
                f"Transfer setting device must be one of {', '.join(DEVICE_CHOICES)} "
                f"(or cuda:N), got {self.device!r}."
            )

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TransferSettings:
        """Build settings from a dict, ignoring keys this version does not know."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in fields})
