"""gate serve's logs in JSON: the access log, Gate's own lines and gunicorn's, one object a line."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.integration.conftest import start_gate
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration


def test_json_logs_hold_the_access_log_and_who_did_what(database_url: str, tmp_path: Path) -> None:
    served = start_gate(database_url, tmp_path, workers=2, env={"GATE_LOG_FORMAT": "json", "GATE_LOG_LEVEL": "INFO"})
    try:
        assert served.call("PUT", "/api/v1/features/checkout/criteria", json=FeatureBuilder("checkout").build()).ok
        assert served.call("POST", "/api/v1/features/checkout/kill", json={"reason": "drill"}).ok
        time.sleep(0.5)
        entries = [json.loads(line) for line in served.log.read_text().splitlines() if line.startswith("{")]
        access = [e for e in entries if e["logger"] == "gunicorn.access"]
        assert any('"POST /api/v1/features/checkout/kill HTTP/1.1" 200' in e["message"] for e in access)
        audit = [e["message"] for e in entries if e["logger"] == "gate.audit"]
        assert any(m.startswith("kill feature:checkout by bootstrap-admin") for m in audit)
        assert any(e["logger"] == "gunicorn.error" and "Booting worker" in e["message"] for e in entries)
        listening = [e["message"] for e in entries if "listening" in e["message"].lower()]
        # where it listens, said once with the address (gunicorn's own line is empty with a socket per worker)
        assert listening == [f"Gate is listening at {served.url} (2 gevent workers, pid {served.process.pid})"]
    finally:
        served.stop()
