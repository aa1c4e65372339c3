"""The ``specgan-gui`` entry point: parse options, show the window, tear Qt down cleanly."""

from __future__ import annotations

import argparse
import logging
import sys
import threading
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from specgan_gui.gui.dialogs import show_error
from specgan_gui.gui.main_window import MainWindow
from specgan_gui.gui.settings import APPLICATION_NAME, ORGANIZATION_NAME
from specgan_gui.training.device import keep_freed_memory

log = logging.getLogger(__name__)

ICON_PATH = Path(__file__).resolve().parents[2] / "resources" / "specgan.svg"
EXAMPLE_NAMES = ("coffee", "fermentation")


def application_icon() -> QIcon:
    """Return the window icon, or an empty icon when the file is missing."""
    if not ICON_PATH.is_file():
        log.debug("window icon %s not found; using none", ICON_PATH)
        return QIcon()
    return QIcon(str(ICON_PATH))


class ExceptionReporter(QObject):
    """Routes uncaught exceptions, from any thread, to one log line and one message box.

    Exceptions raised outside the GUI thread arrive through a queued signal,
    so the message box is always built in the GUI thread.
    """

    exception_caught = Signal(str, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.exception_caught.connect(self._show, Qt.ConnectionType.QueuedConnection)
        self._previous_hooks = (sys.excepthook, threading.excepthook)

    def install(self) -> None:
        sys.excepthook = self.handle
        threading.excepthook = self._handle_thread

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous_hooks

    def handle(self, exc_type, exc, tb) -> None:
        """Log an uncaught exception and show it to the user."""
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        details = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("uncaught exception:\n%s", details)
        message = f"Unexpected error: {exc_type.__name__}: {exc}"
        self.exception_caught.emit(message, details)

    def _handle_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    @Slot(str, str)
    def _show(self, message: str, details: str) -> None:
        parent = QApplication.activeWindow()
        show_error(
            parent,
            "Unexpected error",
            f"{message}\n\nThe window may be in an inconsistent state; save your "
            "project under a new name and restart if something looks wrong.",
            details,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specgan-gui",
        description="Desktop window of specgan_gui: train a 1-D GAN on spectra, transfer "
        "its discriminator into a regressor or classifier, compare with PLS and predict.",
    )
    parser.add_argument("project", nargs="?", help="project file (.h5) to open")
    parser.add_argument(
        "--example", choices=EXAMPLE_NAMES, help="open a bundled example data set"
    )
    parser.add_argument(
        "--quit-after",
        type=float,
        metavar="SECONDS",
        help="close the window after SECONDS without asking about unsaved changes "
        "(meant for scripted checks)",
    )
    parser.add_argument(
        "--print-shown",
        action="store_true",
        help="print 'window shown' on standard output once the event loop runs with the "
        "window shown (meant for start-up time measurements)",
    )
    parser.add_argument(
        "--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="how much to log on standard error (default: WARNING)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the window; return the process exit status."""
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    if args.project and args.example:
        build_parser().error("give a project file or --example, not both")
    logging.basicConfig(
        level=getattr(logging, args.log_level), format="%(levelname)s %(name)s: %(message)s"
    )
    # Before any thread starts, so that training threads share one memory arena
    # whose freed blocks are reused (see `keep_freed_memory`).
    keep_freed_memory()

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName(APPLICATION_NAME)
    app.setOrganizationName(ORGANIZATION_NAME)
    app.setWindowIcon(application_icon())

    reporter = ExceptionReporter()
    reporter.install()
    window = MainWindow()
    window.show()
    if args.print_shown:
        # A zero-delay timer fires once the event loop runs, after the events
        # that show() queued, so the line marks the window on screen.
        QTimer.singleShot(0, lambda: print("window shown", flush=True))
    # A project named on the command line that fails to open makes the exit
    # status 1, so that scripted checks (--quit-after) see the failure.
    open_failures: list[str] = []
    if args.example:
        window.open_example(args.example, ask=False)
    elif args.project:
        _record_open_failure(window, open_failures)
        window.open_project(args.project, ask=False)
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), window.close_without_asking)
    preload = threading.Thread(target=preload_engine, name="engine-preload", daemon=True)
    QTimer.singleShot(0, preload.start)

    try:
        status = app.exec()
    finally:
        reporter.uninstall()
        if preload.is_alive():
            # An interpreter that exits in the middle of importing torch can crash.
            preload.join()
        _tear_down(app, window, reporter)
    if open_failures and status == 0:
        print(f"specgan-gui: {open_failures[0]}", file=sys.stderr)
        return 1
    return int(status)


def _record_open_failure(window: MainWindow, failures: list[str]) -> None:
    """Append the message of the next file task to `failures` if that task fails."""
    runner = window.file_runner

    def on_failed(message: str, _details: str) -> None:
        failures.append(message)
        disconnect()

    def disconnect(*_args) -> None:
        runner.failed.disconnect(on_failed)
        runner.finished.disconnect(disconnect)

    runner.failed.connect(on_failed)
    runner.finished.connect(disconnect)


def preload_engine() -> None:
    """Import the training engine (torch, scikit-learn) in a background thread.

    The window is built without them so that it shows quickly.  Importing
    them while the user looks at the data spares the first Start or Compare
    a pause of about 2 s in the window's thread.  A first optimizer takes a
    step too: the first `torch.optim.Adam` imports more of torch (about 1 s,
    holding the interpreter lock for up to 120 ms at a time), which would
    otherwise stall the window just after the first Start.  For the same
    reason the realism measures run once on small random spectra: their
    first run imports scikit-learn's classifiers, which stalled the window
    for 100 to 140 ms at the first snapshot.
    """
    started = time.perf_counter()
    try:
        import numpy as np
        import torch

        import specgan_gui.training.sweep  # noqa: F401
        import specgan_gui.training.workflow  # noqa: F401
        from specgan_gui.training.diagnostics import realism_measures

        weight = torch.zeros(1, requires_grad=True)
        weight.grad = torch.zeros(1)
        torch.optim.Adam([weight], fused=True).step()
        rng = np.random.default_rng(0)
        realism_measures(rng.random((12, 16)), rng.random((12, 16)))
    except Exception:  # noqa: BLE001 - the window works without it and imports later
        log.exception("Preloading the training engine failed")
        return
    log.debug("training engine preloaded in %.2f s", time.perf_counter() - started)


def _tear_down(app: QApplication, window: MainWindow, reporter: ExceptionReporter) -> None:
    """Delete the window and its plots, then shut Qt down, before the interpreter exits.

    Measured with PySide6 6.12.0 and pyqtgraph 0.14.0 (offscreen): a plot
    widget still alive at interpreter exit ends the process with a
    segmentation fault, and so does `QApplication.shutdown` after
    ``deleteLater`` on every top-level widget (menus included).  Deleting
    the main window alone, then shutting down, exits with status 0.
    """
    window.close_without_asking()
    window.deleteLater()
    reporter.deleteLater()
    app.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    app.processEvents()
    app.shutdown()


if __name__ == "__main__":
    sys.exit(main())
