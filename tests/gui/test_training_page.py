"""The GAN training page's health views: alarms, realism plot, snapshot browser, GIF."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog

from specgan_gui.data.preprocessing import parse_steps
from specgan_gui.gui.gan_health import export_snapshot_gif
from specgan_gui.training.diagnostics import REALISM_MEASURES


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Train on one thread: the networks here are small, and on a loaded 2-core
    machine two threads made a short run many times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _open_coffee(window, points: int = 200) -> None:
    window.open_example("coffee")
    assert window.preprocessing_page.set_pipeline(parse_steps(f"cut:0-{points - 1},scale"))


def _train(qtbot, task_runner, page, epochs: int, snapshot_interval: int):
    page.epochs_spinbox.setValue(epochs)
    page.snapshot_interval_spinbox.setValue(snapshot_interval)
    page.checkpoint_interval_spinbox.setValue(epochs)
    return task_runner(qtbot, page.runner, page.start_training)


def _make_broken(window, page) -> None:
    """A one-unit Dense bottleneck and a generator that barely learns: flat lines."""
    window.controller.project.gan_architecture = {"hidden_units": 1}
    page.code_length_spinbox.setValue(200)
    page.generator_lr_spinbox.setValue(1e-5)


def test_healthy_run_fills_realism_and_browser(qtbot, window, task_runner):
    _open_coffee(window)
    page = window.training_page

    outcome = _train(qtbot, task_runner, page, epochs=4, snapshot_interval=2)

    assert outcome.kind == "finished", outcome.args
    assert page.alarm_panel.isHidden()
    assert page.alarm_panel.alarms == []
    for name in REALISM_MEASURES:
        epochs, values = page.realism_plot.values(name)
        assert epochs.tolist() == [2.0, 4.0], name
        assert np.all(np.isfinite(values)), name
    plot_item = page.realism_plot.plot_widget.getPlotItem()
    assert plot_item.getAxis("bottom").labelText == "Epoch"
    assert plot_item.getAxis("left").labelText == "Measure value (log scale)"
    legend = page.realism_plot.legend_label.text()
    for name in page.realism_plot.legend_names():
        assert name in legend, name
    assert "Classifier score" in legend

    browser = page.snapshot_browser
    assert browser.epochs == [2, 4]
    assert browser.selected_epoch() == 4
    assert page.snapshot_marker.isVisible()
    assert page.snapshot_marker.value() == 4

    browser.select_epoch(2)

    assert page.snapshot_marker.value() == 2
    assert page.generated_plot.getPlotItem().titleLabel.text == "Generated spectra at epoch 2"
    assert browser.label.text() == "epoch 2 (1 of 2)"
    assert page.generated_plot.getPlotItem().getAxis("left").labelText == "Absorbance"


def test_continued_run_appends_without_duplicates(qtbot, window, task_runner):
    _open_coffee(window)
    page = window.training_page
    assert _train(qtbot, task_runner, page, epochs=2, snapshot_interval=2).kind == "finished"

    outcome = _train(qtbot, task_runner, page, epochs=4, snapshot_interval=2)

    assert outcome.kind == "finished", outcome.args
    assert page.realism_plot.values("diversity")[0].tolist() == [2.0, 4.0]
    assert page.snapshot_browser.epochs == [2, 4]
    assert window.controller.project.realism["epoch"].tolist() == [2.0, 4.0]



def test_stop_while_paused_does_not_say_resumed(qtbot, window, task_runner):
    _open_coffee(window)
    page = window.training_page
    statuses: list[str] = []
    window.controller.status_message_requested.connect(statuses.append)
    page.epochs_spinbox.setValue(10_000)

    def start_pause_and_stop():
        assert page.start_training()
        page.pause_button.setChecked(True)
        page.runner.stop()

    outcome = task_runner(qtbot, page.runner, start_pause_and_stop)

    assert outcome.kind in ("finished", "cancelled"), outcome.args
    assert "GAN training paused" in statuses
    assert not any("resumed" in text for text in statuses), statuses
    assert not page.pause_button.isChecked()
    assert page.pause_button.text() == "Pause"

def test_broken_run_shows_collapse_alarm(qtbot, window, task_runner, tmp_path):
    _open_coffee(window)
    page = window.training_page
    _make_broken(window, page)
    delivered = []
    page.runner.epoch_finished.connect(
        lambda items: delivered.extend(i for i in items if hasattr(i, "remedy")))

    outcome = _train(qtbot, task_runner, page, epochs=6, snapshot_interval=3)

    assert outcome.kind == "finished", outcome.args
    assert [(alarm.epoch, alarm.kind) for alarm in delivered] == [(3, "collapse")]
    assert not page.alarm_panel.isHidden()
    text = page.alarm_panel.text()
    assert "1 alarm in this run" in text
    assert "Epoch 3 · Generator collapse" in text
    assert "code length 100" in text
    assert "GAN health alarm at epoch 3" in page.messages.text()

    # Saved and reopened, the project shows the alarm again.
    path = tmp_path / "broken.h5"
    assert task_runner(qtbot, window.file_runner,
                       lambda: window.save_project_as(path)).kind == "finished"
    window.new_project()
    assert page.alarm_panel.isHidden()
    outcome = task_runner(qtbot, window.file_runner,
                          lambda: window.open_project(path, ask=False))
    assert outcome.kind == "finished", outcome.args
    assert not page.alarm_panel.isHidden()
    assert "Epoch 3 · Generator collapse" in page.alarm_panel.text()
    assert page.realism_plot.values("variation")[0].tolist() == [3.0, 6.0]
    assert page.snapshot_browser.epochs == [3, 6]


def test_export_gif_frames(qtbot, window, task_runner, tmp_path, monkeypatch):
    _open_coffee(window)
    page = window.training_page
    assert _train(qtbot, task_runner, page, epochs=3, snapshot_interval=1).kind == "finished"
    path = tmp_path / "snapshots.gif"
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        staticmethod(lambda *args, **kwargs: (str(path), "")))

    events: list[str] = []
    page.snapshot_browser.export_button.click()
    page._gif_export.progress.connect(lambda done, total: events.append(f"frame {done}/{total}"))
    QTimer.singleShot(0, lambda: events.append("event loop"))

    # Frames render one per turn of the event loop; the button waits meanwhile.
    assert not page.snapshot_browser.export_button.isEnabled()
    qtbot.waitUntil(lambda: "Saved 3 snapshot frames" in page.messages.text(), timeout=30_000)
    assert page.snapshot_browser.export_button.isEnabled()
    assert events[-1] == "frame 3/3"
    assert events.index("event loop") < events.index("frame 3/3")
    with Image.open(path) as image:
        assert image.n_frames == 3
        assert image.size == (720, 440)
    assert "Saved 3 snapshot frames" in page.messages.text()


def test_export_gif_thins_long_runs(qtbot, tmp_path):
    axis = np.linspace(400.0, 1800.0, 50)
    snapshots = {epoch: np.sin(axis / 100.0 + epoch)[None, :].repeat(3, axis=0)
                 for epoch in range(10, 410, 10)}
    path = tmp_path / "long.gif"

    frames = export_snapshot_gif(path, snapshots, axis, lambda s: s * 2.0,
                                 "Wavenumber (cm-1)", "Absorbance", max_frames=7)

    assert frames == 7
    with Image.open(path) as image:
        assert image.n_frames == 7


def test_export_gif_rejects_mismatch(qtbot, tmp_path):
    axis = np.arange(10.0)
    with pytest.raises(ValueError, match="epoch 5"):
        export_snapshot_gif(tmp_path / "bad.gif", {5: np.zeros((2, 4))}, axis,
                            lambda s: s, "Point", "Intensity")
    with pytest.raises(ValueError, match="no snapshots"):
        export_snapshot_gif(tmp_path / "none.gif", {}, axis, lambda s: s, "Point", "Intensity")


@pytest.mark.parametrize("width", [500, 900])
def test_alarm_panel_shows_every_wrapped_line(qtbot, width):
    from specgan_gui.gui.gan_health import AlarmPanel
    from specgan_gui.training.diagnostics import REMEDIES, Alarm

    panel = AlarmPanel()
    qtbot.addWidget(panel)
    panel.resize(width, 400)
    panel.show()
    panel.add_alarm(Alarm(1060, "gradient_norm", "The median gradient norm of the last 20 "
                          "epochs is 101, above 100: the updates are too large for stable "
                          "training.", REMEDIES["gradient_norm"]))
    panel.add_alarm(Alarm(1200, "collapse", "Every generated spectrum is a flat line.",
                          REMEDIES["collapse"]))
    qtbot.wait(50)

    viewport = panel.list.viewport().rect()
    for row in range(panel.list.count()):
        item_rect = panel.list.visualItemRect(panel.list.item(row))
        assert item_rect.height() > panel.list.fontMetrics().height(), row  # wrapped
        assert viewport.contains(item_rect), (row, item_rect, viewport)
