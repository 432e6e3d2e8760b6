"""The SDK client against a real `gate serve`: stream, polling fallback, restarts, outages, fork, threads."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gate_sdk import GateClient, Reason

from tests.integration.conftest import Served, start_gate, wait_for
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration
STAFF = {"user": "u1", "groups": ["product"]}


def setup_flag(served: Served, key: str = "checkout") -> None:
    r = served.call("PUT", f"/api/v1/features/{key}/criteria", json=FeatureBuilder(key).build())
    assert r.status_code == 200, r.text


def rollout(served: Served, key: str, percent: float) -> int:
    r = served.call("POST", f"/api/v1/features/{key}/rollout", json={"percent": percent})
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


def promote(served: Served, key: str, ring: str = "internal", percent: float = 100) -> int:
    r = served.call(
        "POST", f"/api/v1/features/{key}/promote", json={"ring": ring, "percent": percent, "override_reason": "test"}
    )
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


@pytest.fixture
def client(served: Served) -> Iterator[GateClient]:
    setup_flag(served)
    c = GateClient(served.url, sdk_key=served.token("svc", "sdk"), flush_interval=0.2)
    yield c
    c.close()


def test_construction_returns_at_once_and_the_stream_delivers_changes(served: Served) -> None:
    setup_flag(served)
    sdk_key = served.token("svc", "sdk")
    started = time.perf_counter()
    client = GateClient(served.url, sdk_key=sdk_key)
    assert time.perf_counter() - started < 0.25  # no network on construction (a connect alone could take seconds)
    try:
        assert client.wait_until_ready(timeout=5)
        assert client.evaluate("checkout", STAFF).reason is Reason.OFF
        version = promote(served, "checkout")
        assert wait_for(lambda: client.is_enabled("checkout", STAFF), timeout=3)
        assert client.snapshot is not None and client.snapshot.version == version
        assert client.evaluate("nope", STAFF, default=True).astuple()[1:3] == (True, Reason.UNKNOWN_FLAG)
    finally:
        client.close()


def test_exposures_date_each_flags_last_evaluation(served: Served, client: GateClient) -> None:
    assert client.wait_until_ready(5)
    for _ in range(5):
        client.is_enabled("checkout", STAFF)
    client.is_enabled("unknown-flag", STAFF)
    assert wait_for(lambda: served.call("GET", "/api/v1/features/checkout").json()["last_evaluated_at"], timeout=5)


def test_the_client_falls_back_to_polling_when_the_stream_is_refused(database_url: str, tmp_path: Path) -> None:
    served = start_gate(database_url, tmp_path, workers=2, env={"GATE_STREAMS_PER_WORKER": "0"})
    try:
        setup_flag(served)
        client = GateClient(served.url, sdk_key=served.token("svc", "sdk"), poll_interval=0.1)
        try:
            assert client.wait_until_ready(5)
            promote(served, "checkout")
            assert wait_for(lambda: client.is_enabled("checkout", STAFF), timeout=5)
        finally:
            client.close()
    finally:
        served.stop()


def test_a_restarted_server_is_followed_again(database_url: str, tmp_path: Path) -> None:
    served = start_gate(database_url, tmp_path, workers=2)
    setup_flag(served)
    sdk_key = served.token("svc", "sdk")
    client = GateClient(served.url, sdk_key=sdk_key, poll_interval=0.2)
    try:
        assert client.wait_until_ready(5)
        port = int(served.url.rsplit(":", 1)[1])
        served.stop()
        assert client.evaluate("checkout", STAFF).reason is Reason.OFF  # the last snapshot, server gone
        served = start_gate(database_url, tmp_path, workers=2, port=port, admin=served.admin)
        version = promote(served, "checkout")
        assert wait_for(lambda: client.snapshot is not None and client.snapshot.version == version, timeout=15)
        assert client.is_enabled("checkout", STAFF)
    finally:
        client.close()
        served.stop()


def test_a_killed_server_leaves_the_last_snapshot_in_force(served: Served, client: GateClient) -> None:
    assert client.wait_until_ready(5)
    promote(served, "checkout")
    assert wait_for(lambda: client.is_enabled("checkout", STAFF), timeout=3)
    served.process.send_signal(signal.SIGKILL)
    served.process.wait()
    time.sleep(0.3)
    assert client.is_enabled("checkout", STAFF)
    assert client.evaluate("checkout", {"user": "x"}).reason is Reason.NOT_IN_RING


def test_a_server_that_never_answers_breaks_nothing(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    cache = tmp_path / "cache.json"
    try:
        started = time.perf_counter()
        client = GateClient(
            f"http://127.0.0.1:{listener.getsockname()[1]}",
            sdk_key="k",
            read_timeout=0.5,
            connect_timeout=0.5,
            poll_interval=0.2,
            cache_path=cache,
        )
        assert time.perf_counter() - started < 0.25
        assert client.wait_until_ready(timeout=0.5) is False
        result = client.evaluate("checkout", STAFF, default=True)
        assert (result.enabled, result.reason) == (True, Reason.NOT_READY)
        time.sleep(1.2)  # a stream attempt and some polls time out meanwhile
        started = time.perf_counter()
        client.close()
        assert time.perf_counter() - started < 2
        assert all(not t.is_alive() for t in client._threads)
    finally:
        stop.set()
        acceptor.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_the_disk_cache_answers_when_the_server_is_down(served: Served, tmp_path: Path) -> None:
    setup_flag(served)
    promote(served, "checkout")
    cache = tmp_path / "flags.json"
    sdk_key = served.token("svc", "sdk")
    with GateClient(served.url, sdk_key=sdk_key, cache_path=cache) as first:
        assert first.wait_until_ready(5)
        assert wait_for(cache.exists, timeout=2)
    served.stop()
    started = time.perf_counter()
    offline = GateClient(served.url, sdk_key=sdk_key, cache_path=cache, connect_timeout=0.2)
    answer = offline.is_enabled("checkout", STAFF)
    elapsed = time.perf_counter() - started
    offline.close()
    assert answer is True and elapsed < 0.5


def test_a_forked_child_keeps_receiving_updates(served: Served, client: GateClient) -> None:
    assert client.wait_until_ready(5)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: wait for the version the parent announces
        os.close(write_end)
        target = int(os.read(read_end, 32).decode())
        ok = wait_for(lambda: client.snapshot is not None and client.snapshot.version >= target, timeout=10)
        names = {t.name for t in threading.enumerate()}
        os._exit(0 if ok and client.is_enabled("checkout", STAFF) and "gate-sdk-updates" in names else 1)
    os.close(read_end)
    version = promote(served, "checkout")
    os.write(write_end, str(version).encode())
    os.close(write_end)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_eight_threads_evaluate_while_updates_arrive(served: Served, client: GateClient) -> None:
    assert client.wait_until_ready(5)
    promote(served, "checkout", percent=1)
    done = threading.Event()
    errors: list[BaseException] = []
    seen: set[int] = set()

    def evaluator(n: int) -> None:
        try:
            while not done.is_set():
                result = client.evaluate("checkout", {"user": f"user-{n}", "groups": ["cs"]})
                assert result.reason in (Reason.ROLLOUT, Reason.OFF)
                if result.version is not None:
                    seen.add(result.version)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=evaluator, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    last = 0
    for percent in range(2, 12):
        last = rollout(served, "checkout", percent)
        time.sleep(0.02)
    assert wait_for(lambda: client.snapshot is not None and client.snapshot.version == last, timeout=5)
    done.set()
    for t in threads:
        t.join()
    assert errors == []
    assert len(seen) > 1


def test_the_thread_count_stays_constant_over_fifty_reconnects(served: Served, client: GateClient) -> None:
    assert client.wait_until_ready(5)
    threads_before = threading.active_count()
    version = client.snapshot.version if client.snapshot else 0
    for _ in range(50):
        client._transport.abort()  # break the stream under the client, as a network blip would
        time.sleep(0.03)
    version = promote(served, "checkout")
    assert wait_for(lambda: client.snapshot is not None and client.snapshot.version == version, timeout=5)
    assert threading.active_count() == threads_before
    assert sorted(t.name for t in client._threads) == ["gate-sdk-exposures", "gate-sdk-updates"]


def test_a_wrong_key_or_url_is_said_once_at_error_and_by_status(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="gate_sdk"):
        with GateClient(served.url, "gate_not-a-key") as wrong_key:
            assert wait_for(lambda: wrong_key.status().http_status == 401, timeout=10)
            time.sleep(1.5)  # a few more refusals: still one ERROR line
            assert "SDK key" in (wrong_key.status().error or "") and not wrong_key.status().ready
        with GateClient(served.url + "/not-gate", served.token("fleet", "sdk")) as wrong_url:
            assert wait_for(lambda: wrong_url.status().http_status == 404, timeout=10)
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2 and "401" in errors[0] and "404" in errors[1]
    assert f"at {served.url};" in errors[0] and f"at {served.url}/not-gate;" in errors[1]  # the URL, never the key
    assert not any("gate_not-a-key" in r.getMessage() for r in caplog.records)


def test_a_gate_out_of_reach_is_said_once_and_its_return_once(
    served: Served, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    key = served.token("fleet", "sdk")
    served.stop()  # the port now refuses connections
    with caplog.at_level("DEBUG", logger="gate_sdk"), GateClient(served.url, key, poll_interval=0.2) as client:
        assert wait_for(lambda: client.status().error is not None and client.status().http_status is None, timeout=5)
        time.sleep(3.0)  # several retries on the backoff: still one line
        assert client.is_enabled("anything", {"user": "u"}, default=True) is True  # evaluation never raises
        port = int(served.url.rsplit(":", 1)[1])
        again = start_gate(served.database_url, tmp_path, port=port, admin=served.admin)
        try:
            assert wait_for(lambda: client.status().connected, timeout=10)
        finally:
            again.stop()
        assert "Traceback" not in again.log.read_text()  # its workers stopped cleanly, streams open
        assert wait_for(lambda: client.status().error is not None, timeout=10)  # a broken stream: failing again
    # what it says of reaching Gate (a stream falling back to polling is another matter, said at INFO)
    said = [
        (r.levelname, r.getMessage())
        for r in caplog.records
        if r.levelname != "DEBUG" and not r.getMessage().startswith("stream unavailable")
    ]
    retries = [r for r in caplog.records if r.getMessage().startswith("contact with Gate failed again")]
    warnings = [m for level, m in said if level == "WARNING"]
    recoveries = [m for level, m in said if level == "INFO" and m == f"Gate at {served.url} answers again"]
    # one WARNING for each time Gate went out of reach and one INFO for each return (a server booting its
    # workers may refuse a stream once more after the first answer), never a line per retry
    assert len(retries) >= 3 and len(warnings) == len(recoveries) + 1 and recoveries, said
    assert said[0][0] == "WARNING" and said[-1][0] == "WARNING"
    assert warnings[0].startswith(f"cannot reach Gate at {served.url} (") and "answering from defaults" in warnings[0]
    assert "answering from the last snapshot" in warnings[-1]
    assert not any(key in m for _, m in said)


def test_a_key_of_another_role_is_warned_about_and_still_served(
    served: Served, caplog: pytest.LogCaptureFixture
) -> None:
    setup_flag(served)
    with caplog.at_level("WARNING", logger="gate_sdk"):
        with GateClient(served.url, served.admin) as admin:
            assert admin.wait_until_ready(10)
        with GateClient(served.url, served.token("svc-ok", "sdk")) as sdk:
            assert sdk.wait_until_ready(10)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [
        "the SDK key is a token of role admin, not sdk: give services a key of role sdk, "
        "which reads flags and can change nothing"
    ]
