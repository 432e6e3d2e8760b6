"""Concurrency settled in the database, against a real `gate serve` with four workers."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import Served, start_gate
from tests.support import FeatureBuilder


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    """Four workers here: the races are between workers."""
    gate = start_gate(database_url, tmp_path, workers=4)
    yield gate
    gate.stop()


pytestmark = pytest.mark.integration


def apply(served: Served, builder: FeatureBuilder) -> None:
    r = requests.put(
        f"{served.url}/api/v1/features/{builder.key}/criteria",
        data=builder.yaml(),
        headers={**served.headers(), "Content-Type": "application/yaml"},
        timeout=10,
    )
    assert r.status_code == 200, r.text


def test_thirty_voters_voting_at_once_lose_no_vote(served: Served) -> None:
    apply(served, FeatureBuilder("checkout").criterion("e2e", required_yes=30))
    tokens = [served.token(f"qa-{i:02d}", "qa") for i in range(30)]
    start = threading.Barrier(30)

    def voter(token: str) -> list[int]:
        session = requests.Session()
        start.wait()
        codes = []
        for vote in ("no", "yes", "no", "yes"):
            r = session.post(
                f"{served.url}/api/v1/features/checkout/criteria/e2e/votes",
                json={"vote": vote},
                headers=served.headers(token),
                timeout=30,
            )
            codes.append(r.status_code)
        return codes

    with ThreadPoolExecutor(30) as pool:
        results = list(pool.map(voter, tokens))
    assert all(codes == [201, 201, 201, 201] for codes in results), results
    history = requests.get(
        f"{served.url}/api/v1/features/checkout/criteria/e2e/votes", headers=served.headers(), timeout=10
    ).json()
    assert len(history) == 120
    feature = requests.get(f"{served.url}/api/v1/features/checkout", headers=served.headers(), timeout=10).json()
    criterion = feature["criteria"][0]
    assert sorted(criterion["yes"]) == [f"qa-{i:02d}" for i in range(30)]
    assert criterion["no"] == [] and criterion["passed"] is True


def test_ten_simultaneous_promotions_give_one_success_and_one_deployment(served: Served) -> None:
    apply(served, FeatureBuilder("checkout"))
    release = served.token("release", "release")
    start = threading.Barrier(10)

    def promote(_: int) -> requests.Response:
        session = requests.Session()
        start.wait()
        return session.post(
            f"{served.url}/api/v1/features/checkout/promote",
            json={"ring": "internal"},
            headers=served.headers(release),
            timeout=30,
        )

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(promote, range(10)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [409] * 9, [r.text for r in responses]
    assert all(r.headers["Content-Type"] == "application/problem+json" for r in responses if r.status_code == 409)
    events = requests.get(
        f"{served.url}/api/v1/features/checkout/deployments", headers=served.headers(), timeout=10
    ).json()
    assert [(e["kind"], e["ring"]) for e in events] == [("promote", "internal")]


def test_every_worker_sees_every_acknowledged_write(served: Served) -> None:
    """Reads right after writes, spread over four workers by fresh connections, never go back in time."""
    apply(served, FeatureBuilder("checkout"))
    sdk = served.token("sdk", "sdk")
    release = served.token("release", "release")
    etag = None
    for percent in (10, 20, 30, 40, 50, 60, 70, 80):
        if percent == 10:
            r = requests.post(
                f"{served.url}/api/v1/features/checkout/promote",
                json={"ring": "internal", "percent": percent},
                headers=served.headers(release),
                timeout=10,
            )
        else:
            r = requests.post(
                f"{served.url}/api/v1/features/checkout/rollout",
                json={"percent": percent},
                headers=served.headers(release),
                timeout=10,
            )
        assert r.status_code == 200
        version = r.json()["version"]
        for _ in range(4):
            snap = requests.get(f"{served.url}/api/v1/sdk/snapshot", headers=served.headers(sdk), timeout=10)
            assert snap.status_code == 200
            assert snap.json()["version"] >= version
            assert snap.json()["flags"]["checkout"]["percent"] == percent
            etag = snap.headers["ETag"]
        assert (
            requests.get(
                f"{served.url}/api/v1/sdk/snapshot", headers={**served.headers(sdk), "If-None-Match": etag}, timeout=10
            ).status_code
            == 304
        )


def test_errors_from_the_real_server_are_problems(served: Served) -> None:
    big = requests.put(
        f"{served.url}/api/v1/features/x/criteria",
        data=b"x" * (8 * 1024 * 1024),
        headers={**served.headers(), "Content-Type": "application/yaml"},
        timeout=30,
    )
    assert big.status_code == 413 and big.headers["Content-Type"] == "application/problem+json"
    missing = requests.get(f"{served.url}/nowhere", timeout=10)
    assert missing.status_code == 404 and missing.json()["status"] == 404
    metrics = requests.get(f"{served.url}/metrics", timeout=10)
    assert "gate_http_requests_total" in metrics.text
