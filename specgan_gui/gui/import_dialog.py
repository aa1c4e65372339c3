"""The import preview: what the selected files hold, shown before they enter the project.

The dialog reads the files in a worker thread (`specgan_gui.io.importer.preview_import`).
Per file it shows the detected format, the number of spectra, the axis range and unit,
the y unit, the sample ids and every warning or error.  For all files together it shows
how their axes combine (same axis, resampled, or rejected and why) and plots the spectra.
Each change of an option reads the files again, after a short delay, so that typing an
id pattern does not start one read per key press.  OK turns the current preview into an
`ImportResult` (`finish_import`) and joins the reference table, if one was chosen.
Cancel leaves the project untouched.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import AXIS_UNITS, axis_label
from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages, plots
from specgan_gui.gui.settings import window_settings
from specgan_gui.gui.worker import TaskRunner
from specgan_gui.io.base import pick_reader, read_spectra
from specgan_gui.io.importer import (
    ImportOptions,
    ImportPreview,
    ImportResult,
    compile_id_pattern,
    finish_import,
    guess_id_column,
    id_from_stem,
    preview_import,
    scan_files,
)
from specgan_gui.io.table import read_reference_table

log = logging.getLogger(__name__)

REFERENCE_FILTER = "Reference tables (*.csv *.tsv *.txt *.xlsx);;All files (*)"
ROW_ORDER = "(match rows in import order)"
#: Delay between the last option change and the new preview, so typing stays smooth.
PREVIEW_DELAY_MS = 350
#: Maximum spectra drawn in the preview plot; more only slow the drawing down.
MAX_PLOTTED_SPECTRA = 300
#: Maximum number of files with a legend entry each; with more, only the title counts them.
MAX_LEGEND_FILES = 8
#: Items named in one line of the dialog before "and N more".
MAX_LISTED = 12
#: Settings key of the last value column chosen for multi-column text files.
VALUE_COLUMN_SETTING = "import/value_column"
#: Reader name of text files with x and intensity columns (`TextColumnsReader.name`).
TEXT_COLUMNS_READER = "Text columns (x, y)"
#: Bruker OPUS data blocks the reader can be asked for, with what each contains.
OPUS_BLOCKS = {
    "AB": "absorbance or other ratio result (AB)",
    "ScSm": "sample single channel (ScSm)",
    "ScRf": "reference single channel, the background (ScRf)",
    "IgSm": "sample interferogram (IgSm)",
    "IgRf": "reference interferogram (IgRf)",
    "PhSm": "sample phase (PhSm)",
    "PhRf": "reference phase (PhRf)",
}
ID_SOURCE_LABELS = {
    "auto": "Automatic",
    "filename": "File name",
    "metadata": "Sample name stored in the file",
    "table": "Ids written in the file",
}
Y_UNIT_LABELS = {
    None: "As the files state it",
    "absorbance": "Absorbance",
    "transmittance": "Transmittance (fraction 0–1)",
    "%T": "Transmittance (%T)",
}
#: Colour of the text of a file row that failed.
ERROR_TEXT_COLOR = "#a11d1d"

FILE_COLUMNS = ("File", "Format", "Spectra", "Axis (points)", "Y unit", "Sample ids",
                "Problems and notes")

MESSAGES = {
    "reading": messages.info("{text}"),
    "options_invalid": messages.error("{error}"),
    "preview_failed": messages.error("The files could not be previewed. {error}"),
    "no_spectra": messages.error("{error}"),
    "axis_same": messages.info("{text}"),
    "axis_resampled": messages.warning("{text}"),
    "axis_rejected": messages.error("Nothing can be imported with these choices. {text}"),
    "failed_files": messages.warning(
        "{failed} of {total} files could not be read (the table shows why, in red): "
        "{names}. Import reads the other {ok_files} files ({spectra} spectra) and leaves "
        "these out."
    ),
    "failed_files_only": messages.warning(
        "{failed} of {total} files could not be read (the table shows why, in red): {names}."
    ),
    "left_out": messages.warning(
        "Left out, because no reader recognises their content: {names}."
    ),
    "notices": messages.info("{text}"),
    "warnings": messages.warning("{text}"),
    "references": messages.info("{text}"),
    "reference_warnings": messages.warning("{text}"),
    "references_failed": messages.error("The reference table cannot be used. {error}"),
    "import_failed": messages.error("The import failed. {error}"),
}


#: Messages that describe one preview; each new preview replaces them.
PREVIEW_MESSAGES = (
    "reading", "preview_failed", "no_spectra", "axis_same", "axis_resampled", "axis_rejected",
    "failed_files", "failed_files_only", "left_out", "notices", "warnings",
)


@dataclass
class PreviewOutcome:
    """Result of one preview task, built in the worker thread."""

    generation: int
    preview: ImportPreview
    options: ImportOptions
    #: Intensity columns of the first multi-column text file, or None when not probed.
    value_columns: list[str] | None


def probe_value_columns(paths) -> list[str]:
    """Return the intensity column names of the first text-column file among `paths`.

    Reads that one file with every column as a spectrum.  Returns an empty list
    when no file is a text-column file or the probe fails (the preview itself
    then shows the file's error).
    """
    for path in paths:
        try:
            if pick_reader(path).name != TEXT_COLUMNS_READER:
                continue
            result = read_spectra(path, column="all")
        except SpecganError:
            continue
        stem = Path(path).stem
        ids = [s for block in result.blocks for s in block.sample_ids]
        if len(ids) == 1:
            return [str(result.blocks[0].metadata.get("column", ""))]
        # The reader names each spectrum "<stem>: <column name>".
        prefix = f"{stem}: "
        return [s[len(prefix):] if s.startswith(prefix) else s for s in ids]
    return []


def column_option(name: str) -> str | int:
    """Return the reader's `column` option for a column label ("column 3" becomes 3)."""
    match = re.fullmatch(r"column (\d+)", name)
    return int(match.group(1)) if match else name


def _preview_task(generation: int, paths: list[Path], options: ImportOptions,
                  probe: bool, remembered_column: str, task_state) -> PreviewOutcome:
    """Scan, probe the value columns once, then preview; runs in the worker thread."""
    task_state.report(0.0, "Looking for spectra files…")
    scan = scan_files(paths, options.recursive)
    columns = None
    if probe:
        columns = probe_value_columns(scan.files)
        if options.column is None and remembered_column and remembered_column in columns:
            options.column = column_option(remembered_column)

    def progress(done: int, total: int, name: str) -> None:
        task_state.report(done / max(total, 1), f"Read {done} of {total} files ({name}).")
        # Raises `Cancelled` when the options changed or the dialog closed meanwhile.
        task_state.checkpoint()

    preview = preview_import(scan, options, progress=progress)
    return PreviewOutcome(generation, preview, options, columns)


def _count(number: int, noun: str, plural: str = "") -> str:
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def _listed(items, limit: int = MAX_LISTED) -> str:
    items = [str(i) for i in items]
    text = ", ".join(items[:limit])
    if len(items) > limit:
        text += f" and {len(items) - limit} more"
    return text


def short_format(text: str) -> str:
    """Return a reader's format description cut to its name and first detail.

    ``Text columns (x, y) (comma-separated, decimal point; …)`` becomes
    ``Text columns (x, y)``; the table shows the full text as a tooltip.
    """
    match = re.match(r"([^(]*?)\s*\(([^()]*)\)", text)
    if match is None:
        return text
    name, detail = match.group(1).strip(), match.group(2).strip()
    if not name:
        return text
    return f"{name} ({detail})" if len(detail) <= 24 else name


def y_axis_label(y_unit: str) -> str:
    """Return the y-axis label for a y unit, or one stating that the unit is unknown."""
    if not y_unit:
        return "Intensity (unit not stated)"
    return y_unit[:1].upper() + y_unit[1:]


class ImportPreviewDialog(QDialog):
    """Preview of the files to import, with the choices that change how they are read.

    Parameters
    ----------
    paths
        Files and folders to import (folders are searched for spectra files).
    options
        Starting import options; default `ImportOptions()`.
    parent
        The parent widget (the Data page).

    After ``exec()`` returns Accepted, `import_result` contains the data to put
    into the project.  Call `stop_preview` before the dialog is deleted, so no
    preview thread outlives it (`done` does so for OK and Cancel).
    """

    def __init__(self, paths, options: ImportOptions | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Import spectra: preview")
        self.paths = [Path(p) for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
        self._options = options or ImportOptions()
        self.preview: ImportPreview | None = None
        self.import_result: ImportResult | None = None
        self.reference_path: Path | None = None
        self.reference_table: pd.DataFrame | None = None
        self._value_columns: list[str] | None = None
        self._generation = 0
        self._shown_generation = -1
        self._generation_started = -1
        self._closed = False  # set by `stop_preview`: no new preview may start
        self._updating = False
        self._options_valid = True
        self.runner = TaskRunner(self, name="import preview")
        self.runner.finished.connect(self._on_preview_finished)
        self.runner.failed.connect(self._on_preview_failed)
        self.runner.cancelled.connect(self._on_preview_cancelled)
        self.runner.progress.connect(self._on_progress)
        self._delay = QTimer(self)
        self._delay.setSingleShot(True)
        self._delay.setInterval(PREVIEW_DELAY_MS)
        self._delay.timeout.connect(self._start_preview)
        self._build()
        self._set_controls_from_options(self._options)
        self.resize(1280, 820)
        self._request_preview(delay=False)

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        self.messages = messages.MessageBar(MESSAGES)
        message_holder = QWidget()
        message_layout = QVBoxLayout(message_holder)
        message_layout.setContentsMargins(0, 0, 0, 0)
        message_layout.addWidget(self.messages)
        message_layout.addStretch(1)
        message_area = QScrollArea()
        message_area.setWidgetResizable(True)
        message_area.setWidget(message_holder)
        message_area.setFrameShape(QScrollArea.Shape.NoFrame)
        message_area.setMinimumHeight(90)

        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plot = plots.make_plot_widget("Axis", "Intensity", legend=True)

        self.file_table = QTableWidget(0, len(FILE_COLUMNS))
        self.file_table.setHorizontalHeaderLabels(FILE_COLUMNS)
        self.file_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.file_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.file_table.setAlternatingRowColors(True)
        # One line per file; the full text is in the tooltip and in the details below.
        self.file_table.setWordWrap(False)
        self.file_table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.file_table.verticalHeader().setVisible(False)
        header = self.file_table.horizontalHeader()
        for column in range(len(FILE_COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(len(FILE_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        for column, width in enumerate((130, 140, 55, 175, 85, 100)):
            self.file_table.setColumnWidth(column, width)

        self.file_table.currentCellChanged.connect(self._on_file_row_changed)
        self.file_details_label = QLabel()
        self.file_details_label.setWordWrap(True)
        self.file_details_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        self.file_details_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        details_area = QScrollArea()
        details_area.setWidgetResizable(True)
        details_area.setWidget(self.file_details_label)
        details_area.setFrameShape(QScrollArea.Shape.NoFrame)
        files = QWidget()
        files_layout = QVBoxLayout(files)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_table, 3)
        files_layout.addWidget(details_area, 1)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.plot)
        right.addWidget(files)
        right.addWidget(message_area)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setStretchFactor(2, 1)
        right.setSizes([360, 260, 140])

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self._build_reading_box())
        left_layout.addWidget(self._build_ids_box())
        left_layout.addWidget(self._build_units_box())
        left_layout.addWidget(self._build_reference_box())
        left_layout.addStretch(1)
        left_scroll = QScrollArea()
        left_scroll.setWidgetResizable(True)
        left_scroll.setWidget(left)
        left_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        left_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        left_scroll.setMinimumWidth(400)
        for combo in left.findChildren(QComboBox):
            # Long choices are elided instead of widening the panel.
            combo.setSizeAdjustPolicy(
                QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(18)
            combo.setMinimumWidth(140)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left_scroll)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([410, 870])

        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Import")
        self.ok_button.setEnabled(False)
        self.cancel_button = self.buttons.button(QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self._on_ok_clicked)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.buttons)

    def _build_reading_box(self) -> QGroupBox:
        box = QGroupBox("Reading")
        form = QFormLayout(box)
        self.column_combo = QComboBox()
        self.column_combo.setToolTip(
            "Text files with several intensity columns: the column read as the spectrum. "
            "'Every column' reads each one as a spectrum of its own."
        )
        self.column_combo.addItem("First column after x", None)
        self.column_combo.currentIndexChanged.connect(self._on_option_changed)
        form.addRow("Value column:", self.column_combo)

        self.block_combo = QComboBox()
        self.block_combo.addItem("Default: absorbance (AB)", None)
        for name, description in OPUS_BLOCKS.items():
            self.block_combo.addItem(description, name)
        self.block_combo.setToolTip(
            "Bruker OPUS files hold several data blocks. Without a choice the absorbance "
            "(AB) block is read, and a file without one gives its single channel or "
            "interferogram with a warning."
        )
        self.block_combo.currentIndexChanged.connect(self._on_option_changed)
        form.addRow("OPUS block:", self.block_combo)
        return box

    def _build_ids_box(self) -> QGroupBox:
        box = QGroupBox("Sample ids")
        form = QFormLayout(box)
        self.id_source_combo = QComboBox()
        for source, label in ID_SOURCE_LABELS.items():
            self.id_source_combo.addItem(label, source)
        self.id_source_combo.setToolTip(
            "Where each spectrum's sample id comes from.\n"
            "Automatic: the file name for a file with one spectrum; the ids inside a file "
            "with several (id column, block titles, numbered rows).\n"
            "File name: always the file name; several spectra of one file are numbered "
            "-01, -02, ….\n"
            "Sample name stored in the file: OPUS sample name, JCAMP-DX or OMNIC title, "
            "SPC comment; the file name where none is stored.\n"
            "Ids written in the file: the id column or column names of a table."
        )
        self.id_source_combo.currentIndexChanged.connect(self._on_option_changed)
        form.addRow("Id source:", self.id_source_combo)

        self.id_pattern_edit = QLineEdit()
        self.id_pattern_edit.setPlaceholderText(r"whole file name, or e.g. coffee_(\d+)")
        self.id_pattern_edit.setToolTip(
            "A regular expression searched in each file name without its extension. Its "
            "first group (or the whole match) is the sample id, so the ids match those "
            "of a reference table. Empty: the whole file name."
        )
        self.id_pattern_edit.textChanged.connect(self._on_id_pattern_edited)
        form.addRow("Id pattern:", self.id_pattern_edit)

        self.id_example_label = QLabel()
        self.id_example_label.setWordWrap(True)
        self.id_example_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow(self.id_example_label)
        return box

    def _build_units_box(self) -> QGroupBox:
        box = QGroupBox("Axis and intensity")
        form = QFormLayout(box)
        self.axis_unit_combo = QComboBox()
        self.axis_unit_combo.addItem("As the files state it", None)
        for unit, label in AXIS_UNITS.items():
            self.axis_unit_combo.addItem(label, unit)
        self.axis_unit_combo.setToolTip(
            "Sets the axis unit for files that do not state it, or state it wrongly. The "
            "axis values are kept; use the conversion below to change them."
        )
        self.axis_unit_combo.currentIndexChanged.connect(self._on_option_changed)
        form.addRow("Axis unit:", self.axis_unit_combo)

        self.convert_axis_combo = QComboBox()
        self.convert_axis_combo.addItem("No conversion", None)
        self.convert_axis_combo.addItem("nm to cm⁻¹ (10⁷ / x)", "cm-1")
        self.convert_axis_combo.addItem("cm⁻¹ to nm (10⁷ / x)", "nm")
        self.convert_axis_combo.setToolTip(
            "Converts axes between wavelength and wavenumber, so files in both units "
            "can be imported together."
        )
        self.convert_axis_combo.currentIndexChanged.connect(self._on_option_changed)
        form.addRow("Axis conversion:", self.convert_axis_combo)

        self.resample_checkbox = QCheckBox("Resample onto one grid when the axes differ")
        self.resample_checkbox.setToolTip(
            "Interpolates every spectrum linearly onto the overlap of all axes, at the "
            "finest point spacing among them. Axes that overlap too little are rejected."
        )
        self.resample_checkbox.toggled.connect(self._on_option_changed)
        form.addRow(self.resample_checkbox)

        self.y_unit_combo = QComboBox()
        for unit, label in Y_UNIT_LABELS.items():
            self.y_unit_combo.addItem(label, unit)
        self.y_unit_combo.setToolTip(
            "Sets the intensity unit for files that do not state it; needed before "
            "transmittance can be converted."
        )
        self.y_unit_combo.currentIndexChanged.connect(self._on_option_changed)
        form.addRow("Y unit:", self.y_unit_combo)

        self.absorbance_checkbox = QCheckBox("Convert transmittance to absorbance")
        self.absorbance_checkbox.setToolTip(
            "A = −log10(T), with %T divided by 100 first. Offered when a file holds "
            "transmittance."
        )
        self.absorbance_checkbox.toggled.connect(self._on_option_changed)
        form.addRow(self.absorbance_checkbox)
        return box

    def _build_reference_box(self) -> QGroupBox:
        box = QGroupBox("Reference values (optional)")
        layout = QVBoxLayout(box)
        buttons = QHBoxLayout()
        self.reference_button = QPushButton("Reference table…")
        self.reference_button.setToolTip(
            "Join reference values (concentrations, classes) from a CSV, TSV or XLSX "
            "table by sample id. You can also attach one later on the Data page."
        )
        self.reference_button.clicked.connect(self._on_reference_clicked)
        self.remove_reference_button = QPushButton("Remove")
        self.remove_reference_button.clicked.connect(self.clear_reference_table)
        buttons.addWidget(self.reference_button)
        buttons.addWidget(self.remove_reference_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        form = QFormLayout()
        self.reference_label = QLabel("No table chosen.")
        self.reference_label.setWordWrap(True)
        form.addRow("Table:", self.reference_label)
        self.id_column_combo = QComboBox()
        self.id_column_combo.setToolTip(
            "Column whose values equal the sample ids; rows are matched by id. Without "
            "one, row i of the table belongs to spectrum i."
        )
        self.id_column_combo.currentIndexChanged.connect(self._on_id_column_changed)
        form.addRow("Sample id column:", self.id_column_combo)
        layout.addLayout(form)

        self.match_label = QLabel()
        self.match_label.setWordWrap(True)
        self.match_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.match_label)
        self._update_reference_controls()
        return box

    # --- options -------------------------------------------------------------
    def options(self) -> ImportOptions:
        """Return the import options that the controls show now."""
        column = self.column_combo.currentData()
        return ImportOptions(
            id_source=self.id_source_combo.currentData(),
            id_pattern=self.id_pattern_edit.text().strip() or None,
            column=column_option(column) if isinstance(column, str) else None,
            x_column=self._options.x_column,
            block=self.block_combo.currentData(),
            sheet=self._options.sheet,
            axis_unit=self.axis_unit_combo.currentData(),
            convert_axis_to=self.convert_axis_combo.currentData(),
            resample="auto" if self.resample_checkbox.isChecked() else "never",
            y_unit=self.y_unit_combo.currentData(),
            y_conversion="absorbance" if self.absorbance_checkbox.isChecked() else None,
            sentinels=self._options.sentinels,
            recursive=self._options.recursive,
        )

    def _set_controls_from_options(self, options: ImportOptions) -> None:
        self._updating = True
        try:
            self._select_data(self.id_source_combo, options.id_source)
            if self.id_pattern_edit.text() != (options.id_pattern or ""):
                self.id_pattern_edit.setText(options.id_pattern or "")
            if options.column is not None:
                label = (f"column {options.column}" if isinstance(options.column, int)
                         else str(options.column))
                if self.column_combo.findData(label) < 0:
                    self.column_combo.addItem(label, label)
                self._select_data(self.column_combo, label)
            self._select_data(self.block_combo, options.block)
            self._select_data(self.axis_unit_combo, options.axis_unit)
            self._select_data(self.convert_axis_combo, options.convert_axis_to)
            self.resample_checkbox.setChecked(options.resample == "auto")
            self._select_data(self.y_unit_combo, options.y_unit)
            self.absorbance_checkbox.setChecked(options.y_conversion == "absorbance")
        finally:
            self._updating = False

    @staticmethod
    def _select_data(combo: QComboBox, value) -> None:
        index = combo.findData(value)
        if index >= 0:
            combo.setCurrentIndex(index)

    def _set_value_columns(self, names: list[str]) -> None:
        current = self.column_combo.currentData()
        self._updating = True
        try:
            self.column_combo.clear()
            self.column_combo.addItem("First column after x", None)
            for name in names:
                self.column_combo.addItem(name, name)
            if len(names) > 1:
                self.column_combo.addItem("Every column (one spectrum each)", "all")
            if current is not None and self.column_combo.findData(current) < 0:
                self.column_combo.addItem(current, current)
            self._select_data(self.column_combo, current)
        finally:
            self._updating = False

    @Slot()
    def _on_option_changed(self, *_args) -> None:
        if self._updating:
            return
        self._request_preview()

    @Slot(str)
    def _on_id_pattern_edited(self, _text: str) -> None:
        if self._updating:
            return
        self._update_id_examples()
        self._request_preview()

    # --- preview in the worker -----------------------------------------------
    def _request_preview(self, delay: bool = True) -> None:
        """Mark the shown preview as stale and read the files again soon."""
        self._generation += 1
        self.ok_button.setEnabled(False)
        try:
            self.options().validate()
        except SpecganError as exc:
            self._options_valid = False
            self._delay.stop()
            self.messages.show_message("options_invalid", error=str(exc))
            return
        self._options_valid = True
        self.messages.clear("options_invalid")
        self.messages.show_message("reading", text="Reading the files…")
        if delay:
            self._delay.start()
        else:
            self._start_preview()

    @Slot()
    def _start_preview(self) -> None:
        if self._closed:
            return
        if self.runner.is_running:
            # The stale preview stops after its current file; `_on_preview_cancelled`
            # (or `_on_preview_finished`) then starts one with the newest options.
            self.runner.stop()
            return
        options = self.options()
        self._generation_started = self._generation
        probe = self._value_columns is None
        remembered = str(window_settings().value(VALUE_COLUMN_SETTING, "") or "")
        task = partial(_preview_task, self._generation, list(self.paths), options, probe,
                       remembered)
        self.runner.start(task, name="import preview")

    @Slot(float, str)
    def _on_progress(self, _fraction: float, text: str) -> None:
        self.messages.show_message("reading", text=text)

    @Slot(object)
    def _on_preview_finished(self, outcome: PreviewOutcome) -> None:
        if outcome.value_columns is not None:
            self._value_columns = outcome.value_columns
            self._set_value_columns(outcome.value_columns)
            if outcome.options.column is not None and outcome.generation == self._generation:
                self._set_controls_from_options(outcome.options)
        if outcome.generation != self._generation:
            if not self._delay.isActive() and self._options_valid:
                self._start_preview()  # the options changed while the files were read
            return
        self._show_preview(outcome.preview)

    @Slot()
    def _on_preview_cancelled(self) -> None:
        if not self._delay.isActive() and self._options_valid:
            self._start_preview()

    @Slot(str, str)
    def _on_preview_failed(self, message: str, details: str) -> None:
        if self._generation_started != self._generation:
            if not self._delay.isActive() and self._options_valid:
                self._start_preview()  # the options changed while the files were read
            return
        self.preview = None
        self._shown_generation = self._generation
        self.messages.clear("reading")
        self.messages.show_message("preview_failed", details=details, error=message)
        self._update_ok_button()

    def is_ready(self) -> bool:
        """Return True when the shown preview belongs to the current options."""
        return (not self.runner.is_running and not self._delay.isActive()
                and self._shown_generation == self._generation)

    def stop_preview(self, timeout_ms: int = 30_000) -> bool:
        """Stop reading files for good; True when no preview thread runs any more.

        A running preview stops after the file it reads now.
        """
        self._closed = True
        self._delay.stop()
        self.runner.stop()
        return self.runner.wait(timeout_ms)

    def done(self, result: int) -> None:  # noqa: D401 (Qt's name)
        self.stop_preview()
        super().done(result)

    # --- showing the preview -------------------------------------------------
    def _show_preview(self, preview: ImportPreview) -> None:
        self.preview = preview
        self._shown_generation = self._generation
        self.messages.clear(*PREVIEW_MESSAGES)
        self._fill_file_table(preview)
        self._show_decision(preview)
        self._draw(preview)
        self._update_id_examples()
        self._update_summary(preview)
        self._update_y_conversion_offer(preview)
        self._update_reader_choices(preview)
        self._update_reference_match()
        self._update_ok_button()

    def _show_decision(self, preview: ImportPreview) -> None:
        failed = preview.failed_files
        ok_files = [f for f in preview.files if f.ok]
        if preview.unsupported:
            self.messages.show_message(
                "left_out", names=_listed(p.name for p, _ in preview.unsupported))
        if preview.dataset is None:
            decision = preview.axis
            if decision.kind == "rejected":
                self.messages.show_message("axis_rejected", text=decision.message)
            else:
                self.messages.show_message("no_spectra", error=preview.error or
                                           "The files hold no spectra to import.")
            if failed and ok_files:
                self.messages.show_message(
                    "failed_files_only", failed=len(failed), total=len(preview.files),
                    names=_listed(f.name for f in failed),
                )
        else:
            key = "axis_resampled" if preview.axis.kind == "resampled" else "axis_same"
            self.messages.show_message(key, text=preview.axis.message)
            if failed:
                self.messages.show_message(
                    "failed_files", failed=len(failed), total=len(preview.files),
                    ok_files=len(ok_files), spectra=preview.dataset.n_samples,
                    names=_listed(f.name for f in failed),
                )
        file_notes = {f"{item.name}: " for item in preview.files}
        notices = [n for n in preview.notices
                   if not any(n.startswith(prefix) for prefix in file_notes)]
        if notices:
            self.messages.show_message("notices", text=" ".join(notices))
        warnings = [w for w in preview.warnings
                    if not any(w.startswith(prefix) for prefix in file_notes)
                    and " was left out: " not in w]
        if warnings:
            self.messages.show_message("warnings", text=" ".join(warnings))

    def _fill_file_table(self, preview: ImportPreview) -> None:
        rows = [(item, None) for item in preview.files]
        rows += [(None, (path, reason)) for path, reason in preview.unsupported]
        self.file_table.setRowCount(len(rows))
        error_brush = QBrush(QColor(ERROR_TEXT_COLOR))
        for row, (item, unsupported) in enumerate(rows):
            if item is None:
                path, reason = unsupported
                cells = [path.name, "not recognised", "0", "", "", "",
                         f"Left out: {reason}"]
                failed = True
            else:
                cells = self._file_cells(item)
                failed = not item.ok
            for column, text in enumerate(cells):
                cell = QTableWidgetItem(short_format(text) if column == 1 else text)
                cell.setToolTip(text)
                if failed and column in (0, len(cells) - 1):
                    cell.setForeground(error_brush)
                if column == 2:
                    cell.setTextAlignment(Qt.AlignmentFlag.AlignRight
                                          | Qt.AlignmentFlag.AlignVCenter)
                self.file_table.setItem(row, column, cell)
        self._file_rows = rows
        failed_rows = [row for row, (item, _) in enumerate(rows) if item is None or not item.ok]
        if rows:
            first = failed_rows[0] if failed_rows else 0
            self.file_table.setCurrentCell(first, 0)
            self.file_table.scrollToItem(self.file_table.item(first, 0))
        self._show_file_details(self.file_table.currentRow())

    @Slot(int, int, int, int)
    def _on_file_row_changed(self, row: int, _column: int, _old_row: int,
                             _old_column: int) -> None:
        self._show_file_details(row)

    def _show_file_details(self, row: int) -> None:
        """Show everything about one file below the table, unshortened."""
        rows = getattr(self, "_file_rows", [])
        if not 0 <= row < len(rows):
            self.file_details_label.setText("")
            return
        item, unsupported = rows[row]
        if item is None:
            path, reason = unsupported
            text = f"<b>{_escape(path.name)}</b>: left out, {_escape(reason)}"
        elif not item.ok:
            text = (f"<b>{_escape(item.name)}</b>: <span style='color:{ERROR_TEXT_COLOR}'>"
                    f"{_escape(item.error)}</span>")
        else:
            lines = [f"<b>{_escape(item.name)}</b>: {_escape(item.format)}",
                     f"Sample ids: {_escape(_listed(item.sample_ids, 20))}"]
            lines += [f"Note: {_escape(n)}" for n in item.notices]
            lines += [f"Warning: {_escape(w)}" for w in item.warnings]
            text = "<br>".join(lines)
        self.file_details_label.setText(text)

    @staticmethod
    def _file_cells(item) -> list[str]:
        if not item.ok:
            return [item.name, item.format or "—", "0", "", "", "",
                    f"Error: {item.error}"]
        points = sorted(set(item.n_points))
        points_text = "/".join(str(p) for p in points)
        axis = ""
        if item.axis_range is not None:
            low, high = item.axis_range
            axis = f"{low:g}–{high:g} {item.axis_unit or '(no unit)'} ({points_text})"
            if item.axis_direction == "descending":
                axis += ", descending"
        y_unit = item.y_unit or "not stated"
        ids = _listed(item.sample_ids, 4)
        notes = [*item.notices, *item.warnings]
        return [item.name, item.format, str(item.n_spectra), axis, y_unit, ids,
                " ".join(notes) if notes else "OK"]

    def _draw(self, preview: ImportPreview) -> None:
        """Plot every file's spectra on their own axes; one axis unit per plot."""
        plots.clear_plot(self.plot)
        items = [item for item in preview.files if item.ok and item.blocks]
        spectra_per_unit: dict[str, int] = {}
        for item in items:
            for block in item.blocks:
                spectra_per_unit[block.axis_unit] = (
                    spectra_per_unit.get(block.axis_unit, 0) + block.n_samples)
        if not spectra_per_unit:
            plots.set_axis_labels(self.plot, "Axis", "Intensity")
            self.plot.getPlotItem().setTitle("No spectra to show", size="10pt")
            return

        # Axes in different units cannot share a plot: draw the unit with most spectra.
        unit = max(spectra_per_unit, key=spectra_per_unit.get)
        blocks = [(index, item, block) for index, item in enumerate(items)
                  for block in item.blocks if block.axis_unit == unit]
        y_units = list(dict.fromkeys(block.y_unit for _, _, block in blocks))
        y_label = y_axis_label(y_units[0]) if len(y_units) == 1 else "Intensity (units differ)"
        plots.set_axis_labels(self.plot, axis_label(unit), y_label)

        total = sum(block.n_samples for _, _, block in blocks)
        step = max(1, int(np.ceil(total / MAX_PLOTTED_SPECTRA)))
        files = list(dict.fromkeys(index for index, _, _ in blocks))
        legend_per_file = len(files) <= MAX_LEGEND_FILES
        named: set[int] = set()
        position = 0
        for index, item, block in blocks:
            for row in range(block.n_samples):
                if position % step == 0:
                    name = None
                    if legend_per_file and index not in named:
                        name = item.name
                        if item.n_spectra > 1:
                            name += f" ({item.n_spectra} spectra)"
                        named.add(index)
                    # Colours tell files apart; with many files they repeat.
                    self.plot.plot(block.axis, block.spectra[row], pen=plots.pen(index, 1.0),
                                   name=name, connect="finite")
                position += 1

        drawn = (total + step - 1) // step
        title = f"{_count(total, 'spectrum', 'spectra')} from {_count(len(files), 'file')}"
        if drawn < total:
            title += f", {drawn} drawn"
        others = {u: n for u, n in spectra_per_unit.items() if u != unit}
        if others:
            title += "; not drawn: " + ", ".join(
                f"{n} in {u or 'no unit'}" for u, n in others.items())
        self.plot.getPlotItem().setTitle(title, size="10pt")
        self.plot.getPlotItem().enableAutoRange()

    def _update_summary(self, preview: ImportPreview) -> None:
        ok_files = [f for f in preview.files if f.ok]
        parts = [f"<b>{len(preview.files)} files</b>"]
        if preview.unsupported:
            parts.append(f"{len(preview.unsupported)} not recognised")
        if preview.failed_files:
            parts.append(f"{len(preview.failed_files)} failed")
        dataset = preview.dataset
        if dataset is not None:
            axis = dataset.axis
            parts.append(
                f"<b>{dataset.n_samples} spectra × {dataset.n_points} points</b>, "
                f"{dataset.axis_label} {float(axis[0]):g} to {float(axis[-1]):g}"
            )
            parts.append(f"y: {dataset.y_unit or 'unit not stated'}")
        else:
            parts.append(f"{sum(f.n_spectra for f in ok_files)} spectra read, "
                         f"not combined")
        formats = sorted({f.format.split(" (")[0] for f in ok_files if f.format})
        if formats:
            parts.append(f"format: {', '.join(formats)}")
        self.summary_label.setText(" · ".join(parts))

    def _update_reader_choices(self, preview: ImportPreview) -> None:
        """Enable the value column and OPUS block choices only where a file needs them."""
        has_columns = bool(self._value_columns) and len(self._value_columns) > 1
        self.column_combo.setEnabled(has_columns or self.column_combo.currentData() is not None)
        has_opus = any(item.format.startswith("Bruker OPUS") for item in preview.files)
        self.block_combo.setEnabled(has_opus or self.block_combo.currentData() is not None)

    def _update_y_conversion_offer(self, preview: ImportPreview) -> None:
        kinds = {getattr(item, "y_kind", "") for item in preview.files if item.ok}
        offered = bool(kinds & {"transmittance", "%T"}) or self.absorbance_checkbox.isChecked()
        self.absorbance_checkbox.setEnabled(offered)
        if not offered:
            self.absorbance_checkbox.setToolTip(
                "No file holds transmittance (as the files or the y unit above state it), "
                "so there is nothing to convert."
            )
        else:
            self.absorbance_checkbox.setToolTip(
                "A = −log10(T), with %T divided by 100 first."
            )

    def _update_id_examples(self) -> None:
        """Show what the id pattern makes of the file names, at once (no reading)."""
        text = self.id_pattern_edit.text().strip()
        try:
            pattern = compile_id_pattern(text or None)
        except SpecganError as exc:
            self.id_example_label.setText(f"<span style='color:{ERROR_TEXT_COLOR}'>"
                                          f"{_escape(str(exc))}</span>")
            self.id_pattern_edit.setStyleSheet(f"border: 1px solid {ERROR_TEXT_COLOR};")
            return
        self.id_pattern_edit.setStyleSheet("")
        if self.preview is not None and self.preview.files:
            stems = [item.path.stem for item in self.preview.files]
        else:
            stems = [p.stem for p in self.paths if not p.is_dir()]
        lines = ["File name → id:"]
        for stem in stems[:3]:
            found = id_from_stem(stem, pattern)
            if found is None:
                lines.append(f"&nbsp;&nbsp;{_escape(stem)} → no match, so the whole name")
            else:
                lines.append(f"&nbsp;&nbsp;{_escape(stem)} → <b>{_escape(found)}</b>")
        if len(stems) > 3:
            lines.append(f"&nbsp;&nbsp;… and {len(stems) - 3} more files")
        if pattern is not None:
            missing = sum(id_from_stem(s, pattern) is None for s in stems)
            if missing:
                lines.append(f"<span style='color:{ERROR_TEXT_COLOR}'>The pattern matches "
                             f"{len(stems) - missing} of {len(stems)} file names.</span>")
        if self.preview is not None and self.preview.sample_ids and self.is_ready():
            ids = self.preview.sample_ids
            lines.append(f"Sample ids ({len(ids)}): {_escape(_listed(ids, 8))}")
        self.id_example_label.setText("<br>".join(lines))

    def sample_ids(self) -> list[str]:
        """Return the sample ids of the shown preview (empty before the first one)."""
        return list(self.preview.sample_ids) if self.preview is not None else []

    # --- reference table -----------------------------------------------------
    @Slot()
    def _on_reference_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Reference table", "", REFERENCE_FILTER)
        if path:
            self.set_reference_table(path)

    def set_reference_table(self, path: str | Path, id_column: str | None | bool = False) -> bool:
        """Choose a reference table to join; `id_column` False guesses the id column.

        None joins by row order.  Returns True when the table was read.
        """
        self.messages.clear("references_failed", "references", "reference_warnings")
        try:
            table = read_reference_table(path)
        except SpecganError as exc:
            self.messages.show_message("references_failed", error=str(exc))
            return False
        except (OSError, ValueError) as exc:
            self.messages.show_message(
                "references_failed", error=f"{Path(path).name} could not be read: {exc}")
            return False
        self.reference_path = Path(path)
        self.reference_table = table
        if id_column is False:
            id_column = guess_id_column(table, self.sample_ids())
        self._updating = True
        try:
            self.id_column_combo.clear()
            self.id_column_combo.addItem(ROW_ORDER, None)
            for column in table.columns:
                self.id_column_combo.addItem(str(column), str(column))
            self._select_data(self.id_column_combo, id_column)
        finally:
            self._updating = False
        self._update_reference_controls()
        self._update_reference_match()
        return True

    @Slot()
    def clear_reference_table(self) -> None:
        """Import without reference values."""
        self.reference_path = None
        self.reference_table = None
        self._updating = True
        try:
            self.id_column_combo.clear()
        finally:
            self._updating = False
        self.messages.clear("references_failed", "references", "reference_warnings")
        self._update_reference_controls()
        self._update_reference_match()

    def id_column(self) -> str | None:
        """Return the reference table's id column, or None to join by row order."""
        return self.id_column_combo.currentData()

    @Slot(int)
    def _on_id_column_changed(self, _index: int) -> None:
        if not self._updating:
            self._update_reference_match()

    def _update_reference_controls(self) -> None:
        has_table = self.reference_path is not None
        self.remove_reference_button.setEnabled(has_table)
        self.id_column_combo.setEnabled(has_table)
        if has_table:
            table = self.reference_table
            self.reference_label.setText(
                f"{self.reference_path.name}: {len(table)} rows, columns "
                f"{_listed(map(str, table.columns), 8)}")
        else:
            self.reference_label.setText("No table chosen.")

    def _update_reference_match(self) -> None:
        """Join the table to the shown preview and list what does not match."""
        self.messages.clear("references", "reference_warnings", "references_failed")
        self.match_label.setText("")
        if self.reference_path is None or self.preview is None or self.preview.dataset is None:
            return
        try:
            result = finish_import(self.preview, self.reference_path, self.id_column(),
                                   skip_failed=True)
        except SpecganError as exc:
            self.messages.show_message("references_failed", error=str(exc))
            self.match_label.setText(f"<span style='color:{ERROR_TEXT_COLOR}'>"
                                     f"{_escape(str(exc))}</span>")
            return

        n_spectra = result.dataset.n_samples
        lines = []
        if self.id_column() is None:
            lines.append(f"Rows joined by import order to {n_spectra} spectra.")
        else:
            matched = n_spectra - len(result.spectra_without_references)
            lines.append(f"{matched} of {n_spectra} spectra have reference values.")
        if result.spectra_without_references:
            lines.append(f"Spectra without values ({len(result.spectra_without_references)}): "
                         f"{_listed(result.spectra_without_references)}.")
        if result.ids_without_spectra:
            lines.append(f"Table ids without spectra ({len(result.ids_without_spectra)}): "
                         f"{_listed(result.ids_without_spectra)}.")

        self.match_label.setText("\n".join(lines))
        self.match_label.setToolTip(
            "\n".join([*result.spectra_without_references, *result.ids_without_spectra][:200]))

        # The join's own notices (id column, leading zeros) and warnings, in the engine's words.
        notices = [n for n in result.notices if n not in self.preview.notices]
        warnings = [w for w in result.warnings if w not in self.preview.warnings]
        warnings = [w for w in warnings if " was left out: " not in w]
        if notices:
            self.messages.show_message("references", text=" ".join(notices))
        if warnings:
            self.messages.show_message("reference_warnings", text=" ".join(warnings))

    # --- OK ------------------------------------------------------------------
    def _update_ok_button(self) -> None:
        preview = self.preview
        ready = (self._options_valid and preview is not None and preview.dataset is not None
                 and self._shown_generation == self._generation)
        self.ok_button.setEnabled(ready)
        if preview is not None and preview.dataset is not None:
            text = f"Import {preview.dataset.n_samples} spectra"
            failed = len(preview.failed_files)
            if failed:
                text += f" (leave out {failed} file{'s' if failed != 1 else ''})"
            self.ok_button.setText(text)
        else:
            self.ok_button.setText("Import")

    @Slot()
    def _on_ok_clicked(self) -> None:
        self.accept_import()

    def accept_import(self) -> bool:
        """Build the import from the shown preview and close; False if it cannot."""
        if not self.is_ready() or self.preview is None:
            return False
        self.messages.clear("import_failed")
        try:
            result = finish_import(
                self.preview,
                self.reference_path,
                self.id_column() if self.reference_path is not None else None,
                skip_failed=True,
            )
        except SpecganError as exc:
            self.messages.show_message("import_failed", error=str(exc))
            return False
        column = self.column_combo.currentData()
        if isinstance(column, str) and column != "all":
            window_settings().setValue(VALUE_COLUMN_SETTING, column)
        self.import_result = result
        log.info("import accepted: %d spectra from %d files", result.dataset.n_samples,
                 len(self.preview.files))
        self.accept()
        return True


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
