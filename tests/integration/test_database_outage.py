"""PostgreSQL stopped and killed under a running `gate serve` (contract 7.6), on a server of the test's own."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from gate_sdk import GateClient
from sqlalchemy import create_engine, pool, text

from gate import migrate as migrations
from tests.integration.conftest import Served, spawn_gate, start_gate, wait_for
from tests.integration.private_postgres import PrivatePostgres
from tests.receivers import Pager
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration


@pytest.fixture
def database() -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres()
    pg.start()
    pg.create_database()
    migrations.upgrade(pg.url)
    yield pg
    pg.remove()


def workers_of(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def time_until_ok(served: Served, path: str = "/api/v1/features", timeout: float = 20) -> float:
    started = time.monotonic()
    assert wait_for(lambda: served.call("GET", path).status_code == 200, timeout=timeout, interval=0.02)
    return time.monotonic() - started


def test_an_outage_answers_503_keeps_the_server_and_its_streams_and_heals_by_itself(
    database: PrivatePostgres, tmp_path: Path
) -> None:
    served = start_gate(database.url, tmp_path, workers=2, env={"GATE_LOG_LEVEL": "INFO"})
    client = None
    try:
        assert served.call("PUT", "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").build()).ok
        assert served.call("POST", "/api/v1/features/checkout/promote", json={"ring": "internal"}).ok
        client = GateClient(served.url, sdk_key=served.token("fleet", "sdk"))
        assert client.wait_until_ready(5)
        staff = {"user": "u1", "groups": ["product"]}
        assert client.is_enabled("checkout", staff)
        log = next(tmp_path.glob("gate-*.log"))

        database.stop()
        outage_started, log_before = time.monotonic(), log.stat().st_size
        slowest = 0.0
        for method, path in (
            ("GET", "/api/v1/features"),
            ("GET", "/api/v1/sdk/snapshot"),
            ("POST", "/api/v1/incidents"),
            ("POST", "/ofrep/v1/evaluate/flags"),
        ):
            started = time.monotonic()
            r = served.call(method, path, json={"title": "t", "severity": 3} if method == "POST" else None)
            slowest = max(slowest, time.monotonic() - started)
            assert r.status_code == 503 and r.headers["Content-Type"] == "application/problem+json", (path, r.text)
            assert r.json()["type"] == "/problems/database-unavailable" and int(r.headers["Retry-After"]) >= 1
        assert slowest < 2, slowest
        page = requests.get(served.url + "/", timeout=5)
        assert page.status_code == 503 and page.headers["Content-Type"].startswith("text/html")
        assert "Database unavailable" in page.text
        assert requests.get(served.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(served.url + "/readyz", timeout=5).status_code == 503
        assert client.is_enabled("checkout", staff)  # the SDK answers from its last snapshot

        # a worker killed during the outage is replaced; the server and the other worker's streams live on
        victim = workers_of(served.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        assert wait_for(
            lambda: len(workers_of(served.process.pid)) == 2 and victim not in workers_of(served.process.pid)
        )
        assert served.process.poll() is None
        assert wait_for(lambda: requests.get(served.url + "/healthz", timeout=2).status_code == 200)
        for _ in range(40):  # traffic during the outage must not flood the log
            served.call("GET", "/api/v1/features")
        time.sleep(max(0.0, 31 - (time.monotonic() - outage_started)))  # past one 30 s reminder
        outage_seconds = time.monotonic() - outage_started
        with open(log, "rb") as handle:  # what Gate said of the outage; the access log has a line a request
            handle.seek(log_before)
            logged = sum(len(line) for line in handle if b"gunicorn.access" not in line)

        database.start()
        recovered = time_until_ok(served)
        assert recovered < 2.5, f"recovered {recovered:.2f}s after the database returned"
        assert served.call("POST", "/api/v1/features/checkout/kill", json={"reason": "after"}).ok
        assert wait_for(lambda: not client.is_enabled("checkout", staff), timeout=10)  # the stream came back
        text = log.read_text()
        assert "Traceback" not in text
        assert logged < 8000, f"{logged} bytes logged in {outage_seconds:.0f}s of outage"
        assert "the database is available again" in text
        print(
            f"\noutage figures: slowest answer {slowest * 1000:.0f} ms, recovered {recovered * 1000:.0f} ms, "
            f"log {logged * 60 / outage_seconds:.0f} bytes/min of outage"
        )
    finally:
        if client is not None:
            client.close()
        served.stop()


def test_a_killed_database_heals_too(database: PrivatePostgres, tmp_path: Path) -> None:
    served = start_gate(database.url, tmp_path, workers=2)
    try:
        assert served.call("GET", "/api/v1/features").ok
        database.kill()
        r = served.call("GET", "/api/v1/features")
        assert r.status_code == 503
        database.start()
        assert time_until_ok(served) < 2.5
    finally:
        served.stop()


def test_gate_serve_started_before_its_database_waits_for_it(database: PrivatePostgres, tmp_path: Path) -> None:
    database.stop()
    process, url, log = spawn_gate(database.url, tmp_path, env={"GATE_LOG_LEVEL": "INFO"})
    try:

        def answers(path: str) -> int:
            try:
                return requests.get(url + path, timeout=2).status_code
            except requests.RequestException:
                return 0

        assert wait_for(lambda: answers("/healthz") == 200, timeout=30)
        assert answers("/readyz") == 503
        time.sleep(2)
        assert process.poll() is None and answers("/readyz") == 503
        database.start()
        assert wait_for(lambda: answers("/readyz") == 200, timeout=10)
        assert wait_for(lambda: re.search(r"^gate_\S+$", log.read_text(), re.MULTILINE) is not None, timeout=10)
        token = re.search(r"^(gate_\S+)$", log.read_text(), re.MULTILINE).group(1)  # type: ignore[union-attr]
        r = requests.get(url + "/api/v1/features", headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert r.status_code == 200
        text = log.read_text()
        assert text.count("waiting for the database") == 1 and "Traceback" not in text
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_every_acknowledged_vote_survives_an_outage(database: PrivatePostgres, tmp_path: Path) -> None:
    served = start_gate(database.url, tmp_path, workers=2)
    try:
        doc = FeatureBuilder("checkout").criterion("unit")
        assert served.call("PUT", "/api/v1/features/checkout/criteria", json=doc.build()).ok
        qa = served.token("alice", "qa")
        acknowledged: list[int] = []
        statuses: list[int] = []
        stop = threading.Event()

        def vote() -> None:
            while not stop.is_set():
                try:
                    r = requests.post(
                        f"{served.url}/api/v1/features/checkout/criteria/unit/votes",
                        json={"vote": "yes"},
                        headers=served.headers(qa),
                        timeout=5,
                    )
                except requests.RequestException:
                    continue
                statuses.append(r.status_code)
                if r.status_code == 201:
                    acknowledged.append(r.json()["id"])

        voters = [threading.Thread(target=vote) for _ in range(4)]
        for voter in voters:
            voter.start()
        time.sleep(1)
        database.stop()
        time.sleep(2)
        database.start()
        time.sleep(2)
        stop.set()
        for voter in voters:
            voter.join()
        assert 503 in statuses and 500 not in statuses
        assert "Traceback" not in served.log.read_text()  # an outage is logged in a line, not a stack
        engine = create_engine(database.url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            stored = {row[0] for row in conn.execute(text("SELECT id FROM votes"))}
        engine.dispose()
        assert set(acknowledged) <= stored and len(acknowledged) > 10
    finally:
        served.stop()


def test_an_alert_interrupted_by_an_outage_is_delivered_once(
    database: PrivatePostgres, tmp_path: Path, pager: Pager
) -> None:
    pager.delay_first = 2.0  # the page is in flight when the database goes away
    served = start_gate(database.url, tmp_path, workers=2, env={"GATE_PAGER_URL": pager.url})
    try:
        r = served.call("POST", "/api/v1/incidents", json={"title": "checkout down", "severity": 0})
        assert r.status_code == 201 and r.json()["notified"] == "page"
        assert pager.received.wait(10)
        database.stop()
        time.sleep(3)  # the pager has answered; its outcome waits in memory for the database
        database.start()
        assert wait_for(lambda: len(pager.events) >= 1, timeout=10)
        time.sleep(3)
        keys = {e["dedup_key"] for e in pager.events}
        assert 1 <= len(pager.events) <= 2 and len(keys) == 1  # at least once; a repeat carries the same key
        engine = create_engine(database.url, poolclass=pool.NullPool)
        with engine.connect() as conn:
            delivered: Any = conn.execute(text("SELECT delivered_at FROM outbox")).scalar_one()
        engine.dispose()
        assert delivered is not None
    finally:
        served.stop()
