"""A small task-state object shared by every long engine task.

The engine calls `TaskState.checkpoint` between batches: it blocks while
the task is paused and raises `Cancelled` once a stop was requested.  The
window's worker thread and the command line both drive tasks through this
one object, so neither needs to know how a task is built inside.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Cancelled(Exception):
    """Raised inside a task when the user asked it to stop.

    A stop is a normal outcome, not an error: callers catch this and keep
    whatever partial result the task handed over before it stopped.
    """


class TaskState:
    """Progress reporting plus cooperative pause and stop, safe across threads."""

    def __init__(self, on_progress: Callable[[float, str], None] | None = None):
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._on_progress = on_progress

    # --- requests from the controlling thread ----------------------------
    def request_stop(self) -> None:
        self._stop.set()
        self._running.set()  # a paused task must wake up to notice the stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    # --- calls from inside the task --------------------------------------
    def checkpoint(self) -> None:
        """Block while paused; raise `Cancelled` if a stop was requested."""
        self._running.wait()
        if self._stop.is_set():
            raise Cancelled()

    def report(self, fraction: float, message: str = "") -> None:
        """Report progress as a fraction in [0, 1] with a short message."""
        if self._on_progress is not None:
            self._on_progress(min(max(float(fraction), 0.0), 1.0), message)
