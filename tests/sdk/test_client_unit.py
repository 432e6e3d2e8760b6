"""GateClient's logic with a scripted transport: fallbacks, caches, exposures, lifecycle."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gate_sdk import ClientStatus, GateClient, Reason, StreamUnavailable, TransportError
from gate_sdk._client import Backoff
from gate_sdk._http import HttpTransport, _parse_events
from gate_sdk._transport import Event, Fetched
from gate_sdk.testing import DEFAULT_RINGS, InMemoryClient

STAFF = {"user": "u1", "groups": ["product"]}


def document(version: int, ring: str | None = "internal", percent: float = 100) -> dict[str, Any]:
    return {
        "version": version,
        "rings": list(DEFAULT_RINGS),
        "flags": {"checkout": {"ring": ring, "percent": percent, "killed": False}},
    }


class Scripted:
    """A transport whose answers the test sets."""

    def __init__(self, *, stream: list[Any] | None = None, polls: list[Any] | None = None) -> None:
        self.streams = stream or []
        self.polls = polls or []
        self.posted: list[dict[str, Any]] = []
        self.fail_posts = 0
        self.aborted = threading.Event()
        self.forked = 0

    def fetch(self, etag: str | None) -> Fetched:
        if not self.polls:
            raise TransportError("no more answers")
        answer = self.polls.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            return Fetched(304, etag, None)
        return Fetched(200, f'"{answer["version"]}"', json.dumps(answer).encode())

    def stream(self, last_event_id: str | None) -> Iterator[Event]:
        if not self.streams:
            raise StreamUnavailable("no stream", 503)
        script = self.streams.pop(0)
        if isinstance(script, Exception):
            raise script
        for item in script:
            if isinstance(item, Exception):
                raise item
            yield item if isinstance(item, Event) else Event("snapshot", str(item["version"]), json.dumps(item))
        self.aborted.wait(0.05)

    def post_exposures(self, payload: dict[str, Any]) -> None:
        if self.fail_posts:
            self.fail_posts -= 1
            raise TransportError("down")
        self.posted.append(payload)

    def abort(self) -> None:
        self.aborted.set()

    def after_fork(self) -> None:
        self.forked += 1


def wait(predicate: Any, timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not predicate():
        time.sleep(0.005)
    return bool(predicate())


def test_the_stream_installs_each_snapshot() -> None:
    transport = Scripted(stream=[[document(1, None), document(2)]])
    with GateClient("http://gate", "k", transport=transport) as client:
        assert client.wait_until_ready(2)
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 2)
        assert client.is_enabled("checkout", STAFF)


def test_a_refused_stream_falls_back_to_polling() -> None:
    transport = Scripted(stream=[StreamUnavailable("full", 503)], polls=[document(3), None, document(4)])
    with GateClient("http://gate", "k", transport=transport, poll_interval=0.01) as client:
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 4)


def test_broken_answers_are_survived() -> None:
    transport = Scripted(
        stream=[[document(1), ValueError("garbled")]], polls=[TransportError("down"), {"version": "bad"}, document(5)]
    )
    with GateClient("http://gate", "k", transport=transport, poll_interval=0.01) as client:
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 5, timeout=5)


def test_polling_only_when_streaming_is_off() -> None:
    transport = Scripted(stream=[[document(9)]], polls=[document(6)])
    with GateClient("http://gate", "k", transport=transport, stream=False, poll_interval=0.01) as client:
        assert wait(lambda: client.snapshot is not None)
        assert client.snapshot is not None and client.snapshot.version == 6


def test_bootstrap_from_a_dict_or_a_file_answers_before_any_network(tmp_path: Path) -> None:
    client = GateClient("http://gate", "k", transport=Scripted(), bootstrap=document(1))
    assert client.wait_until_ready(0) and client.is_enabled("checkout", STAFF)
    client.close()
    path = tmp_path / "boot.json"
    path.write_text(json.dumps(document(2, ring=None)))
    client = GateClient("http://gate", "k", transport=Scripted(), bootstrap=str(path))
    assert client.evaluate("checkout", STAFF).reason is Reason.OFF
    client.close()


def test_an_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    path.write_text("{not json")
    client = GateClient("http://gate", "k", transport=Scripted(), cache_path=path)
    assert client.evaluate("checkout", STAFF, default=True).reason is Reason.NOT_READY
    client.close()


def test_new_snapshots_are_written_to_the_cache_atomically(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "cache.json"
    with GateClient("http://gate", "k", transport=Scripted(stream=[[document(7)]]), cache_path=path) as client:
        assert client.wait_until_ready(2)
        assert wait(path.exists)
    assert json.loads(path.read_text())["version"] == 7
    assert [p.name for p in path.parent.iterdir()] == ["cache.json"]
    reopened = GateClient("http://gate", "k", transport=Scripted(), cache_path=path)
    assert reopened.is_enabled("checkout", STAFF)
    reopened.close()


def test_exposures_are_counted_per_flag_and_result_and_retried() -> None:
    transport = Scripted(stream=[[document(1, percent=50)]])
    transport.fail_posts = 1
    client = GateClient("http://gate", "k", transport=transport, flush_interval=0.05)
    assert client.wait_until_ready(2)
    assert wait(lambda: client.snapshot is not None)
    for n in range(200):
        client.is_enabled("checkout", {"user": f"u{n}", "groups": ["cs"]})
    client.evaluate("checkout", {"user": "x"})
    client.is_enabled("unknown", STAFF)
    assert wait(lambda: bool(transport.posted))
    client.close()
    totals: dict[tuple[str, bool], int] = {}
    for payload in transport.posted:
        for e in payload["exposures"]:
            totals[(e["flag"], e["enabled"])] = totals.get((e["flag"], e["enabled"]), 0) + e["count"]
    assert sum(totals.values()) == 201
    assert set(totals) == {("checkout", True), ("checkout", False)}


def test_close_is_bounded_and_idempotent() -> None:
    transport = Scripted(stream=[[document(1)]])
    client = GateClient("http://gate", "k", transport=transport)
    client.close()
    client.close()
    assert transport.aborted.is_set()
    assert all(not t.is_alive() for t in client._threads)


def test_after_fork_restarts_the_threads_with_a_fresh_transport() -> None:
    transport = Scripted(stream=[[document(1)], [document(2)]])
    client = GateClient("http://gate", "k", transport=transport)
    old = client._threads
    client._after_fork()
    assert transport.forked == 1 and client._threads is not old
    client.close()
    for t in old:
        t.join(1)


def test_backoff_doubles_with_jitter_up_to_its_cap() -> None:
    backoff = Backoff(1.0, 8.0)
    delays = [backoff.next() for _ in range(6)]
    assert 0.5 <= delays[0] <= 1.0 and 1.0 <= delays[1] <= 2.0 and all(4.0 <= d <= 8.0 for d in delays[3:])
    backoff.reset()
    assert backoff.next() <= 1.0


def test_http_transport_refuses_a_bad_url_and_reports_a_refused_connection() -> None:
    with pytest.raises(ValueError):
        HttpTransport("ftp://x", "k")
    transport = HttpTransport("http://127.0.0.1:9/prefix", "k", connect_timeout=0.5)
    with pytest.raises(TransportError):
        transport.fetch(None)
    with pytest.raises(TransportError):
        list(transport.stream(None))
    with pytest.raises(TransportError):
        transport.post_exposures({"exposures": []})
    transport.after_fork()
    transport.abort()


class Lines:
    def __init__(self, text: bytes) -> None:
        self.lines = text.splitlines(keepends=True)

    def readline(self) -> bytes:
        return self.lines.pop(0) if self.lines else b""


def test_server_sent_events_are_parsed_as_the_standard_says() -> None:
    raw = b'retry: 1000\n\n: keepalive\n\nevent: snapshot\nid: 4\ndata: {"a":\ndata: 1}\n\ndata:x\nfoo: bar\n\n'
    events = list(_parse_events(Lines(raw)))  # type: ignore[arg-type]
    assert events == [Event("snapshot", "4", '{"a":\n1}'), Event("message", "4", "x")]


def test_the_in_memory_client_evaluates_like_the_real_one() -> None:
    flags = InMemoryClient()
    assert flags.evaluate("checkout", STAFF, default=True).reason is Reason.UNKNOWN_FLAG
    flags.set_flag("checkout", ring="internal")
    assert flags.is_enabled("checkout", STAFF) and not flags.is_enabled("checkout", {"user": "x"})
    flags.enable("checkout")
    assert flags.is_enabled("checkout", {"user": "x"})
    flags.disable("checkout")
    assert flags.evaluate("checkout", STAFF).reason is Reason.OFF
    flags.set_flag("checkout", ring="ga", killed=True)
    assert flags.evaluate("checkout", {}).reason is Reason.KILLED
    flags.remove_flag("checkout")
    assert flags.wait_until_ready() and not flags.is_enabled("checkout")
    flags.close()
    assert "UNKNOWN_FLAG" in repr(flags.evaluate("checkout"))


def test_retry_after_is_read_in_seconds_and_bounded() -> None:
    from gate_sdk._http import retry_after

    assert retry_after("2") == 2.0 and retry_after(" 7 ") == 7.0 and retry_after("99999") == 300.0
    assert retry_after(None) is None and retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None


def test_reconnect_delays_are_capped_so_a_client_returns_within_five_seconds() -> None:
    from gate_sdk._client import RECONNECT_CAP

    backoff = Backoff(1.0, RECONNECT_CAP)
    delays = [backoff.next() for _ in range(20)]
    assert max(delays) <= 5.0 and delays[-1] >= 2.5  # doubled up to the cap, jittered in its upper half


def test_a_503_with_retry_after_is_followed_before_polling_again() -> None:
    transport = Scripted(polls=[TransportError("snapshot: HTTP 503", 503, retry_after=0.2), document(3)])
    started = time.monotonic()  # before the client: its thread asks at once, and the wait starts then
    client = GateClient("http://gate.invalid", sdk_key="k", transport=transport, stream=False, poll_interval=60)
    try:
        assert client.wait_until_ready(timeout=3)
        assert 0.2 <= time.monotonic() - started < 1.0
    finally:
        client.close()


def patch(base: int, version: int, **flags: Any) -> Event:
    return Event("patch", str(version), json.dumps({"base": base, "version": version, "flags": flags}))


def test_patches_apply_on_their_base_and_keep_the_other_flags(tmp_path: Path) -> None:
    first = document(1)
    first["flags"]["search"] = {"ring": "ga", "percent": 100, "killed": False}
    rollout = {"ring": "internal", "percent": 0, "killed": True}
    cache = tmp_path / "snapshot.json"
    transport = Scripted(stream=[[first, patch(1, 2, checkout=rollout), patch(2, 3, search=None)]])
    with GateClient("http://gate", "k", transport=transport, cache_path=cache) as client:
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 3)
        assert client.snapshot is not None and set(client.snapshot.flags) == {"checkout"}
        assert client.evaluate("checkout", STAFF).reason == Reason.KILLED
    assert json.loads(cache.read_text())["version"] == 3  # the cache holds the patched whole


def test_a_patch_from_another_base_fetches_the_snapshot_again() -> None:
    transport = Scripted(stream=[[document(1), patch(4, 5, checkout=None)]], polls=[document(5, percent=50)])
    with GateClient("http://gate", "k", transport=transport) as client:
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 5)
        assert client.snapshot is not None and client.snapshot.flags["checkout"].percent == 50  # fetched, not patched


def test_a_stream_refused_at_the_cap_comes_back_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    spread: list[tuple[float, float]] = []
    monkeypatch.setattr("gate_sdk._client.random.uniform", lambda a, b: spread.append((a, b)) or a)
    transport = Scripted(stream=[StreamUnavailable("full", 503, 0.01), [document(7)]], polls=[document(3)] * 50)
    with GateClient("http://gate", "k", transport=transport, poll_interval=0.01) as client:
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 7)
    assert (1.0, 1.5) in spread  # Retry-After, spread over half as much again


def test_a_wrong_key_is_logged_once_and_said_by_status(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gate_sdk._client.RECONNECT_CAP", 0.01)  # back off, but briefly, for the test
    refused = TransportError("snapshot: HTTP 401", 401)
    missing = TransportError("snapshot: HTTP 404", 404)
    transport = Scripted(stream=[StreamUnavailable("stream: HTTP 401", 401)], polls=[refused] * 5 + [missing] * 500)
    with caplog.at_level("DEBUG", logger="gate_sdk"):
        client = GateClient("http://gate", "wrong", transport=transport, poll_interval=0.01)
        try:
            assert client.status().error is not None
            assert wait(lambda: len(transport.polls) < 490, timeout=10)  # well into the 404s, far from their end
            status = client.status()
            assert not status.ready and not status.connected and status.version is None
            assert status.http_status == 404 and "URL" in (status.error or "")
        finally:
            client.close()
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2  # the 401 once however often it came, then the 404 once
    assert "SDK key" in errors[0] and "404" in errors[1]


def test_status_says_connected_once_gate_answers_again(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gate_sdk._client.RECONNECT_CAP", 0.01)
    transport = Scripted(polls=[TransportError("snapshot: HTTP 403", 403), document(4)] + [None] * 50)
    with caplog.at_level("INFO", logger="gate_sdk"):
        client = GateClient("http://gate", "k", transport=transport, stream=False, poll_interval=0.01)
        try:
            assert wait(lambda: client.status().connected)
            assert client.status() == ClientStatus(True, 4, True, None, None)
        finally:
            client.close()
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert ("INFO", "Gate at http://gate answers again") in said


def test_the_testing_client_takes_an_enabled_value() -> None:
    client = InMemoryClient()
    client.set_flag("checkout-v2", True)
    assert client.is_enabled("checkout-v2", {"user": "anyone"})
    client.set_flag("checkout-v2", False)
    assert client.evaluate("checkout-v2", {"user": "anyone"}).reason == Reason.OFF
    client.set_flag("checkout-v2", True, killed=True)
    assert client.evaluate("checkout-v2", {"user": "anyone"}).reason == Reason.KILLED


def test_a_key_that_is_not_an_sdk_token_is_warned_about_once_per_role(caplog: pytest.LogCaptureFixture) -> None:
    transport = Scripted(stream=[[document(1), document(2), document(3)]])
    transport.role = "admin"  # type: ignore[attr-defined]  # what HttpTransport learns from Gate-Token-Role
    with caplog.at_level("WARNING", logger="gate_sdk"), GateClient("http://gate", "k", transport=transport) as client:
        assert wait(lambda: client.snapshot is not None and client.snapshot.version == 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "the SDK key is a token of role admin, not sdk: give services a key of role sdk, "
        "which reads flags and can change nothing"
    ]


def test_an_sdk_key_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    transport = Scripted(stream=[[document(1)]])
    transport.role = "sdk"  # type: ignore[attr-defined]
    with caplog.at_level("WARNING", logger="gate_sdk"), GateClient("http://gate", "k", transport=transport) as client:
        assert wait(lambda: client.snapshot is not None)
    assert [r for r in caplog.records if r.levelname == "WARNING"] == []


def test_logs_name_the_url_without_credentials_and_a_refusal_once(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("gate_sdk._client.RECONNECT_CAP", 0.01)  # retries at once: the test counts them, not waits
    transport = Scripted(polls=[TransportError("cannot connect: refused")] * 3 + [document(2)] + [None] * 50)
    with caplog.at_level("DEBUG", logger="gate_sdk"):
        client = GateClient(
            "http://user:secret@gate:8080/base", "k", transport=transport, stream=False, poll_interval=0.01
        )
        try:
            assert wait(lambda: client.status().connected)
        finally:
            client.close()
    said = [(r.levelname, r.getMessage()) for r in caplog.records]
    warnings = [m for level, m in said if level == "WARNING"]
    assert warnings == [
        "cannot reach Gate at http://gate:8080/base (cannot connect: refused); answering from defaults, "
        "retrying with backoff"
    ]
    assert [m for level, m in said if level == "DEBUG"].count(
        "contact with Gate failed again: cannot connect: refused"
    ) == 2
    assert ("INFO", "Gate at http://gate:8080/base answers again") in said
    assert not any("secret" in m for _, m in said)
