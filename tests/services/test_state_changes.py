"""How every process learns of a change: PostgreSQL announces it at commit; a failed LISTEN falls back to polling."""

from __future__ import annotations

import threading
import time

import pytest
from flask import Flask

from gate.extensions import db
from gate.services.watch import Listener, VersionWatcher
from tests.support import Api, FeatureBuilder


def _listener(app: Flask) -> Listener:
    with app.app_context():
        url = db.engine.url
    if url.get_backend_name() != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    return Listener(url.set(drivername="postgresql").render_as_string(hide_password=False))


def test_a_change_wakes_a_listener_at_commit_not_at_the_next_poll(app: Flask, api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    listener = _listener(app)
    try:
        assert listener.wait(0.01)  # connected and listening; nothing announced yet
        woke: list[float] = []

        def wait() -> None:
            started = time.monotonic()
            listener.wait(10)
            woke.append(time.monotonic() - started)

        waiter = threading.Thread(target=wait)
        waiter.start()
        time.sleep(0.2)
        assert api.post("/api/v1/features/checkout/kill", json={"reason": "drill"}).status_code == 200
        waiter.join(10)
        assert woke and 0.15 < woke[0] < 2  # woken by the kill's NOTIFY, long before its 10 s
    finally:
        listener.close()


def test_a_listener_that_cannot_connect_says_so_and_waits_before_trying_again() -> None:
    listener = Listener("postgresql://postgres@127.0.0.1:1/none", connect_timeout=1)
    assert listener.wait(0.01) is False
    started = time.monotonic()
    assert listener.wait(5) is False and time.monotonic() - started < 0.1  # no reconnect storm
    listener.forget()
    listener.close()


def test_a_watcher_whose_listener_fails_polls_instead() -> None:
    class Broken(Listener):
        def wait(self, timeout: float) -> bool:
            return False

    versions = iter([(1, 1), (2, 1)])
    prepared: list[tuple[int, int]] = []
    watcher = VersionWatcher(
        lambda: next(versions, (2, 1)), interval=0.001, listener=Broken("unused"), prepare=prepared.append
    )
    watcher.ensure_running()
    assert watcher.wait_changed((1, 1), timeout=2) == (2, 1)
    assert prepared == [(2, 1)]  # prepared once, before the streams woke
    watcher.stop()


def test_one_change_wakes_every_waiting_stream_at_once_and_a_stop_wakes_them_to_end() -> None:
    """Streams wait on one event per change: each waiter that read the old state is woken by that change,
    whenever it began to wait, and none waits out its timeout."""
    state = {"now": (1, 1)}
    watcher = VersionWatcher(lambda: state["now"], interval=0.001)
    watcher.ensure_running()
    woke: list[tuple[tuple[int, int], float]] = []

    def stream() -> None:
        started = time.monotonic()
        woke.append((watcher.wait_changed((1, 1), timeout=30), time.monotonic() - started))

    waiters = [threading.Thread(target=stream) for _ in range(50)]
    for w in waiters:
        w.start()
    time.sleep(0.1)
    state["now"] = (2, 1)
    for w in waiters:
        w.join(5)
    assert len(woke) == 50 and all(seen == (2, 1) and took < 5 for seen, took in woke)
    assert watcher.wait_changed((1, 1), timeout=30) == (2, 1)  # already changed: no wait at all
    late: list[float] = []

    def ends() -> None:
        started = time.monotonic()
        watcher.wait_changed((2, 1), timeout=30)
        late.append(time.monotonic() - started)

    waiter = threading.Thread(target=ends)
    waiter.start()
    time.sleep(0.1)
    watcher.stop()
    waiter.join(5)
    assert late and late[0] < 5 and watcher.stopped
    assert watcher.wait_changed((2, 1), timeout=30) == (2, 1)  # stopped: returns at once


def test_a_watcher_started_again_after_a_stop_waits_again() -> None:
    """A process that inherits a stopped watcher (a fork after a stop) starts it afresh: its streams wait for
    the next change instead of finding the stop's event set and spinning."""
    watcher = VersionWatcher(lambda: (1, 1), interval=0.001)
    watcher.ensure_running()
    watcher.stop()
    watcher._pid = None  # what a forked child sees: another process id
    watcher.ensure_running()
    started = time.monotonic()
    assert watcher.wait_changed((1, 1), timeout=0.3) == (1, 1)
    assert time.monotonic() - started >= 0.25 and not watcher.stopped
    watcher.stop()
