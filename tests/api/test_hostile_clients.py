"""Hostile clients: forged or replayed sessions, revoked streams, unbounded metrics, undeliverable alerts."""

from __future__ import annotations

import logging
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY
from sqlalchemy import create_engine, pool, text

from gate import migrate as migrations
from gate.app import create_app
from gate.config import ensure_sqlite_dir, loose_permissions
from gate.extensions import db
from gate.runtime import runtime
from gate.services.outbox import Dispatcher, enqueue
from gate.services.tokens import create_token
from tests.receivers import Mailbox, Pager
from tests.support import Api, FeatureBuilder, csrf, dump_store, sign_in


@pytest.fixture
def app_config(pager: Pager, mailbox: Mailbox) -> dict[str, Any]:
    return {"PAGER_URL": pager.url, "SMTP_URL": mailbox.url, "ALERT_EMAIL": "oncall@example.test"}


def test_every_page_sends_the_security_headers(api: Api) -> None:
    client, _ = sign_in(api, "admin")
    for path in ("/login", "/", "/incidents", "/rings", "/nothing-here"):
        r = client.get(path)
        policy = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy, path
        assert "frame-ancestors 'none'" in policy, path
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"


def test_the_design_link_is_never_rendered_for_another_scheme(api: Api, app: Flask) -> None:
    """A javascript: design stored before the rule existed is shown as no link at all."""
    api.apply(FeatureBuilder("checkout").with_(design="https://design.example/checkout"))
    client, _ = sign_in(api, "admin")
    assert 'href="https://design.example/checkout"' in client.get("/features/checkout").get_data(as_text=True)
    with app.app_context():
        db.session.execute(text("UPDATE features SET design = 'javascript:alert(1)'"))
        db.session.commit()
    assert "javascript:" not in client.get("/features/checkout").get_data(as_text=True)


def test_signing_out_ends_the_session_on_the_server(api: Api) -> None:
    client, token = sign_in(api, "admin")
    cookie = client.get_cookie("gate_session")
    assert cookie is not None
    copied = api.client.application.test_client()
    copied.set_cookie("gate_session", cookie.value)
    assert copied.get("/").status_code == 200  # the copy works while the session lives
    assert client.post("/logout", data={"csrf": token}).status_code == 302
    r = copied.get("/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert copied.get("/incidents").status_code == 302


def test_a_session_for_a_revoked_token_ends(api: Api) -> None:
    client, _ = sign_in(api, "release")
    release_id = next(t["id"] for t in api.get("/api/v1/tokens").json if t["name"] == "release")
    assert api.delete(f"/api/v1/tokens/{release_id}").status_code == 200
    assert client.get("/").status_code == 302


def test_forms_obey_the_api_limits(api: Api, database_url: str) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit"))
    api.vote("checkout", "unit")
    assert api.promote("checkout", "internal").status_code == 200
    release, token = sign_in(api, "release")
    admin, admin_token = sign_in(api, "admin")
    before = dump_store(database_url)
    long = "x" * 2001
    release.post("/features/checkout/kill", data={"csrf": token, "reason": long, "confirm": "yes"})
    assert "reason: Longer than maximum length 2000." in release.get("/features/checkout").get_data(as_text=True)
    release.post("/features/checkout/rollback", data={"csrf": token, "ring": "", "reason": long, "confirm": "yes"})
    release.post("/features/checkout/criteria/unit/vote", data={"csrf": token, "vote": "yes"})  # not QA
    admin.post("/features/checkout/promote", data={"csrf": admin_token, "ring": "preview", "override_reason": long})
    admin.post("/features/checkout/criteria/unit/vote", data={"csrf": admin_token, "vote": "yes", "comment": long})
    r = admin.post("/features/checkout/kill", data={"csrf": admin_token, "reason": "a\x00b", "confirm": "yes"})
    assert r.status_code == 422
    assert dump_store(database_url) == before


def test_a_revoked_token_s_stream_ends_within_a_second(api: Api) -> None:
    sdk = api.token("fleet", "sdk")
    response = sdk.get("/api/v1/sdk/stream", buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == b"retry: 1000\n\n" and next(chunks).startswith(b"event: snapshot")
    rest: list[bytes] = []
    reader = threading.Thread(target=lambda: rest.extend(chunks), daemon=True)
    reader.start()
    fleet_id = next(t["id"] for t in api.get("/api/v1/tokens").json if t["name"] == "fleet")
    revoked = time.monotonic()
    assert api.delete(f"/api/v1/tokens/{fleet_id}").status_code == 200
    reader.join(timeout=1.0)
    assert not reader.is_alive(), "the stream of a revoked token is still open"
    assert time.monotonic() - revoked < 1.0
    response.close()
    assert sdk.get("/api/v1/sdk/stream").status_code == 401


def test_another_token_s_revocation_keeps_a_stream_open(api: Api, app: Flask) -> None:
    runtime(app).streams.keepalive = 0.05
    other = api.token("other", "sdk")
    response = api.as_("sdk").get("/api/v1/sdk/stream", buffered=False)
    chunks = iter(response.response)
    next(chunks), next(chunks)
    other_id = next(t["id"] for t in api.get("/api/v1/tokens").json if t["name"] == "other")
    assert api.delete(f"/api/v1/tokens/{other_id}").status_code == 200
    assert other.get("/api/v1/sdk/snapshot").status_code == 401
    assert next(chunks) == b": keepalive\n\n"  # still streaming
    response.close()


def test_metrics_labels_stay_bounded(api: Api) -> None:
    for i in range(5):
        api.client.open("/api/v1/features", method=f"RANDOM{i}")
        api.client.get(f"/no/such/path/{i}")
    body = api.client.get("/metrics").get_data(as_text=True)
    assert "RANDOM" not in body and "/no/such" not in body
    assert 'method="other"' in body and 'endpoint="other"' in body


def test_an_email_whose_title_holds_line_breaks_is_delivered(api: Api, app: Flask, mailbox: Mailbox) -> None:
    title = "checkout down\r\nBcc: attacker@example.test\nfor everyone"
    r = api.as_("reporter").post("/api/v1/incidents", json={"title": title, "severity": 2})
    assert r.status_code == 201 and r.json["notified"] == "email"
    dispatcher: Dispatcher = runtime(app).outbox
    assert dispatcher.run_once() == 1
    (message,) = mailbox.wait(1)
    assert (
        message["Subject"].startswith("[SEV2]")
        and "checkout down Bcc: attacker@example.test for everyone" in (message["Subject"])
    )
    assert message["Bcc"] is None


def test_an_alert_that_can_never_be_sent_is_given_up_loudly(
    api: Api, app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    with app.app_context():
        enqueue("email", {"text": "no subject"}, incident_id=None, at=app.config["CLOCK"]())
        db.session.commit()
    dispatcher: Dispatcher = runtime(app).outbox
    failed_before = REGISTRY.get_sample_value("gate_alerts_failed_total", {"kind": "email"}) or 0
    with caplog.at_level(logging.ERROR, logger="gate.services.outbox"):
        assert dispatcher.run_once() == 0
    assert any("can never be delivered" in r.getMessage() for r in caplog.records)
    with app.app_context():
        row = db.session.execute(text("SELECT failed_at, last_error, delivered_at FROM outbox")).one()
    assert row[0] is not None and "KeyError" in row[1] and row[2] is None
    assert dispatcher.run_once() == 0  # never tried again
    assert REGISTRY.get_sample_value("gate_alerts_failed_total", {"kind": "email"}) == failed_before + 1
    assert "gate_alerts_failed_total" in api.client.get("/metrics").get_data(as_text=True)


def test_the_embedded_store_is_private_to_its_owner(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/instance/gate.db"
    migrations.upgrade(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(text("PRAGMA journal_mode=WAL"))
        conn.execute(text("UPDATE gate_state SET version = version"))
        assert stat.S_IMODE(os.stat(f"{tmp_path}/instance").st_mode) == 0o700
        for name in ("gate.db", "gate.db-wal", "gate.db-shm"):
            path = tmp_path / "instance" / name
            assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600, name
    engine.dispose()
    assert loose_permissions(url) == []
    os.chmod(tmp_path / "instance" / "gate.db", 0o644)
    (warning,) = loose_permissions(url)
    assert "gate.db has mode 0644" in warning
    assert loose_permissions("postgresql+psycopg://x/y") == []


def test_a_database_in_an_existing_folder_is_created_private(tmp_path: Path) -> None:
    ensure_sqlite_dir(f"sqlite:///{tmp_path}/gate.db")
    assert stat.S_IMODE((tmp_path / "gate.db").stat().st_mode) == 0o600


def test_sign_in_page_keeps_working_without_a_session(api: Api) -> None:
    client = api.client.application.test_client()
    assert csrf(client)


def test_the_session_cookie_can_be_secure_on_every_answer(database_url: str, rings_file: Path) -> None:
    app = create_app({"DATABASE_URL": database_url, "RINGS_FILE": str(rings_file), "SESSION_COOKIE_SECURE": "1"})
    try:
        with app.app_context():
            _, secret = create_token(name="ops", roles=["admin"], actor="test")
        client = app.test_client()
        r = client.post("/login", data={"token": secret, "csrf": csrf(client)})
        assert r.status_code == 302 and "Secure" in r.headers["Set-Cookie"]
    finally:
        runtime(app).watcher.stop()
        with app.app_context():
            db.engine.dispose()
