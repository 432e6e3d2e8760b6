"""Dashboard pages with 500 features and 20,000 votes: server time per page (in-process), medians.

Target (issue 5): every page under 100 ms. The data is bulk-inserted; pages are rendered by the real app.

    .venv/bin/python benchmarks/dashboard_pages.py
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _stores import sqlite_store
from sqlalchemy import create_engine, insert, pool, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.app import create_app
from gate.models import AuditEntry, CriterionRevision, Feature, Vote
from gate.services.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
RINGS = ("internal", "preview", "ga", None)


def fill(url: str, features: int, criteria: int, votes: int) -> None:
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            insert(Feature),
            [
                {
                    "key": f"feature-{i:03d}",
                    "name": f"Feature {i}",
                    "owner": f"team-{i % 12}",
                    "ring": RINGS[i % 4],
                    "percent_bp": 10000 if i % 3 else 2500,
                    "killed": i % 17 == 0,
                    "exposure_rev": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                    "full_since": NOW - timedelta(days=i % 60),
                    "last_evaluated_at": NOW - timedelta(days=i % 9),
                }
                for i in range(features)
            ],
        )
        ids = [r[0] for r in conn.execute(text("SELECT id FROM features ORDER BY id"))]
        conn.execute(
            insert(CriterionRevision),
            [
                {
                    "feature_id": f,
                    "criterion": f"c{j}",
                    "revision": 1,
                    "position": j,
                    "description": "d",
                    "ring": ("internal", "preview", "ga")[j % 3],
                    "required_yes": 2,
                    "created_at": NOW,
                }
                for f in ids
                for j in range(criteria)
            ],
        )
        revisions = [r[0] for r in conn.execute(text("SELECT id FROM criterion_revisions ORDER BY id"))]
        conn.execute(
            insert(Vote),
            [
                {
                    "revision_id": revisions[n % len(revisions)],
                    "voter": f"qa-{n % 7}",
                    "vote": "no" if n % 11 == 0 else "yes",
                    "comment": "ok",
                    "created_at": NOW,
                }
                for n in range(votes)
            ],
        )
        conn.execute(
            insert(AuditEntry),
            [
                {
                    "at": NOW,
                    "actor": "qa-1",
                    "action": "vote",
                    "target": "criterion:feature-000/c0",
                    "feature": "feature-000",
                    "before": None,
                    "after": {"vote": "yes"},
                }
                for _ in range(200)
            ],
        )
    engine.dispose()


def main() -> None:
    with sqlite_store() as url:
        fill(url, 500, 4, 20_000)
        app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml"), "CLOCK": lambda: NOW})
        with app.app_context():
            _, secret = create_token(name="bench", roles=["admin"], actor="bench")
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        client.post("/login", data={"token": secret, "csrf": csrf})
        results = {}
        for path in ("/", "/?state=stale", "/features/feature-000", "/incidents", "/dora", "/rings"):
            times = []
            for _ in range(21):
                started = time.perf_counter()
                response = client.get(path)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
            results[path] = statistics.median(times)
    print("dashboard, 500 features, 2,000 criteria, 20,000 votes (SQLite), median of 21 (ms, server time in-process):")
    for path, ms in results.items():
        print(f"  {path:<24} {ms:6.1f} ms  (target < 100 ms: {'met' if ms < 100 else 'NOT met'})")


if __name__ == "__main__":
    main()
