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
from tests.support import RINGS, Api, Clock, PostgresDatabase, SqliteTemplate

ROLES = ("admin", "product", "qa", "release", "reporter", "sdk", "ci")
pytest_plugins = ["tests.receivers"]


def _reuse_url_builders() -> None:
    """The suite makes an app per test (about 1,300): werkzeug compiles two URL builders per route of each
    with `ast` and `compile`, a fifth of making one. A builder depends only on its rule's text, parsed parts
    and defaults, and takes the rule as its first argument: compile each once, bind it to every copy."""
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    built: dict[Any, Any] = {}

    def reused(self: Rule, append_unknown: bool = True) -> Any:
        key = (self.rule, tuple(self._trace), repr(list((self.defaults or {}).items())), append_unknown)
        if key not in built:
            built[key] = compile_builder(self, append_unknown)
        return built[key]

    Rule._compile_builder = reused  # type: ignore[method-assign]


_reuse_url_builders()


def pytest_configure(config: pytest.Config) -> None:
    """Coverage follows greenlets only in the processes that run them. The suite's own processes run threads
    (pyproject's setting); the servers and commands they start are told to follow gevent's greenlets too, as
    `gate serve` runs on them. Following greenlets everywhere cost the suite's processes a fifth more CPU.
    Not in xdist's controller: its workers would inherit the setting."""
    serialized = os.environ.get("COVERAGE_PROCESS_CONFIG")
    if not serialized or (getattr(config.option, "numprocesses", None) and not hasattr(config, "workerinput")):
        return
    from coverage.config import CoverageConfig

    settings = CoverageConfig.deserialize(serialized)
    settings.concurrency = sorted({*settings.concurrency, "gevent"})
    os.environ["COVERAGE_PROCESS_CONFIG"] = settings.serialize()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> SqliteTemplate:
    return SqliteTemplate(tmp_path_factory.mktemp("sqlite"))


LOCAL_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_url() -> str | None:
    """GATE_TEST_POSTGRES_URL; unset, the local server when it answers within a second (this machine's and
    CI's); set but empty, none: the PostgreSQL half is skipped (`make test-fast`)."""
    url = os.environ.get("GATE_TEST_POSTGRES_URL")
    if url is not None:
        return url or None
    import psycopg

    try:
        psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=1).close()
    except psycopg.Error:
        return None
    return LOCAL_POSTGRES


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresDatabase | None]:
    url = postgres_url()
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
        pytest.skip("no PostgreSQL: GATE_TEST_POSTGRES_URL is empty, or no local server answers")
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


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(app: Flask, client: FlaskClient) -> Api:
    tokens = {}
    with app.app_context():
        for role in ROLES:
            _, tokens[role] = create_token(name=role if role != "qa" else "alice", roles=[role], actor="test")
    return Api(client, tokens)


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest tests first (real servers, browsers, the fuzzer), so that the xdist workers fill the
    time they take with the short ones instead of all waiting on one long test at the end."""

    def weight(item: pytest.Item) -> int:
        path = str(item.path)
        return 0 if "/integration/" in path or "/fuzz/" in path else 1

    items.sort(key=weight)  # stable: the order inside each group stays
