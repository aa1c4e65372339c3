"""Main window: menu actions, shortcuts, title, busy state and saved geometry."""

from __future__ import annotations

from PySide6.QtGui import QKeySequence

from specgan_gui.data.preprocessing import parse_steps
from specgan_gui.gui.settings import window_settings


def test_file_menu_shortcuts(window):
    shortcuts = {
        action.text().replace("&", ""): action.shortcut().toString()
        for action in (window.new_action, window.open_action, window.save_action,
                       window.save_as_action, window.quit_action)
    }
    assert shortcuts == {
        "New": QKeySequence(QKeySequence.StandardKey.New).toString(),
        "Open…": QKeySequence(QKeySequence.StandardKey.Open).toString(),
        "Save": QKeySequence(QKeySequence.StandardKey.Save).toString(),
        "Save As…": "Ctrl+Shift+S",
        "Quit": "Ctrl+Q",
    }


def test_example_menu_action_opens_example(window):
    window.example_actions["fermentation"].trigger()

    project = window.controller.project
    assert project.dataset.n_samples == 21
    assert project.target == "glucose"
    assert project.task == "regression"
    assert window.windowTitle() == "fermentation[*] — SpecGAN"
    assert not window.isWindowModified()
    assert "21 spectra × 1047 points" in window.summary_label.text()


def test_title_marks_modified_project(window):
    assert window.windowTitle() == "Untitled[*] — SpecGAN"
    window.open_example("coffee")

    window.data_page.set_target("origin", "classification")
    assert not window.isWindowModified()
    assert window.preprocessing_page.set_pipeline(parse_steps("cut:0-999,scale"))

    assert window.isWindowModified()


def test_pages_in_work_order(window):
    titles = [window.pages.tabText(i) for i in range(window.pages.count())]
    assert titles == ["1 · Data", "2 · Preprocessing", "3 · GAN training", "4 · Transfer",
                      "5 · Prediction"]


def test_close_saves_geometry(window):
    window.resize(1100, 700)
    window.close()

    assert not window.isVisible()
    geometry = window_settings().value("window/geometry")
    assert geometry is not None
    assert not geometry.isEmpty()
