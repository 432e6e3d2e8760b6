"""How `gate serve` configures gunicorn: the gevent worker lets connections take turns."""

from __future__ import annotations

from pathlib import Path

import gevent
import pytest

from gate.cli.serve import GateServer, _take_turns


@pytest.fixture(autouse=True)
def _settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATE_DATABASE_URL", f"sqlite:///{tmp_path}/gate.db")


def test_after_each_answer_a_gevent_connection_lets_the_others_run() -> None:
    order: list[str] = []

    def busy_client() -> None:  # a keep-alive client whose requests wait on nothing
        for i in range(3):
            order.append(f"busy {i}")
            _take_turns(None, None, {}, None)

    def other_client() -> None:
        order.append("other")

    busy, other = gevent.spawn(busy_client), gevent.spawn(other_client)
    gevent.joinall([busy, other], timeout=5)
    assert order.index("other") == 1  # served right after the busy client's first answer, not after all three


def test_only_the_gevent_worker_takes_turns() -> None:
    gevent_server = GateServer(bind="127.0.0.1:0", workers=1, worker_class="gevent", connections=10)
    threaded = GateServer(bind="127.0.0.1:0", workers=1, worker_class="gthread", connections=10)
    assert gevent_server.cfg.post_request is _take_turns
    assert threaded.cfg.post_request is not _take_turns  # a thread each: the OS takes turns
