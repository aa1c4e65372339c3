"""Event-loop stalls and epoch rate while the window trains, and the redraw time of big plots."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.common import reference_project, time_call

PROBE_INTERVAL_MS = 5


def _wait(app, seconds: float) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()


def _probe_training(app, window, seconds: float, rate_seconds: float) -> dict:
    """Train in the window: `seconds` with a timer that measures the event loop's stalls,
    then `rate_seconds` more without it, for the epoch rate."""
    from PySide6.QtCore import Qt, QTimer

    page = window.training_page
    page.epochs_spinbox.setValue(page.epochs_spinbox.maximum())
    page.device_combo.setCurrentIndex(max(page.device_combo.findData("cpu"), 0))
    arrivals: list[tuple[float, int]] = []

    def record(items) -> None:
        epochs = [item.epoch for item in items if hasattr(item, "discriminator_loss")]
        if epochs:
            arrivals.append((time.perf_counter(), max(epochs)))

    page.runner.epoch_finished.connect(record)
    ticks: list[float] = []
    probe = QTimer()
    probe.setTimerType(Qt.TimerType.PreciseTimer)
    probe.setInterval(PROBE_INTERVAL_MS)
    probe.timeout.connect(lambda: ticks.append(time.perf_counter()))
    # The click on Start is timed on its own: it fits the pipeline and draws the
    # measured spectra in the window's thread once, before training runs.
    clicked = time.perf_counter()
    if not page.start_training():
        raise RuntimeError("the training page did not start training")
    start_ms = 1000 * (time.perf_counter() - clicked)
    probe.start()
    _wait(app, seconds)
    probe.stop()
    # The probe wakes the window's thread 200 times a second, which costs the
    # training threads time too, so the epoch rate is measured afterwards,
    # over another stretch of the same run without the probe.
    rate_from = time.perf_counter() + 1.0
    _wait(app, rate_seconds)
    page.runner.stop()
    page.runner.wait(120_000)
    app.processEvents()
    page.runner.epoch_finished.disconnect(record)

    gaps = np.diff(np.asarray(ticks)) * 1000
    stalls = np.clip(gaps - PROBE_INTERVAL_MS, 0, None)
    rate = float("nan")
    unprobed = [arrival for arrival in arrivals if arrival[0] >= rate_from]
    if len(unprobed) >= 2:
        (first_time, first_epoch), (last_time, last_epoch) = unprobed[0], unprobed[-1]
        rate = (last_epoch - first_epoch) / (last_time - first_time)
    return {
        "probe_seconds": seconds,
        "start_click_ms": start_ms,
        "ticks": len(ticks),
        "max_stall_ms": float(stalls.max()),
        "p99_stall_ms": float(np.percentile(stalls, 99)),
        "window_epochs": arrivals[-1][1] if arrivals else 0,
        "rate_epochs": (unprobed[-1][1] - unprobed[0][1]) if len(unprobed) >= 2 else 0,
        "window_epochs_per_second": rate,
    }


def _direct_rate(epochs: int) -> float:
    """Epochs per second of the same run through `train_gan`, without a window."""
    from specgan_gui.training.gan_trainer import GANTrainingSettings
    from specgan_gui.training.workflow import train_gan

    times: list[float] = []
    settings = GANTrainingSettings(epochs=epochs, device="cpu")
    train_gan(reference_project(), settings, on_epoch=lambda stats: times.append(
        time.perf_counter()))
    return (len(times) - 1) / (times[-1] - times[0])


def _redraw(app, window) -> dict:
    """Deliver a 10 000-epoch history and generated spectra to the training page and paint it.

    Two kinds of generated spectra: 60 smooth ones (measured spectra with 1 %
    noise, as from a trained generator) and 8 noisy ones (tanh of Gaussian
    noise, as from an untrained generator in the first epochs).
    """
    from benchmarks.common import reference_spectra
    from specgan_gui.training.gan_trainer import EpochStats, Snapshot

    page = window.training_page
    rng = np.random.default_rng(0)
    history = [
        EpochStats(epoch, 0.7 + 0.1 * rng.random(), 0.7 + 0.1 * rng.random(), 0.5, 0.5,
                   1.0, 1.0, 1.0)
        for epoch in range(1, 10_001)
    ]
    measured = reference_spectra()
    rows = np.arange(60) % measured.shape[0]
    smooth = np.clip(measured[rows] + 0.01 * rng.standard_normal((60, measured.shape[1])), -1, 1)
    noisy = np.tanh(rng.standard_normal((8, measured.shape[1])))

    def paint() -> None:
        page.loss_plot.grab()
        page.generated_plot.grab()

    def deliver(items) -> float:
        return 1000 * time_call(lambda: (page._on_items_delivered(items), paint()))

    figures = {
        "history_and_smooth_ms": deliver([*history, Snapshot(10_000, smooth.astype(np.float32))]),
        "one_epoch_smooth_ms": deliver([
            EpochStats(10_001, 0.7, 0.7, 0.5, 0.5, 1.0, 1.0, 1.0),
            Snapshot(10_001, smooth.astype(np.float32)),
        ]),
    }
    window.training_page._draw_real_spectra()  # drop the 60 generated curves
    figures["one_epoch_noisy_ms"] = deliver([
        EpochStats(10_002, 0.7, 0.7, 0.5, 0.5, 1.0, 1.0, 1.0),
        Snapshot(10_002, noisy.astype(np.float32)),
    ])
    return figures


def run(quick: bool) -> dict:
    from PySide6.QtCore import QCoreApplication, QEvent
    from PySide6.QtWidgets import QApplication

    from specgan_gui.gui.main_window import MainWindow
    from specgan_gui.training.device import keep_freed_memory

    seconds = 15.0 if quick else 70.0
    keep_freed_memory()  # as `specgan-gui` does before it starts any thread
    app = QApplication.instance() or QApplication([])
    # specgan-gui preloads the engine in the background once its window shows.
    from specgan_gui.gui.app import preload_engine

    preload_engine()
    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    try:
        window.controller.replace_project(reference_project())
        window.pages.setCurrentWidget(window.training_page)
        # Loading a project redraws every page once, the Preprocessing page's
        # preview after a short delay (160 ms).  A user looks at the page before
        # clicking Start, so the probe starts once that has happened.
        _wait(app, 2.0)
        figures = _probe_training(app, window, seconds, 10.0 if quick else 40.0)
        print(f"  event loop over {seconds:.0f} s of training in the window "
              f"({figures['ticks']} ticks of a {PROBE_INTERVAL_MS} ms timer): longest stall "
              f"{figures['max_stall_ms']:.1f} ms, 99th percentile {figures['p99_stall_ms']:.1f} ms; "
              f"the click on Start itself took {figures['start_click_ms']:.0f} ms")
        direct = _direct_rate(max(figures["rate_epochs"], 3))
        figures["direct_epochs_per_second"] = direct
        ratio = figures["window_epochs_per_second"] / direct
        print(f"  epochs per second: window {figures['window_epochs_per_second']:.3f} "
              f"({figures['rate_epochs']} epochs after the probe stopped), train_gan without a "
              f"window {direct:.3f}, "
              f"ratio {100 * ratio:.0f} %")
        redraw = _redraw(app, window)
        figures.update(redraw)
        print(f"  redraw of a 10 000-epoch loss history with 60 smooth generated spectra: "
              f"{redraw['history_and_smooth_ms']:.0f} ms delivered at once, "
              f"{redraw['one_epoch_smooth_ms']:.0f} ms for one more epoch and snapshot; "
              f"one epoch with a snapshot of 8 noisy spectra (an untrained generator): "
              f"{redraw['one_epoch_noisy_ms']:.0f} ms")
        return figures
    finally:
        window.controller.stop_tasks(60_000)
        window.close_without_asking()
        window.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
