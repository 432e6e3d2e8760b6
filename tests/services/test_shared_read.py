"""Requests share the state read without giving up consistency: no caller takes a read begun before it arrived."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from gate.extensions import db
from gate.services.versions import SharedRead, current_versions
from tests.support import Api, FeatureBuilder


class Row:
    """A stand-in for the state row whose reads the test holds open and lets finish one at a time."""

    def __init__(self) -> None:
        self.version = 1
        self.reads = 0
        self.began = threading.Semaphore(0)
        self.release = threading.Semaphore(0)
        self.fail_next = False

    def read(self) -> tuple[int, int]:
        self.reads += 1
        seen = self.version  # the statement's snapshot: taken when the read begins
        self.began.release()
        self.release.acquire()
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("server closed the connection")
        return seen, 7


def _call(shared: SharedRead, into: list[object]) -> threading.Thread:
    def run() -> None:
        try:
            into.append(shared())
        except BaseException as error:
            into.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _settle(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 5
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.005)


def test_a_caller_arriving_during_a_read_waits_for_the_next_and_sees_the_write_before_it() -> None:
    row = Row()
    shared = SharedRead(row.read)
    first: list[object] = []
    a = _call(shared, first)
    assert row.began.acquire(timeout=5)  # read 1 is in flight and saw version 1
    row.version = 2  # a write commits and is acknowledged while read 1 is still in flight
    later: list[object] = []
    waiting = [_call(shared, later) for _ in range(3)]  # three requests arrive after the acknowledgement
    time.sleep(0.05)
    assert row.reads == 1  # none of them starts a second read while one runs
    row.release.release()
    a.join(5)
    assert first == [(1, 7)]
    assert row.began.acquire(timeout=5)  # one read for all three
    row.release.release()
    for thread in waiting:
        thread.join(5)
    assert later == [(2, 7)] * 3  # every one reflects the write: none took read 1's answer
    assert row.reads == 2


def test_a_lone_caller_reads_for_itself_every_time() -> None:
    row = Row()
    shared = SharedRead(row.read)
    for version in (1, 2, 3):
        row.version = version
        row.release.release()
        assert shared() == (version, 7)
    assert row.reads == 3


def test_a_failed_read_fails_its_waiters_and_the_next_caller_reads_again() -> None:
    row = Row()
    shared = SharedRead(row.read)
    first: list[object] = []
    a = _call(shared, first)
    assert row.began.acquire(timeout=5)
    later: list[object] = []
    b = _call(shared, later)
    time.sleep(0.05)
    row.release.release()  # read 1 succeeds
    a.join(5)
    assert row.began.acquire(timeout=5)  # read 2, for the caller that arrived during read 1
    row.fail_next = True
    row.release.release()
    b.join(5)
    assert len(later) == 1 and isinstance(later[0], ConnectionError)
    row.release.release()
    assert shared() == (1, 7)  # the failure is not remembered: the next caller reads afresh
    assert row.reads == 3


def test_many_callers_share_few_reads_and_each_sees_the_version_of_its_arrival() -> None:
    lock = threading.Lock()
    committed = [0]
    reads = [0]

    def read() -> tuple[int, int]:
        with lock:
            reads[0] += 1
            seen = committed[0]
        time.sleep(0.002)  # a round trip
        return seen, 0

    shared = SharedRead(read)
    stale: list[tuple[int, int]] = []

    def caller() -> None:
        for _ in range(50):
            with lock:
                committed[0] += 1  # a write acknowledged before this caller's request
                acknowledged = committed[0]
            version, _ = shared()
            if version < acknowledged:
                stale.append((version, acknowledged))

    threads = [threading.Thread(target=caller) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert stale == []
    assert reads[0] < 8 * 50  # shared: fewer reads than calls


def test_the_request_path_sees_a_write_made_outside_gate_at_its_next_read(app: Flask, api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    version = api.promote("checkout", "internal").json["version"]
    with app.app_context():
        assert current_versions()[0] == version
        with db.engine.connect() as connection:
            connection.execute(text("UPDATE gate_state SET version = version + 1 WHERE id = 1"))
            connection.commit()
        assert current_versions()[0] == version + 1  # written outside Gate: still seen by the next read


@pytest.fixture(autouse=True)
def _no_leftover_threads() -> Iterator[None]:
    before = threading.active_count()
    yield
    _settle(lambda: threading.active_count() <= before)
