"""A SQLite file's writers share one nudge on their host: `gate serve` and the CLI (issue 26).

SQLite is written only from its own host, so when every writer of a file nudges the same folder, a commit
from any of them (another worker, another `gate serve`, `gate token revoke`) reaches every watcher at once,
and the poll of the state row is only a safety net (every 0.5 s instead of every 50 ms: a worker's idle
wake-ups fall from 20 a second to 2)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from gate import app as gate_app
from gate.app import STREAM_POLL_SECONDS, create_app
from gate.extensions import db
from gate.runtime import runtime
from gate.services.tokens import create_token
from gate.services.watch import SAFETY_POLL_SECONDS, Nudge
from tests.support import RINGS


@pytest.fixture
def store(sqlite_template: Any) -> Iterator[str]:
    url = sqlite_template.fresh()
    yield url
    nudge = Nudge.of_store(make_url(url))
    if nudge is not None:
        shutil.rmtree(nudge.folder, ignore_errors=True)


def _app(url: str, **config: Any) -> Flask:
    return create_app({"DATABASE_URL": url, "RINGS_FILE": str(RINGS), "TESTING": True, **config})


def _close(app: Flask) -> None:
    runtime(app).watcher.stop()
    with app.app_context():
        db.engine.dispose()


def test_every_writer_of_one_sqlite_file_shares_one_nudge_folder(store: str, tmp_path: Path) -> None:
    one, two = Nudge.of_store(make_url(store)), Nudge.of_store(make_url(store))
    assert one is not None and two is not None and one.folder == two.folder and one.whole_store
    assert os.stat(one.folder).st_mode & 0o777 == 0o700
    other = Nudge.of_store(make_url(f"sqlite:///{tmp_path}/other.db"))
    assert other is not None and other.folder != one.folder
    shutil.rmtree(other.folder)
    for url in ("postgresql+psycopg://postgres@127.0.0.1/test", "sqlite://", "sqlite:///:memory:"):
        assert Nudge.of_store(make_url(url)) is None  # other hosts may write it, or no other process can


def test_a_nudge_folder_others_could_enter_or_a_link_is_never_used(store: str, tmp_path: Path) -> None:
    nudge = Nudge.of_store(make_url(store))
    assert nudge is not None
    os.chmod(nudge.folder, 0o770)  # noqa: S103 - the point: another local user could deafen the watchers or fake nudges
    assert Nudge.of_store(make_url(store)) is None
    os.rmdir(nudge.folder)
    os.symlink(tmp_path, nudge.folder)  # a link planted where the folder goes
    assert Nudge.of_store(make_url(store)) is None
    os.unlink(nudge.folder)


def test_gate_serve_on_a_sqlite_file_polls_only_as_a_safety_net_and_a_lone_app_as_before(store: str) -> None:
    served, lone = _app(store, NUDGE_STORE=True), _app(store)
    try:
        assert runtime(served).watcher._interval == SAFETY_POLL_SECONDS
        assert runtime(lone).watcher._interval == STREAM_POLL_SECONDS  # nothing tells it of other writers
    finally:
        _close(served)
        _close(lone)


def test_a_write_by_another_process_of_the_file_reaches_a_watcher_at_once_not_at_its_poll(
    store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI's app (a write) and a server's (a watcher) on one file: only the nudge can wake the watcher
    within the test's 5 s, every poll being an hour here."""
    monkeypatch.setattr(gate_app, "SAFETY_POLL_SECONDS", 3600.0)
    monkeypatch.setattr(gate_app, "STREAM_POLL_SECONDS", 3600.0)
    server, cli = _app(store, NUDGE_STORE=True), _app(store, NUDGE_STORE=True)
    try:
        watcher = runtime(server).watcher
        watcher.ensure_running()
        before = watcher.state
        with cli.app_context():
            create_token(name="ci", roles=["sdk"], actor="cli:ops")  # `gate token create`: the tokens move
        assert watcher.wait_changed(before, timeout=5)[1] > before[1]
    finally:
        _close(server)
        _close(cli)


def test_a_watcher_that_stops_takes_its_name_out_of_the_shared_folder(store: str) -> None:
    server = _app(store, NUDGE_STORE=True)
    watcher = runtime(server).watcher
    watcher.ensure_running()
    nudge = watcher._nudge
    assert nudge is not None
    nudge.bump()  # the watcher's thread reads the row; its socket is bound by now or at its next wait
    deadline = time.monotonic() + 5
    while not os.listdir(nudge.folder) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(os.listdir(nudge.folder)) == 1
    _close(server)
    assert os.listdir(nudge.folder) == []
