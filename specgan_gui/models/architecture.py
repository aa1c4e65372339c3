"""Construction settings of the GAN1D networks, without PyTorch.

`GANArchitecture` checks the sizes and counts the parameters from the layer
shapes alone, so the window can show and validate them without importing torch.
`specgan_gui.models.gan1d` builds the networks from it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from specgan_gui.errors import SettingsError

#: Largest value of each size setting.  The filter and code limits match the
#: window's spin boxes.  By an estimate from the tensor shapes, 1024 filters on
#: 2000 points take about 1.5 GB of activations and gradients per batch of 32 spectra.
SIZE_LIMITS = {
    "code_length": 10_000,
    "generator_filters": 1024,
    "discriminator_filters": 1024,
    "hidden_units": 16_384,
}

#: Largest number of parameters of either network.  200 million float32
#: weights are 0.8 GB; training holds about four times that per network
#: (weights, gradients and two Adam moments), and every checkpoint stores
#: the discriminator again.  The reference design has 15.4 million at 1868 points.
MAX_PARAMETERS = 200_000_000


class ArchitectureError(SettingsError, ValueError):
    """An architecture setting is out of range or the networks would be too large.

    It is a `SettingsError` for the window and the command line, and a
    `ValueError` for callers that catch the built-in type.
    """


@dataclass
class GANArchitecture:
    """Construction settings of both networks.

    Attributes
    ----------
    n_points
        Spectrum length after preprocessing, before padding.
    code_length
        Length of the generator's noise code (uniform on [-1, 1]).
    generator_filters
        Filters of the generator's hidden convolution (64 in the reference).
    discriminator_filters
        Filters of the discriminator's first convolution (64 in the
        reference; 128 was tried as a remedy for a failing run).
    hidden_units
        Width of the Dense layer after the noise code and before the logit.
    """

    n_points: int
    code_length: int = 100
    generator_filters: int = 64
    discriminator_filters: int = 64
    hidden_units: int = 1024

    #: Channels of the generator's reshaped tensor and of the
    #: discriminator's second convolution (32 in the reference, fixed).
    bottleneck_channels = 32

    def __post_init__(self) -> None:
        for name in ("n_points", "code_length", "generator_filters",
                     "discriminator_filters", "hidden_units"):
            value = getattr(self, name)
            limit = SIZE_LIMITS.get(name)
            valid = not isinstance(value, bool) and isinstance(value, (int, float, np.number))
            valid = valid and math.isfinite(value) and int(value) == value and value >= 1
            if not valid or (limit is not None and value > limit):
                allowed = f"from 1 to {limit}" if limit is not None else "of at least 1"
                raise ArchitectureError(
                    f"GAN setting {name} must be a whole number {allowed}, got {value!r}."
                )
            setattr(self, name, int(value))
        if self.n_points < 8:
            raise ArchitectureError(
                f"The GAN needs spectra of at least 8 points, got {self.n_points}. Choose a "
                f"wider crop range or a finer resampling."
            )
        largest = max(self.parameter_counts().values())
        if largest > MAX_PARAMETERS:
            raise ArchitectureError(
                f"The GAN would have {largest / 1e6:.0f} million parameters in one network "
                f"(limit {MAX_PARAMETERS / 1e6:.0f} million; training needs about "
                f"{largest * 16 / 1e9:.1f} GB for it): spectra of {self.n_points} points, "
                f"{self.hidden_units} hidden units, code length {self.code_length}. Crop or "
                f"resample the spectra to fewer points, or choose smaller settings."
            )

    def parameter_counts(self) -> dict[str, int]:
        """Return the trainable parameters of ``{"generator": n, "discriminator": n}``.

        Computed from the layer sizes without building the networks, so that
        sizes too large for memory are refused before any allocation.
        """
        flat = self.reduced_points * self.bottleneck_channels  # Dense input/output width
        hidden, g, d = self.hidden_units, self.generator_filters, self.discriminator_filters
        generator = (
            (self.code_length + 1) * hidden  # dense1
            + (hidden + 1) * flat  # dense2
            + (self.bottleneck_channels * 3 + 1) * g  # conv1, kernel 3
            + (g * 3 + 1)  # conv2 to one channel
        )
        discriminator = (
            (3 + 1) * d  # conv1 from one channel
            + (d * 3 + 1) * self.bottleneck_channels  # conv2
            + (flat + 1) * hidden  # dense
            + (hidden + 1)  # output logit
        )
        return {"generator": int(generator), "discriminator": int(discriminator)}

    @property
    def padded_points(self) -> int:
        """Spectrum length rounded up to a multiple of 4."""
        return int(math.ceil(self.n_points / 4) * 4)

    @property
    def reduced_points(self) -> int:
        """Length after two halvings: the generator's reshape length."""
        return self.padded_points // 4

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> GANArchitecture:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in fields})
