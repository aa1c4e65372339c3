"""A whole session in the window on the coffee example, driven like a user would."""

from __future__ import annotations

import numpy as np
import pandas as pd
from PySide6.QtWidgets import QFileDialog, QMessageBox

from specgan_gui.data.preprocessing import parse_steps
from specgan_gui.gui.transfer_page import ALL_MODELS

Button = QMessageBox.StandardButton


def _train(qtbot, task_runner, window, epochs: int):
    page = window.training_page
    page.epochs_spinbox.setValue(epochs)
    page.snapshot_interval_spinbox.setValue(1)
    page.checkpoint_interval_spinbox.setValue(1)
    return task_runner(qtbot, page.runner, page.start_training)


def _set_cut(window, low: float, high: float) -> bool:
    """Store the pipeline "cut:LOW-HIGH,scale" through the Preprocessing page."""
    return window.preprocessing_page.set_pipeline(parse_steps(f"cut:{low}-{high},scale"))


def test_coffee_session_end_to_end(qtbot, window, dialogs, task_runner, tmp_path, monkeypatch):
    # Data: the example's 60 spectra are plotted, one legend entry per origin.
    window.open_example("coffee")
    spectra_plot = window.data_page.spectra_plot.getPlotItem()
    assert len(spectra_plot.listDataItems()) == 60
    legend_names = [label.text for _, label in spectra_plot.legend.items]
    assert legend_names == ["origin: Brasil", "origin: Ethiopia", "origin: Vietnam"]
    assert spectra_plot.getAxis("bottom").labelText == "Point index"
    assert spectra_plot.getAxis("left").labelText == "Absorbance"
    assert not window.isWindowModified()

    assert _set_cut(window, 0, 399)
    assert window.controller.project.preprocessing[0]["kind"] == "cut"
    assert window.isWindowModified()

    # GAN training: 3 epochs reach the loss plot and the generated-spectra plot.
    outcome = _train(qtbot, task_runner, window, epochs=3)
    assert outcome.kind == "finished", outcome.args
    assert outcome.args[0].epochs_completed == 3
    page = window.training_page
    epochs, losses = page.discriminator_loss_curve.getData()
    assert list(epochs) == [1.0, 2.0, 3.0]
    assert np.all(np.isfinite(losses))
    assert page.generator_loss_curve.getData()[0].size == 3
    assert len(page._generated_items) == 8
    generated_x, generated_y = page._generated_items[0].getData()
    assert generated_x.size == 400
    # Generated spectra are drawn in the absorbance units of the measured ones.
    measured = window.controller.project.dataset.spectra[:, :400]
    assert measured.min() - 1e-6 <= generated_y.min() <= generated_y.max() <= measured.max() + 1e-6
    assert page.progress_bar.text() == "epoch 3 / 3"
    assert page.discriminator_label.text().startswith("D(real) ")
    project = window.controller.project
    assert project.epochs_trained == 3
    assert project.checkpoint_epochs == [1, 2, 3]
    assert project.resume_state is not None

    # Changing the pipeline now asks first; "No" keeps the training.
    dialogs.answers = [Button.No]
    assert not _set_cut(window, 0, 599)
    assert "clears the GAN training (3 epochs" in dialogs.questions[-1]
    assert project.epochs_trained == 3

    # Transfer: 2 fine-tuning epochs with 5-fold cross-validation, 3 result rows.
    transfer = window.transfer_page
    assert transfer.checkpoint_combo.currentData() == 3
    transfer.epochs_spinbox.setValue(2)
    transfer.cv_combo.setCurrentIndex(transfer.cv_combo.findData("kfold"))
    progress: list[str] = []
    transfer.runner.progress.connect(lambda fraction, text: progress.append(text))
    outcome = task_runner(qtbot, transfer.runner, transfer.start_transfer)
    assert outcome.kind == "finished", outcome.args
    assert progress, "the transfer reported no progress"
    frame = transfer.result_model.frame
    assert list(frame["Model"]) == ["GAN transfer", "From scratch", "PLS"]
    assert frame["Accuracy"].between(0, 1).all()
    assert transfer.plot_stack.currentIndex() == 1  # confusion matrix for classes
    assert transfer.confusion_table.rowCount() == 3
    counts = [
        int(transfer.confusion_table.item(row, column).text())
        for row in range(3) for column in range(3)
    ]
    assert sum(counts) == 60
    assert ALL_MODELS not in [transfer.model_combo.itemText(i)
                              for i in range(transfer.model_combo.count())]
    assert set(project.models) == {"GAN transfer", "From scratch", "PLS"}
    assert len(project.transfer_runs) == 1

    # Prediction on the project's spectra: one row per spectrum.
    prediction = window.prediction_page
    prediction.model_combo.setCurrentText("PLS")
    outcome = task_runner(qtbot, prediction.runner, prediction.start_prediction)
    assert outcome.kind == "finished", outcome.args
    table = prediction.prediction_model.frame
    assert len(table) == 60
    assert list(table.columns[:2]) == ["Sample id", "Prediction"]
    assert set(table["Prediction"]) <= {"Brasil", "Ethiopia", "Vietnam"}
    csv_path = tmp_path / "predictions.csv"
    assert prediction.save_table(csv_path)
    assert len(pd.read_csv(csv_path)) == 60

    # Save As, start afresh, then reopen through the File menu's Open path.
    project_path = tmp_path / "coffee.h5"
    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.save_project_as(project_path))
    assert outcome.kind == "finished", outcome.args
    assert project_path.is_file()
    assert not window.isWindowModified()
    assert "coffee.h5" in window.windowTitle()

    window.new_project()
    assert window.controller.project.dataset is None
    assert len(window.data_page.spectra_plot.getPlotItem().listDataItems()) == 0

    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kwargs: (str(project_path), "")))
    outcome = task_runner(qtbot, window.file_runner, window.open_action.trigger)
    assert outcome.kind == "finished", outcome.args
    reopened = window.controller.project
    assert reopened.dataset.n_samples == 60
    assert reopened.epochs_trained == 3
    assert reopened.history["epoch"].tolist() == [1.0, 2.0, 3.0]
    assert set(reopened.models) == {"GAN transfer", "From scratch", "PLS"}
    assert len(reopened.predictions) == 1
    assert window.training_page.discriminator_loss_curve.getData()[0].size == 3
    assert len(window.transfer_page.result_model.frame) == 3
    assert len(window.prediction_page.prediction_model.frame) == 60
    assert window.preprocessing_page.spec() == parse_steps("cut:0-399,scale")
    assert "cut:0-399" in window.data_page.pipeline_label.text()


def test_pause_then_stop_keeps_epochs(qtbot, window, task_runner):
    window.open_example("coffee")
    assert _set_cut(window, 0, 199)
    page = window.training_page
    page.epochs_spinbox.setValue(1000)
    delivered: list[int] = []

    def on_items(items):
        delivered.extend(item.epoch for item in items if hasattr(item, "discriminator_loss"))

    page.runner.epoch_finished.connect(on_items)

    def start_pause_stop():
        assert page.start_training()
        assert not window.new_action.isEnabled()  # no project swaps while training
        qtbot.waitUntil(lambda: len(delivered) >= 1, timeout=60_000)
        page.pause_button.click()
        assert page.runner.is_paused
        assert page.pause_button.text() == "Resume"
        page.stop_button.click()

    outcome = task_runner(qtbot, page.runner, start_pause_stop)

    assert outcome.kind == "finished", outcome.args
    result = outcome.args[0]
    assert result.stopped
    assert result.reason == "stopped by user"
    project = window.controller.project
    assert project.epochs_trained == result.epochs_completed == delivered[-1]
    assert project.checkpoint_epochs[-1] == result.epochs_completed
    assert "stopped at epoch" in page.messages.text()
    assert page.pause_button.text() == "Pause"
    assert page.start_button.isEnabled()
    assert window.new_action.isEnabled()


def test_start_continues_stored_run(qtbot, window, task_runner):
    window.open_example("coffee")
    assert _set_cut(window, 0, 199)
    assert _train(qtbot, task_runner, window, epochs=1).kind == "finished"

    outcome = _train(qtbot, task_runner, window, epochs=2)

    assert outcome.kind == "finished", outcome.args
    project = window.controller.project
    assert project.history["epoch"].tolist() == [1.0, 2.0]
    assert "Continuing the stored run from epoch 1" in window.training_page.messages.text()
    assert window.training_page.discriminator_loss_curve.getData()[0].tolist() == [1.0, 2.0]


def test_close_while_training_asks_and_stops(qtbot, window, dialogs):
    window.open_example("coffee")
    assert _set_cut(window, 0, 199)
    page = window.training_page
    page.epochs_spinbox.setValue(1000)
    assert page.start_training()
    qtbot.waitUntil(lambda: page.progress_bar.text().startswith("epoch "), timeout=60_000)

    dialogs.answers = [Button.Yes, Button.Discard]
    window.close()

    assert not page.runner.is_running
    assert not window.isVisible()
    assert dialogs.questions[0].startswith("Stop the running task?")
    assert dialogs.questions[1].startswith("Unsaved changes")
    assert window.controller.project.resume_state is not None


def test_close_cancelled_keeps_training(qtbot, window, dialogs, task_runner):
    window.open_example("coffee")
    assert _set_cut(window, 0, 199)
    page = window.training_page
    page.epochs_spinbox.setValue(1000)

    def start_close_stop():
        assert page.start_training()
        dialogs.answers = [Button.No]
        window.close()
        assert window.isVisible()
        assert page.runner.is_running
        page.runner.stop()

    outcome = task_runner(qtbot, page.runner, start_close_stop)
    assert outcome.kind == "finished"


def test_unsaved_changes_prompt(qtbot, window, dialogs, task_runner, tmp_path, monkeypatch):
    window.open_example("coffee")
    assert _set_cut(window, 0, 399)
    assert window.controller.modified

    dialogs.answers = [Button.Cancel]
    window.new_project()
    assert window.controller.project.dataset is not None
    assert "unsaved changes" in dialogs.questions[-1]

    saved_path = tmp_path / "asked.h5"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (str(saved_path), "")))
    dialogs.answers = [Button.Save]
    outcome = task_runner(qtbot, window.file_runner, lambda: window.open_example("fermentation"))
    assert outcome.kind == "finished", outcome.args
    assert saved_path.is_file()
    assert window.controller.project.dataset.name == "fermentation"
    assert not window.controller.modified

    assert _set_cut(window, 950, 1550)
    dialogs.answers = [Button.Discard]
    window.new_project()
    assert window.controller.project.dataset is None
    assert window.windowTitle().startswith("Untitled")


def test_save_failure_is_reported(qtbot, window, dialogs, task_runner, tmp_path):
    window.open_example("coffee")
    missing_folder = tmp_path / "missing" / "coffee.h5"

    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.save_project_as(missing_folder))

    assert outcome.kind == "failed"
    text, details = dialogs.errors[-1]
    assert "missing" in text
    assert "Traceback" not in text
    assert window.controller.project.path is None


def test_open_damaged_file_keeps_project(qtbot, window, dialogs, task_runner, tmp_path):
    window.open_example("coffee")
    damaged = tmp_path / "damaged.h5"
    damaged.write_text("not an HDF5 file\n")

    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.open_project(damaged, ask=False))

    assert outcome.kind == "failed"
    assert "not an HDF5 file" in dialogs.errors[-1][0]
    assert window.controller.project.dataset.name == "coffee"


def test_regression_transfer_and_file_prediction(qtbot, window, task_runner, tmp_path):
    window.open_example("fermentation")
    assert _set_cut(window, 950, 1550)
    assert _train(qtbot, task_runner, window, epochs=1).kind == "finished"

    transfer = window.transfer_page
    transfer.epochs_spinbox.setValue(2)
    transfer.cv_combo.setCurrentIndex(transfer.cv_combo.findData("kfold"))
    outcome = task_runner(qtbot, transfer.runner, transfer.start_transfer)
    assert outcome.kind == "finished", outcome.args
    assert list(transfer.result_model.frame.columns[:3]) == ["Model", "RMSECV", "R²"]
    # Each row names the pipeline its model used, in the last column.
    assert transfer.result_model.frame.columns[-1] == "Preprocessing"
    assert transfer.result_model.frame["Preprocessing"].tolist() == ["cut:950-1550, scale"] * 3
    assert transfer.plot_stack.currentIndex() == 0
    assert transfer.model_combo.currentText() == ALL_MODELS
    plot = transfer.prediction_plot.getPlotItem()
    legend_names = [label.text for _, label in plot.legend.items]
    assert legend_names[0] == "1:1"
    assert [name.split(" (")[0] for name in legend_names[1:]] == [
        "GAN transfer", "From scratch", "PLS"]
    assert all("RMSECV" in name for name in legend_names[1:])
    assert plot.getAxis("bottom").labelText == "Measured glucose"
    assert len(plot.listDataItems()) == 4
    measured_x, _ = plot.listDataItems()[1].getData()
    assert measured_x.size == 21
    transfer.model_combo.setCurrentText("PLS")
    assert len(plot.listDataItems()) == 2

    dataset = window.controller.project.dataset
    frame = pd.DataFrame(dataset.spectra, columns=[f"{x:g}" for x in dataset.axis])
    frame.insert(0, "sample", [f"new-{i}" for i in range(dataset.n_samples)])
    new_spectra = tmp_path / "new.csv"
    frame.to_csv(new_spectra, index=False)
    prediction = window.prediction_page
    assert prediction.load_spectra([new_spectra])
    assert prediction.files_radio.isChecked()
    prediction.model_combo.setCurrentText("PLS")
    outcome = task_runner(qtbot, prediction.runner, prediction.start_prediction)
    assert outcome.kind == "finished", outcome.args
    table = prediction.prediction_model.frame
    assert list(table.columns) == ["Sample id", "Prediction"]
    assert table["Sample id"].tolist()[:2] == ["new-0", "new-1"]
    project_prediction = window.controller.project.predictions[-1]
    assert np.allclose(table["Prediction"].to_numpy(float),
                       np.asarray(project_prediction["values"], dtype=float))

    # Saving twice shows the latest outcome only, not both.
    assert not prediction.save_table(tmp_path)  # a folder, so writing fails
    assert "save_failed" in prediction.messages.active_keys()
    assert prediction.save_table(tmp_path / "predictions.csv")
    assert "saved" in prediction.messages.active_keys()
    assert "save_failed" not in prediction.messages.active_keys()

    # A failed prediction clears the table, so Save table cannot write the old one.
    nm_spectra = tmp_path / "nm.csv"
    frame = frame.rename(columns={"sample": "Wavelength (nm)"})
    frame.to_csv(nm_spectra, index=False)
    assert prediction.load_spectra([nm_spectra])
    outcome = task_runner(qtbot, prediction.runner, prediction.start_prediction)
    assert outcome.kind == "failed"
    assert prediction.messages.active_keys() == ["failed"]
    assert "axis is in nm" in prediction.messages.text("failed")
    assert prediction.prediction_model.frame.empty
    assert not prediction.save_button.isEnabled()
    assert not prediction.save_table(tmp_path / "stale.csv")
    assert not (tmp_path / "stale.csv").exists()

    # Reopened, the Model box names the model of the predictions on show.
    prediction.model_combo.setCurrentText("GAN transfer")
    project_path = tmp_path / "fermentation.h5"
    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.save_project_as(project_path))
    assert outcome.kind == "finished", outcome.args
    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.open_project(project_path, ask=False))
    assert outcome.kind == "finished", outcome.args
    assert window.controller.project.predictions[-1]["model"] == "PLS"
    assert window.prediction_page.model_combo.currentText() == "PLS"
