"""Preprocessing page: build, preview, check and store a pipeline on real spectra."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from PySide6.QtWidgets import QMessageBox

from specgan_gui.data.dataset import SpectralDataset
from specgan_gui.data.preprocessing import PRESETS, Pipeline, parse_steps
from specgan_gui.io.examples import load_example

Button = QMessageBox.StandardButton
REFERENCE_STEPS = "cut:950-1550,savgol:15:2:1,scale"


def _settle(qtbot, page, timeout_ms: int = 30_000) -> None:
    """Wait until the scheduled preview has been computed (in the worker or not)."""
    qtbot.waitUntil(lambda: not page.preview_pending, timeout=timeout_ms)


def _plotted(curves) -> tuple[np.ndarray, np.ndarray]:
    """Return the x values of the first curve and the y values of every curve."""
    data = curves.data()
    return data[0][0], np.array([y for _, y in data])


def test_build_pipeline_stores_exact_spec(qtbot, window):
    window.open_example("fermentation")
    page = window.preprocessing_page
    assert [step.kind for step in page.steps] == ["scale"]
    page.remove_step(0)
    assert page.steps == []

    page.add_actions["cut"].trigger()
    windows = page.step_form.editors["windows"]
    windows.spinbox(0, 0).setValue(950)
    windows.spinbox(0, 1).setValue(1550)
    page.add_actions["savgol"].trigger()
    window_spinbox = page.step_form.editors["window"]
    assert window_spinbox.suffix() == " points"
    assert "longer" not in window_spinbox.toolTip()
    assert "Points in the sliding window" in window_spinbox.toolTip()
    window_spinbox.setValue(21)
    assert "savgol:21:2:1" in page.step_list.item(1).text()
    window_spinbox.setValue(15)
    page.step_form.editors["polyorder"].setValue(2)
    page.step_form.editors["deriv"].setValue(1)
    page.add_actions["scale"].trigger()

    assert [page.step_list.item(row).text().split("  ·  ")[1] for row in range(3)] == [
        "cut:950-1550", "savgol:15:2:1", "scale"]
    assert "Not applied yet" in page.state_label.text()
    assert page.apply_button.isEnabled()
    page.apply_button.click()

    assert window.controller.project.preprocessing == parse_steps(REFERENCE_STEPS)
    assert page.messages.active_keys() == ["applied"]
    assert "446 points" in page.messages.text("applied")
    assert page.state_label.text() == "The step list is the project's pipeline."
    assert not page.apply_button.isEnabled()


def test_plots_show_pipeline_output(qtbot, window):
    window.open_example("fermentation")
    page = window.preprocessing_page
    dataset = window.controller.dataset
    page.load_steps(REFERENCE_STEPS)
    _settle(qtbot, page)

    pipeline = Pipeline.parse(REFERENCE_STEPS)
    stages = pipeline.fit_stages(dataset.axis, dataset.spectra)
    before_x, before_y = _plotted(page.before_curves)
    np.testing.assert_array_equal(before_x, dataset.axis)
    np.testing.assert_array_equal(before_y, dataset.spectra)
    # The after plot leaves out the final scaling, so its units are derivative units.
    after_axis, after_spectra = pipeline.transform_before_scale(dataset.spectra)
    after_x, after_y = _plotted(page.after_curves)
    np.testing.assert_array_equal(after_x, after_axis)
    np.testing.assert_allclose(after_y, after_spectra, rtol=1e-12, atol=1e-15)
    after_item = page.after_plot.getPlotItem()
    assert after_item.getAxis("left").labelText == "First derivative of absorbance (per point)"
    assert after_item.getAxis("bottom").labelText == "Wavenumber (cm⁻¹)"
    assert page.before_plot.getPlotItem().getAxis("left").labelText == "Absorbance"

    page.select_step(1)
    input_x, input_y = _plotted(page.step_input_curves)
    output_x, output_y = _plotted(page.step_output_curves)
    np.testing.assert_array_equal(input_x, stages[1][0])
    np.testing.assert_array_equal(input_y, stages[1][1])
    np.testing.assert_allclose(output_y, stages[2][1], rtol=1e-12, atol=1e-15)
    assert page.step_input_plot.getPlotItem().titleLabel.text == (
        "Input of step 2 (Savitzky-Golay derivative)")

    page.select_step(2)
    _, scaled = _plotted(page.step_output_curves)
    np.testing.assert_allclose(scaled, pipeline.transform(dataset.spectra), atol=1e-12)
    assert scaled.min() == pytest.approx(-1.0)
    assert scaled.max() == pytest.approx(1.0)
    assert page.step_output_plot.getPlotItem().getAxis("left").labelText == "Scaled to [-1, 1]"


def test_invalid_settings_warn_and_block_apply(qtbot, window):
    window.open_example("fermentation")
    page = window.preprocessing_page
    page.load_steps("cut:950-1000,savgol:15:2:1,scale")
    page.select_step(1)
    page.step_form.editors["window"].setValue(51)
    _settle(qtbot, page)

    assert page.messages.active_keys() == ["settings_warnings", "preview_blocked"]
    warning = page.messages.text("settings_warnings")
    assert warning.startswith("Step 2 (Savitzky-Golay derivative): the window of 51 points is "
                              "longer than the spectrum at this step")
    assert "Traceback" not in page.messages.text()
    assert page.after_curves.shown == 0
    assert page.step_input_curves.shown == 21  # the cut still ran
    assert not page.apply()
    assert "apply_refused" in page.messages.active_keys()
    assert window.controller.project.preprocessing == parse_steps("scale")

    # An even window and an order at the window length each name the fix.
    page.step_form.editors["window"].setValue(16)
    _settle(qtbot, page)
    assert "must be odd so the window is centred on its point, got 16; use 17" in (
        page.messages.text("settings_warnings"))
    page.step_form.editors["window"].setValue(5)
    page.step_form.editors["polyorder"].setValue(5)
    _settle(qtbot, page)
    assert "polynomial order 5 must be below the window of 5 points" in (
        page.messages.text("settings_warnings"))

    # Fixing the window clears the warnings before the preview is drawn again.
    page.step_form.editors["polyorder"].setValue(2)
    page.step_form.editors["window"].setValue(15)
    _settle(qtbot, page)
    assert page.messages.active_keys() == ["apply_refused"]
    assert page.after_curves.shown == 21

    page.select_step(0)
    page.step_form.editors["windows"].spinbox(0, 0).setValue(3000)
    page.step_form.editors["windows"].spinbox(0, 1).setValue(3100)
    _settle(qtbot, page)
    assert "window 3000-3100 lies outside the axis (428 to 1833) and keeps no point" in (
        page.messages.text("settings_warnings"))


def test_warnings_ask_before_apply(qtbot, window, dialogs):
    window.open_example("fermentation")
    page = window.preprocessing_page
    page.load_steps("cut:950-1550,snv")

    dialogs.answers = [Button.No]
    assert not page.apply()
    assert "does not end with 'scale'" in dialogs.questions[-1]
    assert window.controller.project.preprocessing == parse_steps("scale")

    dialogs.answers = [Button.Yes]
    assert page.apply()
    assert window.controller.project.preprocessing == parse_steps("cut:950-1550,snv")


def test_preset_previews_in_worker(qtbot, window):
    window.open_example("fermentation")
    page = window.preprocessing_page
    index = page.preset_combo.findData("raman")
    page.preset_combo.setCurrentIndex(index)
    page.preset_combo.activated.emit(index)

    assert page.spec() == PRESETS["raman"].spec()
    assert "preset_loaded" in page.messages.active_keys()
    # The AsLS baseline iterates on every spectrum, so its preview runs in the worker.
    page.update_preview()
    assert page.preview_runner.is_running
    assert "computing" in page.messages.active_keys()
    _settle(qtbot, page)
    assert "computing" not in page.messages.active_keys()
    expected_axis, expected = Pipeline.from_spec(PRESETS["raman"].spec()).fit(
        window.controller.dataset.axis, window.controller.dataset.spectra,
    ).transform_before_scale(window.controller.dataset.spectra)
    np.testing.assert_allclose(_plotted(page.after_curves)[1], expected, atol=1e-12)

    assert page.apply()
    assert window.controller.project.preprocessing == PRESETS["raman"].spec()


def test_step_list_order_and_switch(qtbot, window):
    window.open_example("fermentation")
    page = window.preprocessing_page
    page.load_steps("snv,savgol:15:2:1,scale")

    page.set_step_enabled(0, False)
    assert page.spec() == parse_steps("savgol:15:2:1,scale")
    assert "(off)" in page.step_list.item(0).text()
    page.select_step(0)
    _settle(qtbot, page)
    assert page.step_output_plot.getPlotItem().titleLabel.text == (
        "Step 1 (SNV) is switched off")
    page.set_step_enabled(0, True)

    page.move_step(1, row=0)
    assert [step.kind for step in page.steps] == ["savgol", "snv", "scale"]
    page.select_step(2)
    page.add_step("msc")  # a new step goes before the final scaling
    assert [step.kind for step in page.steps] == ["savgol", "snv", "msc", "scale"]
    page.remove_step(2)
    assert page.spec() == parse_steps("savgol:15:2:1,snv,scale")

    # A second cut window starts halfway between the first one's end and the axis end.
    page.select_step(0)
    row = page.add_step("cut")
    assert row == 1
    editor = page.step_form.editors["windows"]
    editor.spinbox(0, 0).setValue(950)
    editor.spinbox(0, 1).setValue(1550)
    editor.add_button.click()
    assert page.steps[1].params["windows"] == [[950.0, 1550.0], [1691.5, 1833.0]]
    editor.table.selectRow(0)
    editor.remove_button.click()
    assert page.spec()[1] == {"kind": "cut", "params": {"windows": [[1691.5, 1833.0]]}}
    assert not editor.remove_button.isEnabled()  # one window must remain


def test_suggest_ranks_in_worker(qtbot, window, task_runner):
    window.open_example("fermentation")
    page = window.preprocessing_page
    page.load_steps(REFERENCE_STEPS)  # its cut adds the cut candidates
    progress: list[str] = []
    page.suggest_runner.progress.connect(lambda fraction, text: progress.append(text))

    def start():
        page.suggest_button.click()
        assert page.suggest_runner.is_running
        assert window.controller.is_busy
        assert not page.apply_button.isEnabled()

    outcome = task_runner(qtbot, page.suggest_runner, start)

    assert outcome.kind == "finished", outcome.args
    assert progress
    table = page.suggest_table
    assert table.rowCount() == 9
    assert table.horizontalHeaderItem(1).text() == "RMSECV (glucose)"
    scores = [float(table.item(row, 1).text()) for row in range(table.rowCount())]
    assert scores == sorted(scores)
    assert table.item(0, 4).text() == "cut:950-1550,savgol:15:2:1,scale"
    assert "suggest_finished" in page.messages.active_keys()

    page.load_steps("scale")
    table.selectRow(1)
    assert page.use_suggestion()
    assert page.spec() == parse_steps(table.item(1, 4).text())


def test_pipeline_change_after_training_asks(qtbot, window, dialogs, task_runner):
    window.open_example("fermentation")
    page = window.preprocessing_page
    assert page.set_pipeline(parse_steps(REFERENCE_STEPS))
    training = window.training_page
    training.epochs_spinbox.setValue(1)
    training.snapshot_interval_spinbox.setValue(1)
    training.checkpoint_interval_spinbox.setValue(1)
    assert task_runner(qtbot, training.runner, training.start_training).kind == "finished"
    project = window.controller.project
    assert project.epochs_trained == 1

    # Measured spectra on the training page are in the same derivative units as
    # the generated ones.
    dataset = project.dataset
    _, measured = Pipeline.parse(REFERENCE_STEPS).fit(
        dataset.axis, dataset.spectra).transform_before_scale(dataset.spectra)
    generated_plot = training.generated_plot.getPlotItem()
    measured_items = [item for item in generated_plot.listDataItems()
                      if item not in training._generated_items]
    # The measured spectra are one curve with a NaN gap after each spectrum.
    first = measured_items[0].getData()[1][:measured.shape[1]]
    np.testing.assert_allclose(first, measured[0], atol=1e-12)
    assert generated_plot.getAxis("left").labelText == (
        "First derivative of absorbance (per point)")

    page.set_step_enabled(1, False)
    dialogs.answers = [Button.No]
    assert not page.apply()
    assert "clears the GAN training (1 epochs, 1 checkpoints)" in dialogs.questions[-1]
    assert project.epochs_trained == 1
    assert project.preprocessing == parse_steps(REFERENCE_STEPS)

    dialogs.answers = [Button.Yes]
    assert page.apply()
    assert project.preprocessing == parse_steps("cut:950-1550,scale")
    assert project.epochs_trained == 0
    assert project.checkpoints == {}
    assert training.progress_bar.text() == "not trained yet"


def _coffee_on_2000_points() -> SpectralDataset:
    """Return 100 real spectra of 2000 points: the 60 coffee spectra, interpolated, reused."""
    coffee = load_example("coffee")
    axis = np.linspace(coffee.axis[0], coffee.axis[-1], 2000)
    rows = np.arange(100) % coffee.n_samples
    # Spectra used twice get a 1 % gain, so no two rows are equal.
    spectra = np.array([
        np.interp(axis, coffee.axis, coffee.spectra[row]) * (1.0 + 0.01 * (i // coffee.n_samples))
        for i, row in enumerate(rows)
    ])
    origin = coffee.references["origin"].to_numpy()[rows]
    return SpectralDataset(axis, spectra, "index", [f"s{i}" for i in range(100)],
                           pd.DataFrame({"origin": origin}), y_unit="absorbance", name="speed")


def test_preview_speed_100_spectra(qtbot, window):
    window.controller.set_dataset(_coffee_on_2000_points(), "origin", "classification")
    page = window.preprocessing_page
    window.pages.setCurrentWidget(page)
    # The first preview creates the plot curves and imports chemotools; not timed.
    page.load_steps("snv,center,scale")
    page.update_preview()
    page.grab()

    timings = {}
    for steps in ("cut:100-1800,snv,savgol:15:2:1,scale", "msc,smooth:11:2,scale"):
        page.load_steps(steps)
        page.select_step(1)
        started = time.perf_counter()
        page.update_preview()
        computed = time.perf_counter()
        page.grab()  # paints all four plots
        timings[steps] = (computed - started, time.perf_counter() - computed)
        assert page.after_curves.shown == 100
    # An edit of the second step reuses the output of the first.
    page.step_form.editors["window"].setValue(21)
    started = time.perf_counter()
    page.update_preview()
    computed = time.perf_counter()
    page.grab()
    timings["smooth window 11 -> 21"] = (computed - started, time.perf_counter() - computed)
    print("\npreview of 100 spectra x 2000 points (compute and setData, paint):")
    for name, (compute, paint) in timings.items():
        print(f"  {name}: {compute:.3f} s + {paint:.3f} s")
    # About 0.1 s + 0.15 s on a shared 2-core machine; the bound leaves room for a busy one.
    assert max(compute + paint for compute, paint in timings.values()) < 1.5


def test_pls_pipeline_kept_apart(qtbot, window, dialogs, task_runner):
    window.open_example("fermentation")
    page = window.preprocessing_page
    project = window.controller.project
    assert page.set_pipeline(parse_steps("cut:950-1550,scale"))
    training = window.training_page
    training.epochs_spinbox.setValue(1)
    training.checkpoint_interval_spinbox.setValue(1)
    assert task_runner(qtbot, training.runner, training.start_training).kind == "finished"
    assert "same pipeline" in page.pls_label.text()
    assert not page.pls_same_button.isEnabled()

    page.load_steps("cut:5000-6000,scale")
    _settle(qtbot, page)
    assert not page.set_pls_pipeline(page.spec())
    assert page.messages.active_keys()[-1] == "pls_refused"
    assert project.pls_preprocessing is None

    page.load_steps(REFERENCE_STEPS)
    _settle(qtbot, page)
    page.pls_from_list_button.click()
    assert project.pls_preprocessing == parse_steps(REFERENCE_STEPS)
    assert "own pipeline: cut:950-1550, savgol:15:2:1, scale" in page.pls_label.text()
    # The networks' pipeline and the GAN run stay; no question was needed.
    assert project.preprocessing == parse_steps("cut:950-1550,scale")
    assert project.epochs_trained == 1
    assert dialogs.questions == []
    assert window.controller.modified

    page.pls_same_button.click()
    assert project.pls_preprocessing is None
    assert "same pipeline" in page.pls_label.text()
