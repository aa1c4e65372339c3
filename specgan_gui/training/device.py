"""Choice of the torch device that training runs on."""

from __future__ import annotations

import ctypes
import logging
import os
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


#: Set to "0" to leave glibc's default memory release untouched.
KEEP_FREED_MEMORY_VARIABLE = "SPECGAN_KEEP_FREED_MEMORY"

#: The result of the first `keep_freed_memory` call; None before it.
_freed_memory_setting: bool | None = None


def keep_freed_memory() -> bool:
    """Let this process reuse freed memory instead of handing it back to the system.

    glibc serves every allocation above 32 MB with its own ``mmap`` and
    unmaps it when freed.  A training step frees and allocates several
    such blocks: the 61 MB gradient of each large Dense layer and the 38 MB
    activations of the first convolution.  Each new block then starts with
    page faults on fresh pages, which the kernel fills with zeros.  On a
    2-core CPU that cost about a quarter of every GAN epoch: writing a new
    61 MB weight gradient took 20 ms against 6 ms into reused memory.

    This turns off ``mmap`` for allocations (``M_MMAP_MAX = 0``) and never
    trims the heap (``M_TRIM_THRESHOLD``), so freed blocks stay with the
    process and are reused.  It also keeps every thread on the main memory
    arena (``M_ARENA_MAX = 1``).  glibc gives other threads arenas of 64 MB
    heaps and unmaps a heap once it is empty, whatever the trim setting.
    Training in a worker thread then paid the page faults again: it was 4 %
    slower than in the main thread, and equal with one arena.  Threads bound
    to an arena before the first call keep it, so the window makes the call
    before it starts any thread.

    The price is that resident memory stays at its peak until the process
    exits.  The setting applies to the whole process and is made once;
    later calls return the first result.  It does nothing
    outside glibc (macOS, Windows, musl) or when the environment variable
    ``SPECGAN_KEEP_FREED_MEMORY`` is ``0``.

    Returns
    -------
    bool
        Whether the setting is in effect.
    """
    global _freed_memory_setting
    if _freed_memory_setting is not None:
        return _freed_memory_setting
    _freed_memory_setting = False
    if os.environ.get(KEEP_FREED_MEMORY_VARIABLE, "1").strip() == "0":
        logger.debug("freed memory is returned to the system (%s=0)", KEEP_FREED_MEMORY_VARIABLE)
        return False
    try:
        glibc = os.confstr("CS_GNU_LIBC_VERSION")
    except (AttributeError, ValueError, OSError):
        glibc = None
    if not glibc:
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    # mallopt parameter numbers from glibc's malloc.h; it returns 1 on success.
    m_trim_threshold, m_mmap_max, m_arena_max = -1, -4, -8
    applied = all(
        libc.mallopt(parameter, value) == 1
        for parameter, value in ((m_trim_threshold, 2**31 - 1), (m_mmap_max, 0), (m_arena_max, 1))
    )
    _freed_memory_setting = applied
    logger.debug("freed memory reused: %s", applied)
    return applied
