"""Fixtures of the window tests: offscreen Qt, private settings, no leftover threads.

Every test here fails on a Qt warning (pytest-qt's ``qt_log_level_fail``),
on a modal dialog that the test did not answer, and on a task or Python
thread still running after the test.
"""

from __future__ import annotations

import os

# Must be set before a QApplication exists; pytest-qt creates it lazily.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading
from pathlib import Path

import pytest

#: Qt warnings that say nothing about the code under test.
QT_LOG_IGNORE = (
    # The offscreen platform cannot resize native windows; printed on show().
    "This plugin does not support propagateSizeHints",
)

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*QT_LOG_IGNORE))


@pytest.fixture(scope="session", autouse=True)
def private_settings(tmp_path_factory):
    """Keep QSettings (window geometry, recent folders) out of the user's home."""
    from PySide6.QtCore import QSettings

    folder = str(tmp_path_factory.mktemp("qsettings"))
    for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
        QSettings.setPath(settings_format, QSettings.Scope.UserScope, folder)
    return folder


@pytest.fixture(autouse=True)
def no_threads_left_running():
    """Fail a test that leaves a task thread or a Python thread running."""
    from specgan_gui.gui.worker import active_thread_count

    before = {thread.ident for thread in threading.enumerate()}
    yield
    assert active_thread_count() == 0, "a TaskRunner thread was not joined"
    # Python registers a "dummy" entry, alive forever, for each foreign thread (a
    # QThread) that logs; task threads are counted by active_thread_count instead.
    foreign = getattr(threading, "_DummyThread", ())
    left = [
        thread.name for thread in threading.enumerate()
        if thread.ident not in before and thread.is_alive() and not isinstance(thread, foreign)
    ]
    assert left == [], f"threads still running: {left}"


class DialogAnswers:
    """Answers modal questions in order and records what was asked."""

    def __init__(self):
        self.answers: list = []
        self.questions: list[str] = []
        self.errors: list[tuple[str, str]] = []

    def question(self, parent, title, text, *args, **kwargs):
        self.questions.append(f"{title}: {text}")
        if not self.answers:
            raise AssertionError(f"unexpected question: {title}: {text}")
        return self.answers.pop(0)


@pytest.fixture(autouse=True)
def dialogs(monkeypatch):
    """Replace QMessageBox.question and exec so no test ever blocks on a dialog.

    Set ``dialogs.answers`` to the buttons to return; an unexpected question
    or file dialog fails the test (tests replace the file dialogs they expect).
    Error boxes are recorded in ``dialogs.errors`` as (text, detailed text).
    """
    from PySide6.QtWidgets import QFileDialog, QMessageBox

    answers = DialogAnswers()

    def exec_box(box):
        answers.errors.append((box.text(), box.detailedText()))
        return int(QMessageBox.StandardButton.Ok)

    def unexpected_file_dialog(*args, **kwargs):
        raise AssertionError(f"unexpected file dialog: {args[1:3]}")

    monkeypatch.setattr(QMessageBox, "question", staticmethod(answers.question))
    monkeypatch.setattr(QMessageBox, "exec", exec_box)
    for name in ("getOpenFileName", "getOpenFileNames", "getSaveFileName"):
        monkeypatch.setattr(QFileDialog, name, staticmethod(unexpected_file_dialog))
    return answers


@pytest.fixture
def window(qtbot):
    """A shown main window with an empty project, deleted without questions afterwards.

    The window is not handed to ``qtbot.addWidget``: pytest-qt would close it
    before this fixture's teardown, and a modified project would then ask.
    """
    from PySide6.QtCore import QCoreApplication, QEvent

    from specgan_gui.gui.main_window import MainWindow

    main_window = MainWindow()
    main_window.show()
    yield main_window
    main_window.controller.stop_tasks(10_000)
    main_window.close_without_asking()
    main_window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


class TaskOutcome:
    """The end of one task: kind ("finished", "failed", "cancelled") and signal args."""

    def __init__(self):
        self.kind: str | None = None
        self.args: tuple = ()

    def record(self, kind):
        def slot(*args):
            self.kind, self.args = kind, args

        return slot


def run_task(qtbot, runner, start, timeout_ms: int = 120_000) -> TaskOutcome:
    """Call `start` (which starts a task on `runner`) and wait until the task ends."""
    outcome = TaskOutcome()
    connections = [
        (runner.finished, outcome.record("finished")),
        (runner.failed, outcome.record("failed")),
        (runner.cancelled, outcome.record("cancelled")),
    ]
    for signal, slot in connections:
        signal.connect(slot)
    try:
        assert start() is not False, "the task did not start"
        qtbot.waitUntil(lambda: outcome.kind is not None, timeout=timeout_ms)
    finally:
        for signal, slot in connections:
            signal.disconnect(slot)
    return outcome


@pytest.fixture
def task_runner():
    """`run_task` as a fixture, so test modules need no import from conftest."""
    return run_task
