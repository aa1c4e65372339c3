"""A page's user messages: one catalogue of templates, shown in a bar above the page.

Each page declares every message it can show in one dict (key -> level and
template) and clears them before it recomputes, so a stale warning never
stays next to a new result.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from PySide6.QtCore import Qt, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

log = logging.getLogger(__name__)


class Level(enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


#: Background and border colours of each level.
LEVEL_STYLES = {
    Level.INFO: ("#e8f1fb", "#9bbce0"),
    Level.WARNING: ("#fff4d6", "#e0b94f"),
    Level.ERROR: ("#fde8e8", "#d98080"),
}


@dataclass(frozen=True)
class Message:
    """One entry of a page's catalogue: its level and a `str.format` template."""

    level: Level
    template: str


def info(template: str) -> Message:
    return Message(Level.INFO, template)


def warning(template: str) -> Message:
    return Message(Level.WARNING, template)


def error(template: str) -> Message:
    return Message(Level.ERROR, template)


class _MessageRow(QWidget):
    def __init__(self, level: Level, text: str, details: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.details = details
        background, border = LEVEL_STYLES[level]
        self.setObjectName("messageRow")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(
            f"#messageRow {{ background: {background}; border: 1px solid {border};"
            f" border-radius: 3px; }}"
        )
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        self.label = QLabel(text)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label, 1)
        if details:
            self.details_button = QPushButton("Show Details…")
            self.details_button.clicked.connect(self._show_details)
            layout.addWidget(self.details_button)

    @Slot()
    def _show_details(self) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("Details")
        box.setText(self.label.text())
        box.setDetailedText(self.details)
        box.exec()


class MessageBar(QWidget):
    """Shows the active messages of one page, at most one per catalogue key.

    Parameters
    ----------
    catalogue
        Every message the page can show: key -> `Message`.
    """

    def __init__(self, catalogue: dict[str, Message], parent: QWidget | None = None):
        super().__init__(parent)
        self.catalogue = dict(catalogue)
        self._rows: dict[str, _MessageRow] = {}
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(3)
        self.setVisible(False)

    def show_message(self, key: str, details: str = "", **values) -> str:
        """Show the message `key` filled with `values`, replacing any earlier one.

        `details` (such as a traceback) is shown only behind a "Show Details" button.
        Returns the text shown.
        """
        message = self.catalogue[key]
        text = message.template.format(**values)
        self.clear(key)
        row = _MessageRow(message.level, text, details, self)
        self._rows[key] = row
        self._layout.addWidget(row)
        self.setVisible(True)
        log.debug("message %s: %s", key, text)
        return text

    def clear(self, *keys: str) -> None:
        """Remove the messages `keys`, or every message when none is given."""
        for key in keys or tuple(self._rows):
            row = self._rows.pop(key, None)
            if row is not None:
                self._layout.removeWidget(row)
                row.deleteLater()
        self.setVisible(bool(self._rows))

    def active_keys(self) -> list[str]:
        """Return the keys of the messages shown now, oldest first."""
        return list(self._rows)

    def text(self, key: str | None = None) -> str:
        """Return the text of message `key`, or of every message joined by newlines."""
        if key is not None:
            row = self._rows.get(key)
            return row.label.text() if row is not None else ""
        return "\n".join(row.label.text() for row in self._rows.values())
