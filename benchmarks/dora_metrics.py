"""DORA over 100,000 deployments and 10,000 incidents, on SQLite and PostgreSQL: median time of the metrics.

Target (issue 4): under 200 ms. The history is bulk-inserted (not through the API) over one year.

    .venv/bin/python benchmarks/dora_metrics.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _stores import postgres_store, sqlite_store
from sqlalchemy import create_engine, insert, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.app import create_app
from gate.extensions import db
from gate.models import Change, DeploymentEvent, Feature, Incident
from gate.services.dora import metrics

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def fill(url: str, deployments: int, incidents: int, changes: int) -> None:
    rng = random.Random(7)
    engine = create_engine(url, poolclass=pool.NullPool)
    year = timedelta(days=365).total_seconds()
    with engine.begin() as conn:
        features = [
            {
                "key": f"f{i:04d}",
                "name": f"F{i}",
                "owner": "bench",
                "percent_bp": 10000,
                "killed": False,
                "exposure_rev": 0,
                "created_at": NOW,
                "updated_at": NOW,
                "ring": "ga",
            }
            for i in range(1000)
        ]
        conn.execute(insert(Feature), features)
        ids = [r[0] for r in conn.execute(text("SELECT id FROM features ORDER BY id"))]

        def moment() -> datetime:
            return NOW - timedelta(seconds=rng.random() * year)

        rows = []
        for _ in range(deployments):
            rows.append(
                {
                    "feature_id": rng.choice(ids),
                    "kind": "promote",
                    "ring": "ga",
                    "percent_bp": 10000,
                    "from_ring": "preview",
                    "from_percent_bp": 10000,
                    "actor": "bench",
                    "overridden": False,
                    "is_deployment": True,
                    "failed": rng.random() < 0.1,
                    "version": 1,
                    "at": (when := moment()),
                    "day": when.date(),
                }
            )
        for start in range(0, len(rows), 10000):
            conn.execute(insert(DeploymentEvent), rows[start : start + 10000])
        deployment_ids = [r[0] for r in conn.execute(text("SELECT id FROM deployment_events"))]
        rows = []
        for _ in range(incidents):
            opened = moment()
            rows.append(
                {
                    "title": "t",
                    "severity": rng.randint(0, 3),
                    "feature_id": rng.choice(ids),
                    "reporter": "b",
                    "opened_at": opened,
                    "deadline_at": opened + timedelta(hours=1),
                    "caused_by": rng.choice(deployment_ids) if rng.random() < 0.5 else None,
                    "restored_at": opened + timedelta(minutes=rng.randint(1, 600)),
                    "resolved_at": opened + timedelta(minutes=rng.randint(1, 600)),
                }
            )
        conn.execute(insert(Incident), rows)
        rows = []
        for _ in range(changes):
            deployed = moment()
            lead = timedelta(hours=rng.randint(1, 200))
            rows.append(
                {
                    "feature_id": rng.choice(ids),
                    "sha": "abc",
                    "reporter": "b",
                    "committed_at": deployed - lead,
                    "reported_at": deployed - timedelta(minutes=5),
                    "deployed_at": deployed,
                    "lead_seconds": lead.total_seconds(),
                }
            )
        for start in range(0, len(rows), 10000):
            conn.execute(insert(Change), rows[start : start + 10000])
    engine.dispose()


def measure(url: str, runs: int) -> dict[int, float]:
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml"), "CLOCK": lambda: NOW})
    out = {}
    with app.app_context():
        for days in (30, 365):
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                metrics(days=days)
                times.append((time.perf_counter() - started) * 1000)
                db.session.remove()
            out[days] = statistics.median(times)
        db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=100_000)
    args = parser.parse_args()
    results = {}
    with sqlite_store() as url:
        fill(url, args.deployments, args.incidents, args.changes)
        results["SQLite"] = measure(url, args.runs)
    if args.postgres:
        with postgres_store(args.postgres, "gate_bench_dora") as url:
            fill(url, args.deployments, args.incidents, args.changes)
            with create_engine(url, isolation_level="AUTOCOMMIT", poolclass=pool.NullPool).connect() as conn:
                conn.execute(text("ANALYZE"))
            results["PostgreSQL"] = measure(url, args.runs)
    print(
        f"DORA metrics over {args.deployments:,} deployments, {args.incidents:,} incidents, {args.changes:,} changes "
        f"spread over a year; median of {args.runs} runs:"
    )
    for name, by_days in results.items():
        cells = "   ".join(f"{days} days: {ms:6.1f} ms" for days, ms in by_days.items())
        verdict = "met" if max(by_days.values()) < 200 else "NOT met"
        print(f"  {name:<10} {cells}   (target < 200 ms: {verdict})")


if __name__ == "__main__":
    main()
