"""The window's persistent settings store (geometry, recent folders)."""

from __future__ import annotations

from PySide6.QtCore import QSettings

APPLICATION_NAME = "SpecGAN"
ORGANIZATION_NAME = "specgan_gui"


def window_settings() -> QSettings:
    """Return the QSettings store of window geometry and recent folders."""
    return QSettings(ORGANIZATION_NAME, APPLICATION_NAME)
