"""Readers for spectra files, picked by content first and extension second."""

from specgan_gui.io.base import ReadResult, read_spectra, read_many, supported_formats

__all__ = ["ReadResult", "read_spectra", "read_many", "supported_formats"]
