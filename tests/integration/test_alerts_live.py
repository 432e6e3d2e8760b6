"""Alert delivery by a real `gate serve` (no second process) to a real HTTP pager and SMTP server."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.conftest import start_gate, wait_for
from tests.receivers import Mailbox, Pager

pytestmark = pytest.mark.integration


def test_a_pager_that_fails_three_times_then_accepts_gets_one_page(
    database_url: str, tmp_path: Path, pager: Pager, mailbox: Mailbox
) -> None:
    pager.fail_first = 3
    served = start_gate(
        database_url,
        tmp_path,
        workers=2,
        env={
            "GATE_PAGER_URL": pager.url,
            "GATE_PAGER_ROUTING_KEY": "key",
            "GATE_SMTP_URL": mailbox.url,
            "GATE_ALERT_EMAIL": "oncall@example.test",
        },
    )
    try:
        started = time.monotonic()
        r = served.call("POST", "/api/v1/incidents", json={"title": "db down", "severity": 0})
        assert r.status_code == 201  # the failing pager never fails the report
        served.call("POST", "/api/v1/incidents", json={"title": "slow", "severity": 2})
        assert len(pager.wait(1, timeout=20)) == 1
        assert time.monotonic() - started < 15  # retries after 1, 2 and 4 seconds
        (message,) = mailbox.wait(1)
        assert message["Subject"].startswith("[SEV2]")
        time.sleep(2)
        assert pager.requests == 4 and len(pager.events) == 1 and len(mailbox.messages) == 1
    finally:
        served.stop()


def test_a_worker_killed_mid_delivery_loses_nothing(database_url: str, tmp_path: Path, pager: Pager) -> None:
    pager.stall_first = 30
    served = start_gate(
        database_url, tmp_path, workers=2, env={"GATE_PAGER_URL": pager.url, "GATE_OUTBOX_LEASE_SECONDS": "2"}
    )
    try:
        assert served.call("POST", "/api/v1/incidents", json={"title": "down", "severity": 0}).status_code == 201
        assert wait_for(lambda: pager.requests >= 1, timeout=10)  # a worker is inside the delivery now
        workers = subprocess.run(
            ["pgrep", "-P", str(served.process.pid)], capture_output=True, text=True, check=False
        ).stdout.split()
        assert workers
        for pid in workers:
            os.kill(int(pid), signal.SIGKILL)
        events = pager.wait(1, timeout=20)  # gunicorn starts new workers; one delivers once the lease is over
        assert len(events) == 1 and events[0]["event_action"] == "trigger"
        time.sleep(1)
        assert len(pager.events) == 1
    finally:
        served.stop()
