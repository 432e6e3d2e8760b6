"""Components and milestones (issue 24): the listing over many features, and what the components check adds.

1. `GET /api/v1/components`'s work (services.components.listing) over 10 and over 1,000 features with 5
   components each (each component proved by one criterion with a few votes): queries and median time, in a
   fresh session each time (nothing is cached between listings). Target: the same number of queries for 10
   and 1,000; 1,000 under 100 ms.
2. The gate of one feature with 5 components and an integration test (components missing; and all delivered,
   the integration test voted on after them), beside the same feature with the same criteria and no
   components: the time the components check and the integration rule add. Target: < 2 ms.

    .venv/bin/python benchmarks/components.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import gc
import logging
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

from _stores import postgres_store, sqlite_store
from sqlalchemy import event, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.app import create_app
from gate.domain.features import parse_feature
from gate.extensions import db
from gate.models import CriterionRevision, Feature, Vote
from gate.services import components as service
from gate.services.components import listing
from gate.services.context import now, rings
from gate.services.features import apply_criteria
from gate.services.releases import gate_for

ROOT = Path(__file__).resolve().parent.parent


def document(key: str, with_components: bool) -> dict:
    criteria = [{"id": f"part-{i}", "description": "d", "ring": "internal"} for i in range(5)]
    criteria.append({"id": "e2e", "description": "d", "ring": "preview"})
    doc = {"feature": key, "name": key, "owner": "bench", "criteria": criteria}
    if with_components:
        today = now().date()
        days = [(today + timedelta(days=i - 2)).isoformat() for i in range(5)]
        doc["components"] = [
            {"id": f"c{i}", "team": f"team-{i}", "due": days[i], "criteria": [f"part-{i}"]} for i in range(5)
        ]
        doc["integration"] = {"criterion": "e2e"}
    return doc


def build(prefix: str, count: int, with_components: bool = True, delivered: bool = False) -> None:
    """`count` features, each with 5 components; 3 of 5 component criteria hold two yes votes and one no (with
    `delivered`: every component criterion holds two yes votes, and the integration test one after them)."""
    for n in range(count):
        apply_criteria(spec=parse_feature(document(f"{prefix}-{n:04d}", with_components), rings()), actor="bench")
    revisions = db.session.execute(
        select(CriterionRevision.id, CriterionRevision.criterion)
        .join(Feature, Feature.id == CriterionRevision.feature_id)
        .where(Feature.key.like(f"{prefix}-%"))
    ).all()
    at = now()
    rows = []
    for rev_id, criterion in revisions:
        if criterion == "e2e":
            if delivered:
                rows.append({"revision_id": rev_id, "voter": "qa-0", "vote": "yes", "created_at": at + timedelta(1)})
        elif delivered or int(criterion[-1]) < 3:
            for i, vote in enumerate(("yes", "yes") if delivered else ("yes", "no", "yes")):
                rows.append({"revision_id": rev_id, "voter": f"qa-{i % 2}", "vote": vote, "created_at": at})
    if rows:
        db.session.execute(insert(Vote), rows)
    for feature in db.session.scalars(select(Feature).where(Feature.key.like(f"{prefix}-%"))):
        service.refresh(feature)  # what each vote does in its transaction, once for the votes written in bulk
    db.session.commit()


def listed(expected: int) -> None:
    if len(listing()) != expected:
        sys.exit(f"{expected} components expected")


def timed(work: object, runs: int, queries: list[int]) -> tuple[int, float]:
    counts, times = [], []
    for _ in range(runs):
        db.session.remove()
        queries.clear()
        started = time.perf_counter()
        work()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
        counts.append(len(queries))
    assert len(set(counts)) == 1, counts
    return counts[0], statistics.median(times) * 1000


def analyze() -> None:
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.commit()
    gc.collect()


def measure(url: str, runs: int) -> dict[str, tuple[int, float]]:
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml"), "LOG_LEVEL": "WARNING"})
    out = {}
    with app.app_context():
        queries: list[int] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(1))
        build("small", 10)
        build("ready", 1, delivered=True)
        build("plain", 1, with_components=False)
        analyze()
        out["gate with components"] = timed(lambda: gate_for(key="small-0000", ring="ga"), runs * 3, queries)
        out["gate, all delivered"] = timed(lambda: gate_for(key="ready-0000", ring="ga"), runs * 3, queries)
        out["gate without"] = timed(lambda: gate_for(key="plain-0000", ring="ga"), runs * 3, queries)
        out["listing 10"] = timed(lambda: listed(55), runs, queries)
        build("large", 989)
        analyze()
        out["listing 1000"] = timed(lambda: listed(5000), runs, queries)
        db.session.remove()
        db.engine.dispose()
    return out


def main() -> None:
    logging.disable(logging.INFO)
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="an admin URL; a scratch database is made and dropped")
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    results = {}
    with sqlite_store() as url:
        results["SQLite"] = measure(url, args.runs)
    if args.postgres:
        with postgres_store(args.postgres, "gate_bench_components") as url:
            results["PostgreSQL"] = measure(url, args.runs)
    met = True
    print(f"components, median of {args.runs} runs (the gate: of {args.runs * 3}) (queries, time):")
    for name, r in results.items():
        (q10, t10), (q1000, t1000) = r["listing 10"], r["listing 1000"]
        (qc, tc), (qd, td), (qp, tp) = r["gate with components"], r["gate, all delivered"], r["gate without"]
        listing_met, gate_met = q10 == q1000 and t1000 < 100, max(tc, td) - tp < 2
        met &= listing_met and gate_met
        print(
            f"  {name:<10} listing, 10 features x 5: {q10} queries {t10:6.2f} ms | 1,000 x 5: {q1000} queries "
            f"{t1000:6.2f} ms | target {'met' if listing_met else 'NOT met'}"
        )
        print(
            f"  {name:<10} a gate, 5 components: {qc} queries {tc:5.2f} ms ({tc - tp:+.2f} ms) | all delivered: "
            f"{qd} queries {td:5.2f} ms ({td - tp:+.2f} ms) | without: {qp} queries {tp:5.2f} ms | "
            f"target {'met' if gate_met else 'NOT met'}"
        )
    print(f"every target {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
