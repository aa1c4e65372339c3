"""The Data page: import spectra, join reference values, choose the target."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QStandardItemModel
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import Pipeline, format_steps
from specgan_gui.errors import SpecganError
from specgan_gui.gui import messages, plots
from specgan_gui.gui.controller import TASKS, ProjectController, default_task
from specgan_gui.gui.dialogs import ask_yes_no
from specgan_gui.gui.import_dialog import ImportPreviewDialog
from specgan_gui.gui.settings import window_settings
from specgan_gui.gui.table_model import DataFrameModel
from specgan_gui.io.base import file_dialog_filter
from specgan_gui.io.examples import EXAMPLES
from specgan_gui.io.importer import (
    ImportOptions,
    ImportPreview,
    ImportResult,
    finish_import,
    guess_id_column,
    import_files,
)
from specgan_gui.io.table import read_reference_table

log = logging.getLogger(__name__)

REFERENCE_FILTER = "Reference tables (*.csv *.tsv *.txt *.xlsx);;All files (*)"
ROW_ORDER = "(match rows in file order)"
#: Maximum number of spectra drawn on the Data page; more only slow the plot down.
MAX_PLOTTED_SPECTRA = 500
#: Distinct classes that get their own colour and legend entry.
MAX_LEGEND_CLASSES = 10

MESSAGES = {
    "import_failed": messages.error("Import failed. {error}"),
    "unexpected_error": messages.error("{error}"),
    "imported": messages.info("Read {count} spectra of {points} points from {source} ({format})."),
    "import_notices": messages.info("{notices}"),
    "import_warnings": messages.warning("Warnings while reading: {warnings}"),
    "references_failed": messages.error("The reference table was not attached. {error}"),
    "references_attached": messages.info("Attached columns {columns} from {source}. {notices}"),
    "reference_warnings": messages.warning("{warnings}"),
    "no_references": messages.info(
        "These spectra have no reference values. Attach a reference table to choose a "
        "target column; the GAN trains on the spectra alone."
    ),
    "plot_limited": messages.info(
        "The plot shows {shown} of {count} spectra; every spectrum is used for modelling."
    ),
}


class ReferenceJoinDialog(QDialog):
    """Asks which column of a reference table contains the sample ids."""

    def __init__(self, table: pd.DataFrame, dataset: SpectralDataset, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Attach reference values")
        layout = QVBoxLayout(self)
        columns = [str(c) for c in table.columns]
        layout.addWidget(QLabel(
            f"The table has {len(table)} rows and columns {', '.join(columns)}.\n"
            f"The project has {dataset.n_samples} spectra, for example ids "
            f"{', '.join(dataset.sample_ids[:3])}."
        ))
        form = QFormLayout()
        self.id_column_combo = QComboBox()
        self.id_column_combo.addItem(ROW_ORDER)
        self.id_column_combo.addItems(columns)
        self.id_column_combo.setToolTip(
            "Column whose values equal the spectra's sample ids; rows are matched by id. "
            "Without one, row i of the table belongs to spectrum i."
        )
        best = guess_id_column(table, dataset.sample_ids)
        if best is not None:
            self.id_column_combo.setCurrentText(best)
        form.addRow("Sample id column:", self.id_column_combo)
        layout.addLayout(form)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def id_column(self) -> str | None:
        text = self.id_column_combo.currentText()
        return None if text == ROW_ORDER else text


class DataPage(QWidget):
    """Import spectra and choose what to model: target column and task.

    The page shows the project's preprocessing pipeline but never changes
    it; the Preprocessing page does.
    """

    #: Emitted with the example name when the user picks "Open example"; the
    #: window handles it, because an example replaces the whole project.
    example_requested = Signal(str)
    #: Emitted when the user asks to edit the preprocessing pipeline.
    preprocessing_requested = Signal()

    def __init__(self, controller: ProjectController, parent: QWidget | None = None):
        super().__init__(parent)
        self.controller = controller
        self.messages = messages.MessageBar(MESSAGES)
        self._colorbar: pg.ColorBarItem | None = None
        self._updating = False  # True while widgets are filled from the project
        self._build()
        controller.project_replaced.connect(self.refresh)
        controller.dataset_changed.connect(self.refresh)
        controller.settings_changed.connect(self._refresh_settings)
        controller.busy_changed.connect(self.set_busy)
        self.refresh()

    # --- layout --------------------------------------------------------------
    def _build(self) -> None:
        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip(
            "Read spectra files of any supported format; a preview shows what was found "
            "before the data enter the project. You can also drop files or folders here."
        )
        self.import_button.clicked.connect(self._on_import_clicked)
        self.import_folder_button = QPushButton("Import folder…")
        self.import_folder_button.setToolTip(
            "Read every spectra file in a folder, with the same preview."
        )
        self.import_folder_button.clicked.connect(self._on_import_folder_clicked)
        # Files and folders dropped anywhere on the page open the import preview.
        self.setAcceptDrops(True)
        self.example_button = QToolButton()
        self.example_button.setText("Open example")
        self.example_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        example_menu = QMenu(self.example_button)
        for name, info in EXAMPLES.items():
            action = example_menu.addAction(f"{name}: {info['description']}")
            action.triggered.connect(lambda _checked=False, n=name: self.example_requested.emit(n))
        self.example_button.setMenu(example_menu)
        self.source_label = QLabel()
        self.source_label.setWordWrap(True)

        spectra_box = QGroupBox("Spectra")
        spectra_layout = QVBoxLayout(spectra_box)
        buttons = QHBoxLayout()
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.import_folder_button)
        buttons.addWidget(self.example_button)
        buttons.addStretch(1)
        spectra_layout.addLayout(buttons)
        spectra_layout.addWidget(self.source_label)

        self.attach_button = QPushButton("Attach reference table…")
        self.attach_button.setToolTip(
            "Join reference values (concentrations, classes) from a CSV/TSV/XLSX table "
            "by sample id or row order."
        )
        self.attach_button.clicked.connect(self._on_attach_clicked)
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("Reference column the models learn to predict.")
        self.target_combo.currentIndexChanged.connect(self._on_target_changed)
        self.task_combo = QComboBox()
        self.task_combo.addItem("Regression", "regression")
        self.task_combo.addItem("Classification", "classification")
        self.task_combo.setToolTip(
            "Regression predicts a number (numeric columns only); classification "
            "predicts one of a few labels."
        )
        self.task_combo.currentIndexChanged.connect(self._on_task_changed)
        target_box = QGroupBox("Reference values")
        target_form = QFormLayout(target_box)
        target_form.addRow(self.attach_button)
        target_form.addRow("Target column:", self.target_combo)
        target_form.addRow("Model type:", self.task_combo)

        self.pipeline_label = QLabel()
        self.pipeline_label.setWordWrap(True)
        self.pipeline_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.edit_pipeline_button = QPushButton("Edit preprocessing…")
        self.edit_pipeline_button.setToolTip(
            "Open the Preprocessing page to cut ranges, correct scatter and baselines, "
            "and take derivatives.")
        self.edit_pipeline_button.clicked.connect(self.preprocessing_requested)
        pipeline_box = QGroupBox("Preprocessing")
        pipeline_layout = QVBoxLayout(pipeline_box)
        pipeline_layout.addWidget(self.pipeline_label)
        pipeline_buttons = QHBoxLayout()
        pipeline_buttons.addWidget(self.edit_pipeline_button)
        pipeline_buttons.addStretch(1)
        pipeline_layout.addLayout(pipeline_buttons)

        self.sample_model = DataFrameModel()
        self.sample_table = QTableView()
        self.sample_table.setModel(self.sample_model)
        self.sample_table.setAlternatingRowColors(True)
        self.sample_table.horizontalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.sample_table.verticalHeader().setVisible(False)

        controls = QWidget()
        controls_layout = QVBoxLayout(controls)
        controls_layout.setContentsMargins(0, 0, 0, 0)
        controls_layout.addWidget(spectra_box)
        controls_layout.addWidget(target_box)
        controls_layout.addWidget(pipeline_box)
        controls_layout.addWidget(QLabel("Samples:"))
        controls_layout.addWidget(self.sample_table, 1)
        controls.setMinimumWidth(340)

        self.spectra_plot = plots.make_plot_widget("Axis", "Intensity", legend=True)
        # Shaded axis windows that the pipeline's leading range steps keep.
        self._window_regions: list[pg.LinearRegionItem] = []

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(controls)
        splitter.addWidget(self.spectra_plot)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([380, 900])

        layout = QVBoxLayout(self)
        layout.addWidget(self.messages)
        layout.addWidget(splitter, 1)

    # --- user actions --------------------------------------------------------
    @Slot()
    def _on_import_clicked(self) -> None:
        self.preview_import()

    @Slot()
    def _on_import_folder_clicked(self) -> None:
        settings = window_settings()
        folder = QFileDialog.getExistingDirectory(
            self, "Import a folder of spectra", str(settings.value("last_spectra_folder", ""))
        )
        if folder:
            settings.setValue("last_spectra_folder", folder)
            self.preview_import([folder])

    def preview_import(self, paths: list[str | Path] | None = None) -> bool:
        """Show the import preview for files or folders and import what the user accepts.

        Without `paths`, a file dialog opens to choose files.  Returns True
        when the spectra were replaced; Cancel leaves the project unchanged.
        """
        if self.controller.is_busy:
            self.controller.show_status(
                "Nothing was imported: wait for the running task to end, or stop it, first."
            )
            return False
        if paths is None:
            paths = self._ask_spectra_files()
            if not paths:
                return False
        dialog = ImportPreviewDialog(paths, parent=self)
        try:
            accepted = dialog.exec() == QDialog.DialogCode.Accepted
        finally:
            dialog.stop_preview()
        result = dialog.import_result if accepted else None
        dialog.deleteLater()
        if result is None:
            self.controller.show_status("Import cancelled; the project is unchanged.")
            return False
        self.messages.clear()
        return self._apply_import(result)

    def _ask_spectra_files(self) -> list[str]:
        settings = window_settings()
        folder = str(settings.value("last_spectra_folder", ""))
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Import spectra", folder, file_dialog_filter()
        )
        if paths:
            settings.setValue("last_spectra_folder", str(Path(paths[0]).parent))
        return list(paths)

    def import_files(self, paths: list[str | Path] | None = None,
                     options: ImportOptions | None = None,
                     reference_table: str | Path | None = None,
                     id_column: str | None = None) -> bool:
        """Read spectra files into the project without the preview (scripted use).

        Without `paths` the file dialog and the preview open, as for the
        Import button.  Any file that fails stops the import; the project is
        then left unchanged and the message is shown on the page.  Returns
        True when the data were replaced.
        """
        if paths is None:
            return self.preview_import()
        self.messages.clear()
        try:
            result = import_files(paths, options, reference_table, id_column)
        except SpecganError as exc:
            self.messages.show_message("import_failed", error=str(exc))
            return False
        except Exception as exc:  # a reader bug must not crash the window
            log.exception("importing %s failed", paths)
            self.messages.show_message(
                "unexpected_error",
                details=traceback.format_exc(),
                error=f"Unexpected error while reading {', '.join(map(str, paths))}: "
                f"{type(exc).__name__}: {exc}",
            )
            return False
        return self._apply_import(result)

    def _apply_import(self, result: ImportResult) -> bool:
        """Make an accepted import the project's data and report what was done."""
        if not self._confirm_clear("Importing new spectra"):
            return False
        dataset = result.dataset
        self.controller.set_dataset(dataset)
        files = [item for item in result.preview.files if item.ok] if result.preview else []
        names = [item.name for item in files] or [dataset.name]
        source = names[0] if len(names) == 1 else f"{names[0]} and {len(names) - 1} more files"
        formats = list(dict.fromkeys(item.format for item in files)) or ["unknown format"]
        format_text = "; ".join(formats[:3]) + (" …" if len(formats) > 3 else "")
        self.messages.show_message(
            "imported",
            count=dataset.n_samples,
            points=dataset.n_points,
            source=source,
            format=format_text,
        )
        if result.notices:
            self.messages.show_message("import_notices", notices=" ".join(result.notices))
        if result.warnings:
            self.messages.show_message("import_warnings", warnings=" ".join(result.warnings))
        self.controller.show_status(f"Imported {dataset.n_samples} spectra from {source}")
        return True

    # --- drag and drop -------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 (Qt's name)
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802 (Qt's name)
        if _local_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 (Qt's name)
        paths = _local_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.drop_paths(paths)

    def drop_paths(self, paths: list[str]) -> bool:
        """Open the import preview for dropped files or folders, unless a task runs.

        The preview opens once the drop has finished, because a modal dialog
        inside the drop handler would keep the drag source waiting.  Returns
        True when the preview was scheduled.
        """
        if self.controller.is_busy:
            self.controller.show_status(
                "The dropped files were not imported: wait for the running task to end, "
                "or stop it, first."
            )
            return False
        QTimer.singleShot(0, self, lambda: self.preview_import(list(paths)))
        return True

    @Slot()
    def _on_attach_clicked(self) -> None:
        self.attach_reference_file()

    def attach_reference_file(self, path: str | Path | None = None,
                              id_column: str | None | bool = False) -> bool:
        """Join reference values from a table file to the spectra.

        Without `path` a file dialog opens.  `id_column` names the
        column holding sample ids, None joins by row order, and False
        (default) opens a dialog to choose it.  Returns True when columns were attached.
        """
        dataset = self.controller.dataset
        if dataset is None:
            return False
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Attach reference table", "",
                                                  REFERENCE_FILTER)
            if not path:
                return False
        self.messages.clear()
        try:
            table = read_reference_table(path)
            if id_column is False:
                dialog = ReferenceJoinDialog(table, dataset, self)
                if dialog.exec() != QDialog.DialogCode.Accepted:
                    return False
                id_column = dialog.id_column()
            joined = join_references(dataset, path, id_column)
        except SpecganError as exc:
            self.messages.show_message("references_failed", error=str(exc))
            return False
        except Exception as exc:  # a reader bug must not crash the window
            log.exception("attaching references from %s failed", path)
            self.messages.show_message(
                "unexpected_error", details=traceback.format_exc(),
                error=f"Unexpected error while reading {path}: {type(exc).__name__}: {exc}",
            )
            return False
        if self.controller.has_results() and not ask_yes_no(
            self, "Clear results?",
            "Attaching reference values clears the transfer results and fitted models. "
            "Continue?",
        ):
            return False
        self.controller.clear_results()
        self.controller.set_references(joined.dataset.references)
        added = [str(c) for c in table.columns if str(c) != id_column]
        self.messages.show_message(
            "references_attached", columns=", ".join(added), source=Path(path).name,
            notices=" ".join(joined.notices),
        )
        if joined.warnings:
            self.messages.show_message("reference_warnings", warnings=" ".join(joined.warnings))
        return True

    @Slot(int)
    def _on_target_changed(self, _index: int) -> None:
        if self._updating:
            return
        target = self.target_combo.currentData()
        dataset = self.controller.dataset
        if dataset is None or target is None:
            return
        self._apply_target(target, default_task(dataset, target))

    @Slot(int)
    def _on_task_changed(self, _index: int) -> None:
        if self._updating:
            return
        target = self.target_combo.currentData()
        if target is None:
            return
        self._apply_target(target, self.task_combo.currentData())

    def set_target(self, target: str, task: str | None = None) -> bool:
        """Choose the target column and model type, as the two combo boxes do."""
        dataset = self.controller.dataset
        if dataset is None:
            return False
        return self._apply_target(target, task or default_task(dataset, target))

    def _apply_target(self, target: str, task: str) -> bool:
        project = self.controller.project
        if (target, task) != (project.target, project.task) and self.controller.has_results():
            if not ask_yes_no(
                self, "Clear results?",
                "Changing the target column or model type clears the transfer results and "
                "fitted models. The GAN training is kept. Continue?",
            ):
                self._refresh_settings()
                return False
        self.controller.set_target(target, task)
        return True

    def _confirm_clear(self, action: str) -> bool:
        if not self.controller.has_training():
            return True
        project = self.controller.project
        return ask_yes_no(
            self, "Clear training?",
            f"{action} clears the GAN training ({project.epochs_trained} epochs, "
            f"{len(project.checkpoints)} checkpoints), the transfer results and the fitted "
            "models. Continue?",
        )

    # --- showing the project -------------------------------------------------
    @Slot()
    def refresh(self) -> None:
        """Rebuild the page from the controller's project."""
        dataset = self.controller.dataset
        self._updating = True
        try:
            if dataset is None:
                self.source_label.setText("No spectra yet: import files or open an example.")
                self.sample_model.set_frame(pd.DataFrame())
            else:
                self.source_label.setText(describe_dataset(dataset))
                table = dataset.references.copy()
                table.insert(0, "Sample id", dataset.sample_ids)
                self.sample_model.set_frame(table)
        finally:
            self._updating = False
        self._refresh_settings()
        self.set_busy(self.controller.is_busy)

    @Slot()
    def _refresh_settings(self) -> None:
        dataset = self.controller.dataset
        project = self.controller.project
        self._updating = True
        try:
            self.target_combo.clear()
            if dataset is not None:
                for column in dataset.references.columns:
                    self.target_combo.addItem(str(column), str(column))
            if project.target is not None:
                self.target_combo.setCurrentIndex(self.target_combo.findData(project.target))
            self._update_task_choices()
            self.task_combo.setCurrentIndex(self.task_combo.findData(project.task))
        finally:
            self._updating = False
        self.messages.clear("no_references")
        if dataset is not None and len(dataset.references.columns) == 0:
            self.messages.show_message("no_references")
        self.pipeline_label.setText(describe_pipeline(dataset, project.preprocessing))
        self._draw_spectra()

    def _update_task_choices(self) -> None:
        dataset = self.controller.dataset
        target = self.target_combo.currentData()
        allowed = {"regression": False, "classification": False}
        if dataset is not None and target is not None:
            allowed["regression"] = target in dataset.numeric_columns()
            allowed["classification"] = target in dataset.class_columns()
        model = self.task_combo.model()
        if isinstance(model, QStandardItemModel):
            for row, task in enumerate(TASKS):
                model.item(row).setEnabled(allowed[task])

    def _draw_spectra(self) -> None:
        plots.clear_plot(self.spectra_plot)
        self._window_regions = []
        self._remove_colorbar()
        dataset = self.controller.dataset
        self.messages.clear("plot_limited")
        if dataset is None:
            plots.set_axis_labels(self.spectra_plot, "Axis", "Intensity")
            return
        plots.set_axis_labels(self.spectra_plot, dataset.axis_label, intensity_label(dataset))
        rows = np.arange(dataset.n_samples)
        if dataset.n_samples > MAX_PLOTTED_SPECTRA:
            rows = np.linspace(0, dataset.n_samples - 1, MAX_PLOTTED_SPECTRA).astype(int)
            self.messages.show_message(
                "plot_limited", shown=rows.size, count=dataset.n_samples
            )
        project = self.controller.project
        target = project.target if project.target in dataset.references.columns else None
        if target is not None and project.task == "classification":
            self._draw_by_class(dataset, rows, target)
        elif target is not None and target in dataset.numeric_columns():
            self._draw_by_value(dataset, rows, target)
        else:
            for row in rows:
                self.spectra_plot.plot(dataset.axis, dataset.spectra[row], pen=plots.pen(0, 1.0))
        for low, high in kept_windows(project.preprocessing):
            region = pg.LinearRegionItem(
                (low, high), movable=False, brush=pg.mkBrush(31, 119, 180, 35),
                pen=pg.mkPen(31, 119, 180, 160, width=1.5),
            )
            region.setZValue(-10)
            region.setToolTip("Axis range kept by the preprocessing pipeline.")
            self.spectra_plot.addItem(region, ignoreBounds=True)
            self._window_regions.append(region)
        self.spectra_plot.getPlotItem().enableAutoRange()

    def _draw_by_class(self, dataset: SpectralDataset, rows: np.ndarray, target: str) -> None:
        labels = dataset.references[target].astype(str).to_numpy()
        classes = sorted(set(labels[rows]))
        index_of = {label: i for i, label in enumerate(classes)}
        named: set[str] = set()
        # Drawing class by class keeps the legend in the sorted class order.
        for row in sorted(rows, key=lambda r: index_of[labels[r]]):
            label = labels[row]
            position = index_of[label]
            if position >= MAX_LEGEND_CLASSES:
                item_pen, name = pg.mkPen(plots.REAL_SPECTRUM_COLOR), None
                if "other" not in named:
                    name = f"other {target} ({len(classes) - MAX_LEGEND_CLASSES} classes)"
                    named.add("other")
            else:
                item_pen = plots.pen(position, 1.0)
                name = None if label in named else f"{target}: {label}"
                named.add(label)
            self.spectra_plot.plot(dataset.axis, dataset.spectra[row], pen=item_pen, name=name)

    def _draw_by_value(self, dataset: SpectralDataset, rows: np.ndarray, target: str) -> None:
        values = pd.to_numeric(dataset.references[target], errors="coerce").to_numpy(float)
        colors = plots.value_colors(values[rows])
        for row, row_color in zip(rows, colors):
            self.spectra_plot.plot(
                dataset.axis, dataset.spectra[row], pen=pg.mkPen(row_color, width=1.0)
            )
        finite = values[np.isfinite(values)]
        if finite.size:
            self._add_colorbar(float(finite.min()), float(finite.max()), target)

    def _add_colorbar(self, low: float, high: float, label: str) -> None:
        if high <= low:
            high = low + 1.0
        colorbar = pg.ColorBarItem(
            values=(low, high), colorMap=pg.colormap.get("viridis"), label=label,
            interactive=False, width=14,
        )
        plot_item = self.spectra_plot.getPlotItem()
        # Same placement as ColorBarItem.setImageItem(insert_in=...): right of the view box.
        plot_item.layout.addItem(colorbar, 2, 5)
        self._colorbar = colorbar

    def _remove_colorbar(self) -> None:
        if self._colorbar is None:
            return
        plot_item = self.spectra_plot.getPlotItem()
        plot_item.layout.removeItem(self._colorbar)
        scene = self._colorbar.scene()
        if scene is not None:
            scene.removeItem(self._colorbar)
        self._colorbar = None

    @Slot(bool)
    def set_busy(self, busy: bool) -> None:
        """Disable every control that changes the project while a task runs."""
        has_data = self.controller.dataset is not None
        self.import_button.setEnabled(not busy)
        self.import_folder_button.setEnabled(not busy)
        self.example_button.setEnabled(not busy)
        self.attach_button.setEnabled(not busy and has_data)
        self.target_combo.setEnabled(not busy and has_data)
        self.task_combo.setEnabled(not busy and has_data)
        self.edit_pipeline_button.setEnabled(has_data)


def _local_paths(mime_data) -> list[str]:
    """Return the local file and folder paths of dropped data (other URLs are ignored)."""
    if mime_data is None or not mime_data.hasUrls():
        return []
    return [url.toLocalFile() for url in mime_data.urls() if url.isLocalFile()]


def join_references(dataset: SpectralDataset, path: str | Path,
                    id_column: str | None) -> ImportResult:
    """Join a reference table to spectra already in the project, as an import joins it.

    The result's warnings list ids without spectra and spectra without
    values; ids that differ only by leading zeros are matched, with a notice.
    """
    preview = ImportPreview(options=ImportOptions(), dataset=dataset,
                            sample_ids=list(dataset.sample_ids))
    return finish_import(preview, path, id_column)


def kept_windows(spec: list[dict]) -> list[tuple[float, float]]:
    """Return the axis windows that the pipeline's leading range steps keep.

    Range steps (crop, cut, resample) count only before any other step,
    because later ones act on transformed spectra; the last of them wins.
    An empty list means the whole axis is kept.
    """
    windows: list[tuple[float, float]] = []
    for item in spec:
        kind, params = item.get("kind"), item.get("params") or {}
        try:
            if kind == "cut":
                windows = [(float(low), float(high)) for low, high in params["windows"]]
            elif kind == "crop":
                windows = [(float(params["low"]), float(params["high"]))]
            elif kind == "resample":
                windows = [(float(params["start"]), float(params["stop"]))]
            else:
                break
        except (KeyError, TypeError, ValueError):
            return []
    return windows


def describe_pipeline(dataset: SpectralDataset | None, spec: list[dict]) -> str:
    """Return text such as ``cut:950-1550, savgol:15:2:1, scale (301 of 1047 points)``."""
    if dataset is None:
        return "No spectra yet."
    steps = format_steps(spec).replace(",", ", ") if spec else "no steps"
    try:
        pipeline = Pipeline.from_spec(spec)
        pipeline.input_axis = dataset.axis
        points = pipeline.output_axis.size
    except SpecganError as exc:
        return f"In use: {steps}. It cannot run on these spectra: {exc}"
    return f"In use: {steps} ({points} of {dataset.n_points} points)."


def describe_dataset(dataset: SpectralDataset) -> str:
    """Return a two-line summary of a data set for the page."""
    source = dataset.metadata.get("description") or dataset.metadata.get("sources") or ""
    axis = dataset.axis
    lines = [
        f"<b>{dataset.name or 'Spectra'}</b>: {dataset.n_samples} spectra × {dataset.n_points} "
        f"points, {dataset.axis_label} {float(np.min(axis)):g}–{float(np.max(axis)):g}",
    ]
    if source:
        lines.append(source)
    return "<br>".join(lines)


def intensity_label(dataset: SpectralDataset) -> str:
    """Return the y-axis label: the intensity unit or kind, else "Intensity"."""
    if dataset.y_unit:
        return dataset.y_unit[:1].upper() + dataset.y_unit[1:]
    return "Intensity"
