"""Components on real servers (contract §8.3): delivery under concurrent votes on two hosts sharing PostgreSQL,
`component.late` once across both, and `gate components` in a terminal."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests

from tests.integration.conftest import Served, start_gate, wait_for
from tests.integration.test_cli_remote import gate
from tests.receivers import Pager
from tests.support import FeatureBuilder

pytestmark = pytest.mark.integration


def product(due: date, api_due: date | None = None) -> dict:
    return (
        FeatureBuilder("pay")
        .criterion("payments-contract", ring="internal", required_yes=3)
        .criterion("ledger-contract", ring="internal")
        .criterion("e2e-integration", ring="preview")
        .with_(
            components=[
                {
                    "id": "payments-api",
                    "team": "platform",
                    "due": (api_due or due).isoformat(),
                    "criteria": ["payments-contract"],
                },
                {"id": "ledger", "team": "blockchain", "due": due.isoformat(), "criteria": ["ledger-contract"]},
            ],
            integration={"criterion": "e2e-integration"},
        )
        .build()
    )


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_two_hosts_agree_on_delivery_under_concurrent_votes_and_announce_late_once(
    database_url: str, tmp_path: Path, pager: Pager
) -> None:
    env = {"GATE_WEBHOOK_URLS": pager.url, "GATE_MILESTONE_INTERVAL_SECONDS": "0.5"}
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    first = start_gate(database_url, tmp_path, workers=2, env=env)
    second = start_gate(database_url, tmp_path, workers=2, env=env, admin=first.admin)
    try:
        assert first.call(
            "PUT", "/api/v1/features/pay/criteria", json=product(yesterday, yesterday + timedelta(days=6))
        ).ok
        voters = [first.token(f"qa-{i}", "qa") for i in range(8)]

        def vote(i: int, secret: str) -> None:
            host = (first, second)[i % 2]
            r = requests.post(
                f"{host.url}/api/v1/features/pay/criteria/payments-contract/votes",
                json={"vote": "yes"},
                headers=host.headers(secret),
                timeout=10,
            )
            assert r.status_code == 201

        threads = [threading.Thread(target=vote, args=(i, s)) for i, s in enumerate(voters)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        votes = first.call("GET", "/api/v1/features/pay/criteria/payments-contract/votes").json()
        # the third yes delivered it: by the time each vote was stamped (concurrent transactions may take their
        # ids in another order than their times; the history orders votes and evidence alike, by time)
        third = sorted(v["at"] for v in votes)[2]
        seen = [
            {c["id"]: c for c in host.call("GET", "/api/v1/components").json()}["payments-api"]
            for host in (first, second)
        ]
        assert seen[0] == seen[1] and seen[0]["delivered_at"] == third
        # the ledger stays late: its webhook arrives once, from whichever host saw it first
        assert wait_for(lambda: any(e["event"] == "component.late" for e in pager.events), timeout=15)
        time.sleep(2)  # four workers on two hosts look every half second: still one
        late = [e for e in pager.events if e["event"] == "component.late"]
        assert [(e["feature"], e["detail"]["team"], e["detail"]["days_late"]) for e in late] == [
            ("pay", "blockchain", 1)
        ]
        audited = first.call("GET", "/api/v1/audit?action=component.deliver").json()
        assert [e["target"] for e in audited] == ["component:pay/payments-api"]  # once, by the third vote
    finally:
        second.stop()
        first.stop()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_gate_components_prints_a_table_and_filters(served: Served) -> None:
    today = datetime.now(UTC).date()
    assert served.call("PUT", "/api/v1/features/pay/criteria", json=product(today - timedelta(days=3))).ok
    assert served.call("POST", "/api/v1/features/pay/criteria/ledger-contract/votes", json={"vote": "yes"}).ok
    table = gate(served, "components")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["FEATURE", "COMPONENT", "TEAM", "DUE", "STATE"]
    assert lines[1].split()[:4] == ["pay", "payments-api", "platform", str(today - timedelta(days=3))]
    assert lines[1].endswith("LATE by 3 days") and lines[2].split()[4] == "delivered"
    late = gate(served, "components", "--late", "--team", "platform")
    assert [line.split()[1] for line in late.stdout.splitlines()[1:]] == ["payments-api"]
    as_json = json.loads(gate(served, "components", "--team", "blockchain", "--json").stdout)
    assert [(c["id"], c["late"]) for c in as_json] == [("ledger", False)]
