"""SDK endpoints in-process: the stream's first events, exposures, OFREP single and bulk."""

from __future__ import annotations

import gzip
import json
import multiprocessing
from typing import Any

import pytest
from flask import Flask

from gate.runtime import runtime
from gate.services.streams import StreamSlots
from gate.services.watch import VersionWatcher
from tests.support import Api, FeatureBuilder


def test_the_stream_opens_with_the_current_snapshot(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    response = api.as_("sdk").get("/api/v1/sdk/stream", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    chunks = iter(response.response)
    assert next(chunks) == b"retry: 1000\n\n"
    event = next(chunks).decode()
    version = api.get("/api/v1/features/checkout").json["version"]
    assert event.startswith(f"event: snapshot\nid: {version}\ndata: {{")
    assert '"checkout":{"ring":null,"percent":0,"killed":false}' in event
    response.close()


def test_the_stream_skips_the_snapshot_its_client_already_has(api: Api, app: Flask) -> None:
    version = api.get("/api/v1/rings") and api.as_("sdk").get("/api/v1/sdk/snapshot").json["version"]
    runtime(app).streams.keepalive = 0.01
    response = api.as_("sdk").get("/api/v1/sdk/stream", headers={"Last-Event-ID": str(version)}, buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == b"retry: 1000\n\n"
    assert next(chunks) == b": keepalive\n\n"
    response.close()


def test_a_worker_refuses_streams_beyond_its_share(api: Api, app: Flask) -> None:
    runtime(app).streams.slots.__init__(1)  # type: ignore[misc]
    first = api.as_("sdk").get("/api/v1/sdk/stream", buffered=False)
    second = api.as_("sdk").get("/api/v1/sdk/stream")
    assert second.status_code == 503 and second.json["title"] == "Too many streams"
    first.close()
    third = api.as_("sdk").get("/api/v1/sdk/stream", buffered=False)
    assert third.status_code == 200
    third.close()


def test_streams_end_when_the_watcher_stops(api: Api, app: Flask) -> None:
    response = api.as_("sdk").get("/api/v1/sdk/stream", buffered=False)
    watcher: VersionWatcher = runtime(app).watcher
    watcher.stop()
    assert b"".join(response.response).count(b"event: snapshot") == 1
    response.close()


def test_the_watcher_sees_a_change_made_elsewhere() -> None:
    versions = iter([1, 1, 2, 2, 2])
    watcher = VersionWatcher(lambda: (next(versions, 2), 1), interval=0.001)
    watcher.ensure_running()
    watcher.ensure_running()  # once per process
    assert watcher.wait_changed((1, 1), timeout=2) == (2, 1)
    assert watcher.state == (2, 1)
    watcher.stop()


def test_exposures_count_per_day_and_date_the_last_evaluation(api: Api, database_url: str) -> None:
    api.apply(FeatureBuilder("checkout"))
    sdk = api.as_("sdk")
    body = {
        "exposures": [
            {"flag": "checkout", "enabled": True, "count": 5},
            {"flag": "checkout", "enabled": False, "count": 2},
            {"flag": "ghost", "enabled": True, "count": 1},
        ]
    }
    r = sdk.post("/api/v1/sdk/exposures", json=body)
    assert r.status_code == 200 and r.json == {"accepted": 7, "unknown": ["ghost"]}
    assert sdk.post("/api/v1/sdk/exposures", json=body).json["accepted"] == 7
    assert api.get("/api/v1/features/checkout").json["last_evaluated_at"] is not None
    from tests.support import dump_store

    assert [row[3:] for row in dump_store(database_url)["exposure_counts"]] == [(10, 4)]


def test_ofrep_single_and_bulk(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    api.apply(FeatureBuilder("search"))
    api.post("/api/v1/features/checkout/promote", json={"ring": "internal", "override_reason": "t"})
    sdk = api.as_("sdk")
    staff = {"context": {"targetingKey": "u1", "groups": ["cs"]}}
    one = sdk.post("/ofrep/v1/evaluate/flags/checkout", json=staff)
    assert one.json["key"] == "checkout" and one.json["value"] is True and one.json["variant"] == "on"
    assert one.json["reason"] == "SPLIT"
    assert one.json["metadata"]["gateReason"] == "ROLLOUT" and one.json["metadata"]["ring"] == "internal"
    missing = sdk.post("/ofrep/v1/evaluate/flags/nope", json=staff)
    assert missing.status_code == 404
    assert (missing.json["errorCode"], missing.json["key"]) == ("FLAG_NOT_FOUND", "nope")
    empty = sdk.post("/ofrep/v1/evaluate/flags/search", json={})
    assert (empty.json["value"], empty.json["reason"]) == (False, "DISABLED")
    bulk = sdk.post("/ofrep/v1/evaluate/flags", json=staff)
    assert [f["key"] for f in bulk.json["flags"]] == ["checkout", "search"]
    etag = bulk.headers["ETag"]
    assert sdk.post("/ofrep/v1/evaluate/flags", json=staff, headers={"If-None-Match": etag}).status_code == 304
    other = sdk.post(
        "/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u2"}}, headers={"If-None-Match": etag}
    )
    assert other.status_code == 200
    api.post("/api/v1/features/search/promote", json={"ring": "internal", "override_reason": "t"})
    changed = sdk.post("/ofrep/v1/evaluate/flags", json=staff, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_the_snapshot_is_written_by_the_sdk_s_own_writer(api: Api) -> None:
    import json

    from gate_sdk import Snapshot

    api.apply(FeatureBuilder("checkout").criterion("unit"))
    api.vote("checkout", "unit")
    assert api.promote("checkout", "internal", percent=12.5).status_code == 200
    body = api.as_("sdk").get("/api/v1/sdk/snapshot").get_data()
    document = json.loads(body)
    assert Snapshot.from_dict(document).to_dict() == document  # what the SDK reads, it writes back the same
    assert document["flags"]["checkout"] == {"ring": "internal", "percent": 12.5, "killed": False}


def _next_event(chunks: Any) -> str:
    while True:
        chunk = next(chunks).decode()
        if not chunk.startswith(":"):
            return chunk


def test_a_stream_asking_for_patches_gets_only_what_changed(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    api.apply(FeatureBuilder("search"))
    response = api.as_("sdk").get("/api/v1/sdk/stream?patches=1", buffered=False)
    chunks = iter(response.response)
    assert next(chunks) == b"retry: 1000\n\n"
    first = _next_event(chunks)
    base = int(first.split("\nid: ")[1].split("\n")[0])
    assert first.startswith("event: snapshot") and '"search"' in first
    assert api.post("/api/v1/features/checkout/kill", json={"reason": "drill"}).status_code == 200
    patch = _next_event(chunks)
    head, _, data = patch.partition("\ndata: ")
    document = json.loads(data)
    assert head == f"event: patch\nid: {document['version']}"
    assert document["base"] == base and document["version"] > base
    assert document["flags"] == {"checkout": {"ring": None, "percent": 0, "killed": True}}  # search is not sent
    assert api.delete("/api/v1/features/search").status_code == 200
    gone = json.loads(_next_event(chunks).partition("\ndata: ")[2])
    assert gone["base"] == document["version"] and gone["flags"] == {"search": None}
    response.close()


def test_a_stream_without_patches_gets_whole_snapshots(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    response = api.as_("sdk").get("/api/v1/sdk/stream", buffered=False)
    chunks = iter(response.response)
    next(chunks), _next_event(chunks)
    assert api.post("/api/v1/features/checkout/kill", json={"reason": "drill"}).status_code == 200
    event = _next_event(chunks)
    assert event.startswith("event: snapshot") and '"rings":' in event
    response.close()


def test_a_full_stream_answers_503_with_retry_after(api: Api, app: Flask) -> None:
    runtime(app).streams.slots.__init__(0)  # type: ignore[misc]
    refused = api.as_("sdk").get("/api/v1/sdk/stream?patches=1")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"


def test_one_stream_cap_holds_across_the_forks_of_a_host() -> None:
    slots = StreamSlots(2)  # as `gate serve` makes it, before gunicorn forks its workers
    worker = multiprocessing.get_context("fork").Process(target=slots.take, args=(7,))
    worker.start()
    worker.join(10)
    assert slots.open == 1  # taken in another process, counted here
    assert slots.take(8) is None
    assert slots.take(9) == "this host holds all the streams it may (2)"
    for token in (7, 8, 8):
        slots.give(token)
    assert slots.open == 0


def test_each_token_holds_at_most_its_share_of_the_streams() -> None:
    slots = StreamSlots(4, per_token=2)
    assert slots.take(1) is None and slots.take(1) is None
    assert slots.take(1) == "this token holds its share of the streams (2); other tokens still may"
    assert slots.take(2) is None and slots.take(2) is None  # another token still gets in
    slots.give(1)
    assert slots.take(1) is None  # a slot given back is the token's again
    assert StreamSlots(10).per_token == 5  # unset: half of the cap


def test_the_snapshot_is_gzipped_for_clients_that_accept_it(api: Api) -> None:
    for i in range(50):
        api.apply(FeatureBuilder(f"flag-{i:02d}"))
    sdk = api.as_("sdk")
    plain = sdk.get("/api/v1/sdk/snapshot")
    packed = sdk.get("/api/v1/sdk/snapshot", headers={"Accept-Encoding": "gzip, br"})
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert packed.headers["Vary"] == "Accept-Encoding" and packed.headers["ETag"] == plain.headers["ETag"]
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) * 5 < len(plain.data)


def test_an_unchanged_snapshot_is_answered_304_before_the_framework_by_the_views_rules(
    api: Api, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.apply(FeatureBuilder("checkout"))
    sdk = api.as_("sdk")
    etag = sdk.get("/api/v1/sdk/snapshot").headers["ETag"]
    before = _count(sdk, "sdk.snapshot", "304")
    dispatched: list[str] = []
    full = app.full_dispatch_request
    monkeypatch.setattr(app, "full_dispatch_request", lambda: dispatched.append("app") or full())
    for sent in (etag, f"W/{etag}", f'"0", {etag}', "*"):
        r = sdk.get("/api/v1/sdk/snapshot", headers={"If-None-Match": sent})
        assert (r.status_code, r.headers["ETag"], r.data) == (304, etag, b""), sent
        assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert dispatched == []  # none of them reached the framework
    assert _count(sdk, "sdk.snapshot", "304") == before + 4  # counted like any request
    version = api.promote("checkout", "internal").json["version"]
    dispatched.clear()
    changed = sdk.get("/api/v1/sdk/snapshot", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] == f'"{version}"'
    assert list(changed.json["flags"]) == ["checkout"]
    assert dispatched == ["app"]


def test_a_revalidation_without_a_valid_sdk_token_gets_the_apps_own_problem(api: Api) -> None:
    api.apply(FeatureBuilder("checkout"))
    etag = api.as_("sdk").get("/api/v1/sdk/snapshot").headers["ETag"]
    client = api.client
    for headers, status in (
        ({}, 401),
        ({"Authorization": "Bearer gate_nothing"}, 401),
        ({"Authorization": f"Bearer {api.tokens['qa']}"}, 403),
    ):
        r = client.get("/api/v1/sdk/snapshot", headers={**headers, "If-None-Match": etag})
        assert (r.status_code, r.mimetype) == (status, "application/problem+json"), headers
    assert api.as_("admin").get("/api/v1/sdk/snapshot", headers={"If-None-Match": etag}).status_code == 304


def _count(api: Api, endpoint: str, status: str) -> float:
    text = api.client.get("/metrics").get_data(as_text=True)
    for line in text.splitlines():
        labels = (f'endpoint="{endpoint}"', f'status="{status}"')
        if line.startswith("gate_http_requests_total{") and all(label in line for label in labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_what_sdks_fetch_says_the_role_of_the_key(api: Api) -> None:
    """So an SDK given an admin or release key can warn that it should have an sdk key."""
    api.apply(FeatureBuilder("checkout"))
    for role in ("sdk", "admin"):
        caller = api.as_(role)
        full = caller.get("/api/v1/sdk/snapshot")
        etag = full.headers["ETag"]
        fast = caller.get("/api/v1/sdk/snapshot", headers={"If-None-Match": etag})
        slow = caller.get("/api/v1/sdk/snapshot?x=1", headers={"If-None-Match": etag})  # the framework's own 304
        stream = caller.get("/api/v1/sdk/stream", buffered=False)
        try:
            assert [r.status_code for r in (full, fast, slow, stream)] == [200, 304, 304, 200]
            assert {r.headers["Gate-Token-Role"] for r in (full, fast, slow, stream)} == {role}
        finally:
            stream.close()
