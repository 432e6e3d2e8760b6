"""Outgoing webhooks from a real `gate serve` to real HTTP receivers: signed JSON and Slack's shape,
retried through the outbox when the receiver fails, delivered once each."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import start_gate
from tests.receivers import Pager
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration
SECRET = "webhook-secret"


@pytest.fixture
def slack() -> Iterator[Pager]:
    receiver = Pager()
    yield receiver
    receiver.close()


def test_exposure_changes_and_incidents_reach_every_webhook(
    database_url: str, tmp_path: Path, pager: Pager, slack: Pager
) -> None:
    pager.fail_first = 1  # the signed receiver fails once: the outbox retries
    urls = f"{pager.url},slack+{slack.url}"
    served = start_gate(
        database_url, tmp_path, workers=2, env={"GATE_WEBHOOK_URLS": urls, "GATE_WEBHOOK_SECRET": SECRET}
    )
    try:
        assert served.call("PUT", "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").build()).ok
        assert served.call("POST", "/api/v1/features/checkout/kill", json={"reason": "drill"}).ok
        incident = served.call(
            "POST", "/api/v1/incidents", json={"title": "slow", "severity": 3, "feature": "checkout"}
        )
        assert incident.status_code == 201
        events = pager.wait(2, timeout=15)
        time.sleep(1)  # nothing more arrives: each is delivered once
        assert sorted(e["event"] for e in pager.events) == ["incident.open", "kill"]
        kill = next(e for e in events if e["event"] == "kill")
        assert kill["feature"] == "checkout" and kill["actor"] == "bootstrap-admin" and kill["detail"]["killed"]
        assert isinstance(kill["version"], int) and kill["at"]
        for body, headers in pager.raw:
            expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["X-Gate-Signature-256"], expected)
        texts = [e["text"] for e in slack.wait(2, timeout=15)]
        assert any(t.startswith("Gate: kill checkout by bootstrap-admin") and t.endswith(": drill") for t in texts)
        assert all(set(e) == {"text"} for e in slack.events) and len(slack.events) == 2
        assert pager.requests == 3  # one failure, then the two events
        assert json.loads(pager.raw[0][0])["event"] in ("kill", "incident.open")
    finally:
        served.stop()
