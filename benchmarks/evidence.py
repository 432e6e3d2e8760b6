"""Evidence (issue 23): reading CI reports, refusing a gzip bomb, and the gate over many evidence rows.

1. A 10 MiB JUnit report (about 50,000 test cases) read by gate.domain.reports in 64 KiB chunks, as the
   endpoint reads it: median time and peak extra memory (tracemalloc), beside the same bytes parsed into a
   tree by the standard library's ElementTree (no hardening; the baseline). Then the whole upload through
   the endpoint, in-process. Targets: under 1 s and under 50 MiB extra.
2. A gzip bomb (1 MiB that inflates to 1 GiB) sent to the endpoint: the time to its 413 and the peak
   memory while refusing it. Target: refused as soon as it passes 50 MiB (so well under a second, and
   memory of the order of a chunk, not of the bomb).
3. The gate of a feature with 50 evidence criteria and 10,000 evidence rows, beside one criterion with
   none: SQL queries and median time. Targets: the same number of queries, under 10 ms.

    .venv/bin/python benchmarks/evidence.py [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import gc
import gzip
import statistics
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

from _stores import postgres_store, sqlite_store
from sqlalchemy import event, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gate.app import create_app
from gate.domain.features import parse_feature
from gate.domain.reports import read_report
from gate.extensions import db
from gate.models import CriterionRevision, Evidence, Feature
from gate.services.context import now, rings
from gate.services.features import apply_criteria
from gate.services.releases import gate_for
from gate.services.tokens import create_token

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024
KEYS = ("small", "large")
CHUNK = 64 * 1024


def junit(size: int) -> bytes:
    """A pytest-like JUnit report of about `size` bytes: one suite, test cases with a failure every 97th."""
    case = '<testcase classname="tests.test_checkout.TestCart" name="test_case_{i:06d}" time="0.00{d}"/>'
    failed = (
        '<testcase classname="tests.test_checkout.TestCart" name="test_case_{i:06d}" time="0.01">'
        '<failure message="assert 1 == 2">tests/test_checkout.py:{i}: AssertionError</failure></testcase>'
    )
    parts, total, i = [], 0, 0
    while total < size:
        part = (failed if i % 97 == 0 else case).format(i=i, d=i % 10)
        parts.append(part)
        total += len(part) + 1
        i += 1
    failures = sum(1 for n in range(i) if n % 97 == 0)
    head = f'<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="{failures}" skipped="0" tests="{i}">'  # noqa: E501
    return (head + "\n".join(parts) + "</testsuite></testsuites>").encode()


def timed(run: object, runs: int) -> tuple[float, float]:
    """Median seconds over `runs`, and the peak MiB traced during one more run."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    tracemalloc.start()
    run()  # type: ignore[operator]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return statistics.median(times), peak / MiB


def readers(runs: int) -> bool:
    body = junit(10 * MiB)
    cases = body.count(b"<testcase ")

    def ours() -> None:
        report = read_report((body[i : i + CHUNK] for i in range(0, len(body), CHUNK)), "application/xml")
        assert report.summary["passed"] + report.summary["failed"] == cases

    def tree() -> None:
        root = ET.fromstring(body)  # noqa: S314 - the baseline: what an unhardened tree parse costs
        assert len(root[0]) == cases

    ours_s, ours_mib = timed(ours, runs)
    tree_s, tree_mib = timed(tree, runs)
    met = ours_s < 1 and ours_mib < 50
    print(f"reading a {len(body) / MiB:.1f} MiB JUnit report of {cases:,} test cases, median of {runs} runs:")
    print(
        f"  gate.domain.reports (defusedxml, counting target): {ours_s * 1000:6.0f} ms, peak {ours_mib:5.1f} MiB extra"
    )
    print(f"  baseline ElementTree.fromstring (a tree, unhardened): {tree_s * 1000:6.0f} ms, peak {tree_mib:5.1f} MiB")
    print(
        f"  ratio: {ours_s / tree_s:.2f}x the time, {ours_mib / tree_mib:.3f}x the memory | "
        f"target {'met' if met else 'NOT met'}"
    )
    return met


def endpoint(url: str, runs: int) -> bool:
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml")})
    client = app.test_client()
    with app.app_context():
        _, ci = create_token(name="bench-ci", roles=["ci"], actor="bench")
        evidence = {"kind": "tests", "max_failed": 1000}
        criterion = {"id": "tests", "description": "d", "ring": "internal", "evidence": evidence}
        doc = {"feature": "pay", "name": "Pay", "owner": "b", "criteria": [criterion]}
        apply_criteria(spec=parse_feature(doc, rings()), actor="bench")
    headers = {"Authorization": f"Bearer {ci}"}
    body = junit(10 * MiB - 4096)

    def upload() -> None:
        r = client.post("/api/v1/features/pay/criteria/tests/evidence?build=b", data=body,
                        content_type="application/xml", headers=headers)  # fmt: skip
        assert r.status_code == 201, r.get_data(as_text=True)

    upload_s, upload_mib = timed(upload, runs)
    bomb = gzip.compress(b" " * 1024 * MiB, compresslevel=9)

    def refuse() -> None:
        r = client.post("/api/v1/features/pay/criteria/tests/evidence?build=b", data=bomb,
                        content_type="application/xml", headers={**headers, "Content-Encoding": "gzip"})  # fmt: skip
        assert r.status_code == 413, r.get_data(as_text=True)

    bomb_s, bomb_mib = timed(refuse, runs)
    met = upload_s < 1 and upload_mib < 50 and bomb_s < 1 and bomb_mib < 50
    print(f"through the endpoint (in-process, {url.split(':')[0]}), median of {runs} runs:")
    print(
        f"  a {len(body) / MiB:.1f} MiB JUnit upload: {upload_s * 1000:6.0f} ms, "
        f"peak {upload_mib:5.1f} MiB (the body included)"
    )
    print(f"  a gzip bomb of {len(bomb) / MiB:.1f} MiB inflating to 1 GiB: 413 in {bomb_s * 1000:6.0f} ms, "
          f"peak {bomb_mib:5.1f} MiB | target {'met' if met else 'NOT met'}")  # fmt: skip
    return met


def build(key: str, criteria: int, rows: int) -> None:
    doc = {
        "feature": key,
        "name": key,
        "owner": "bench",
        "criteria": [
            {"id": f"c{i:02d}", "description": "d", "ring": "internal", "evidence": {"kind": "coverage", "min": 90}}
            for i in range(criteria)
        ],
    }
    apply_criteria(spec=parse_feature(doc, rings()), actor="bench")
    revisions = list(
        db.session.scalars(
            select(CriterionRevision.id)
            .join(Feature, Feature.id == CriterionRevision.feature_id)
            .where(Feature.key == key, CriterionRevision.retired_at.is_(None))
        )
    )
    at = now()
    batch = [
        {
            "revision_id": revisions[n % len(revisions)],
            "build": f"build-{n:05d}",
            "kind": "coverage",
            "format": "cobertura",
            "summary": {"percent": 90 + n % 10},
            "passed": True,
            "detail": f"coverage {90 + n % 10:.2f}% ≥ 90%",
            "link": None,
            "reporter": "bench",
            "created_at": at - timedelta(seconds=rows - n),
        }
        for n in range(rows)
    ]
    if batch:
        db.session.execute(insert(Evidence), batch)
    db.session.commit()


def gate(url: str, runs: int) -> tuple[tuple[int, float], tuple[int, float]]:
    app = create_app({"DATABASE_URL": url, "RINGS_FILE": str(ROOT / "rings.yaml")})
    out = []
    with app.app_context():
        build("large", 50, 10_000)
        build("small", 1, 0)
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execute(text("ANALYZE"))
                conn.commit()
        gc.collect()
        gc.freeze()  # as every `gate serve` worker does after start-up: the set-up's objects out of the collector's way
        queries: list[int] = []
        event.listen(db.engine, "before_cursor_execute", lambda *a: queries.append(1))
        for key in KEYS:
            counts, times = [], []
            for _ in range(runs):
                queries.clear()
                db.session.remove()
                started = time.perf_counter()
                result = gate_for(key=key, ring="internal")
                times.append(time.perf_counter() - started)
                counts.append(len(queries))
            assert result.passed or key == "small", result
            out.append((counts[0], statistics.median(times) * 1000))
        db.session.remove()
        db.engine.dispose()
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", help="an admin URL; a scratch database is made and dropped")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    met = readers(args.runs)
    with sqlite_store() as url:
        met &= endpoint(url, args.runs)
        stores = {"SQLite": gate(url, args.runs * 5)}
    if args.postgres:
        with postgres_store(args.postgres, "gate_bench_evidence") as url:
            stores["PostgreSQL"] = gate(url, args.runs * 5)
    print(f"the gate, median of {args.runs * 5} runs (queries, time):")
    for name, ((q1, t1), (q50, t50)) in stores.items():
        verdict = q1 == q50 and t50 < 10
        met &= verdict
        print(
            f"  {name:<10} 1 criterion/no evidence: {q1} queries {t1:5.2f} ms | 50 evidence criteria/10,000 "
            f"evidence rows: {q50} queries {t50:5.2f} ms | target {'met' if verdict else 'NOT met'}"
        )
    print(f"every target {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
