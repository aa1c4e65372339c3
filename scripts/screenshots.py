"""Capture the five pages of the window into docs/images/.

The script runs offscreen on a virtual 1600x1000 screen.  It first shows
the Preprocessing page on the fermentation example with the pipeline
"cut:950-1550,savgol:15:2:1,scale" (preprocessing.png).  It then opens the
coffee example and cuts it to points 0-499, so that the whole script takes
a few minutes on two CPU cores.  It trains the GAN (capturing the
training page mid-run), sweeps the checkpoints, runs the transfer
comparison at the best one and a prediction, and saves data.png,
gan-training.png, transfer-sweep.png, transfer.png and prediction.png.  Window
settings go to a temporary folder, so the user's saved geometry is neither
used nor changed.

Usage: ``python scripts/screenshots.py [--out docs/images] [--epochs 30]``
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCREEN = {"width": 1600, "height": 1000}
WINDOW_SIZE = (1280, 800)

log = logging.getLogger("screenshots")


def _use_offscreen_screen(folder: Path) -> None:
    # Qt's offscreen platform has an 800x800 screen by default, which would shrink
    # the window; a config file gives it a larger one.  Must happen before Qt starts.
    config = folder / "screen.json"
    config.write_text(json.dumps({"screens": [{
        "name": "screenshots", "x": 0, "y": 0, **SCREEN,
        "logicalDpi": 96, "logicalBaseDpi": 96, "dpr": 1,
    }]}))
    os.environ["QT_QPA_PLATFORM"] = f"offscreen:configfile={config}"


def _wait(signals, timeout_s: float) -> tuple[str, tuple]:
    """Run the event loop until one of `signals` (name -> signal) fires."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    fired: dict = {}
    slots = []
    for name, signal in signals.items():
        def slot(*args, name=name):
            fired.setdefault("outcome", (name, args))
            loop.quit()

        signal.connect(slot)
        slots.append((signal, slot))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    for signal, slot in slots:
        signal.disconnect(slot)
    if "outcome" not in fired:
        raise TimeoutError(f"no signal of {sorted(signals)} within {timeout_s:.0f} s")
    return fired["outcome"]


def _outcome(runner, timeout_s: float):
    name, args = _wait(
        {"finished": runner.finished, "failed": runner.failed, "cancelled": runner.cancelled},
        timeout_s,
    )
    if name != "finished":
        raise RuntimeError(f"{runner.name} ended with {name}: {args}")
    return args[0]


def _capture(app, window, page, path: Path) -> None:
    window.pages.setCurrentWidget(page)
    for _ in range(3):
        app.processEvents()
    if not window.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    log.info("saved %s", path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images",
                        help="folder for the PNG files (default: docs/images)")
    parser.add_argument("--epochs", type=int, default=30, help="GAN epochs (default: 30)")
    parser.add_argument("--transfer-epochs", type=int, default=10,
                        help="fine-tuning epochs of the comparison (default: 10)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    with tempfile.TemporaryDirectory() as scratch:
        scratch_path = Path(scratch)
        _use_offscreen_screen(scratch_path)
        from PySide6.QtCore import QEvent, QSettings
        from PySide6.QtWidgets import QApplication

        for settings_format in (QSettings.Format.NativeFormat, QSettings.Format.IniFormat):
            QSettings.setPath(settings_format, QSettings.Scope.UserScope, scratch)
        app = QApplication([sys.argv[0]])
        from specgan_gui.gui.app import application_icon
        from specgan_gui.gui.main_window import MainWindow

        app.setWindowIcon(application_icon())
        window = MainWindow()
        window.resize(*WINDOW_SIZE)
        window.show()
        try:
            _run_session(app, window, args)
        finally:
            window.close_without_asking()
            window.deleteLater()
            app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
            app.processEvents()
            app.shutdown()
    log.info("done in %.0f s", time.perf_counter() - started)
    return 0


def _capture_page(app, window, page, path: Path) -> None:
    """Save the page alone, without the window's tabs, menu and status bar."""
    window.pages.setCurrentWidget(page)
    for _ in range(3):
        app.processEvents()
    if not page.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    log.info("saved %s", path)


def _run_session(app, window, args) -> None:
    from specgan_gui.data.preprocessing import parse_steps

    # Preprocessing page: a cut and a first derivative on the fermentation example,
    # with the derivative step selected to show its own effect.
    window.open_example("fermentation", ask=False)
    preprocessing = window.preprocessing_page
    if not preprocessing.set_pipeline(parse_steps("cut:950-1550,savgol:15:2:1,scale")):
        raise RuntimeError(preprocessing.messages.text())
    preprocessing.select_step(1)
    preprocessing.update_preview()
    _capture_page(app, window, preprocessing, args.out / "preprocessing.png")

    # Data page: the coffee example with the kept range shaded.
    window.open_example("coffee", ask=False)
    if not preprocessing.set_pipeline(parse_steps("cut:0-499,scale")):
        raise RuntimeError(preprocessing.messages.text())
    data = window.data_page
    _capture(app, window, data, args.out / "data.png")

    # GAN training, captured once two thirds of the epochs are done.
    training = window.training_page
    training.epochs_spinbox.setValue(args.epochs)
    training.snapshot_interval_spinbox.setValue(2)
    training.checkpoint_interval_spinbox.setValue(max(1, args.epochs // 3))
    window.pages.setCurrentWidget(training)
    if not training.start_training():
        raise RuntimeError(training.messages.text())
    captured = False
    while training.runner.is_running:
        _wait({"delivered": training.runner.epoch_finished,
               "finished": training.runner.finished,
               "failed": training.runner.failed}, timeout_s=120)
        # The plotted epochs, not the project: the worker thread is changing the project.
        epochs, _ = training.discriminator_loss_curve.getData()
        epoch = int(epochs[-1]) if epochs is not None and len(epochs) else 0
        if not captured and epoch >= (2 * args.epochs) // 3:
            _capture(app, window, training, args.out / "gan-training.png")
            captured = True
    if not captured:
        _capture(app, window, training, args.out / "gan-training.png")

    # Sweep every checkpoint with 5-fold cross-validation, then compare the
    # models at the best epoch with three repeats.
    transfer = window.transfer_page
    transfer.epochs_spinbox.setValue(args.transfer_epochs)
    transfer.cv_combo.setCurrentIndex(transfer.cv_combo.findData("kfold"))
    transfer.form.repeats_spinbox.setValue(1)
    window.pages.setCurrentWidget(transfer)
    if not transfer.start_sweep():
        raise RuntimeError(transfer.messages.text())
    _outcome(transfer.runner, timeout_s=900)
    _capture(app, window, transfer, args.out / "transfer-sweep.png")
    transfer.form.repeats_spinbox.setValue(3)
    if not transfer.start_transfer():
        raise RuntimeError(transfer.messages.text())
    _outcome(transfer.runner, timeout_s=900)
    transfer.model_combo.setCurrentText("GAN transfer")
    _capture(app, window, transfer, args.out / "transfer.png")

    # Prediction of the project's spectra with the best model.
    prediction = window.prediction_page
    prediction.model_combo.setCurrentText(transfer.result.best_model())
    if not prediction.start_prediction():
        raise RuntimeError(prediction.messages.text())
    _outcome(prediction.runner, timeout_s=120)
    _capture(app, window, prediction, args.out / "prediction.png")


if __name__ == "__main__":
    sys.exit(main())
