"""Import preview dialog and the Data page's import flow, on real spectra files."""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialog

from specgan_gui.gui.import_dialog import FILE_COLUMNS, ImportPreviewDialog
from specgan_gui.gui.worker import TaskRunner

#: Points kept of each coffee spectrum; enough for real shapes, quick to read.
N_POINTS = 400
PROBLEMS = FILE_COLUMNS.index("Problems and notes")
IDS = FILE_COLUMNS.index("Sample ids")
AXIS = FILE_COLUMNS.index("Axis (points)")


def _write_spectrum(path, axis, values, header="point,absorbance"):
    # %.17g keeps every float64 exactly, so imported spectra can be compared with ==.
    np.savetxt(path, np.c_[axis, values], delimiter=",", header=header, comments="",
               fmt="%.17g")


@pytest.fixture(scope="module")
def coffee_folder(tmp_path_factory):
    """The coffee example as one CSV per sample (x, absorbance), plus its labels table."""
    from specgan_gui.io.examples import load_example

    coffee = load_example("coffee")
    folder = tmp_path_factory.mktemp("coffee_csv")
    axis = coffee.axis[:N_POINTS]
    spectra = coffee.spectra[:, :N_POINTS]
    for row in range(coffee.n_samples):
        _write_spectrum(folder / f"coffee_{row + 1:03d}.csv", axis, spectra[row])
    labels = pd.DataFrame({
        "sample": [f"coffee_{row + 1:03d}" for row in range(coffee.n_samples)],
        "origin": coffee.references["origin"].to_numpy(),
    })
    labels_path = tmp_path_factory.mktemp("labels") / "labels.csv"
    labels.to_csv(labels_path, index=False)
    return folder, axis, spectra, labels_path, list(labels["origin"])


@pytest.fixture
def make_dialog(qtbot):
    """Create preview dialogs and stop their preview threads after the test."""
    created = []

    def make(paths, **kwargs):
        dialog = ImportPreviewDialog(paths, **kwargs)
        qtbot.addWidget(dialog)
        created.append(dialog)
        return dialog

    yield make
    for dialog in created:
        dialog.stop_preview()


def wait_ready(qtbot, dialog):
    qtbot.waitUntil(dialog.is_ready, timeout=30_000)


def accept_when_ready(qtbot, before_ok=None, seen=None):
    """Return a replacement for `ImportPreviewDialog.exec` that presses Import."""
    def exec_dialog(dialog):
        if seen is not None:
            seen.append(dialog)
        wait_ready(qtbot, dialog)
        if before_ok is not None:
            before_ok(dialog)
            wait_ready(qtbot, dialog)
        dialog.ok_button.click()
        return dialog.result()

    return exec_dialog


def test_folder_counts_and_axis(qtbot, make_dialog, coffee_folder):
    folder, axis, _, _, _ = coffee_folder
    dialog = make_dialog([folder])
    wait_ready(qtbot, dialog)

    preview = dialog.preview
    assert preview.n_spectra == 60
    assert preview.dataset.n_points == N_POINTS
    assert dialog.file_table.rowCount() == 60
    assert dialog.file_table.item(0, 0).text() == "coffee_001.csv"
    assert dialog.file_table.item(0, FILE_COLUMNS.index("Spectra")).text() == "1"
    assert dialog.file_table.item(0, AXIS).text() == f"0–{axis[-1]:g} index ({N_POINTS})"
    assert dialog.file_table.item(0, FILE_COLUMNS.index("Y unit")).text() == "absorbance"
    assert dialog.file_table.item(0, PROBLEMS).text() == "OK"
    assert f"60 spectra × {N_POINTS} points" in dialog.summary_label.text()
    assert "axis_same" in dialog.messages.active_keys()
    plot = dialog.plot.getPlotItem()
    assert len(plot.listDataItems()) == 60
    assert plot.getAxis("bottom").labelText == "Point index"
    assert plot.getAxis("left").labelText == "Absorbance"
    assert plot.titleLabel.text == "60 spectra from 60 files"
    assert dialog.ok_button.isEnabled()
    assert dialog.ok_button.text() == "Import 60 spectra"


def test_id_pattern_changes_ids(qtbot, make_dialog, coffee_folder):
    folder = coffee_folder[0]
    dialog = make_dialog([folder])
    wait_ready(qtbot, dialog)
    assert dialog.sample_ids()[:2] == ["coffee_001", "coffee_002"]

    dialog.id_pattern_edit.setText(r"coffee_(\d+)")
    # The file name -> id lines follow each key press, before the files are read again.
    assert "coffee_001 → <b>001</b>" in dialog.id_example_label.text()
    assert not dialog.ok_button.isEnabled()
    wait_ready(qtbot, dialog)

    assert dialog.sample_ids()[:2] == ["001", "002"]
    assert dialog.file_table.item(0, IDS).text() == "001"
    assert "Sample ids (60): 001, 002" in dialog.id_example_label.text()

    dialog.id_pattern_edit.setText(r"coffee_(\d+")
    assert "options_invalid" in dialog.messages.active_keys()
    assert "not a valid regular expression" in dialog.messages.text("options_invalid")
    assert not dialog.ok_button.isEnabled()

    dialog.id_pattern_edit.setText(r"coffee_0*(\d+)")
    wait_ready(qtbot, dialog)
    assert "options_invalid" not in dialog.messages.active_keys()
    assert dialog.sample_ids()[:2] == ["1", "2"]
    assert dialog.ok_button.isEnabled()


def test_ok_imports_with_references(qtbot, window, monkeypatch, coffee_folder):
    folder, axis, spectra, labels_path, origins = coffee_folder
    page = window.data_page

    def join_labels(dialog):
        assert dialog.set_reference_table(labels_path)
        assert dialog.id_column() == "sample"
        assert dialog.match_label.text().startswith("60 of 60 spectra have reference values.")

    monkeypatch.setattr(ImportPreviewDialog, "exec", accept_when_ready(qtbot, join_labels))

    assert page.preview_import([folder])

    dataset = window.controller.project.dataset
    assert dataset.sample_ids[:2] == ["coffee_001", "coffee_002"]
    np.testing.assert_array_equal(dataset.axis, axis)
    np.testing.assert_array_equal(dataset.spectra, spectra)
    assert list(dataset.references["origin"]) == origins
    assert window.controller.project.target == "origin"
    assert "60 spectra of 400 points from coffee_001.csv and 59 more files" in (
        page.messages.text("imported"))
    assert len(page.spectra_plot.getPlotItem().listDataItems()) == 60
    assert window.isWindowModified()


def test_unmatched_ids_listed(qtbot, make_dialog, coffee_folder, tmp_path):
    folder, _, _, labels_path, _ = coffee_folder
    labels = pd.read_csv(labels_path).iloc[2:]  # coffee_001 and coffee_002 have no row
    labels.loc[len(labels) + 10] = ["coffee_999", "Brasil"]  # a row without a spectrum
    partial = tmp_path / "partial.csv"
    labels.to_csv(partial, index=False)
    dialog = make_dialog([folder])
    wait_ready(qtbot, dialog)

    assert dialog.set_reference_table(partial)

    text = dialog.match_label.text()
    assert "58 of 60 spectra have reference values." in text
    assert "Spectra without values (2): coffee_001, coffee_002." in text
    assert "Table ids without spectra (1): coffee_999." in text
    assert "reference_warnings" in dialog.messages.active_keys()
    assert dialog.accept_import()
    result = dialog.import_result
    assert result.spectra_without_references == ["coffee_001", "coffee_002"]
    assert result.ids_without_spectra == ["coffee_999"]
    assert result.dataset.n_samples == 60


def test_cancel_leaves_project(qtbot, window, monkeypatch, coffee_folder):
    window.open_example("coffee")
    before = window.controller.project.dataset

    def cancel_when_ready(dialog):
        wait_ready(qtbot, dialog)
        dialog.cancel_button.click()
        return dialog.result()

    monkeypatch.setattr(ImportPreviewDialog, "exec", cancel_when_ready)

    assert window.data_page.preview_import([coffee_folder[0]]) is False

    assert window.controller.project.dataset is before
    assert before.n_points == 1841
    assert not window.controller.modified


def test_cancel_while_reading(qtbot, make_dialog, coffee_folder):
    dialog = make_dialog([coffee_folder[0]])
    assert dialog.runner.is_running

    # Reading 60 files takes far longer than this click: the preview stops early.
    with qtbot.waitSignal(dialog.runner.cancelled, timeout=10_000):
        dialog.cancel_button.click()

    assert dialog.result() == QDialog.DialogCode.Rejected
    assert not dialog.runner.is_running
    assert dialog.import_result is None


def test_bad_file_shown_rest_imported(qtbot, make_dialog, coffee_folder, tmp_path):
    folder, axis, spectra, _, _ = coffee_folder
    paths = [folder / f"coffee_00{i}.csv" for i in (1, 2, 3)]
    broken = tmp_path / "broken.csv"
    broken.write_text("point,absorbance\n0,0.1\n1,0.2\n2\n3,0.3,7\n")
    dialog = make_dialog([paths[0], broken, *paths[1:]])
    wait_ready(qtbot, dialog)

    assert dialog.file_table.rowCount() == 4
    assert dialog.file_table.item(1, 0).text() == "broken.csv"
    error = dialog.file_table.item(1, PROBLEMS).text()
    assert error.startswith("Error: ")
    assert "line" in error
    assert "Traceback" not in error
    assert dialog.file_table.currentRow() == 1  # its full error shows below the table
    assert "broken.csv" in dialog.file_details_label.text()
    warning = dialog.messages.text("failed_files")
    assert warning.startswith("1 of 4 files could not be read")
    assert "broken.csv" in warning
    assert "the other 3 files (3 spectra)" in warning
    assert dialog.ok_button.text() == "Import 3 spectra (leave out 1 file)"

    dialog.ok_button.click()

    assert dialog.result() == QDialog.DialogCode.Accepted
    result = dialog.import_result
    np.testing.assert_array_equal(result.dataset.spectra, spectra[:3])
    assert any(w.startswith("broken.csv was left out") for w in result.warnings)


def test_value_column_choice_remembered(qtbot, make_dialog, coffee_folder, tmp_path):
    _, axis, spectra, _, _ = coffee_folder
    paths = []
    for row in range(3):
        path = tmp_path / f"pair_{row}.csv"
        np.savetxt(path, np.c_[axis, spectra[row], spectra[row + 3]], delimiter=",",
                   header="point,sample,reference", comments="", fmt="%.17g")
        paths.append(path)
    dialog = make_dialog(paths)
    wait_ready(qtbot, dialog)
    assert dialog.column_combo.isEnabled()
    choices = [dialog.column_combo.itemData(i) for i in range(dialog.column_combo.count())]
    assert choices == [None, "sample", "reference", "all"]
    np.testing.assert_array_equal(dialog.preview.dataset.spectra, spectra[:3])

    dialog.column_combo.setCurrentIndex(choices.index("reference"))
    wait_ready(qtbot, dialog)

    np.testing.assert_array_equal(dialog.preview.dataset.spectra, spectra[3:6])
    assert dialog.accept_import()

    # The next import of such files starts from the column chosen last.
    again = make_dialog(paths)
    wait_ready(qtbot, again)
    assert again.column_combo.currentData() == "reference"
    np.testing.assert_array_equal(again.preview.dataset.spectra, spectra[3:6])


def test_transmittance_to_absorbance(qtbot, make_dialog, cases_dir):
    path = cases_dir / "jdx" / "dupdec1.jdx"
    dialog = make_dialog([path])
    wait_ready(qtbot, dialog)
    percent = dialog.preview.dataset.spectra.copy()
    assert dialog.file_table.item(0, FILE_COLUMNS.index("Y unit")).text() == "transmittance"
    assert dialog.absorbance_checkbox.isEnabled()

    dialog.absorbance_checkbox.setChecked(True)
    wait_ready(qtbot, dialog)

    dataset = dialog.preview.dataset
    assert dataset.y_unit == "absorbance"
    np.testing.assert_allclose(dataset.spectra, -np.log10(percent / 100.0))
    assert dialog.plot.getPlotItem().getAxis("left").labelText == "Absorbance"


def test_drop_opens_preview(qtbot, window, monkeypatch, coffee_folder):
    folder, _, spectra, _, _ = coffee_folder
    page = window.data_page
    seen = []
    monkeypatch.setattr(ImportPreviewDialog, "exec", accept_when_ready(qtbot, seen=seen))
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(folder))])
    position = page.rect().center()
    enter = QDragEnterEvent(position, Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    drop = QDropEvent(QPointF(position), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)

    # Qt delivers a drop only to the widget that accepted the drag on entering.
    QApplication.sendEvent(page, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(page, drop)

    assert drop.isAccepted()
    qtbot.waitUntil(lambda: window.controller.project.dataset is not None, timeout=30_000)
    assert [p.name for p in seen[0].paths] == [folder.name]
    np.testing.assert_array_equal(window.controller.project.dataset.spectra, spectra)


def test_drop_refused_while_busy(qtbot, window, monkeypatch, coffee_folder):
    page = window.data_page
    monkeypatch.setattr(ImportPreviewDialog, "exec", lambda dialog: pytest.fail("opened"))
    statuses = []
    window.controller.status_message_requested.connect(statuses.append)
    release = threading.Event()
    runner = TaskRunner(window, name="test task")
    window.controller.register_runner(runner)
    runner.start(lambda state: release.wait(10))
    try:
        assert page.drop_paths([str(coffee_folder[0])]) is False
    finally:
        release.set()
        runner.wait()

    assert statuses[-1].startswith("The dropped files were not imported")
    assert window.controller.project.dataset is None
