"""Run one engine function at a time in a worker thread and report through signals.

An engine task is a plain function ``fn(task_state) -> result`` that never
touches widgets.  It reports progress through `TaskState.report` and hands
partial results (one per epoch, snapshot, checkpoint) to
`WorkerTaskState.post`.  Both only store data under a lock or in a queue.
A timer in the GUI thread delivers them as signals about ten times a second,
so the window redraws at that rate however fast training runs.

Signals, in the order they are emitted for one task::

    started -> (progress | epoch_finished)* -> finished | failed | cancelled

A stop request is a normal outcome: a task that raises `Cancelled` ends with
`cancelled`; a task that returns a partial result after a stop ends with
`finished`.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import traceback
from collections.abc import Callable

from PySide6.QtCore import QObject, QThread, QTimer, Signal, Slot

from specgan_gui.errors import SpecganError
from specgan_gui.training.task import Cancelled, TaskState

log = logging.getLogger(__name__)

#: Time between two deliveries of progress and posted items to the GUI thread.
DELIVERY_INTERVAL_MS = 100

#: How much lower than the window's the scheduling priority of a task thread
#: is, as a Linux nice increment.  See `lower_thread_priority`.
TASK_NICE_INCREMENT = 10

# Threads started and not yet joined; tests check it is empty after each test.
_active_threads: set[QThread] = set()


def active_thread_count() -> int:
    """Return how many task threads were started and not yet joined."""
    return len(_active_threads)


class WorkerTaskState(TaskState):
    """A `TaskState` whose progress and posted items wait for the GUI thread's timer."""

    def __init__(self) -> None:
        super().__init__(on_progress=self._store_progress)
        self._lock = threading.Lock()
        self._progress: tuple[float, str] | None = None
        self._items: queue.SimpleQueue = queue.SimpleQueue()

    def _store_progress(self, fraction: float, message: str) -> None:
        with self._lock:
            self._progress = (fraction, message)

    def post(self, item: object) -> None:
        """Hand a partial result to the GUI thread (safe from any thread)."""
        self._items.put(item)

    def take_progress(self) -> tuple[float, str] | None:
        """Return the latest progress report since the last call, or None."""
        with self._lock:
            progress, self._progress = self._progress, None
        return progress

    def take_items(self) -> list:
        """Return every item posted since the last call, oldest first."""
        items = []
        while True:
            try:
                items.append(self._items.get_nowait())
            except queue.Empty:
                return items


def lower_thread_priority(increment: int = TASK_NICE_INCREMENT) -> int | None:
    """Lower the scheduling priority of the calling thread; return its new nice value.

    Training keeps every core busy: PyTorch runs one thread per core, and
    those threads start from the task thread, so they inherit its priority.
    At equal priority the window's thread then waits its turn for a core,
    and a repaint that takes 30 ms of CPU time stalled the window for more
    than 100 ms.  At nice 10 the kernel gives the window's thread a core as
    soon as it needs one, and training takes the rest.  When nothing else
    runs, training loses nothing.

    Linux gives each thread its own nice value.  Elsewhere (and where the
    call is refused) this returns None and changes nothing.
    """
    if not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return None
    thread_id = threading.get_native_id()
    try:
        nice = os.getpriority(os.PRIO_PROCESS, thread_id)
        target = min(nice + increment, 19)
        os.setpriority(os.PRIO_PROCESS, thread_id, target)
    except OSError as exc:
        log.debug("could not lower the task thread's priority: %s", exc)
        return None
    return target


class _TaskThread(QThread):
    """Calls the task function once and keeps its outcome for the GUI thread."""

    def __init__(self, fn: Callable[[WorkerTaskState], object], state: WorkerTaskState, name: str):
        super().__init__()
        self.fn = fn
        self.state = state
        self.task_name = name
        # ("finished", result) | ("cancelled", None) | ("failed", (message, details))
        self.outcome: tuple[str, object] = ("failed", ("The task did not run.", ""))

    def run(self) -> None:
        lower_thread_priority()
        try:
            result = self.fn(self.state)
        except Cancelled:
            log.info("%s stopped on request", self.task_name)
            self.outcome = ("cancelled", None)
        except SpecganError as exc:
            log.warning("%s failed: %s", self.task_name, exc)
            self.outcome = ("failed", (str(exc), ""))
        except Exception as exc:  # any other error must reach the user, never vanish
            details = traceback.format_exc()
            log.error("%s failed with an unexpected error:\n%s", self.task_name, details)
            message = f"Unexpected error: {type(exc).__name__}: {exc}"
            self.outcome = ("failed", (message, details))
        else:
            self.outcome = ("finished", result)


class TaskRunner(QObject):
    """Runs one engine task at a time in a `QThread`; pause, resume and stop it.

    The thread is always joined before the outcome signal is emitted, so no
    thread outlives its task.  Call `wait` (bounded) before the owner closes.
    """

    started = Signal()
    progress = Signal(float, str)
    #: List of the items the task posted since the last delivery, oldest first.
    epoch_finished = Signal(object)
    finished = Signal(object)
    #: Message for the user and details (a traceback, or "" for expected errors).
    failed = Signal(str, str)
    cancelled = Signal()
    running_changed = Signal(bool)

    def __init__(
        self,
        parent: QObject | None = None,
        name: str = "task",
        delivery_interval_ms: int = DELIVERY_INTERVAL_MS,
    ):
        super().__init__(parent)
        self.name = name
        self._thread: _TaskThread | None = None
        # The joined thread of the last task, kept so that its Qt object is not
        # deleted inside the slot that its own `finished` signal invoked.
        self._last_thread: _TaskThread | None = None
        self._state: WorkerTaskState | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(delivery_interval_ms)
        self._timer.timeout.connect(self._deliver)

    # --- control -------------------------------------------------------------
    def start(self, fn: Callable[[WorkerTaskState], object], name: str | None = None) -> None:
        """Run ``fn(task_state)`` in a new thread.

        Raises
        ------
        RuntimeError
            If a task of this runner is still running.
        """
        if self.is_running:
            raise RuntimeError(f"{self.name} is already running a task.")
        if name:
            self.name = name
        self._state = WorkerTaskState()
        thread = _TaskThread(fn, self._state, self.name)
        thread.finished.connect(self._on_thread_finished)
        self._thread = thread
        _active_threads.add(thread)
        log.info("%s started", self.name)
        self.started.emit()
        self.running_changed.emit(True)
        thread.start()
        self._timer.start()

    @property
    def is_running(self) -> bool:
        return self._thread is not None

    @property
    def is_paused(self) -> bool:
        return self._state is not None and self._state.paused

    @property
    def task_state(self) -> WorkerTaskState | None:
        """The running task's state, or None when no task runs."""
        return self._state

    @Slot()
    def pause(self) -> None:
        if self._state is not None:
            self._state.pause()
            log.info("%s paused", self.name)

    @Slot()
    def resume(self) -> None:
        if self._state is not None:
            self._state.resume()
            log.info("%s resumed", self.name)

    @Slot()
    def stop(self) -> None:
        """Ask the task to stop at its next checkpoint (a paused task wakes up first)."""
        if self._state is not None:
            self._state.request_stop()
            log.info("%s: stop requested", self.name)

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Wait up to `timeout_ms` for the task, then deliver its outcome.

        Returns True when no task runs any more, False on a time-out.
        """
        thread = self._thread
        if thread is None:
            return True
        if not thread.wait(timeout_ms):
            log.warning("%s still running after %d ms", self.name, timeout_ms)
            return False
        self._complete(thread)
        return True

    # --- delivery in the GUI thread ------------------------------------------
    @Slot()
    def _deliver(self) -> None:
        state = self._state
        if state is None:
            return
        items = state.take_items()
        if items:
            self.epoch_finished.emit(items)
        progress = state.take_progress()
        if progress is not None:
            self.progress.emit(*progress)

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        if isinstance(thread, _TaskThread):
            self._complete(thread)

    def _complete(self, thread: _TaskThread) -> None:
        if thread is not self._thread:
            return  # already delivered, for example by `wait`
        thread.wait()
        self._timer.stop()
        self._deliver()
        self._thread = None
        self._last_thread = thread
        self._state = None
        _active_threads.discard(thread)
        kind, payload = thread.outcome
        log.info("%s ended: %s", self.name, kind)
        self.running_changed.emit(False)
        if kind == "finished":
            self.finished.emit(payload)
        elif kind == "cancelled":
            self.cancelled.emit()
        else:
            message, details = payload
            self.failed.emit(message, details)
