"""A settings form for one preprocessing step, built from the step's `ParamInfo` list.

`StepForm.set_step` builds one editor per parameter: spin boxes for numbers
(with the unit as suffix and the parameter's tooltip), a combo box for a
choice and a `WindowsEditor` for the windows of a range cut.  Every edit
emits `StepForm.params_changed` with the complete parameter dict, which
the page checks with the engine (`validate`) rather than here, so that the
form and the command line report the same problems in the same words.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.preprocessing import ParamInfo, StepInfo

#: Limit of spin boxes whose parameter has no bound; far beyond any spectral axis.
UNBOUNDED = 1e12
#: Largest value of an integer spin box without a maximum (Qt's int is 32-bit).
INT_LIMIT = 2**31 - 1
#: Printed forms of axis units, for spin box suffixes and column headers.
UNIT_TEXT = {"cm-1": "cm⁻¹", "index": ""}


def axis_unit_text(axis_unit: str) -> str:
    """Return an axis unit as a suffix shows it: ``cm⁻¹``, ``nm``, or "" for point indexes."""
    return UNIT_TEXT.get(axis_unit, axis_unit)


def decimals_for(axis: np.ndarray | None) -> int:
    """Return the decimals that resolve a tenth of the axis spacing (0 to 6)."""
    if axis is None or np.size(axis) < 2:
        return 2
    spacing = float(np.median(np.abs(np.diff(np.sort(np.asarray(axis, dtype=float))))))
    if not spacing > 0:
        return 2
    return int(min(6, max(0, math.ceil(-math.log10(spacing)) + 1)))


class ScientificSpinBox(QDoubleSpinBox):
    """A spin box for values that span decades: shows ``1e+05``; each step multiplies by 10."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        # Qt rounds a QDoubleSpinBox value to its decimals; 20 keeps 1e-6 intact.
        self.setDecimals(20)

    def textFromValue(self, value: float) -> str:  # noqa: N802 (Qt's name)
        return f"{value:g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 (Qt's name)
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, position: int):
        stripped = text.strip()
        try:
            value = float(stripped)
        except ValueError:
            # "1e" or "-" may still become a number while typing.
            if stripped in ("", "-", "+") or stripped[-1:] in ("e", "E", ".", "-", "+"):
                return QValidator.State.Intermediate, text, position
            return QValidator.State.Invalid, text, position
        if self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, position
        return QValidator.State.Intermediate, text, position

    def stepBy(self, steps: int) -> None:  # noqa: N802 (Qt's name)
        value = self.value() * 10.0**steps
        self.setValue(min(self.maximum(), max(self.minimum(), value)))


class WindowsEditor(QWidget):
    """A table of ``[low, high]`` axis windows with buttons to add and remove rows."""

    windows_changed = Signal()

    def __init__(self, unit: str = "", decimals: int = 2, parent: QWidget | None = None):
        super().__init__(parent)
        self.unit = unit
        self.decimals = decimals
        self._axis_range = (-UNBOUNDED, UNBOUNDED)
        self.table = QTableWidget(0, 2)
        suffix = f" ({unit})" if unit else ""
        self.table.setHorizontalHeaderLabels([f"From{suffix}", f"To{suffix}"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.add_button = QPushButton("Add window")
        self.add_button.setToolTip("Add a window after the last one.")
        self.add_button.clicked.connect(self._on_add_clicked)
        self.remove_button = QPushButton("Remove window")
        self.remove_button.setToolTip("Remove the selected window (one must remain).")
        self.remove_button.clicked.connect(self._on_remove_clicked)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def set_axis_range(self, low: float, high: float) -> None:
        """Set the axis range that a new window covers."""
        self._axis_range = (low, high)

    def set_windows(self, windows: list[list[float]]) -> None:
        """Show `windows` without emitting `windows_changed`."""
        self.blockSignals(True)
        try:
            self.table.setRowCount(0)
            for low, high in windows:
                self._append_row(low, high)
        finally:
            self.blockSignals(False)
        self._fit_height()
        self._update_buttons()

    def windows(self) -> list[list[float]]:
        """Return the windows in table order as ``[[low, high], ...]``."""
        return [
            [self.spinbox(row, 0).value(), self.spinbox(row, 1).value()]
            for row in range(self.table.rowCount())
        ]

    def spinbox(self, row: int, column: int) -> QDoubleSpinBox:
        """Return the spin box of one bound (column 0 the low, 1 the high end)."""
        return self.table.cellWidget(row, column)

    def _append_row(self, low: float, high: float) -> None:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, value in enumerate((low, high)):
            spinbox = QDoubleSpinBox()
            spinbox.setDecimals(self.decimals)
            spinbox.setRange(-UNBOUNDED, UNBOUNDED)
            spinbox.setValue(float(value))
            spinbox.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
            spinbox.setToolTip(
                "Lowest axis value kept (inclusive)." if column == 0
                else "Highest axis value kept (inclusive)."
            )
            spinbox.valueChanged.connect(self._on_value_changed)
            self.table.setCellWidget(row, column, spinbox)

    def _fit_height(self) -> None:
        rows = max(1, self.table.rowCount())
        header = self.table.horizontalHeader().sizeHint().height()
        row_height = self.table.verticalHeader().defaultSectionSize()
        self.table.setFixedHeight(header + min(rows, 4) * row_height + 2 * self.table.frameWidth())

    def _update_buttons(self) -> None:
        self.remove_button.setEnabled(self.table.rowCount() > 1)

    @Slot()
    def _on_value_changed(self, _value: float = 0.0) -> None:
        self.windows_changed.emit()

    @Slot()
    def _on_add_clicked(self) -> None:
        low, high = self._axis_range
        windows = self.windows()
        if windows:
            # The new window starts halfway between the last window's end and the axis end.
            start = max(window[1] for window in windows)
            low = start + (high - start) / 2 if start < high else low
        self._append_row(low, high)
        self._fit_height()
        self._update_buttons()
        self.windows_changed.emit()

    @Slot()
    def _on_remove_clicked(self) -> None:
        if self.table.rowCount() <= 1:
            return
        row = self.table.currentRow()
        self.table.removeRow(row if row >= 0 else self.table.rowCount() - 1)
        self._fit_height()
        self._update_buttons()
        self.windows_changed.emit()


class StepForm(QWidget):
    """The parameter editors of one step; emits `params_changed` with every edit."""

    #: The complete parameter dict after an edit.
    params_changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.info: StepInfo | None = None
        self.editors: dict[str, QWidget] = {}
        self._filling = False
        self.title_label = QLabel()
        self.title_label.setWordWrap(True)
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title_label)
        layout.addWidget(self.description_label)
        layout.addLayout(self.form)
        self.clear()

    def clear(self, text: str = "Select a step to edit its parameters.") -> None:
        """Remove every editor and show `text` instead."""
        self.info = None
        self.editors = {}
        while self.form.rowCount():
            self.form.removeRow(0)
        self.title_label.setText("")
        self.description_label.setText(text)

    def set_step(self, info: StepInfo, params: dict, axis_unit: str = "",
                 axis: np.ndarray | None = None) -> None:
        """Build the editors of step kind `info`, filled with `params`.

        `axis_unit` replaces the generic unit "axis units"; `axis`, the axis
        the step receives, sets the decimals and the range of a new window.
        """
        self.clear()
        self.info = info
        self.title_label.setText(f"<b>{info.label}</b>")
        self.description_label.setText(info.description)
        unit = axis_unit_text(axis_unit)
        self._filling = True
        try:
            for param in info.params:
                editor = self._make_editor(param, unit, axis)
                self._fill(param, editor, params.get(param.name, param.default))
                self.editors[param.name] = editor
                label = QLabel(f"{param.label}:")
                label.setToolTip(editor.toolTip())
                self.form.addRow(label, editor)
        finally:
            self._filling = False
        if not info.params:
            self.form.addRow(QLabel("This step has no parameters."))

    def params(self) -> dict:
        """Return the parameters as the editors show them."""
        if self.info is None:
            return {}
        values = {}
        for param in self.info.params:
            editor = self.editors[param.name]
            if isinstance(editor, WindowsEditor):
                values[param.name] = editor.windows()
            elif isinstance(editor, QComboBox):
                values[param.name] = editor.currentData()
            elif isinstance(editor, QSpinBox):
                values[param.name] = int(editor.value())
            else:
                values[param.name] = float(editor.value())
        return values

    # --- editors ---------------------------------------------------------------
    def _make_editor(self, param: ParamInfo, unit: str, axis: np.ndarray | None) -> QWidget:
        shown_unit = unit if param.unit == "axis units" else param.unit
        tooltip = _tooltip(param, shown_unit)
        if param.type == "windows":
            editor = WindowsEditor(shown_unit, decimals_for(axis))
            if axis is not None and np.size(axis):
                editor.set_axis_range(float(np.min(axis)), float(np.max(axis)))
            editor.windows_changed.connect(self._on_edited)
        elif param.type == "choice":
            editor = QComboBox()
            for value, label in param.choices:
                editor.addItem(label, value)
            editor.currentIndexChanged.connect(self._on_edited)
        elif param.type == "int":
            editor = QSpinBox()
            editor.setRange(
                int(param.minimum) if param.minimum is not None else -INT_LIMIT,
                int(param.maximum) if param.maximum is not None else INT_LIMIT,
            )
            if param.odd:
                # Steps of two keep an odd window odd.
                editor.setSingleStep(2)
            editor.valueChanged.connect(self._on_edited)
        elif param.log:
            editor = ScientificSpinBox()
            editor.setRange(
                param.minimum if param.minimum is not None else -UNBOUNDED,
                param.maximum if param.maximum is not None else UNBOUNDED,
            )
            editor.valueChanged.connect(self._on_edited)
        else:
            editor = QDoubleSpinBox()
            editor.setDecimals(decimals_for(axis) if param.unit == "axis units" else 4)
            editor.setRange(
                param.minimum if param.minimum is not None else -UNBOUNDED,
                param.maximum if param.maximum is not None else UNBOUNDED,
            )
            editor.valueChanged.connect(self._on_edited)
        if isinstance(editor, QAbstractSpinBox):
            editor.setAccelerated(True)
            if shown_unit:
                editor.setSuffix(f" {shown_unit}")
        editor.setToolTip(tooltip)
        return editor

    def _fill(self, param: ParamInfo, editor: QWidget, value) -> None:
        if value is None:
            return
        if isinstance(editor, WindowsEditor):
            editor.set_windows(value)
        elif isinstance(editor, QComboBox):
            index = editor.findData(str(value))
            editor.setCurrentIndex(max(index, 0))
        elif isinstance(editor, QSpinBox):
            editor.setValue(int(value))
        else:
            editor.setValue(float(value))

    @Slot()
    def _on_edited(self, *_args) -> None:
        if self._filling:
            return
        self.params_changed.emit(self.params())


def _tooltip(param: ParamInfo, unit: str) -> str:
    """Return the editor tooltip: what the parameter does, then its unit and range."""
    parts = [param.tooltip] if param.tooltip else []
    if param.type in ("int", "float"):
        bounds = []
        if param.minimum is not None:
            bounds.append(f"at least {param.minimum:g}")
        if param.maximum is not None:
            bounds.append(f"at most {param.maximum:g}")
        if param.odd:
            bounds.append("odd")
        facts = ", ".join(bounds)
        if unit:
            facts = f"in {unit}" + (f"; {facts}" if facts else "")
        if facts:
            parts.append(f"({facts[:1].upper()}{facts[1:]}.)")
    return " ".join(parts)
