"""TaskRunner: signal order, error texts, pause and stop, bounded waits."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from specgan_gui.errors import DataError
from specgan_gui.gui.worker import TASK_NICE_INCREMENT, TaskRunner, active_thread_count


def _record_signals(runner: TaskRunner) -> list[tuple]:
    events: list[tuple] = []
    runner.started.connect(lambda: events.append(("started",)))
    runner.progress.connect(lambda fraction, text: events.append(("progress", fraction, text)))
    runner.epoch_finished.connect(lambda items: events.append(("epoch_finished", list(items))))
    runner.finished.connect(lambda result: events.append(("finished", result)))
    runner.failed.connect(lambda message, details: events.append(("failed", message, details)))
    runner.cancelled.connect(lambda: events.append(("cancelled",)))
    return events


def test_finished_task_signal_order(qtbot, task_runner):
    runner = TaskRunner(name="order")
    events = _record_signals(runner)

    def task(state):
        for epoch in range(1, 6):
            state.checkpoint()
            state.post(epoch)
            state.report(epoch / 5, f"epoch {epoch}")
        return "done"

    outcome = task_runner(qtbot, runner, lambda: runner.start(task))

    assert outcome.kind == "finished"
    kinds = [event[0] for event in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "finished"
    assert set(kinds[1:-1]) <= {"progress", "epoch_finished"}
    posted = [item for event in events if event[0] == "epoch_finished" for item in event[1]]
    assert posted == [1, 2, 3, 4, 5]
    assert events[-1] == ("finished", "done")
    progress = [event for event in events if event[0] == "progress"]
    assert progress[-1] == ("progress", 1.0, "epoch 5")
    assert not runner.is_running


def test_user_error_message_without_details(qtbot, task_runner):
    runner = TaskRunner(name="user error")

    def task(state):
        raise DataError("Only 2 spectra; at least 3 are needed.")

    outcome = task_runner(qtbot, runner, lambda: runner.start(task))

    assert outcome.kind == "failed"
    message, details = outcome.args
    assert message == "Only 2 spectra; at least 3 are needed."
    assert details == ""


def test_unexpected_error_message_and_traceback(qtbot, task_runner):
    runner = TaskRunner(name="bug")

    def task(state):
        raise ValueError("shapes (3,) and (4,) not aligned")

    outcome = task_runner(qtbot, runner, lambda: runner.start(task))

    message, details = outcome.args
    assert message == "Unexpected error: ValueError: shapes (3,) and (4,) not aligned"
    assert "Traceback" not in message
    assert "Traceback (most recent call last)" in details
    assert "ValueError" in details


def test_stop_ends_task_with_cancelled(qtbot, task_runner):
    runner = TaskRunner(name="stoppable")
    started = threading.Event()

    def task(state):
        started.set()
        while True:
            state.checkpoint()
            threading.Event().wait(0.01)

    def start_and_stop():
        runner.start(task)
        assert started.wait(10)
        runner.stop()

    outcome = task_runner(qtbot, runner, start_and_stop)

    assert outcome.kind == "cancelled"
    assert active_thread_count() == 0


def test_pause_blocks_until_resume(qtbot, task_runner):
    runner = TaskRunner(name="pausable")
    passed = threading.Event()
    release = threading.Event()

    def task(state):
        release.wait(10)
        state.checkpoint()  # blocks here while paused
        passed.set()
        return "resumed"

    def start_paused():
        runner.start(task)
        runner.pause()
        assert runner.is_paused
        release.set()
        # The task reached its checkpoint or will; it must not pass it while paused.
        assert not passed.wait(0.3)
        runner.resume()

    outcome = task_runner(qtbot, runner, start_paused)

    assert outcome.kind == "finished"
    assert outcome.args == ("resumed",)
    assert passed.is_set()


def test_stop_wakes_a_paused_task(qtbot, task_runner):
    runner = TaskRunner(name="paused stop")
    release = threading.Event()

    def task(state):
        release.wait(10)
        state.checkpoint()
        return "not reached"

    def start_pause_stop():
        runner.start(task)
        runner.pause()
        release.set()
        runner.stop()

    outcome = task_runner(qtbot, runner, start_pause_stop)

    assert outcome.kind == "cancelled"


def test_second_start_while_running_raises(qtbot, task_runner):
    runner = TaskRunner(name="single")
    release = threading.Event()

    def start_twice():
        runner.start(lambda state: release.wait(10))
        with pytest.raises(RuntimeError, match="already running"):
            runner.start(lambda state: None)
        release.set()

    outcome = task_runner(qtbot, runner, start_twice)

    assert outcome.kind == "finished"


def test_wait_is_bounded_and_delivers_outcome(qtbot):
    runner = TaskRunner(name="slow")
    events = _record_signals(runner)
    release = threading.Event()
    runner.start(lambda state: release.wait(10) and "late")

    assert runner.wait(50) is False
    assert runner.is_running

    release.set()
    assert runner.wait(10_000) is True
    assert events[-1] == ("finished", "late")
    assert not runner.is_running


def test_many_posts_arrive_in_few_deliveries(qtbot, task_runner):
    runner = TaskRunner(name="fast epochs")
    deliveries: list[int] = []
    runner.epoch_finished.connect(lambda items: deliveries.append(len(items)))

    def task(state):
        for epoch in range(5000):
            state.post(epoch)
        return None

    task_runner(qtbot, runner, lambda: runner.start(task))

    assert sum(deliveries) == 5000
    # Delivery runs on a 100 ms timer, so a fast task is redrawn a few times at most.
    assert len(deliveries) <= 5


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")
def test_task_runs_at_lower_priority_than_the_window(qtbot, task_runner):
    """The task thread (and the PyTorch threads it starts) yields the cores to the window."""
    runner = TaskRunner(name="priority")
    window_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def task(state):
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    outcome = task_runner(qtbot, runner, lambda: runner.start(task))

    assert outcome.kind == "finished"
    assert outcome.args == (min(window_nice + TASK_NICE_INCREMENT, 19),)
    # The window's own thread keeps its priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == window_nice
