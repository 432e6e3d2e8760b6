"""Settings: defaults, then GATE_* environment variables, then a test mapping."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from gate.domain.errors import ParseError
from gate.domain.roles import role_map

# Every setting, with its default; each is read from the environment as GATE_<NAME>, then from a test mapping.
DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # SQLite under instance/ (default_database_url), decided when settings are loaded
    "RINGS_FILE": "rings.yaml",
    "PAGER_URL": None,
    "PAGER_ROUTING_KEY": None,
    "SMTP_URL": None,
    "ALERT_FROM": "gate@localhost",
    "ALERT_EMAIL": None,
    "LOG_LEVEL": "INFO",
    "LOG_FORMAT": "plain",
    "SECRET_KEY": None,
    "STREAMS_PER_WORKER": 24,
    "STREAM_KEEPALIVE_SECONDS": 15,
    "STREAM_SEND_TIMEOUT": 10,
    "STREAM_SEND_BUFFER": 131_072,  # bytes the kernel may queue for one stream
    "MAX_STREAMS": 50_000,  # the host's cap; gate serve runs enough workers to hold it, or says how many it can
    "MAX_STREAMS_PER_TOKEN": None,  # one token's share of MAX_STREAMS; unset: half of it
    "CONNECTIONS_BESIDE_STREAMS": 1_000,
    "DB_POOL_SIZE": 10,
    "STREAM_MAX_SECONDS": 600,
    "OUTBOX_LEASE_SECONDS": 15,
    "SESSION_COOKIE_SECURE": False,
    "DB_CONNECT_TIMEOUT": 5,
    "SQLITE_BUSY_TIMEOUT": 30,
    "WEBHOOK_URLS": None,
    "WEBHOOK_SECRET": None,
    "PROMETHEUS_URL": None,  # where release plans' guards read their metric
    "MILESTONE_INTERVAL_SECONDS": 30,  # how often each worker looks for components turned late (8.3: within a minute)
    "PLAN_INTERVAL_SECONDS": 2,  # how often each worker checks running plans (the contract: at least every 5 s)
    "OIDC_ISSUER": None,  # sign-in through the company's identity provider (contract 8.4), with the next two
    "OIDC_CLIENT_ID": None,
    "OIDC_CLIENT_SECRET": None,
    "OIDC_ROLES_CLAIM": "groups",
    "OIDC_ROLE_MAP": None,  # idp-group=role,...
    "BASE_URL": None,  # where browsers reach Gate (the identity provider's redirect URI); unset: the URL they used
    "SESSION_HOURS": 12,  # how long a dashboard session lasts
    "TOKEN_SIGNIN": "1",  # 0: the dashboard takes no API token at sign-in (API bearer tokens are not affected)
}

OIDC_SETTINGS = ("OIDC_ISSUER", "OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET")


SLACK = "slack+"  # a webhook URL written slack+https://… gets a Slack incoming-webhook body, never signed


@dataclass(frozen=True)
class Alerting:
    """Where alerts go; a channel left unset is not queued."""

    pager_url: str | None = None
    pager_routing_key: str = ""
    smtp_url: str | None = None
    alert_from: str = "gate@localhost"
    alert_email: str | None = None
    webhook_urls: tuple[str, ...] = ()
    webhook_secret: str = ""

    @property
    def pages(self) -> bool:
        """Whether severe incidents can page."""
        return bool(self.pager_url)

    @property
    def unsigned_webhooks(self) -> tuple[str, ...]:
        """The webhook URLs that would go unsigned: plain ones, with no secret (Slack's are never signed)."""
        return () if self.webhook_secret else tuple(u for u in self.webhook_urls if not u.startswith(SLACK))

    @property
    def emails(self) -> bool:
        """Whether incidents of severity 2 can be e-mailed."""
        return bool(self.smtp_url and self.alert_email)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Alerting:
        """Read the GATE_PAGER_*, GATE_SMTP_URL and GATE_ALERT_* settings."""
        return cls(
            pager_url=settings.get("PAGER_URL") or None,
            pager_routing_key=str(settings.get("PAGER_ROUTING_KEY") or ""),
            smtp_url=settings.get("SMTP_URL") or None,
            alert_from=str(settings.get("ALERT_FROM") or "gate@localhost"),
            alert_email=settings.get("ALERT_EMAIL") or None,
            webhook_urls=tuple(u.strip() for u in str(settings.get("WEBHOOK_URLS") or "").split(",") if u.strip()),
            webhook_secret=str(settings.get("WEBHOOK_SECRET") or ""),
        )


@dataclass(frozen=True)
class SignOn:
    """The identity provider the dashboard offers (contract 8.4)."""

    issuer: str
    client_id: str
    client_secret: str
    roles_claim: str
    role_map: Mapping[str, frozenset[str]]

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> SignOn | None:
        """Read the GATE_OIDC_* settings: None when the provider is not configured; ParseError naming each
        setting that is missing or wrong."""
        given = {name: str(settings.get(name) or "").strip() for name in OIDC_SETTINGS}
        if not any(given.values()):
            return None
        errors = {
            f"GATE_{name}": ["must be set beside the other GATE_OIDC_ settings"] for name, v in given.items() if not v
        }
        issuer = given["OIDC_ISSUER"]
        if issuer and urlsplit(issuer).scheme not in ("http", "https"):
            errors["GATE_OIDC_ISSUER"] = [f"{issuer!r} is not an http(s) URL"]
        mapping, wrong = role_map(str(settings.get("OIDC_ROLE_MAP") or ""))
        if wrong:
            errors["GATE_OIDC_ROLE_MAP"] = wrong
        if errors:
            raise ParseError(errors)
        return cls(
            issuer=issuer.rstrip("/"),
            client_id=given["OIDC_CLIENT_ID"],
            client_secret=given["OIDC_CLIENT_SECRET"],
            roles_claim=str(settings.get("OIDC_ROLES_CLAIM") or "groups"),
            role_map=mapping,
        )


def enabled(value: object) -> bool:
    """A yes/no setting: 1, true, yes or on (any case), or True itself; anything else is no."""
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def instance_dir() -> str:
    """The folder for the embedded store: ./instance, beside where Gate is started."""
    return os.path.abspath(os.environ.get("GATE_INSTANCE_DIR", "instance"))


def default_database_url() -> str:
    """SQLite under instance/."""
    return "sqlite:///" + os.path.join(instance_dir(), "gate.db")


def load_settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Build Gate's settings from defaults, the environment and `overrides`, in that order."""
    settings = {**DEFAULTS, "DATABASE_URL": default_database_url()}
    for key in DEFAULTS:
        value = os.environ.get(f"GATE_{key}")
        if value:
            settings[key] = value
    settings.update(overrides or {})
    return settings


def stream_share(settings: Mapping[str, Any], limit: int) -> int:
    """One token's share of `limit` streams: GATE_MAX_STREAMS_PER_TOKEN, else half of them."""
    configured = settings.get("MAX_STREAMS_PER_TOKEN")
    return int(configured) if configured else max(1, limit // 2)


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite database URL, or None for another database or an in-memory one."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        return os.path.abspath(url[len("sqlite:///") :].partition("?")[0])
    return None


def ensure_sqlite_dir(url: str) -> None:
    """Create a SQLite database's folder (0700) and file (0600), so that no other local user can read it.

    The store holds the key that signs dashboard sessions; SQLite gives its -wal and -shm files the
    database file's mode.
    """
    path = sqlite_path(url)
    if path is None:
        return
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)  # makedirs' mode is masked by the umask
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
        os.chmod(path, 0o600)


def loose_permissions(url: str) -> list[str]:
    """Say which of the embedded store's files and folder other local users may read or write."""
    path = sqlite_path(url)
    if path is None:
        return []
    found = []
    for name, wanted in ((os.path.dirname(path), 0o700), (path, 0o600), (path + "-wal", 0o600), (path + "-shm", 0o600)):
        try:
            mode = os.stat(name).st_mode & 0o777
        except FileNotFoundError:
            continue
        if mode & 0o077:
            found.append(f"{name} has mode {mode:04o}; other local users can read it (want {wanted:04o})")
    return found
