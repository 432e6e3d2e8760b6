"""One check of the running release plans (what every `gate serve` worker runs every few seconds), with 10 and
with 1,000 running plans: SQL queries and time.

Every plan has taken its first step and holds it, so each check decides every plan (gate facts, hold, window)
and takes none: the cost a tick pays however many plans wait. Runs in-process on SQLite (and PostgreSQL with
--postgres URL); medians over several runs. Targets (issue 13): the same number of queries for 10 and 1,000
plans, and a 1,000-plan check under 100 ms.

    .venv/bin/python benchmarks/plan_ticks.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from _stores import postgres_store, sqlite_store
from sqlalchemy import event, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.app import create_app
from gate.domain.features import parse_feature
from gate.extensions import db
from gate.services import plan_checks, plans
from gate.services.context import rings
from gate.services.features import apply_criteria
from gate.services.votes import cast_vote

ROOT = Path(__file__).resolve().parent.parent
PLAN = {
    "steps": [{"ring": "internal", "hold": "24h"}, {"ring": "preview", "percent": 10, "hold": "1h"}, {"ring": "ga"}],
    # every day (the window is still decided for each plan): a benchmark must run on a Sunday too
    "windows": {
        "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "hours": "00:00-24:00",
        "timezone": "Europe/Berlin",
    },
    "on_incident": "rollback",
}


def build(prefix: str, count: int) -> None:
    """`count` features, each with two criteria signed off and a plan that has taken its first step."""
    for i in range(count):
        key = f"{prefix}-{i:04d}"
        doc = {
            "feature": key,
            "name": key,
            "owner": "bench",
            "criteria": [
                {"id": "unit", "description": "unit tests", "ring": "internal"},
                {"id": "e2e", "description": "end to end", "ring": "preview"},
            ],
            "plan": PLAN,
        }
        apply_criteria(spec=parse_feature(doc, rings()), actor="bench")
        for criterion in ("unit", "e2e"):
            cast_vote(key=key, criterion=criterion, vote="yes", comment=None, actor="qa")
        plans.start(key=key, actor="rita")


def measure(url: str, sizes: tuple[int, ...], runs: int) -> dict[int, tuple[int, float]]:
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml"), "LOG_LEVEL": "WARNING"})
    out = {}
    queries: list[int] = []
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(1))
        built = 0
        for size in sizes:
            build(f"f{size}", size - built)
            first = plan_checks.check_plans()  # takes each new plan's first step
            assert first.taken == size - built, first
            built = size
            if db.engine.dialect.name == "postgresql":  # what autovacuum does in a living database
                with db.engine.connect() as conn:
                    conn.execute(text("ANALYZE"))
                    conn.commit()
            counts, times = [], []
            for _ in range(runs):
                db.session.remove()
                queries.clear()
                started = time.perf_counter()
                tick = plan_checks.check_plans()
                times.append(time.perf_counter() - started)
                counts.append(len(queries))
                assert tick.checked == size and tick.taken == 0, tick
            assert len(set(counts)) == 1, counts
            out[size] = (counts[0], statistics.median(times) * 1000)
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="an admin URL; a scratch database is made and dropped")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--plans", type=int, default=1000)
    args = parser.parse_args()
    sizes = (10, args.plans)
    results = {}
    with sqlite_store() as url:
        results["SQLite"] = measure(url, sizes, args.runs)
    if args.postgres:
        with postgres_store(args.postgres, "gate_bench") as url:
            results["PostgreSQL"] = measure(url, sizes, args.runs)
    print(f"one check of the running plans, median of {args.runs} runs (queries, time):")
    for name, result in results.items():
        (q_small, t_small), (q_large, t_large) = result[sizes[0]], result[sizes[1]]
        verdict = "met" if q_small == q_large and t_large < 100 else "NOT met"
        print(
            f"  {name:<10} {sizes[0]} plans: {q_small} queries {t_small:6.2f} ms | "
            f"{sizes[1]:,} plans: {q_large} queries {t_large:6.2f} ms | target {verdict}"
        )


if __name__ == "__main__":
    main()
