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
