"""The Transfer page: checkpoint sweep, checkpoint choice on the plot, comparison.

The module builds each project file once through the engine: a tiny GAN
run of 3 epochs with 8 filters and 64 hidden units on a cropped range, with
one checkpoint per epoch.  Each test opens such a file and drives the page
like a user.  The stored transfer settings (2 fine-tuning epochs, 3-fold,
2 repeats) keep each sweep and comparison to a few seconds.
"""

from __future__ import annotations

import re
import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from specgan_gui.data.preprocessing import parse_steps
from specgan_gui.gui.comparison_view import ALL_MODELS
from specgan_gui.gui.result_plots import column_unit
from specgan_gui.project.project import Project
from specgan_gui.project.store import save_project
from specgan_gui.training import workflow
from specgan_gui.training.gan_trainer import GANTrainingSettings
from specgan_gui.training.transfer import TransferSettings

#: Transfer settings stored in the test projects, so the form loads them.
TINY_TRANSFER = TransferSettings(
    epochs=2, early_stopping=False, cv="kfold", n_folds=3, repeats=2,
    max_pls_components=4, batch_size=16, device="cpu",
)


def _tiny_project(dataset, target: str, task: str, cut: str) -> Project:
    # A copy, so that adding a column never changes the session-wide fixture.
    copy = dataset.subset(np.arange(dataset.n_samples))
    project = Project(dataset=copy, target=target, task=task,
                      preprocessing=parse_steps(f"{cut},scale"))
    architecture = workflow.gan_architecture(
        project, code_length=16, generator_filters=8, discriminator_filters=8,
        hidden_units=64)
    settings = GANTrainingSettings(epochs=3, checkpoint_interval=1, snapshot_interval=1,
                                   device="cpu", seed=0)
    workflow.train_gan(project, settings, architecture)
    project.transfer_settings = TINY_TRANSFER.to_dict()
    return project


@pytest.fixture(scope="module")
def fermentation_file(tmp_path_factory, fermentation):
    project = _tiny_project(fermentation, "glucose", "regression", "cut:950-1250")
    # A second numeric column in a unit of its own, derived from the measured
    # glucose (180.16 g/mol), so the page can predict two targets at once.
    references = project.dataset.references.copy()
    references["glucose (mmol/L)"] = references["glucose"] / 0.18016
    project.dataset.references = references
    return save_project(project, tmp_path_factory.mktemp("fermentation") / "tiny.h5")


@pytest.fixture(scope="module")
def coffee_file(tmp_path_factory, coffee):
    project = _tiny_project(coffee, "origin", "classification", "cut:0-199")
    return save_project(project, tmp_path_factory.mktemp("coffee") / "tiny.h5")


def _open(qtbot, window, task_runner, path):
    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.open_project(path, ask=False))
    assert outcome.kind == "finished", outcome.args
    window.pages.setCurrentWidget(window.transfer_page)
    return window.transfer_page


def _click_sweep_point(qtbot, page, epoch: int) -> None:
    """Click the sweep point of `epoch` with the mouse, as a user would."""
    widget = page.sweep_plot.plot_widget
    x, y = page.sweep_plot.point_position(epoch)
    scene_point = widget.getPlotItem().getViewBox().mapViewToScene(QPointF(x, y))
    position = widget.mapFromScene(scene_point)
    qtbot.mouseClick(widget.viewport(), Qt.MouseButton.LeftButton, pos=position)


def test_regression_sweep_then_comparison(qtbot, window, task_runner, tmp_path,
                                          fermentation_file):
    page = _open(qtbot, window, task_runner, fermentation_file)
    project = window.controller.project

    # The form shows the project's stored transfer settings.
    assert page.epochs_spinbox.value() == 2
    assert page.form.repeats_spinbox.value() == 2
    assert page.form.folds_spinbox.value() == 3
    assert page.cv_combo.currentData() == "kfold"
    assert not page.form.early_stopping_checkbox.isChecked()
    assert page.form.group_combo.itemText(0) == "none"
    assert page.form.extra_targets_list.count() == 1
    assert page.result_tabs.currentIndex() == 0  # the sweep tab, as nothing ran yet

    # Sweep all three checkpoints.
    outcome = task_runner(qtbot, page.runner, page.start_sweep)
    assert outcome.kind == "finished", outcome.args
    sweep = outcome.args[0]
    assert len(project.sweeps) == 1
    assert sweep.epochs.tolist() == [1, 2, 3]
    points_x, points_y = page.sweep_plot.points.getData()
    assert points_x.tolist() == [1.0, 2.0, 3.0]
    assert np.allclose(points_y, sweep.values)
    assert page.sweep_plot.error_bars.isVisible() == bool(np.any(sweep.spread > 0))
    best_x, best_y = page.sweep_plot.best_marker.getData()
    assert best_x.tolist() == [float(sweep.best_epoch)]
    assert page.sweep_plot.best_label.toPlainText().startswith(
        f"best: epoch {sweep.best_epoch}, ")
    axis = page.sweep_plot.plot_widget.getPlotItem().getAxis("left")
    assert axis.labelText == "RMSECV"
    assert page.checkpoint_combo.currentData() == sweep.best_epoch
    assert "sweep_finished" in page.messages.active_keys()
    assert f"epoch {sweep.best_epoch}" in page.messages.text("sweep_finished")

    # Clicking another point chooses its checkpoint and rings it.
    other = 3 if sweep.best_epoch != 3 else 1
    _click_sweep_point(qtbot, page, other)
    assert page.checkpoint_combo.currentData() == other
    ring_x, _ = page.sweep_plot.selected_marker.getData()
    assert ring_x.tolist() == [float(other)]
    assert f"epoch {other}" in page.sweep_hint.text()

    # Compare from that checkpoint, predicting the second column too.
    page.form.set_extra_targets(["glucose (mmol/L)"])
    outcome = task_runner(qtbot, page.runner, page.start_transfer)
    assert outcome.kind == "finished", outcome.args
    result = outcome.args[0]
    assert result.checkpoint_epoch == other
    assert project.extra_targets == ["glucose (mmol/L)"]
    # The second target's verdict line carries its unit; the first has none.
    second_line = result.verdict.splitlines()[1]
    assert second_line.startswith("glucose (mmol/L): ")
    assert re.search(r"\d mmol/L (lower|higher)|No evidence", second_line)
    assert page.result_tabs.currentIndex() == 1
    assert page.verdict_label.isVisibleTo(page)
    assert page.verdict_label.text() == result.verdict
    assert "PLS" in page.verdict_label.text()
    assert page.warnings_label.isVisibleTo(page) == bool(result.warnings)
    assert "samples per variable" in page.warnings_label.text()

    frame = page.result_model.frame
    assert list(frame.columns[:4]) == ["Model", "Target", "RMSECV", "RMSECV SD"]
    assert frame.columns[-1] == "Preprocessing"
    assert "Epochs used (median of folds)" in frame.columns
    assert "PLS components (median of folds)" in frame.columns
    assert len(frame) == 6  # three models x two targets
    assert set(frame["Target"]) == {"glucose", "glucose (mmol/L)"}
    pls = frame[(frame["Model"] == "PLS") & (frame["Target"] == "glucose")].iloc[0]
    assert pls["RMSECV"] == pytest.approx(result.row("PLS")["rmsecv"])

    # Plots of the first target: 1:1 line and three models; residuals with a zero line.
    assert page.model_combo.currentText() == ALL_MODELS
    prediction_plot = page.comparison_view.prediction_plot.getPlotItem()
    legend = [label.text for _, label in prediction_plot.legend.items]
    assert legend[0] == "1:1"
    assert [name.split(" (")[0] for name in legend[1:]] == [
        "GAN transfer", "From scratch", "PLS"]
    residual_plot = page.comparison_view.residual_plot.getPlotItem()
    residual_items = residual_plot.listDataItems()
    assert len(residual_items) == 4
    assert residual_items[0].getData()[1].tolist() == [0.0, 0.0]
    measured_x, residuals = residual_items[3].getData()  # PLS
    assert np.allclose(residuals, result.predictions["PLS"] - result.measured)

    # The second target's plot carries its unit.
    page.comparison_view.target_combo.setCurrentText("glucose (mmol/L)")
    assert prediction_plot.getAxis("bottom").labelText == "Measured glucose (mmol/L)"
    assert residual_plot.getAxis("left").labelText == (
        "Predicted − measured (mmol/L)")

    # Save, start afresh and reopen: settings, sweep and comparison come back.
    page.form.patience_spinbox.setValue(7)
    page.form.early_stopping_checkbox.setChecked(True)
    outcome = task_runner(qtbot, page.runner, page.start_transfer)
    assert outcome.kind == "finished", outcome.args
    verdict = outcome.args[0].verdict
    saved = tmp_path / "saved.h5"
    outcome = task_runner(qtbot, window.file_runner, lambda: window.save_project_as(saved))
    assert outcome.kind == "finished", outcome.args
    # "/" separates HDF5 groups, so the stored model name uses a division slash.
    assert "PLS (glucose (mmol\u2215L))" in window.controller.project.models
    window.new_project()
    assert page.sweep_plot.points.getData()[0].size == 0
    assert page.form.patience_spinbox.value() == 20

    page = _open(qtbot, window, task_runner, saved)
    assert page.form.patience_spinbox.value() == 7
    assert page.form.early_stopping_checkbox.isChecked()
    assert page.form.repeats_spinbox.value() == 2
    assert page.form.extra_targets() == ["glucose (mmol/L)"]
    assert page.sweep_plot.points.getData()[0].tolist() == [1.0, 2.0, 3.0]
    assert page.verdict_label.text() == verdict
    assert page.result_tabs.currentIndex() == 1
    # The stored comparison's checkpoint, not the sweep's best, is chosen again.
    assert page.checkpoint_combo.currentData() == other



def test_classification_subset_sweep_and_confusion(qtbot, window, task_runner, coffee_file):
    page = _open(qtbot, window, task_runner, coffee_file)
    assert page.form.extra_targets_list.isHidden()
    assert "regression only" in page.form.extra_targets_note.text()

    # Sweep two of the three checkpoints.
    page.all_checkpoints_checkbox.setChecked(False)
    assert page.sweep_list.isVisibleTo(page)
    assert page.sweep_list.count() == 3
    page.sweep_list.item(0).setCheckState(Qt.CheckState.Checked)
    page.sweep_list.item(2).setCheckState(Qt.CheckState.Checked)
    assert page.sweep_epochs() == [1, 3]
    outcome = task_runner(qtbot, page.runner, page.start_sweep)
    assert outcome.kind == "finished", outcome.args
    sweep = outcome.args[0]
    assert sweep.metric == "accuracy"
    assert page.sweep_plot.points.getData()[0].tolist() == [1.0, 3.0]
    axis = page.sweep_plot.plot_widget.getPlotItem().getAxis("left")
    assert axis.labelText == "Accuracy (fraction correct)"
    assert page.checkpoint_combo.currentData() == sweep.best_epoch

    outcome = task_runner(qtbot, page.runner, page.start_transfer)
    assert outcome.kind == "finished", outcome.args
    result = outcome.args[0]
    assert page.verdict_label.text() == result.verdict
    frame = page.result_model.frame
    assert list(frame["Model"]) == ["GAN transfer", "From scratch", "PLS"]
    assert "Target" not in frame.columns
    assert frame["Accuracy"].between(0, 1).all()
    assert "Accuracy SD" in frame.columns
    assert frame["Recall per class"].str.contains("Ethiopia").all()

    # The confusion matrix of the chosen model, with each class's recall.
    assert page.plot_stack.currentIndex() == 1
    assert ALL_MODELS not in [page.model_combo.itemText(i)
                              for i in range(page.model_combo.count())]
    page.model_combo.setCurrentText("PLS")
    table = page.comparison_view.confusion_table
    assert table.rowCount() == 3
    assert table.columnCount() == 4
    assert table.horizontalHeaderItem(3).text() == "Recall"
    counts = np.array([[int(table.item(row, column).text()) for column in range(3)]
                       for row in range(3)])
    assert counts.sum() == 60
    first_recall = counts[0, 0] / counts[0].sum()
    assert table.item(0, 3).text() == f"{first_recall:.2f}"
    assert "first of 2 repeats" in page.comparison_view.confusion_view.title.text()

    # A sweep point whose checkpoint is gone (a newer GAN run) gives a message.
    project = window.controller.project
    chosen = page.checkpoint_combo.currentData()
    del project.checkpoints[3]
    window.controller.notify_training_changed()
    page.result_tabs.setCurrentIndex(0)
    _click_sweep_point(qtbot, page, 3)
    assert "checkpoint_missing" in page.messages.active_keys()
    assert "stored: 1, 2" in page.messages.text("checkpoint_missing")
    assert page.checkpoint_combo.currentData() == (chosen if chosen != 3 else 2)


def test_stop_sweep_stores_nothing(qtbot, window, task_runner, fermentation_file):
    page = _open(qtbot, window, task_runner, fermentation_file)
    page.epochs_spinbox.setValue(5000)
    progress: list[str] = []
    page.runner.progress.connect(lambda fraction, text: progress.append(text))

    def start_then_stop():
        assert page.start_sweep()
        assert not page.sweep_button.isEnabled()
        assert not page.form.isEnabled()
        qtbot.waitUntil(lambda: len(progress) >= 1, timeout=60_000)
        page.stop_button.click()

    outcome = task_runner(qtbot, page.runner, start_then_stop)

    assert outcome.kind == "cancelled"
    assert window.controller.project.sweeps == []
    assert page.messages.text("stopped") == "Sweep stopped; no results were stored."
    assert page.sweep_button.isEnabled()
    assert page.form.isEnabled()
    assert page.sweep_plot.points.getData()[0].size == 0


def test_bad_settings_show_a_message(qtbot, window, task_runner, fermentation_file):
    page = _open(qtbot, window, task_runner, fermentation_file)

    # No checkpoint ticked.
    page.all_checkpoints_checkbox.setChecked(False)
    assert not page.start_sweep()
    assert page.messages.active_keys() == ["no_selection"]

    # More folds than samples: the engine's message, without a traceback.
    page.all_checkpoints_checkbox.setChecked(True)
    page.form.folds_spinbox.setValue(30)
    outcome = task_runner(qtbot, page.runner, page.start_transfer)
    assert outcome.kind == "failed"
    text = page.messages.text("failed")
    assert text.startswith("Comparison failed. ")
    assert "30-fold" in text
    assert "Traceback" not in text
    assert outcome.args[1] == ""  # an expected error has no details
    assert window.controller.project.transfer_runs == []

    # Two measuring days cannot fill three grouped folds.
    references = window.controller.project.dataset.references.copy()
    references["day"] = ["day 1"] * 11 + ["day 2"] * 10
    window.controller.set_references(references)
    assert page.form.group_combo.findData("day") >= 0
    page.form.folds_spinbox.setValue(3)
    page.form.group_combo.setCurrentIndex(page.form.group_combo.findData("day"))
    assert page.settings_from_form().group_column == "day"
    outcome = task_runner(qtbot, page.runner, page.start_sweep)
    assert outcome.kind == "failed"
    text = page.messages.text("failed")
    assert text.startswith("Sweep failed. ")
    assert "2 groups would leave a fold empty" in text
    assert "Traceback" not in text
    assert window.controller.project.sweeps == []


@pytest.mark.parametrize(("column", "unit"), [
    ("glucose (g/L)", "g/L"),
    ("ethanol [% v/v]", "% v/v"),
    ("xylose ( mM )", "mM"),
    ("glucose", ""),
    ("batch (2) day", ""),
])
def test_column_unit_cases(column, unit):
    assert column_unit(column) == unit


def test_summary_counts_spectra_with_a_value(qtbot, window, fermentation):
    dataset = fermentation.subset(np.arange(fermentation.n_samples))
    references = dataset.references.copy()
    references.loc[[2, 5], "glucose"] = np.nan
    dataset.references = references
    window.controller.replace_project(Project(dataset=dataset, target="glucose",
                                              task="regression"))

    text = window.transfer_page.summary_label.text()

    assert text == ("Predicting <b>glucose</b> (regression) from the 19 of 21 spectra "
                    "that have a value.")
