"""The database gone: 503 problem+json (an HTML page on the dashboard), a worker that boots anyway, quiet logs."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import requests
from flask import Flask
from sqlalchemy import exc as sa_exc

from gate.app import create_app
from gate.extensions import db
from gate.runtime import runtime
from gate.services.outage import Outage, is_outage
from gate.services.tokens import create_token
from tests.integration.conftest import spawn_gate
from tests.support import RINGS, SqliteTemplate

NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:9/gate"  # the discard port: nothing accepts there


@pytest.fixture
def down_app() -> Iterator[Flask]:
    app = create_app({"DATABASE_URL": NOWHERE, "RINGS_FILE": str(RINGS), "TESTING": True})  # boots without it
    yield app
    runtime(app).watcher.stop()


def test_every_request_that_needs_the_database_answers_503(down_app: Flask) -> None:
    client = down_app.test_client()
    auth = {"Authorization": "Bearer gate_whatever"}
    for method, path in (
        ("GET", "/api/v1/features"),
        ("GET", "/api/v1/sdk/snapshot"),
        ("GET", "/api/v1/sdk/stream"),
        ("POST", "/api/v1/incidents"),
        ("POST", "/ofrep/v1/evaluate/flags"),
    ):
        started = time.monotonic()
        r = client.open(path, method=method, headers=auth, json={} if method == "POST" else None)
        assert time.monotonic() - started < 2
        assert r.status_code == 503, (path, r.get_data(as_text=True)[:300])
        assert r.content_type == "application/problem+json"
        assert r.json["type"] == "/problems/database-unavailable" and r.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.headers["Retry-After"]


def test_the_dashboard_answers_an_html_page_during_an_outage(down_app: Flask) -> None:
    r = down_app.test_client().get("/")
    assert r.status_code == 503 and r.mimetype == "text/html"
    assert "Database unavailable" in r.get_data(as_text=True)


def test_an_outage_is_logged_once_then_every_30_seconds_then_once_at_its_end(caplog: pytest.LogCaptureFixture) -> None:
    clock = [0.0]
    outage = Outage(clock=lambda: clock[0])
    error = sa_exc.OperationalError("SELECT 1", {}, psycopg.OperationalError("refused"))
    with caplog.at_level(logging.WARNING, logger="gate.database"):
        for _ in range(100):  # a burst of failing requests and polls
            outage.failed(error)
            clock[0] += 0.5  # 50 s in all
        assert outage.down
        outage.succeeded()
        outage.succeeded()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3, lines
    assert "unavailable: OperationalError: refused" in lines[0] and "still unavailable after 30 s" in lines[1]
    assert lines[2] == "the database is available again after 50.0 s" and not outage.down


def test_what_counts_as_an_outage() -> None:
    refused = sa_exc.OperationalError("x", {}, psycopg.OperationalError("connection refused"))
    locked = sa_exc.OperationalError("x", {}, sqlite3.OperationalError("database is locked"))
    missing_table = sa_exc.OperationalError("x", {}, sqlite3.OperationalError("no such table: features"))
    assert is_outage(refused) and is_outage(locked) and is_outage(psycopg.OperationalError("raw, from a pool"))
    assert is_outage(psycopg.errors.AdminShutdown("terminating connection due to administrator command"))
    assert is_outage(sa_exc.TimeoutError()) and is_outage(ConnectionResetError())
    assert not is_outage(missing_table) and not is_outage(ValueError("bug"))
    assert not is_outage(sa_exc.IntegrityError("x", {}, sqlite3.IntegrityError("unique")))
    assert is_outage(sa_exc.DBAPIError("x", {}, Exception("gone"), connection_invalidated=True))


def test_gate_serve_starts_without_the_database_and_serves_health(tmp_path: Path) -> None:
    process, url, log = spawn_gate(NOWHERE, tmp_path, env={"GATE_LOG_LEVEL": "INFO"})
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        assert requests.get(f"{url}/healthz", timeout=2).status_code == 200
        assert requests.get(f"{url}/readyz", timeout=3).status_code == 503
        r = requests.get(f"{url}/api/v1/features", headers={"Authorization": "Bearer x"}, timeout=3)
        assert r.status_code == 503 and r.json()["type"] == "/problems/database-unavailable"
        assert process.poll() is None
        text = log.read_text()
        assert "waiting for the database" in text and "Traceback" not in text
        assert text.count("the database is unavailable") <= 3  # once per process, not per request
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_sqlite_locked_beyond_its_busy_timeout_answers_503(sqlite_template: SqliteTemplate) -> None:
    url = sqlite_template.fresh()
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(RINGS), "TESTING": True, "SQLITE_BUSY_TIMEOUT": 0.5})
    try:
        with app.app_context():
            _, secret = create_token(name="oncall", roles=["reporter"], actor="test")
        client, auth = app.test_client(), {"Authorization": f"Bearer {secret}"}
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process holds the store: a backup, a stuck script
        try:
            started = time.monotonic()
            r = client.post("/api/v1/incidents", json={"title": "t", "severity": 3}, headers=auth)
            assert r.status_code == 503 and r.json["type"] == "/problems/database-unavailable", r.json
            assert 0.4 < time.monotonic() - started < 2
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert client.get("/api/v1/incidents", headers=auth).json == []  # nothing was stored
        assert client.post("/api/v1/incidents", json={"title": "t", "severity": 3}, headers=auth).status_code == 201
    finally:
        runtime(app).watcher.stop()
        with app.app_context():
            db.engine.dispose()


def test_an_sqlite_store_that_cannot_be_opened_answers_503(tmp_path: Path) -> None:
    store = tmp_path / "gate.db"
    store.mkdir()  # a folder where the file should be: SQLite cannot open it, whoever runs the test
    app = create_app({"DATABASE_URL": f"sqlite:///{store}", "RINGS_FILE": str(RINGS), "TESTING": True})
    try:
        client = app.test_client()
        r = client.get("/api/v1/features", headers={"Authorization": "Bearer gate_x"})
        assert r.status_code == 503 and r.json["type"] == "/problems/database-unavailable"
        assert client.get("/").status_code == 503 and client.get("/healthz").status_code == 200
    finally:
        runtime(app).watcher.stop()
