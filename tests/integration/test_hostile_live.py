"""Hostile clients against a real `gate serve`: chunked bodies, revoked streams, stored script, leftovers."""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, pool, text

from tests.integration.conftest import Served, start_gate
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration


def post_chunked(url: str, path: str, token: str, parts: Iterator[bytes], content_type: str) -> tuple[int, Any]:
    """POST a body with Transfer-Encoding: chunked and no Content-Length, as curl -T - would."""
    where = urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname or "127.0.0.1", where.port, timeout=10)
    try:
        conn.request(
            "POST",
            path,
            body=parts,
            headers={"Authorization": f"Bearer {token}", "Content-Type": content_type},
            encode_chunked=True,
        )
        response = conn.getresponse()
        body = response.read()
        return response.status, (json.loads(body) if body else None)
    finally:
        conn.close()


def test_chunked_bodies_obey_the_size_limit_and_the_media_type(served: Served) -> None:
    release = served.token("rita", "release")
    assert served.call("PUT", "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").build()).ok
    big = (b"x" * 65536 for _ in range(20))  # 1.25 MiB in chunks
    status, problem = post_chunked(served.url, "/api/v1/features/checkout/kill", release, big, "application/json")
    assert status == 413 and problem["status"] == 413
    status, problem = post_chunked(served.url, "/api/v1/features/checkout/kill", release, iter([b"now"]), "text/plain")
    assert status == 415 and problem["title"] == "Unsupported media type"
    assert served.call("GET", "/api/v1/features/checkout").json()["state"]["killed"] is False
    status, answer = post_chunked(
        served.url, "/api/v1/features/checkout/kill", release, iter([b'{"reason":', b' "chunked"}']), "application/json"
    )
    assert status == 200 and answer["killed"] is True


def test_a_revoked_token_s_streams_end_within_a_second_on_every_worker(served: Served) -> None:
    sdk = served.token("fleet", "sdk")
    ended: list[float] = []

    def follow() -> None:
        with requests.get(f"{served.url}/api/v1/sdk/stream", headers=served.headers(sdk), stream=True, timeout=30) as r:
            for _ in r.iter_content(chunk_size=None):
                pass
        ended.append(time.monotonic())

    readers = [threading.Thread(target=follow, daemon=True) for _ in range(6)]  # spread over the workers
    for reader in readers:
        reader.start()
    time.sleep(1.0)
    token_id = next(t["id"] for t in served.call("GET", "/api/v1/tokens").json() if t["name"] == "fleet")
    revoked = time.monotonic()
    assert served.call("DELETE", f"/api/v1/tokens/{token_id}").ok
    for reader in readers:
        reader.join(timeout=3)
    assert len(ended) == 6, "some streams of the revoked token are still open"
    assert max(ended) - revoked < 1.0, f"last stream ended {max(ended) - revoked:.2f}s after the revocation"
    r = requests.get(f"{served.url}/api/v1/sdk/stream", headers=served.headers(sdk), timeout=5)
    assert r.status_code == 401


def test_gate_serve_leaves_no_metrics_folder_and_no_control_socket(database_url: str, tmp_path: Path) -> None:
    scratch, home = tmp_path / "tmp", tmp_path / "home"
    scratch.mkdir(), home.mkdir()
    gate = start_gate(
        database_url, tmp_path, workers=2, env={"TMPDIR": str(scratch), "HOME": str(home), "XDG_RUNTIME_DIR": ""}
    )
    try:
        assert [p.name for p in scratch.iterdir() if p.name.startswith("gate-metrics-")]
        assert gate.call("GET", "/metrics").status_code == 200
    finally:
        gate.stop(graceful=True)
    assert gate.process.returncode == 0
    assert not [p for p in scratch.iterdir() if p.name.startswith("gate-metrics-")]
    assert not (home / ".gunicorn").exists()
    log = next(tmp_path.glob("gate-*.log")).read_text()
    assert "warning: GATE_PAGER_URL is not set" in log and "warning: GATE_SMTP_URL" in log


PAYLOAD = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_stored_script_never_runs_in_the_dashboard(database_url: str, tmp_path: Path, browser: Any) -> None:
    gate = start_gate(database_url, tmp_path, workers=2)
    try:
        doc = FeatureBuilder("checkout", name=PAYLOAD, owner=PAYLOAD).criterion("unit", description=PAYLOAD)
        doc.with_(description=PAYLOAD, design="https://design.example/checkout")
        assert gate.call("PUT", "/api/v1/features/checkout/criteria", json=doc.build()).ok
        refused = gate.call(
            "PUT",
            "/api/v1/features/checkout/criteria",
            json={**doc.build(), "design": "javascript:window.__pwned=3"},
        )
        assert refused.status_code == 422 and "design" in refused.json()["errors"]
        qa = gate.token("alice", "qa")
        requests.post(
            f"{gate.url}/api/v1/features/checkout/criteria/unit/votes",
            json={"vote": "no", "comment": PAYLOAD},
            headers=gate.headers(qa),
            timeout=10,
        ).raise_for_status()
        assert gate.call("POST", "/api/v1/incidents", json={"title": PAYLOAD, "severity": 3}).ok
        # a javascript: link stored before the rule existed, written straight into the store
        engine = create_engine(database_url, poolclass=pool.NullPool)
        with engine.begin() as conn:
            conn.execute(text("UPDATE features SET design = 'javascript:window.__pwned=4'"))
        engine.dispose()

        page = browser.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(gate.url + "/")
        page.get_by_label("API token").fill(gate.admin)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(gate.url + "/")
        for path in ("/", "/features/checkout", "/incidents"):
            response = page.goto(gate.url + path)
            assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
            assert PAYLOAD in page.content().replace("&lt;", "<").replace("&gt;", ">").replace("&#34;", '"')
            for link in page.locator("a").all():
                assert not (link.get_attribute("href") or "").lower().startswith("javascript:")
            assert page.evaluate("window.__pwned") is None, path
        assert dialogs == []
    finally:
        gate.stop()
