"""The jobs adapter and panel: progress, cancel, failures, serialised writers."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QMessageBox

from app.errors import BadInput
from ui.jobs import CANCELLED, QUEUED, RUNNING, SUCCEEDED, JobRunner
from ui.shell.jobs_panel import JobsPanel

GUARD = 20  # seconds a job thread waits for the test at most (never reached when green)


def _visible_boxes() -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


@pytest.fixture
def runner(qtbot):
    runner = JobRunner()
    panel = JobsPanel(runner)
    qtbot.addWidget(panel)
    panel.show()
    runner.panel = panel
    yield runner
    runner.shutdown()
    for box in _visible_boxes():
        box.close()


def _gated_job(gates, record=None):
    def job(progress, cancel):
        for step, gate in enumerate(gates, start=1):
            assert gate.wait(GUARD), "the test never opened the gate"
            cancel.check()
            progress(step / (len(gates) + 1), f"step {step}")
            if record is not None:
                record.append(step)
        return "finished"
    return job


def test_progress_moves_and_cancel_ends_as_cancelled(qtbot, runner):
    gates = [threading.Event() for _ in range(3)]
    with qtbot.waitSignal(runner.job_added) as added:
        job = runner.start("Long job", _gated_job(gates), kind="write")
    assert added.args[0] is job
    row = runner.panel.row_for(job)
    assert row is not None and row.title.text() == "Long job"
    qtbot.waitUntil(lambda: job.state == RUNNING)
    gates[0].set()
    qtbot.waitUntil(lambda: row.bar.value() == 250)
    assert row.message.text() == "step 1"
    gates[1].set()
    qtbot.waitUntil(lambda: row.bar.value() == 500)
    assert row.message.text() == "step 2"
    assert row.cancel_button.isVisible()
    with qtbot.waitSignal(job.cancelled, timeout=10000):
        qtbot.mouseClick(row.cancel_button, Qt.MouseButton.LeftButton)
        gates[2].set()
    assert job.state == CANCELLED
    assert row.message.text() == "Cancelled"
    assert not row.cancel_button.isVisible()
    assert not _visible_boxes()  # cancelling is a normal outcome


def test_success_carries_the_result(qtbot, runner):
    gate = threading.Event()
    gate.set()
    job = runner.start("Quick", _gated_job([gate]))
    with qtbot.waitSignal(job.succeeded, timeout=10000) as done:
        pass
    assert done.args == ["finished"]
    row = runner.panel.row_for(job)
    qtbot.waitUntil(lambda: row.bar.value() == row.bar.maximum())
    assert job.state == SUCCEEDED and row.message.text() == "Done"


def test_failure_shows_a_message_box_by_default(qtbot, runner):
    def broken(progress, cancel):
        raise BadInput("study 1.2.3: not what was expected")

    with qtbot.waitSignal(runner.start("Broken", broken).failed, timeout=10000) as failed:
        pass
    assert failed.args == ["study 1.2.3: not what was expected"]
    boxes = _visible_boxes()
    assert len(boxes) == 1
    assert boxes[0].informativeText() == "study 1.2.3: not what was expected"
    boxes[0].close()


def test_failure_handled_by_the_caller_shows_no_box(qtbot, runner):
    seen = []

    def broken(progress, cancel):
        raise RuntimeError("disk on fire")

    job = runner.start("Broken", broken, on_failure=seen.append)
    qtbot.waitUntil(lambda: job.done)
    assert seen == ["RuntimeError: disk on fire"]
    assert not _visible_boxes()
    assert runner.panel.row_for(job).message.text() == "RuntimeError: disk on fire"


def test_writers_run_one_at_a_time_readers_side_by_side(qtbot, runner):
    first_gate, second_gate = threading.Event(), threading.Event()
    first = runner.start("Writer 1", _gated_job([first_gate]), kind="write")
    second = runner.start("Writer 2", _gated_job([second_gate]), kind="write")
    qtbot.waitUntil(lambda: first.state == RUNNING)
    # Two readers start and finish while the first writer is still blocked.
    readers = [runner.start(f"Reader {i}", lambda p, c: i, kind="read") for i in range(2)]
    qtbot.waitUntil(lambda: all(r.state == SUCCEEDED for r in readers))
    assert second.state == QUEUED
    second_gate.set()  # the second writer may go, but only after the first
    first_gate.set()
    qtbot.waitUntil(lambda: first.state == SUCCEEDED and second.state == SUCCEEDED)


def test_cancel_before_start_never_runs_the_job(qtbot, runner):
    gate = threading.Event()
    ran = []
    blocker = runner.start("Blocker", _gated_job([gate]), kind="write")
    waiting = runner.start("Waiting", lambda p, c: ran.append(1), kind="write")
    waiting.cancel()
    gate.set()
    qtbot.waitUntil(lambda: blocker.done and waiting.done)
    assert waiting.state == CANCELLED and ran == []


def test_clear_finished(qtbot, runner):
    job = runner.start("Quick", lambda p, c: None)
    qtbot.waitUntil(lambda: job.done)
    assert runner.panel.rows()
    runner.panel.clear_finished()
    assert runner.panel.rows() == []
