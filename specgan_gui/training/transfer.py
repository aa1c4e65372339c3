"""Transfer networks: the GAN discriminator's trunk with a new output head.

A `TransferNetwork` has the discriminator's two convolutions and its
Dense(1024) layer under the same names (``conv1``, ``conv2``, ``dense``),
so a checkpoint's discriminator state loads into it by name.  A new Linear
``head`` gives one output per target (regression) or per class
(classification).  "From scratch" is the same network without a loaded
trunk, so the comparison isolates what the GAN training contributed.

Regression targets are standardised on the training samples before
fitting (mean 0, standard deviation 1) and predictions are mapped back.
`TargetCoding` stores those numbers, or the sorted class labels, so a saved
model repeats them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from specgan_gui.errors import SettingsError
from specgan_gui.models.gan1d import (
    DENSE_INIT_STD,
    TRUNK_PREFIXES,
    Discriminator,
    GANArchitecture,
    pad_array,
    pooled_tanh,
)
from specgan_gui.training.device import keep_freed_memory

# The settings live in a torch-free module so that the window starts without
# torch.  Importing them here keeps `transfer` imports working.
from specgan_gui.training.transfer_settings import (  # noqa: F401
    CV_SCHEMES,
    INTEGER_RANGES,
    TASKS,
    VALIDATION_FRACTION_RANGE,
    TransferSettings,
)

logger = logging.getLogger(__name__)


class TransferNetwork(nn.Module):
    """Discriminator trunk plus a new head: ``(batch, 1, padded_points)`` to outputs.

    Parameters
    ----------
    architecture
        The GAN architecture whose discriminator supplies the trunk.
    n_outputs
        The number of regression targets, or the number of classes.
    head_units
        0 for a linear ``head`` on the Dense features; N > 0 adds a layer
        ``hidden`` (Linear to N units, then ReLU) before ``head``.  Models
        stored before this option have no ``hidden.*`` weights and load as 0.
    """

    def __init__(self, architecture: GANArchitecture, n_outputs: int, head_units: int = 0):
        super().__init__()
        if n_outputs < 1:
            raise ValueError(f"a transfer network needs at least one output, got {n_outputs}")
        if head_units < 0:
            raise ValueError(f"head_units must be 0 or more, got {head_units}")
        self.architecture = architecture
        self.n_outputs = int(n_outputs)
        self.head_units = int(head_units)
        # Borrow the layers of a freshly initialised discriminator, so "from
        # scratch" starts exactly as an untrained GAN discriminator would.
        discriminator = Discriminator(architecture)
        self.conv1 = discriminator.conv1
        self.pool = discriminator.pool
        self.conv2 = discriminator.conv2
        self.dense = discriminator.dense
        head_inputs = architecture.hidden_units
        self.hidden: nn.Linear | None = None
        if self.head_units:
            # Kaiming (PyTorch's default) initialisation suits the ReLU that follows.
            self.hidden = nn.Linear(architecture.hidden_units, self.head_units)
            head_inputs = self.head_units
        self.head = nn.Linear(head_inputs, self.n_outputs)
        nn.init.normal_(self.head.weight, mean=0.0, std=DENSE_INIT_STD)
        nn.init.zeros_(self.head.bias)

    def trunk_parameters(self) -> dict[str, nn.Parameter]:
        """Return the trunk's parameters by state-dict name (``conv1.weight``, ...)."""
        return {
            name: parameter
            for name, parameter in self.named_parameters()
            if name.startswith(TRUNK_PREFIXES)
        }

    def load_trunk(self, discriminator_state: dict[str, np.ndarray]) -> None:
        """Copy ``conv1.*``, ``conv2.*`` and ``dense.*`` from a discriminator state.

        Raises
        ------
        SettingsError
            When a trunk weight is missing from the state or has another
            shape, which happens when the checkpoint was trained on spectra
            of another length or with other layer sizes.
        """
        own = self.state_dict()
        tensors = {}
        for name, target in own.items():
            if not name.startswith(TRUNK_PREFIXES):
                continue
            if name not in discriminator_state:
                raise SettingsError(
                    f"The checkpoint has no discriminator weight {name}, so it cannot "
                    f"supply the transfer network's trunk. Choose a checkpoint of a "
                    f"GAN1D discriminator."
                )
            array = np.asarray(discriminator_state[name])
            if tuple(array.shape) != tuple(target.shape):
                raise SettingsError(
                    f"The checkpoint's discriminator weight {name} has shape "
                    f"{tuple(array.shape)} but this transfer network needs "
                    f"{tuple(target.shape)} (spectra of {self.architecture.n_points} "
                    f"points, {self.architecture.discriminator_filters} filters, "
                    f"{self.architecture.hidden_units} hidden units). The GAN was "
                    f"trained on spectra of another length or with other layer sizes. "
                    f"Use the preprocessing and architecture it was trained with."
                )
            tensors[name] = torch.from_numpy(array.copy()).to(target.dtype)
        self.load_state_dict(tensors, strict=False)

    def freeze_trunk(self) -> None:
        """Exclude the trunk from training, so only the head learns."""
        for parameter in self.trunk_parameters().values():
            parameter.requires_grad_(False)

    def features(self, spectra: torch.Tensor) -> torch.Tensor:
        """Return the trunk's Dense activations, ``(batch, hidden_units)``."""
        x = pooled_tanh(self.pool, self.conv1(spectra))  # (batch, filters, L/2)
        x = pooled_tanh(self.pool, self.conv2(x))  # (batch, 32, L/4)
        return torch.tanh(self.dense(x.flatten(1)))  # (batch, hidden)

    def forward(self, spectra: torch.Tensor) -> torch.Tensor:
        return self.head_outputs(self.features(spectra))  # (batch, n_outputs)

    def head_outputs(self, features: torch.Tensor) -> torch.Tensor:
        """Return the outputs for Dense features ``(batch, hidden_units)``."""
        if self.hidden is not None:
            features = torch.relu(self.hidden(features))  # (batch, head_units)
        return self.head(features)  # (batch, n_outputs)


def build_network(
    architecture: GANArchitecture,
    n_outputs: int,
    seed: int,
    discriminator_state: dict[str, np.ndarray] | None = None,
    freeze_trunk: bool = False,
    head_units: int = 0,
) -> TransferNetwork:
    """Create a seeded transfer network, optionally loading a GAN trunk.

    The seed is applied inside a forked random state, so building a network
    does not change the caller's global torch random numbers.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        network = TransferNetwork(architecture, n_outputs, head_units)
    if discriminator_state is not None:
        network.load_trunk(discriminator_state)
        if freeze_trunk:
            network.freeze_trunk()
    return network


@dataclass
class TargetCoding:
    """Conversion of reference values to network targets and of outputs back to values.

    Attributes
    ----------
    task
        ``"regression"`` or ``"classification"``.
    mean, std
        Mean and standard deviation of the training targets (regression).
    classes
        Sorted class labels (classification). Output ``i`` is ``classes[i]``.
    """

    task: str
    mean: float = 0.0
    std: float = 1.0
    classes: tuple[str, ...] = ()

    @classmethod
    def fit(
        cls, task: str, values: np.ndarray, classes: Sequence[str] | None = None
    ) -> TargetCoding:
        """Learn the coding from training targets.

        For classification, `classes` may fix the label set (all classes of
        the data set), so every fold's network has the same outputs even
        when a class is missing from a training fold.
        """
        if task == "regression":
            values = np.asarray(values, dtype=np.float64)
            std = float(np.std(values))
            # A constant target cannot be scaled; keep the unit instead of
            # dividing by zero.
            return cls(task, float(np.mean(values)), std if std > 0 else 1.0)
        if classes is None:
            classes = np.unique(np.asarray(values, dtype=str))
        return cls(task, classes=tuple(str(c) for c in sorted(classes)))

    @property
    def n_outputs(self) -> int:
        return 1 if self.task == "regression" else len(self.classes)

    def encode(self, values: np.ndarray) -> np.ndarray:
        """Return standardised floats (regression) or class indices (classification)."""
        if self.task == "regression":
            return (np.asarray(values, dtype=np.float64) - self.mean) / self.std
        index = {c: i for i, c in enumerate(self.classes)}
        return np.array([index[str(v)] for v in values], dtype=np.int64)

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Map network outputs ``(n, n_outputs)`` to values or class labels ``(n,)``."""
        outputs = np.asarray(outputs, dtype=np.float64)
        if self.task == "regression":
            return outputs.reshape(len(outputs), -1)[:, 0] * self.std + self.mean
        return np.asarray(self.classes, dtype=str)[np.argmax(outputs, axis=1)]


def network_inputs(spectra: np.ndarray, architecture: GANArchitecture) -> torch.Tensor:
    """Return preprocessed spectra ``(n, points)`` as ``(n, 1, padded_points)`` float32."""
    spectra = np.asarray(spectra, dtype=np.float64)
    if spectra.shape[1] != architecture.n_points:
        raise SettingsError(
            f"The preprocessed spectra have {spectra.shape[1]} points but the network "
            f"was built for {architecture.n_points}. Use the preprocessing the network "
            f"was trained with."
        )
    padded = pad_array(spectra, architecture.padded_points)
    return torch.from_numpy(padded.astype(np.float32)).unsqueeze(1)


@dataclass
class FitReport:
    """Record of one network fit.

    Attributes
    ----------
    losses
        Mean training loss per epoch run.
    validation_losses
        Validation loss per epoch run (empty without a validation split).
    epochs_run
        Epochs trained before the maximum or early stopping ended the fit.
    best_epoch
        Epoch whose weights the network has at the end: the epoch of the
        lowest validation loss with early stopping, else the last epoch.
    """

    losses: list[float]
    validation_losses: list[float]
    epochs_run: int
    best_epoch: int


def fit_network(
    network: TransferNetwork,
    spectra: np.ndarray,
    targets: np.ndarray,
    task: str,
    settings: TransferSettings,
    device: torch.device,
    on_epoch: Callable[[int, float], None] | None = None,
) -> list[float]:
    """Train a network in place for ``settings.epochs`` epochs and return the loss per epoch.

    It calls `train_network` without a validation split.
    """
    return train_network(network, spectra, targets, task, settings, device, on_epoch).losses


def train_network(
    network: TransferNetwork,
    spectra: np.ndarray,
    targets: np.ndarray,
    task: str,
    settings: TransferSettings,
    device: torch.device,
    on_epoch: Callable[[int, float], None] | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    epochs: int | None = None,
    seed: int | None = None,
) -> FitReport:
    """Train a network in place with Adam on mini-batches.

    Parameters
    ----------
    spectra
        Preprocessed spectra ``(n, points)``, unpadded.
    targets
        Output of `TargetCoding.encode`: standardised floats ``(n,)`` or
        ``(n, n_targets)`` (regression, mean squared error) or class
        indices (classification, cross-entropy).
    on_epoch
        Called after each epoch with the count of completed epochs and the
        mean loss. The comparison uses it to report progress and to stop.
    validation
        Encoded ``(spectra, targets)`` for early stopping: training stops
        when their loss has not improved for ``settings.patience`` epochs,
        and the weights of the best epoch are restored.
    epochs
        Maximum epochs; ``settings.epochs`` when None.
    seed
        Seed of the batch order; ``settings.seed`` when None.
    """
    max_epochs = settings.epochs if epochs is None else int(epochs)
    if torch.device(device).type == "cpu":
        keep_freed_memory()
    network.to(device)
    network.train()
    inputs = network_inputs(spectra, network.architecture).to(device)
    labels = _labels(targets, task).to(device)
    loss_function: nn.Module = nn.MSELoss() if task == "regression" else nn.CrossEntropyLoss()
    validation_inputs = validation_labels = None
    if validation is not None:
        validation_inputs = network_inputs(validation[0], network.architecture).to(device)
        validation_labels = _labels(validation[1], task).to(device)
    model: Callable[[torch.Tensor], torch.Tensor] = network
    if not any(p.requires_grad for p in network.trunk_parameters().values()):
        # A frozen trunk (no dropout or batch norm) maps each spectrum to fixed
        # features, so they are computed once and only the head trains.
        model = network.head_outputs
        with torch.no_grad():
            inputs = network.features(inputs)
            if validation_inputs is not None:
                validation_inputs = network.features(validation_inputs)
    trainable = [p for p in network.parameters() if p.requires_grad]
    # Fused Adam: about 5x faster than foreach for the 15 M trunk weights on a CPU.
    optimizer = torch.optim.Adam(trainable, lr=settings.learning_rate, fused=True)
    # Batch order comes from its own seeded generator (on the CPU, where
    # randperm is reproducible), independent of the global random state.
    generator = torch.Generator().manual_seed(settings.seed if seed is None else int(seed))

    n_samples = inputs.shape[0]
    losses: list[float] = []
    validation_losses: list[float] = []
    best_loss = math.inf
    best_epoch = 0
    best_state: dict[str, torch.Tensor] | None = None
    for epoch in range(1, max_epochs + 1):
        network.train()
        order = torch.randperm(n_samples, generator=generator).to(device)
        total = 0.0
        for start in range(0, n_samples, settings.batch_size):
            batch = order[start:start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_function(model(inputs[batch]), labels[batch])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        losses.append(total / n_samples)
        if validation_inputs is not None:
            network.eval()
            with torch.no_grad():
                validation_loss = float(
                    loss_function(model(validation_inputs), validation_labels)
                )
            validation_losses.append(validation_loss)
            if validation_loss < best_loss:
                best_loss, best_epoch = validation_loss, epoch
                best_state = {k: v.detach().clone() for k, v in network.state_dict().items()}
        if on_epoch is not None:
            on_epoch(epoch, losses[-1])
        if validation_inputs is not None and epoch - best_epoch >= settings.patience:
            break
    epochs_run = len(losses)
    if best_state is not None:
        network.load_state_dict(best_state)
    else:
        best_epoch = epochs_run
    network.eval()
    logger.debug(
        "fitted %d epochs (best %d), final loss %.4g", epochs_run, best_epoch, losses[-1]
    )
    return FitReport(losses, validation_losses, epochs_run, best_epoch)


def _labels(targets: np.ndarray, task: str) -> torch.Tensor:
    if task == "regression":
        values = np.asarray(targets, dtype=np.float32)
        return torch.as_tensor(values.reshape(len(values), -1))  # (n, n_targets)
    return torch.as_tensor(np.asarray(targets, dtype=np.int64))


def network_outputs(
    network: TransferNetwork, spectra: np.ndarray, device: torch.device | None = None,
    batch_size: int = 256,
) -> np.ndarray:
    """Return raw outputs ``(n, n_outputs)`` for preprocessed spectra ``(n, points)``."""
    if device is None:
        device = next(network.parameters()).device
    network.eval()
    inputs = network_inputs(spectra, network.architecture)
    outputs = []
    with torch.no_grad():
        for start in range(0, inputs.shape[0], batch_size):
            batch = inputs[start:start + batch_size].to(device)
            outputs.append(network(batch).cpu().numpy())
    return np.concatenate(outputs).astype(np.float64)

