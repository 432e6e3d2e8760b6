"""The gate of a feature with 50 criteria and 1,000 votes: SQL queries and time, beside a 1-criterion gate.

Runs in-process on SQLite (and PostgreSQL with --postgres URL); medians over several runs.
Target (issue 2): a constant number of queries whatever the size, and under 10 ms.

    .venv/bin/python benchmarks/gate_queries.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
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
from gate.services.context import rings
from gate.services.features import apply_criteria
from gate.services.releases import gate_for
from gate.services.votes import cast_vote

ROOT = Path(__file__).resolve().parent.parent


def build(key: str, criteria: int, votes: int) -> None:
    doc = {
        "feature": key,
        "name": key,
        "owner": "bench",
        "criteria": [
            {"id": f"c{i:02d}", "description": f"criterion {i}", "ring": "internal", "required_yes": 3}
            for i in range(criteria)
        ],
    }
    apply_criteria(spec=parse_feature(doc, rings()), actor="bench")
    for n in range(votes):
        cast_vote(
            key=key,
            criterion=f"c{n % criteria:02d}",
            vote="no" if n % 7 == 0 else "yes",
            comment=None,
            actor=f"qa-{n // criteria}",
        )


def measure(url: str, runs: int) -> dict[str, tuple[int, float]]:
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml")})
    out = {}
    with app.app_context():
        build("small", 1, 0)
        build("large", 50, 1000)
        if db.engine.dialect.name == "postgresql":  # what autovacuum does in a living database
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        queries = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(1))
        for key in ("small", "large"):
            counts, times = [], []
            for _ in range(runs):
                queries.clear()
                db.session.remove()
                started = time.perf_counter()
                gate_for(key=key, ring=None)
                times.append(time.perf_counter() - started)
                counts.append(len(queries))
            assert len(set(counts)) == 1
            out[key] = (counts[0], statistics.median(times) * 1000)
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="an admin URL; a scratch database is made and dropped")
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()
    targets = {}
    with sqlite_store() as url:
        targets["SQLite"] = measure(url, args.runs)
    if args.postgres:
        with postgres_store(args.postgres, "gate_bench") as url:
            targets["PostgreSQL"] = measure(url, args.runs)
    print(f"gate evaluation, median of {args.runs} runs (queries, time):")
    for name, result in targets.items():
        (q1, t1), (q50, t50) = result["small"], result["large"]
        verdict = "met" if q1 == q50 and t50 < 10 else "NOT met"
        print(
            f"  {name:<10} 1 criterion/0 votes: {q1} queries {t1:5.2f} ms | "
            f"50 criteria/1,000 votes: {q50} queries {t50:5.2f} ms | target {verdict}"
        )


if __name__ == "__main__":
    main()
