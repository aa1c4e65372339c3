"""A straightforward PyTorch version of the GAN1D networks and training loop.

It is the baseline of the throughput benchmark: the same layers as
`specgan_gui.models.gan1d` (and the same parameter names, so weights load
across), trained the textbook way.  The discriminator takes separate
passes over real and generated spectra, the generator step generates its
batch again and back-propagates into the discriminator's weights as well,
and both networks use the default `torch.optim.Adam`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from specgan_gui.models.gan1d import GANArchitecture


class PlainGenerator(nn.Module):
    def __init__(self, a: GANArchitecture):
        super().__init__()
        self.shape = (a.bottleneck_channels, a.reduced_points)
        self.dense1 = nn.Linear(a.code_length, a.hidden_units)
        self.dense2 = nn.Linear(a.hidden_units, a.reduced_points * a.bottleneck_channels)
        self.conv1 = nn.Conv1d(a.bottleneck_channels, a.generator_filters, 3, padding=1)
        self.conv2 = nn.Conv1d(a.generator_filters, 1, 3, padding=1)

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        x = torch.tanh(self.dense2(torch.tanh(self.dense1(code))))
        x = F.interpolate(x.reshape(-1, *self.shape), scale_factor=2, mode="nearest")
        x = F.interpolate(torch.tanh(self.conv1(x)), scale_factor=2, mode="nearest")
        return torch.tanh(self.conv2(x))


class PlainDiscriminator(nn.Module):
    def __init__(self, a: GANArchitecture):
        super().__init__()
        self.conv1 = nn.Conv1d(1, a.discriminator_filters, 3, padding=1)
        self.conv2 = nn.Conv1d(a.discriminator_filters, a.bottleneck_channels, 3, padding=1)
        self.dense = nn.Linear(a.reduced_points * a.bottleneck_channels, a.hidden_units)
        self.output = nn.Linear(a.hidden_units, 1)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        x = F.max_pool1d(torch.tanh(self.conv1(spectra)), 2)
        x = F.max_pool1d(torch.tanh(self.conv2(x)), 2)
        return self.output(torch.tanh(self.dense(x.flatten(1))))


class PlainGAN:
    """The two plain networks, their Adam optimizers and one training batch."""

    def __init__(self, architecture: GANArchitecture, lr: float = 2e-4, beta1: float = 0.5):
        self.architecture = architecture
        self.generator = PlainGenerator(architecture)
        self.discriminator = PlainDiscriminator(architecture)
        self.generator_optimizer = torch.optim.Adam(
            self.generator.parameters(), lr=lr, betas=(beta1, 0.999)
        )
        self.discriminator_optimizer = torch.optim.Adam(
            self.discriminator.parameters(), lr=lr, betas=(beta1, 0.999)
        )

    def train_batch(self, real: torch.Tensor, code: torch.Tensor) -> tuple[float, float]:
        """Take one discriminator and one generator step; return both losses."""
        ones = torch.ones(real.shape[0], 1)
        zeros = torch.zeros(real.shape[0], 1)

        self.discriminator_optimizer.zero_grad()
        fake = self.generator(code)
        real_loss = F.binary_cross_entropy_with_logits(self.discriminator(real), ones)
        fake_loss = F.binary_cross_entropy_with_logits(self.discriminator(fake.detach()), zeros)
        discriminator_loss = (real_loss + fake_loss) / 2
        discriminator_loss.backward()
        self.discriminator_optimizer.step()

        self.generator_optimizer.zero_grad()
        generator_loss = F.binary_cross_entropy_with_logits(
            self.discriminator(self.generator(code)), ones
        )
        generator_loss.backward()
        self.generator_optimizer.step()
        return discriminator_loss.item(), generator_loss.item()

    def train_epoch(self, spectra: torch.Tensor, batch_size: int, noise: torch.Generator) -> None:
        """Train one epoch over ``(n, 1, points)`` spectra in shuffled batches."""
        order = torch.randperm(spectra.shape[0], generator=noise)
        for start in range(0, spectra.shape[0], batch_size):
            real = spectra[order[start:start + batch_size]]
            code = torch.rand(real.shape[0], self.architecture.code_length, generator=noise)
            self.train_batch(real, code * 2 - 1)
