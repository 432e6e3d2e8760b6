"""Settings: defaults, then GATE_* environment variables, then a test mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

ENV_KEYS = (
    "DATABASE_URL",
    "RINGS_FILE",
    "PAGER_URL",
    "PAGER_ROUTING_KEY",
    "SMTP_URL",
    "ALERT_FROM",
    "ALERT_EMAIL",
    "LOG_LEVEL",
    "SECRET_KEY",
    "STREAMS_PER_WORKER",
    "STREAM_KEEPALIVE_SECONDS",
    "STREAM_MAX_SECONDS",
    "OUTBOX_LEASE_SECONDS",
)


def instance_dir() -> str:
    """The folder for the embedded store: ./instance, beside where Gate is started."""
    return os.path.abspath(os.environ.get("GATE_INSTANCE_DIR", "instance"))


def default_database_url() -> str:
    """SQLite under instance/."""
    return "sqlite:///" + os.path.join(instance_dir(), "gate.db")


def load_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build Gate's settings from defaults, the environment and `overrides`, in that order."""
    settings: dict[str, Any] = {
        "DATABASE_URL": default_database_url(),
        "RINGS_FILE": "rings.yaml",
        "PAGER_URL": None,
        "PAGER_ROUTING_KEY": None,
        "SMTP_URL": None,
        "ALERT_FROM": "gate@localhost",
        "ALERT_EMAIL": None,
        "LOG_LEVEL": "INFO",
        "SECRET_KEY": None,
        "STREAMS_PER_WORKER": 24,
        "STREAM_KEEPALIVE_SECONDS": 15,
        "STREAM_MAX_SECONDS": 600,
        "OUTBOX_LEASE_SECONDS": 60,
    }
    for key in ENV_KEYS:
        value = os.environ.get(f"GATE_{key}")
        if value:
            settings[key] = value
    settings.update(overrides or {})
    return settings


def ensure_sqlite_dir(url: str) -> None:
    """Create the folder of a SQLite file database, so a fresh checkout just works."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        os.makedirs(os.path.dirname(os.path.abspath(url[len("sqlite:///") :])), exist_ok=True)
