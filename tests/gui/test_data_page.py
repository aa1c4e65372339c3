"""Data page: import, reference join, target and model type, pipeline summary."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from PySide6.QtWidgets import QMessageBox

from specgan_gui.data.preprocessing import parse_steps
from specgan_gui.io.examples import load_example

Button = QMessageBox.StandardButton


@pytest.fixture(scope="module")
def fermentation_files(tmp_path_factory):
    """Real fermentation spectra as a wide CSV, and their glucose values in shuffled order."""
    dataset = load_example("fermentation")
    folder = tmp_path_factory.mktemp("fermentation")
    ids = [f"batch-{i:02d}" for i in range(dataset.n_samples)]
    spectra = pd.DataFrame(dataset.spectra, columns=[f"{x:g}" for x in dataset.axis])
    spectra.insert(0, "sample", ids)
    spectra_path = folder / "spectra.csv"
    spectra.to_csv(spectra_path, index=False)
    glucose = dataset.references["glucose"].to_numpy(float)
    order = np.random.default_rng(0).permutation(dataset.n_samples)
    references = pd.DataFrame({"sample": np.asarray(ids)[order], "glucose": glucose[order]})
    references_path = folder / "hplc.csv"
    references.to_csv(references_path, index=False)
    return spectra_path, references_path, dict(zip(ids, glucose))


def test_malformed_csv_keeps_project(window, tmp_path):
    window.open_example("coffee")
    page = window.data_page
    before = window.controller.project.dataset
    malformed = tmp_path / "broken.csv"
    malformed.write_text("sample,1000,1001,1002,1003\ns1,0.1,0.2,0.3,0.4\ns2,0.1,oops,0.3\n")

    assert page.import_files([malformed]) is False

    assert page.messages.active_keys() == ["import_failed"]
    text = page.messages.text()
    assert text.startswith("Import failed. ")
    assert "broken.csv" in text
    assert "Traceback" not in text
    assert window.controller.project.dataset is before
    assert not window.controller.modified
    assert len(page.spectra_plot.getPlotItem().listDataItems()) == 60


def test_unknown_binary_file_message(window, tmp_path):
    page = window.data_page
    binary = tmp_path / "capture.csv"
    binary.write_bytes(b"\x00\x01\x02\x03 not a table")

    assert page.import_files([binary]) is False

    assert "no reader recognises this file" in page.messages.text()
    assert window.controller.project.dataset is None


def test_import_then_attach_references(window, fermentation_files):
    spectra_path, references_path, glucose_by_id = fermentation_files
    page = window.data_page

    assert page.import_files([spectra_path])

    dataset = window.controller.project.dataset
    assert dataset.n_samples == 21
    assert "imported" in page.messages.active_keys()
    assert "no_references" in page.messages.active_keys()
    assert "21 spectra of 1047 points" in page.messages.text("imported")
    plot = page.spectra_plot.getPlotItem()
    assert len(plot.listDataItems()) == 21
    assert plot.getAxis("bottom").labelText == dataset.axis_label
    assert window.isWindowModified()

    assert page.attach_reference_file(references_path, id_column="sample")

    dataset = window.controller.project.dataset
    matched = dict(zip(dataset.sample_ids, dataset.references["glucose"]))
    assert matched == pytest.approx(glucose_by_id)
    assert page.target_combo.currentText() == "glucose"
    assert page.task_combo.currentData() == "regression"
    assert window.controller.project.target == "glucose"
    assert page._colorbar is not None  # spectra coloured by glucose, with a colour bar


def test_reference_table_with_wrong_rows(window, fermentation_files, tmp_path):
    spectra_path, _, _ = fermentation_files
    page = window.data_page
    assert page.import_files([spectra_path])
    short = tmp_path / "short.csv"
    short.write_text("glucose\n1.5\n2.5\n")

    assert page.attach_reference_file(short, id_column=None) is False

    assert page.messages.active_keys() == ["references_failed"]
    assert "has 2 rows for 21 spectra" in page.messages.text()


def test_class_column_allows_classification_only(window):
    window.open_example("coffee")
    page = window.data_page
    model = page.task_combo.model()

    assert page.task_combo.currentData() == "classification"
    assert not model.item(0).isEnabled()  # regression needs a numeric column
    assert model.item(1).isEnabled()


def test_pipeline_summary_and_edit_button(window):
    window.open_example("fermentation")
    page = window.data_page
    assert page.pipeline_label.text() == "In use: scale (1047 of 1047 points)."
    assert page._window_regions == []

    assert window.preprocessing_page.set_pipeline(
        parse_steps("cut:950-1550:1600-1700,snv,scale"))

    axis = window.controller.dataset.axis
    kept = np.count_nonzero(((axis >= 950) & (axis <= 1550)) | ((axis >= 1600) & (axis <= 1700)))
    assert page.pipeline_label.text() == (
        f"In use: cut:950-1550:1600-1700, snv, scale ({kept} of 1047 points).")
    regions = [region.getRegion() for region in page._window_regions]
    assert regions == [pytest.approx((950, 1550)), pytest.approx((1600, 1700))]
    page.edit_pipeline_button.click()
    assert window.pages.currentWidget() is window.preprocessing_page


def test_references_keep_richer_pipeline(window, fermentation_files):
    spectra_path, references_path, _ = fermentation_files
    page = window.data_page
    assert page.import_files([spectra_path])
    spec = parse_steps("cut:950-1550,savgol:15:2:1,scale")
    assert window.preprocessing_page.set_pipeline(spec)

    assert page.attach_reference_file(references_path, id_column="sample")
    assert page.set_target("glucose", "regression")

    assert window.controller.project.preprocessing == spec
    assert window.preprocessing_page.spec() == spec
    assert "cut:950-1550, savgol:15:2:1, scale" in page.pipeline_label.text()


def test_next_import_keeps_fitting_pipeline(window, fermentation_files):
    spectra_path, _, _ = fermentation_files
    page = window.data_page
    project = window.controller.project
    assert page.import_files([spectra_path])
    spec = parse_steps("cut:950-1550,savgol:15:2:1,scale")
    assert window.preprocessing_page.set_pipeline(spec)
    window.controller.set_pls_preprocessing(parse_steps("snv,scale"))

    # The next batch on the same axis keeps both pipelines.
    assert page.import_files([spectra_path])
    assert project.preprocessing == spec
    assert project.pls_preprocessing == parse_steps("snv,scale")
    assert window.preprocessing_page.spec() == spec

    # Spectra that end below the cut window cannot keep it.
    dataset = project.dataset
    below = dataset.axis < 900
    short = dataclasses.replace(
        dataset, axis=dataset.axis[below], spectra=dataset.spectra[:, below])
    window.controller.set_dataset(short)
    assert project.preprocessing == parse_steps("scale")
    assert project.pls_preprocessing == parse_steps("snv,scale")
    assert "does not fit the new spectra" in window.statusBar().currentMessage()
