"""In-memory spectral data and preprocessing; no Qt, no torch."""

from specgan_gui.data.dataset import SpectralDataset

__all__ = ["SpectralDataset"]
