"""Release plans in real servers: two `gate serve` racing on PostgreSQL take each step once, and a real
Prometheus (Debian's package) scraping a small exporter halts and rolls back a plan when the error rate rises."""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.integration.conftest import Served, free_port, start_gate, wait_for
from tests.receivers import Pager

pytestmark = pytest.mark.integration
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

QUICK_RINGS = {
    "version": 1,
    "rings": [
        {"name": "internal", "audience": {"groups": ["staff"]}, "gate": {}},
        {"name": "preview", "audience": {"tenants": ["fabrikam"]}, "gate": {"block_on_incidents": 1}},
        {"name": "ga", "audience": "all", "gate": {"block_on_incidents": 2}},
    ],
    "incidents": {"auto_kill_at_or_above": 1},
}


def product(plan: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {
            "feature": "checkout",
            "name": "Checkout",
            "owner": "payments",
            "criteria": [{"id": "unit", "description": "Unit tests pass", "ring": "internal"}],
            "plan": plan,
        },
        sort_keys=False,
    )


@pytest.fixture
def quick_rings(tmp_path: Path) -> Path:
    path = tmp_path / "rings.yaml"
    path.write_text(yaml.safe_dump(QUICK_RINGS))
    return path


def ready_to_plan(served: Served, plan: dict[str, Any]) -> dict[str, str]:
    """Apply the product file with its plan, sign it off, and start the plan as a release manager."""
    r = requests.put(
        f"{served.url}/api/v1/features/checkout/criteria",
        data=product(plan),
        headers={**served.headers(), "Content-Type": "application/yaml"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    qa, release = served.token("quinn", "qa"), served.token("rita", "release")
    vote = requests.post(
        f"{served.url}/api/v1/features/checkout/criteria/unit/votes",
        json={"vote": "yes"},
        headers=served.headers(qa),
        timeout=10,
    )
    assert vote.status_code == 201
    started = requests.post(
        f"{served.url}/api/v1/features/checkout/plan/start", headers=served.headers(release), timeout=10
    )
    assert started.status_code == 200, started.text
    return {"release": release}


def plan_of(served: Served) -> dict[str, Any]:
    return dict(served.call("GET", "/api/v1/features/checkout/plan").json())


@pytest.mark.postgres
def test_two_servers_racing_on_postgresql_take_each_step_once(
    postgres: Any, tmp_path: Path, quick_rings: Path, pager: Pager
) -> None:
    if postgres is None:
        pytest.skip("no PostgreSQL to test against")
    url = postgres.fresh()
    env = {
        "GATE_PLAN_INTERVAL_SECONDS": "0.2",
        "GATE_WEBHOOK_URLS": pager.url,
        "GATE_WEBHOOK_SECRET": "s3cret",
        "GATE_LOG_LEVEL": "INFO",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = start_gate(url, tmp_path / "a", rings=quick_rings, env=env)
    second = None
    try:
        second = start_gate(url, tmp_path / "b", rings=quick_rings, env=env, admin=first.admin)
        steps = [
            {"ring": "internal", "hold": "1s"},
            {"ring": "preview", "percent": 10, "hold": "1s"},
            {"ring": "preview", "hold": "1s"},
            {"ring": "ga"},
        ]
        ready_to_plan(first, {"steps": steps})
        assert wait_for(lambda: plan_of(second)["state"] == "done", timeout=30, interval=0.2), plan_of(second)
        events = first.call("GET", "/api/v1/features/checkout/deployments").json()
        assert [(e["kind"], e["ring"], e["percent"], e["actor"]) for e in reversed(events)] == [
            ("promote", "internal", 100, "plan:rita"),
            ("promote", "preview", 10, "plan:rita"),
            ("rollout", "preview", 100, "plan:rita"),
            ("promote", "ga", 100, "plan:rita"),
        ]
        history = plan_of(first)["history"]
        assert [h["action"] for h in history] == ["start", "step", "step", "step", "step"]
        # every step reached the webhook receivers once, signed, through the outbox
        assert wait_for(lambda: sum(e["event"] == "plan.step" for e in pager.events) == 4, timeout=15)
        assert sum(e["event"] == "promote" for e in pager.events) == 3
        # and each step is an INFO line in one server's log, with who and what
        logged = first.log.read_text() + second.log.read_text()
        assert logged.count("plan.step feature:checkout by plan:rita") == 4
    finally:
        first.stop()
        if second is not None:
            second.stop()


class Exporter:
    """A service's metrics: one gauge, the error rate, which the test raises."""

    def __init__(self) -> None:
        self.error_rate = 0.0
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = (
                    "# HELP checkout_error_rate Share of checkout requests that fail.\n"
                    "# TYPE checkout_error_rate gauge\n"
                    f"checkout_error_rate {exporter.error_rate}\n"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    e = Exporter()
    yield e
    e.close()


@pytest.fixture
def prometheus(tmp_path: Path, exporter: Exporter) -> Iterator[str]:
    if not os.path.exists(PROMETHEUS):
        pytest.skip("Debian's prometheus is not installed (.ci/run installs it)")
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [{"job_name": "checkout", "static_configs": [{"targets": [exporter.address]}]}],
            }
        )
    )
    port = free_port()
    log = open(tmp_path / "prometheus.log", "w")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def has_samples() -> bool:
        try:
            r = requests.get(f"{url}/api/v1/query", params={"query": "checkout_error_rate"}, timeout=1)
            return r.status_code == 200 and bool(r.json()["data"]["result"])
        except requests.RequestException:
            return False

    try:
        assert wait_for(has_samples, timeout=30, interval=0.2), (tmp_path / "prometheus.log").read_text()[-2000:]
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_a_real_prometheus_guard_halts_and_rolls_back_when_the_error_rate_rises(
    database_url: str, tmp_path: Path, quick_rings: Path, exporter: Exporter, prometheus: str
) -> None:
    env = {"GATE_PLAN_INTERVAL_SECONDS": "0.2", "GATE_PROMETHEUS_URL": prometheus}
    served = start_gate(database_url, tmp_path, rings=quick_rings, env=env)
    try:
        plan = {
            "steps": [{"ring": "internal"}, {"ring": "preview", "percent": 10, "hold": "1h"}, {"ring": "preview"}],
            "guard": {"query": "max(checkout_error_rate)", "max": 0.05, "on_breach": "rollback"},
        }
        ready_to_plan(served, plan)
        assert wait_for(lambda: plan_of(served)["step"] == 1, timeout=20, interval=0.2), plan_of(served)
        holding = plan_of(served)
        assert holding["state"] == "running"
        assert holding["next"]["blocked_by"][0].startswith("hold: preview at 10% for 1 h")
        exporter.error_rate = 0.2  # mid-plan, the service starts failing
        assert wait_for(lambda: plan_of(served)["state"] == "halted", timeout=20, interval=0.2), plan_of(served)
        halted = plan_of(served)
        assert halted["reason"] == "the guard read 0.2, above its maximum 0.05"
        assert halted["history"][-1]["detail"].startswith("halted and rolled back to step 1 (internal at 100%)")
        state = served.call("GET", "/api/v1/features/checkout").json()["state"]
        assert (state["ring"], state["percent"]) == ("internal", 100)
        # once the service recovers, the release manager resumes from where the rollback left the feature
        exporter.error_rate = 0.0

        def recovered() -> bool:
            r = requests.get(f"{prometheus}/api/v1/query", params={"query": "max(checkout_error_rate)"}, timeout=2)
            return float(r.json()["data"]["result"][0]["value"][1]) == 0.0

        assert wait_for(recovered, timeout=20, interval=0.2)
        resumed = requests.post(
            f"{served.url}/api/v1/features/checkout/plan/resume", headers=served.headers(), timeout=10
        )
        assert resumed.status_code == 200 and resumed.json()["step"] == 0
        assert wait_for(lambda: plan_of(served)["step"] == 1, timeout=20, interval=0.2), plan_of(served)
    finally:
        served.stop()
