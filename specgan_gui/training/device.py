"""Choice of the torch device that training runs on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from specgan_gui.errors import SettingsError

if TYPE_CHECKING:
    # The functions import torch when called, so the window can read the
    # choices below without loading torch.
    import torch

logger = logging.getLogger(__name__)

#: Device names a user may choose in the settings.
DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str) -> torch.device:
    """Turn a device setting into a `torch.device`.

    Parameters
    ----------
    name
        ``"auto"`` (CUDA when a GPU is usable, else the CPU), ``"cpu"``,
        ``"cuda"`` or ``"cuda:N"`` for GPU number N.

    Raises
    ------
    SettingsError
        If the name is unknown, or CUDA is requested but not usable.
    """
    import torch

    text = str(name).strip().lower()
    if text == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        logger.debug("device 'auto' resolved to %s", device)
        return device
    if text == "cpu":
        return torch.device("cpu")
    if text == "cuda" or text.startswith("cuda:"):
        return _cuda_device(text)
    raise SettingsError(
        f"Unknown device {name!r}. Choose one of {', '.join(DEVICE_CHOICES)} "
        "(or cuda:N for GPU number N)."
    )


def _cuda_device(text: str) -> torch.device:
    import torch

    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            reason = f"this PyTorch build ({torch.__version__}) has no CUDA support"
        else:
            reason = "no usable NVIDIA GPU or driver was found"
        raise SettingsError(
            f"Device {text!r} was requested, but CUDA is not available: {reason}. "
            "Set the device to 'auto' or 'cpu' to train on the CPU."
        )
    try:
        device = torch.device(text)
    except RuntimeError as error:
        raise SettingsError(f"Invalid CUDA device {text!r}: {error}") from error
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise SettingsError(
            f"Device {text!r} was requested, but only {count} GPU(s) are available "
            f"(cuda:0 to cuda:{count - 1})."
        )
    return device


#: Precision names a user may choose in the settings.
PRECISION_CHOICES = ("auto", "float32", "bf16")


def resolve_precision(
    name: str, device: torch.device, bf16_supported: bool | None = None
) -> torch.dtype | None:
    """Turn a precision setting into the autocast dtype of training.

    Parameters
    ----------
    name
        ``"auto"`` (bf16 on a CUDA device that supports it, else float32),
        ``"float32"`` or ``"bf16"``.
    device
        The device that training runs on, from `resolve_device`.
    bf16_supported
        Whether the CUDA device supports bf16.  ``None`` queries
        `torch.cuda.is_bf16_supported`.

    Returns
    -------
    torch.dtype or None
        ``torch.bfloat16`` for mixed precision under `torch.autocast`, or
        ``None`` for plain float32.  Weights, gradients and Adam states stay
        float32 in both cases.

    Raises
    ------
    SettingsError
        If the name is unknown, or bf16 is requested on the CPU or on a GPU
        without bf16 support.
    """
    import torch

    text = str(name).strip().lower()
    if text not in PRECISION_CHOICES:
        raise SettingsError(
            f"Unknown precision {name!r}. Choose one of {', '.join(PRECISION_CHOICES)}."
        )
    if text == "float32":
        return None
    if device.type != "cuda":
        if text == "bf16":
            raise SettingsError(
                f"Precision 'bf16' is only available for training on a CUDA GPU, but the "
                f"device is {device}. Set the precision to 'auto' or 'float32'."
            )
        return None
    if bf16_supported is None:
        bf16_supported = torch.cuda.is_bf16_supported()
    if bf16_supported:
        logger.debug("precision %r resolved to bf16 on %s", text, device)
        return torch.bfloat16
    if text == "bf16":
        raise SettingsError(
            f"Precision 'bf16' was requested, but GPU {device} does not support bf16. "
            "Set the precision to 'auto' or 'float32'."
        )
    return None
