"""Logs an operator can use: an INFO line for each write that took effect, plain or JSON."""

from __future__ import annotations

import json
import logging

import pytest

from gate.logs import JsonFormatter, configure, gunicorn_config
from tests.support import Api, FeatureBuilder


def test_each_committed_write_is_one_info_line_and_a_refused_one_none(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    api.apply(FeatureBuilder("checkout").criterion("unit", ring="internal"))
    with caplog.at_level(logging.INFO, logger="gate.audit"):
        assert api.post("/api/v1/features/checkout/kill", json={"reason": "drill"}).status_code == 200
        assert api.post("/api/v1/features/checkout/kill", json={}).status_code == 409  # nothing took effect
        assert api.post("/api/v1/features/checkout/promote", json={"ring": "internal"}).status_code == 409
    lines = [r.getMessage() for r in caplog.records if r.name == "gate.audit"]
    assert len(lines) == 1 and lines[0].startswith("kill feature:checkout by ")
    assert '"killed": true' in lines[0] and '"reason": "drill"' in lines[0]


def test_json_lines_carry_time_level_logger_message_and_error() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("gate.x", logging.ERROR, __file__, 1, "failed %s", ("once",), True)
        import sys

        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["level"] == "ERROR" and entry["logger"] == "gate.x" and entry["message"] == "failed once"
    assert entry["at"].endswith("+00:00") and "ValueError: boom" in entry["error"]


def test_gunicorn_logs_in_the_same_format() -> None:
    plain, as_json = gunicorn_config("info", "plain"), gunicorn_config("warning", "json")
    assert plain["formatters"]["gate"]["()"] == "logging.Formatter"
    assert as_json["formatters"]["gate"] == {"()": "gate.logs.JsonFormatter"}
    assert as_json["loggers"]["gunicorn.error"]["level"] == "WARNING"
    assert as_json["loggers"]["gunicorn.access"]["level"] == "INFO"  # the access log whatever the level


def test_configure_leaves_a_configured_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    monkeypatch.setattr(root, "handlers", [])
    monkeypatch.setattr(root, "level", root.level)
    configure("debug", "json")
    assert len(root.handlers) == 1 and isinstance(root.handlers[0].formatter, JsonFormatter)
    assert root.level == logging.DEBUG
    configure("info", "plain")  # already configured: unchanged
    assert len(root.handlers) == 1 and root.level == logging.DEBUG
