"""The specgan-gui entry point: exit status, options, uncaught errors, icon."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from specgan_gui.gui import app

REPO = Path(__file__).resolve().parents[2]


def test_example_window_quits_with_status_zero(tmp_path):
    # XDG_CONFIG_HOME keeps the saved window geometry out of the user's home.
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    completed = subprocess.run(
        [sys.executable, "-m", "specgan_gui.gui.app", "--example", "coffee", "--quit-after", "2"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert "Traceback" not in completed.stderr
    assert (tmp_path / "specgan_gui" / "SpecGAN.conf").is_file()


def test_project_that_fails_to_open_gives_status_one(tmp_path):
    damaged = tmp_path / "damaged.h5"
    damaged.write_text("not an HDF5 file\n")
    environment = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path))
    completed = subprocess.run(
        [sys.executable, "-m", "specgan_gui.gui.app", str(damaged), "--quit-after", "2"],
        cwd=REPO, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 1, completed.stderr[-2000:]
    assert f"specgan-gui: {damaged} is not a specgan_gui project" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert damaged.read_text() == "not an HDF5 file\n"

def test_help_describes_quit_after():
    parser = app.build_parser()
    text = parser.format_help()
    assert "--quit-after SECONDS" in text
    assert "scripted checks" in text
    assert "--example {coffee,fermentation}" in text


def test_uncaught_exception_shows_short_message(qtbot, dialogs):
    reporter = app.ExceptionReporter()
    try:
        raise ValueError("could not broadcast (3,) into (4,)")
    except ValueError as exc:
        reporter.handle(type(exc), exc, exc.__traceback__)

    qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    text, details = dialogs.errors[0]
    assert text.startswith("Unexpected error: ValueError: could not broadcast (3,) into (4,)")
    assert "Traceback" not in text
    assert "Traceback (most recent call last)" in details
    assert "test_app.py" in details


def test_thread_exception_reaches_gui_thread(qtbot, dialogs):
    reporter = app.ExceptionReporter()
    reporter.install()
    try:
        def fail():
            raise RuntimeError("reader thread died")

        thread = threading.Thread(target=fail, name="failing reader")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: len(dialogs.errors) == 1)
    finally:
        reporter.uninstall()

    assert dialogs.errors[0][0].startswith("Unexpected error: RuntimeError: reader thread died")
    assert sys.excepthook is not reporter.handle


def test_missing_icon_gives_empty_icon(qapp, monkeypatch, tmp_path):
    assert not app.application_icon().isNull()

    monkeypatch.setattr(app, "ICON_PATH", tmp_path / "missing.svg")

    assert app.application_icon().isNull()


PROBE = """
import sys
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget

class Emitter(QObject):
    fired = Signal(bool)

app = QApplication([])
widget = QWidget()
emitter = Emitter()
none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
for _ in range(2000):
    widget.setWindowTitle("probe")
    emitter.fired.emit(True)
print(sys.getrefcount(None) - none_before, sys.getrefcount(True) - true_before)
"""


def test_binding_keeps_reference_counts():
    # PySide6 6.12.0 on Python 3.11 loses a reference to None per void Qt call
    # and to True per emit(True), which aborts long sessions; see pyproject.toml.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    none_change, true_change = map(int, result.stdout.split())
    assert abs(none_change) < 100
    assert abs(true_change) < 100
