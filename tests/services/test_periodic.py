"""The background pass every worker runs: it repeats, survives an outage and a bug, and stops."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

import pytest
from sqlalchemy.exc import OperationalError

from gate.services.outage import OUTAGE
from gate.services.periodic import Periodic


def test_a_pass_repeats_survives_failures_and_stops(caplog: pytest.LogCaptureFixture) -> None:
    passes: list[int] = []
    done = threading.Event()

    def work() -> int:
        passes.append(1)
        if len(passes) == 1:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))  # the store blinked
        if len(passes) == 2:
            raise ValueError("a bug")
        if len(passes) >= 3:
            done.set()
        return len(passes)

    periodic = Periodic("gate-test", work, scope=contextlib.nullcontext, interval=0.01)
    with caplog.at_level(logging.ERROR):
        periodic.start()
        assert done.wait(5)
        periodic.stop()
    stopped_at = len(passes)
    time.sleep(0.05)
    assert len(passes) == stopped_at >= 3  # stopped: no pass after stop()
    assert "gate-test pass failed" in caplog.text and "ValueError: a bug" in caplog.text
    assert periodic.run_once() == stopped_at + 1
    OUTAGE.succeeded()  # leave the process-wide outage state as the next test expects it


class Recording(threading.Event):
    """A wake event that records how long the loop would sleep, and never sleeps."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float | None] = []

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        return True


def test_a_pass_that_knows_when_it_is_next_due_sleeps_until_then_within_its_bounds() -> None:
    """The outbox loop: a retry due in 2 s is looked at in 2 s; nothing ahead, or nothing for an hour,
    in `longest`; something due now, no sooner than `interval`; after a failure, in `interval`."""
    answers: list[float | Exception | None] = [None, 0.0, -3.0, 2.0, 3600.0, RuntimeError("store"), 3.0]
    wake, done = Recording(), threading.Event()

    def work() -> float | None:
        answer = answers.pop(0) if answers else None
        if not answers:
            done.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    periodic = Periodic("gate-test", work, interval=0.5, wake=wake, longest=5.0)
    periodic.start()
    assert done.wait(5)
    periodic.stop()
    assert wake.waits[:8] == [0.5, 5.0, 0.5, 0.5, 2.0, 5.0, 0.5, 3.0]
    OUTAGE.succeeded()


def test_without_longest_the_pass_repeats_every_interval_whatever_it_returns() -> None:
    wake, done = Recording(), threading.Event()
    returns = iter([None, 60.0, 0.0])

    def work() -> float | None:
        answer = next(returns, None)
        if len(wake.waits) >= 4:
            done.set()
        return answer

    periodic = Periodic("gate-test", work, interval=2.0, wake=wake)
    periodic.start()
    assert done.wait(5)
    periodic.stop()
    assert wake.waits[:4] == [2.0, 2.0, 2.0, 2.0]
