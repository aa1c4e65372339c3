"""The GAN1D generator and discriminator.

Layer for layer this is the reference design for 1-D spectra (40 wine
spectra of 1868 points): a generator of two tanh Dense layers followed by
two rounds of nearest-neighbour upsampling and a 3-point convolution, and
a discriminator of two convolution and max-pooling rounds followed by a
Dense(1024) layer and a single logit.  Every output of the generator is
tanh, so spectra are scaled to [-1, 1] before training.

Tensors are channels-first, as PyTorch's Conv1d expects:
``(batch, channels, points)``.  The reference was written channels-last
(Keras).  Its Reshape and Flatten orders differ from ours only by a fixed
permutation of the Dense weights, so the two networks describe the same
family of functions.

Spectrum lengths that are not a multiple of 4 are padded at the end by
repeating the last value (`pad_spectra`), because the two pooling (and
upsampling) stages halve (and double) the length twice.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

# The architecture settings live in a torch-free module so that the window
# starts without torch.  Importing them here keeps `gan1d` imports working.
from specgan_gui.models.architecture import (  # noqa: F401
    MAX_PARAMETERS,
    SIZE_LIMITS,
    ArchitectureError,
    GANArchitecture,
)

#: Standard deviation of Keras 1's ``normal`` initialiser, used on every
#: Dense layer of the reference design.
DENSE_INIT_STD = 0.05

#: Parameter-name prefixes of the discriminator layers that form the
#: trunk of a transfer model (both convolutions and the Dense(1024)).
TRUNK_PREFIXES = ("conv1.", "conv2.", "dense.")


def pad_spectra(spectra: torch.Tensor, padded_points: int) -> torch.Tensor:
    """Pad ``(..., points)`` at the end by repeating the last value."""
    missing = padded_points - spectra.shape[-1]
    if missing < 0:
        raise ValueError(f"spectra have {spectra.shape[-1]} points, more than {padded_points}")
    if missing == 0:
        return spectra
    tail = spectra[..., -1:].expand(*spectra.shape[:-1], missing)
    return torch.cat([spectra, tail], dim=-1)


def pad_array(spectra: np.ndarray, padded_points: int) -> np.ndarray:
    """NumPy twin of `pad_spectra` for ``(samples, points)`` arrays."""
    missing = padded_points - spectra.shape[-1]
    if missing <= 0:
        return spectra
    return np.pad(spectra, [(0, 0)] * (spectra.ndim - 1) + [(0, missing)], mode="edge")


class _PairMaxFunction(torch.autograd.Function):
    """Max over neighbouring pairs of the last axis, with a light backward pass.

    `nn.MaxPool1d` records an int64 index for every output in its forward
    pass.  On 2 CPU cores that took 28 ms for the discriminator's first
    pooling of 80 x 64 x 1868 values, where pooling without indices takes
    3 ms.  This function pools without indices and keeps one bool per output
    instead (whether the second point of the pair won), so its forward and
    backward passes took 17 ms together against 37 ms.  Ties go to the first
    point, as in `nn.MaxPool1d`, so values and gradients are identical.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:
        pairs = x.unflatten(-1, (x.shape[-1] // 2, 2))
        ctx.save_for_backward(pairs[..., 1] > pairs[..., 0])
        return F.max_pool1d(x, 2)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:
        (second,) = ctx.saved_tensors
        grad_input = grad.new_zeros(*second.shape, 2)
        grad_input.scatter_(-1, second.long().unsqueeze(-1), grad.unsqueeze(-1))
        return grad_input.flatten(-2)


class PairMaxPool1d(nn.Module):
    """Max pooling over pairs of points (kernel 2, stride 2), ``(..., L)`` to ``(..., L/2)``.

    Equal to ``nn.MaxPool1d(2)`` for inputs of even length.  On the CPU,
    when a gradient is needed, it uses `_PairMaxFunction`; elsewhere the
    built-in pooling, which CUDA and `torch.compile` handle well.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if (
            x.device.type == "cpu" and x.requires_grad and torch.is_grad_enabled()
            and x.shape[-1] % 2 == 0
        ):
            return _PairMaxFunction.apply(x)
        return F.max_pool1d(x, 2)


def pooled_tanh(pool: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Return ``pool(tanh(x))``, computed as ``tanh(pool(x))``.

    tanh never decreases, so the maximum of a pair passes through it
    unchanged and both orders give the same values and gradients.  Pooling
    first computes tanh and its gradient on half as many values.
    """
    return torch.tanh(pool(x))


def upsampled_conv(x: torch.Tensor, conv: nn.Conv1d) -> torch.Tensor:
    """Return ``conv(upsample(x))`` for nearest-neighbour upsampling by 2, without upsampling.

    With ``u[j] = x[j // 2]`` and taps ``w0, w1, w2`` of a 3-point "same"
    convolution, the even outputs are ``w0 x[i-1] + (w1 + w2) x[i]`` and the
    odd ones ``(w0 + w1) x[i] + w2 x[i+1]``.  So one convolution of the
    original input with twice the output channels (even and odd phases)
    computes both, and interleaving them gives the result.  The arithmetic
    is the same, but the upsampled tensor is never built.  In float32 the
    sums ``w1 + w2`` and ``w0 + w1`` round differently, so outputs differ
    from the layer-by-layer version by about 1e-6.  For the reference
    generator the forward and backward passes took 17 ms against 29 ms
    (batch 40, 2 CPU cores).

    ``x`` is ``(batch, in_channels, n)``; the result is ``(batch, out, 2 n)``.
    """
    weight, bias = conv.weight, conv.bias  # (out, in, 3), (out,)
    zero = torch.zeros_like(weight[..., :1])
    even = torch.cat((weight[..., :1], weight[..., 1:2] + weight[..., 2:], zero), -1)
    odd = torch.cat((zero, weight[..., :1] + weight[..., 1:2], weight[..., 2:]), -1)
    phases = F.conv1d(x, torch.cat((even, odd)), torch.cat((bias, bias)), padding=1)
    out = weight.shape[0]
    # (batch, 2 out, n) -> (batch, 2, out, n) -> (batch, out, n, 2) -> (batch, out, 2 n)
    return phases.unflatten(1, (2, out)).permute(0, 2, 3, 1).flatten(2)


def _init_dense(layer: nn.Linear) -> None:
    nn.init.normal_(layer.weight, mean=0.0, std=DENSE_INIT_STD)
    nn.init.zeros_(layer.bias)


def _init_conv(layer: nn.Conv1d) -> None:
    # Keras 1 convolutions default to Glorot-uniform weights and zero bias.
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)


class Generator(nn.Module):
    """Noise code ``(batch, code_length)`` to spectra ``(batch, 1, padded_points)``."""

    def __init__(self, architecture: GANArchitecture):
        super().__init__()
        a = architecture
        self.architecture = a
        self.dense1 = nn.Linear(a.code_length, a.hidden_units)
        self.dense2 = nn.Linear(a.hidden_units, a.reduced_points * a.bottleneck_channels)
        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.conv1 = nn.Conv1d(a.bottleneck_channels, a.generator_filters, 3, padding=1)
        self.conv2 = nn.Conv1d(a.generator_filters, 1, 3, padding=1)
        _init_dense(self.dense1)
        _init_dense(self.dense2)
        _init_conv(self.conv1)
        _init_conv(self.conv2)

    #: Whether the CPU computes each upsampling and convolution in one
    #: convolution of the shorter input (`upsampled_conv`).  The CUDA path,
    #: and this flag set to False, run the layers as the design lists them.
    fuse_upsampling = True

    def forward(self, code: torch.Tensor) -> torch.Tensor:
        a = self.architecture
        x = torch.tanh(self.dense1(code))  # (batch, hidden)
        x = torch.tanh(self.dense2(x))  # (batch, reduced * 32)
        x = x.view(-1, a.bottleneck_channels, a.reduced_points)  # (batch, 32, L/4)
        if self.fuse_upsampling and x.device.type == "cpu":
            x = torch.tanh(upsampled_conv(x, self.conv1))  # (batch, filters, L/2)
            return torch.tanh(upsampled_conv(x, self.conv2))  # (batch, 1, L)
        x = self.upsample(x)  # (batch, 32, L/2)
        x = torch.tanh(self.conv1(x))  # (batch, filters, L/2)
        x = self.upsample(x)  # (batch, filters, L)
        return torch.tanh(self.conv2(x))  # (batch, 1, L)


class Discriminator(nn.Module):
    """Spectra ``(batch, 1, padded_points)`` to one logit per spectrum."""

    def __init__(self, architecture: GANArchitecture):
        super().__init__()
        a = architecture
        self.architecture = a
        self.conv1 = nn.Conv1d(1, a.discriminator_filters, 3, padding=1)
        self.pool = PairMaxPool1d()
        self.conv2 = nn.Conv1d(a.discriminator_filters, a.bottleneck_channels, 3, padding=1)
        self.dense = nn.Linear(a.reduced_points * a.bottleneck_channels, a.hidden_units)
        self.output = nn.Linear(a.hidden_units, 1)
        _init_conv(self.conv1)
        _init_conv(self.conv2)
        _init_dense(self.dense)
        _init_dense(self.output)

    def features(self, spectra: torch.Tensor) -> torch.Tensor:
        """Return the trunk's Dense(1024) activations, ``(batch, hidden)``."""
        x = pooled_tanh(self.pool, self.conv1(spectra))  # (batch, filters, L/2)
        x = pooled_tanh(self.pool, self.conv2(x))  # (batch, 32, L/4)
        return torch.tanh(self.dense(x.flatten(1)))  # (batch, hidden)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        return self.output(self.features(spectra))  # (batch, 1) logits


def count_parameters(module: nn.Module) -> int:
    """Return the number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def state_to_numpy(module: nn.Module) -> dict[str, np.ndarray]:
    """Copy a module's state dict to CPU NumPy arrays (for storage)."""
    return {k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def load_numpy_state(module: nn.Module, state: dict[str, np.ndarray]) -> None:
    """Load arrays written by `state_to_numpy`, checking names and shapes."""
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"stored weights do not fit this network: missing {missing}, unexpected {unexpected}"
        )
    tensors = {}
    for name, target in expected.items():
        array = np.asarray(state[name])
        if tuple(array.shape) != tuple(target.shape):
            raise ValueError(
                f"stored weight {name} has shape {array.shape}, the network expects "
                f"{tuple(target.shape)}"
            )
        tensors[name] = torch.from_numpy(array.copy()).to(target.dtype)
    module.load_state_dict(tensors)


def layer_flops(architecture: GANArchitecture) -> dict[str, dict[str, int]]:
    """Count the floating-point operations of each layer's forward pass for one spectrum.

    Only the Dense and convolution layers are counted, at 2 operations per
    multiply-add (``2 * inputs * outputs`` for Dense, ``2 * in_channels *
    kernel * out_channels * length`` for a convolution).  Bias additions,
    activations, pooling, upsampling and the optimizer update are left out
    because they are elementwise, so a FLOP rate from this count measures
    how well the matrix products run.
    """
    a = architecture
    flat = a.reduced_points * a.bottleneck_channels
    half = a.padded_points // 2
    generator = {
        "dense1": 2 * a.code_length * a.hidden_units,
        "dense2": 2 * a.hidden_units * flat,
        "conv1": 2 * a.bottleneck_channels * 3 * a.generator_filters * half,
        "conv2": 2 * a.generator_filters * 3 * 1 * a.padded_points,
    }
    discriminator = {
        "conv1": 2 * 1 * 3 * a.discriminator_filters * a.padded_points,
        "conv2": 2 * a.discriminator_filters * 3 * a.bottleneck_channels * half,
        "dense": 2 * flat * a.hidden_units,
        "output": 2 * a.hidden_units,
    }
    return {"generator": generator, "discriminator": discriminator}


def training_batch_flops(
    architecture: GANArchitecture,
    batch: int,
    discriminator_steps: int = 1,
    reuse_generated: bool = True,
) -> int:
    """Count the floating-point operations of one GAN training batch.

    The backward pass of a layer costs its forward count once for the
    weight gradient and once more for the input gradient.  A layer gets no
    input gradient when nothing before it needs one (the first layer of
    each network), and no weight gradient when its network is frozen.

    With ``reuse_generated`` (as `GANTrainer` runs it) the generator step
    reuses the spectra of the last discriminator step and freezes the
    discriminator.  Without it (a plain implementation) the generator step
    generates the batch again and computes discriminator weight gradients
    that it then discards.
    """
    counts = layer_flops(architecture)
    generator = sum(counts["generator"].values())
    discriminator = sum(counts["discriminator"].values())
    generator_input_grads = generator - counts["generator"]["dense1"]
    discriminator_input_grads = discriminator - counts["discriminator"]["conv1"]

    # Discriminator steps: generate a batch, then real and generated spectra
    # forward and backward (weights and inner inputs) through the discriminator.
    per_step = batch * generator + 2 * batch * (
        discriminator + discriminator + discriminator_input_grads
    )
    total = discriminator_steps * per_step
    # Generator step: discriminator forward and backward down to its input,
    # then the generator's weight and inner input gradients.
    total += batch * (discriminator + discriminator + generator + generator_input_grads)
    if not reuse_generated:
        total += batch * (generator + discriminator)
    return int(total)


def training_epoch_flops(
    architecture: GANArchitecture,
    n_spectra: int,
    batch_size: int,
    discriminator_steps: int = 1,
    reuse_generated: bool = True,
) -> int:
    """Count the floating-point operations of one epoch (see `training_batch_flops`)."""
    full, rest = divmod(n_spectra, batch_size)
    total = full * training_batch_flops(
        architecture, batch_size, discriminator_steps, reuse_generated
    )
    if rest:
        total += training_batch_flops(architecture, rest, discriminator_steps, reuse_generated)
    return int(total)
