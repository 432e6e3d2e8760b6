"""Logging for operators: plain lines, or one JSON object a line (GATE_LOG_FORMAT=json), for Gate's own
loggers and gunicorn's (its access log included)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

PLAIN = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """`{"at", "level", "logger", "message"}` and the traceback, if any, as `error`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class DropEmptyListening(logging.Filter):
    """gunicorn's own 'Listening at:  (PID)': empty when each worker binds its own socket (reuse_port);
    `gate serve` says where it listens itself, once its workers are up."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg == "Listening at: %s (%s)" and args and not args[0])


def formatter(kind: str) -> logging.Formatter:
    return JsonFormatter() if kind == "json" else logging.Formatter(PLAIN)


def configure(level: str, kind: str) -> None:
    """Gate's loggers: to stderr, at `level`, in plain text or JSON; as logging.basicConfig, nothing when
    logging is configured already (a test runner's, an embedding application's)."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(kind))
    root.addHandler(handler)
    root.setLevel(level.upper())


def gunicorn_config(level: str, kind: str) -> dict[str, Any]:
    """gunicorn's logconfig_dict: its error and access logs to stderr and stdout in the same format."""
    formatter_class = "gate.logs.JsonFormatter" if kind == "json" else "logging.Formatter"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"listening": {"()": "gate.logs.DropEmptyListening"}},
        "formatters": {"gate": {"()": formatter_class, **({} if kind == "json" else {"format": PLAIN})}},
        "handlers": {
            "error": {
                "class": "logging.StreamHandler",
                "formatter": "gate",
                "stream": "ext://sys.stderr",
                "filters": ["listening"],
            },
            "access": {"class": "logging.StreamHandler", "formatter": "gate", "stream": "ext://sys.stdout"},
        },
        "root": {"level": level.upper(), "handlers": ["error"]},  # Gate's own loggers, the same way
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["error"], "propagate": False},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
        },
    }
