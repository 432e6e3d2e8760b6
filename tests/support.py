"""Test helpers: databases made and dropped per run, a settable clock, builders, store dumps."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from flask.testing import FlaskClient
from sqlalchemy import create_engine, pool
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url

from gate import migrate as migrations
from gate.services.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
RINGS = ROOT / "rings.yaml"
TABLES = (
    "component_events",
    "web_sessions",
    "evidence",
    "votes",
    "criterion_revisions",
    "outbox",
    "rca_items",
    "changes",
    "bugs",
    "incidents",
    "deployment_events",
    "exposure_counts",
    "audit",
    "tokens",
    "plans",
    "features",
)


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class SqliteTemplate:
    """One migrated SQLite file per run, copied for each test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.template = folder / "template.db"
        migrations.upgrade(f"sqlite:///{self.template}")

    def fresh(self) -> str:
        target = self.folder / f"{uuid.uuid4().hex}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


class PostgresDatabase:
    """A database of its own for this run, made at start and dropped at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.name = f"gate_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self._admin().execute(sql(f'CREATE DATABASE "{self.name}"'))
        self.url = make_url(admin_url).set(database=self.name).render_as_string(hide_password=False)
        migrations.upgrade(self.url)
        self.engine = create_engine(self.url, poolclass=pool.NullPool)
        with self.engine.connect() as conn:  # the sequences of the emptied tables' ids, to start again at 1
            found = set(conn.execute(sql("SELECT relname FROM pg_class WHERE relkind = 'S'")).scalars())
        self.sequences = [f"{t}_id_seq" for t in TABLES if f"{t}_id_seq" in found]

    def _admin(self) -> Any:
        engine = create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool)
        return engine.connect()

    def fresh(self) -> str:
        # DELETE, not TRUNCATE: a test leaves a few rows, which DELETE clears in a fifth of TRUNCATE's time (it
        # rewrites every table's files); foreign keys are not checked meanwhile, since every table is emptied
        with self.engine.begin() as conn:
            conn.execute(sql("SET LOCAL session_replication_role = replica"))
            conn.execute(sql("; ".join(f"DELETE FROM {t}" for t in TABLES)))
            conn.execute(sql("; ".join(f"SELECT setval('{q}', 1, false)" for q in self.sequences)))
            conn.execute(sql("UPDATE gate_state SET version = 1, tokens_version = 1"))
        return self.url

    def drop(self) -> None:
        self.engine.dispose()
        with self._admin() as conn:
            conn.execute(sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))


def dump_store(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in id order; token last use is left out (it records reads)."""
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            out = {t: [tuple(r) for r in conn.execute(sql(f"SELECT * FROM {t} ORDER BY 1"))] for t in TABLES}
            out["tokens"] = [
                tuple(r)
                for r in conn.execute(
                    sql("SELECT id, name, roles, owners, expires_at, secret_hash, revoked_at FROM tokens ORDER BY id")
                )
            ]
            out["gate_state"] = [tuple(r) for r in conn.execute(sql("SELECT * FROM gate_state"))]
            return out
    finally:
        engine.dispose()


@dataclass
class FeatureBuilder:
    """Builds product YAML documents: FeatureBuilder("checkout").criterion("e2e", ring="preview").build()."""

    key: str
    name: str = ""
    owner: str = "payments"
    criteria: list[dict[str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def criterion(
        self,
        cid: str,
        *,
        ring: str = "internal",
        required_yes: int | None = None,
        description: str | None = None,
        **extra: Any,
    ) -> FeatureBuilder:
        item: dict[str, Any] = {"id": cid, "description": description or f"{cid} is done", "ring": ring, **extra}
        if required_yes is not None:
            item["required_yes"] = required_yes
        self.criteria.append(item)
        return self

    def with_(self, **fields: Any) -> FeatureBuilder:
        self.extra.update(fields)
        return self

    def build(self) -> dict[str, Any]:
        return {
            "feature": self.key,
            "name": self.name or self.key.title(),
            "owner": self.owner,
            "criteria": list(self.criteria),
            **self.extra,
        }

    def yaml(self) -> str:
        return yaml.safe_dump(self.build(), sort_keys=False)


class Api:
    """A test client that speaks as a given role: api.as_("qa").post(...)."""

    def __init__(self, client: FlaskClient, tokens: dict[str, str], role: str = "admin") -> None:
        self.client, self.tokens, self.role = client, tokens, role

    def as_(self, role: str) -> Api:
        return Api(self.client, self.tokens, role)

    def token(self, name: str, role: str) -> Api:
        """Another identity: a new token with its own name."""
        app = self.client.application
        with app.app_context():
            _, secret = create_token(name=name, roles=[role], actor="test")
        return Api(self.client, {**self.tokens, name: secret}, name)

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[self.role]}", **(headers or {})}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.client.post(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.client.put(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.client.patch(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.client.delete(path, headers=self._headers(kw.pop("headers", None)), **kw)

    def apply(self, builder: FeatureBuilder) -> Any:
        """PUT a feature's product YAML as the product role, asserting it took."""
        r = self.as_("product").put(
            f"/api/v1/features/{builder.key}/criteria", data=builder.yaml(), content_type="application/yaml"
        )
        assert r.status_code == 200, r.json
        return r.json

    def vote(self, key: str, criterion: str, vote: str = "yes", **body: Any) -> Any:
        r = self.post(f"/api/v1/features/{key}/criteria/{criterion}/votes", json={"vote": vote, **body})
        assert r.status_code == 201, r.json
        return r.json

    def evidence(
        self, key: str, criterion: str, body: bytes | str, media: str, build: str = "1a2b3c", **query: Any
    ) -> Any:
        """Upload a report as the ci role (unless speaking as another already)."""
        who = self if self.role != "admin" else self.as_("ci")
        return who.post(
            f"/api/v1/features/{key}/criteria/{criterion}/evidence",
            query_string={"build": build, **query},
            data=body,
            content_type=media,
        )

    def promote(self, key: str, ring: str, **body: Any) -> Any:
        return self.as_("release").post(f"/api/v1/features/{key}/promote", json={"ring": ring, **body})


# ---- the dashboard ----------------------------------------------------------------------------


def csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, page[:500]
    return match.group(1)


def sign_in(api: Api, role: str) -> tuple[FlaskClient, str]:
    client = api.client.application.test_client()
    token = csrf(client)
    r = client.post("/login", data={"token": api.tokens[role], "csrf": token, "next": "/"})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    return client, csrf(client, "/")  # sign-in renews the CSRF token


def page_text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


# ---- refused input -------------------------------------------------------------------------------


def assert_refused_and_unchanged(
    api: Api, database_url: str, send: Any, status: int, field: str | None, *, pages: bool = False
) -> None:
    """Send a bad request over a store with a feature at 50% in internal: a problem, and nothing written.

    `pages`: a dashboard page may answer HTML instead of problem+json.
    """
    api.apply(FeatureBuilder("checkout").criterion("unit", ring="internal"))
    api.vote("checkout", "unit")
    assert api.promote("checkout", "internal", percent=50).status_code == 200
    assert api.as_("reporter").post("/api/v1/incidents", json={"title": "t", "severity": 3}).status_code == 201
    before = dump_store(database_url)
    response = send(api)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    if not (pages and response.mimetype == "text/html"):
        assert response.content_type == "application/problem+json"
        problem = response.json
        assert problem["status"] == status and problem["title"] and problem["detail"] and problem["type"]
        if field is not None:
            assert field in problem["errors"], problem
    assert dump_store(database_url) == before
