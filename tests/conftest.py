"""Fixtures: the app on SQLite and PostgreSQL, a client with a token per role, a settable clock."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gate.app import create_app
from gate.extensions import db
from gate.runtime import runtime
from gate.services.tokens import create_token
from tests.support import RINGS, Clock, FeatureBuilder, PostgresDatabase, SqliteTemplate

ROLES = ("admin", "product", "qa", "release", "reporter", "sdk")
pytest_plugins = ["tests.receivers"]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite"))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabase | None]:
    url = os.environ.get("GATE_TEST_POSTGRES_URL")
    if not url:
        yield None
        return
    database = PostgresDatabase(url)
    yield database
    database.drop()


def _backends() -> list[Any]:
    return ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(params=_backends())
def database_url(
    request: pytest.FixtureRequest, sqlite_template: SqliteTemplate, postgres: PostgresDatabase | None
) -> str:
    if request.param == "sqlite":
        return sqlite_template.fresh()
    if postgres is None:
        pytest.skip("GATE_TEST_POSTGRES_URL is not set")
    return postgres.fresh()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rings_file() -> Path:
    return RINGS


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Extra settings for the app; modules override this fixture."""
    return {}


@pytest.fixture
def app(database_url: str, clock: Clock, rings_file: Path, app_config: dict[str, Any]) -> Iterator[Flask]:
    settings = {"DATABASE_URL": database_url, "RINGS_FILE": str(rings_file), "TESTING": True, "CLOCK": clock}
    app = create_app({**settings, **app_config})
    yield app
    runtime(app).watcher.stop()
    with app.app_context():
        db.engine.dispose()


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
            _, secret = create_token(name=name, role=role, actor="test")
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

    def promote(self, key: str, ring: str, **body: Any) -> Any:
        return self.as_("release").post(f"/api/v1/features/{key}/promote", json={"ring": ring, **body})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    tokens = {}
    with app.app_context():
        for role in ROLES:
            _, tokens[role] = create_token(name=role if role != "qa" else "alice", role=role, actor="test")
    return Api(client, tokens)


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()
