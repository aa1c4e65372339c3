"""Small modal questions and error boxes shared by the window and its pages.

They go through `QMessageBox.question` and `QMessageBox.exec`, so tests can
answer them by replacing those two methods.
"""

from __future__ import annotations

from PySide6.QtWidgets import QMessageBox, QWidget

Button = QMessageBox.StandardButton


def ask_save_discard_cancel(parent: QWidget | None, text: str) -> str:
    """Ask whether to save unsaved changes; return "save", "discard" or "cancel"."""
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        text,
        Button.Save | Button.Discard | Button.Cancel,
        Button.Save,
    )
    if answer == Button.Save:
        return "save"
    if answer == Button.Discard:
        return "discard"
    return "cancel"


def ask_yes_no(parent: QWidget | None, title: str, text: str, default_yes: bool = False) -> bool:
    """Ask a yes/no question; return True for Yes."""
    answer = QMessageBox.question(
        parent, title, text, Button.Yes | Button.No, Button.Yes if default_yes else Button.No
    )
    return answer == Button.Yes


def show_error(parent: QWidget | None, title: str, message: str, details: str = "") -> None:
    """Show an error box: a short message, with `details` only under "Show Details"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Critical)
    box.setWindowTitle(title)
    box.setText(message)
    if details:
        box.setDetailedText(details)
    box.exec()
