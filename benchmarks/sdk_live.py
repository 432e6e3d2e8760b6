"""SDK against a real `gate serve`: propagation to a streaming client, memory for 10,000 flags,
first answer from the disk cache with the server down, import time.

Targets (issue 3): propagation p95 under 200 ms on loopback; a client holding 10,000 flags under 20 MB;
first correct answer from the disk cache under 5 ms; `import gate_sdk` under 50 ms.

    .venv/bin/python benchmarks/sdk_live.py [--changes 100]
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from _server import Server
from gate_sdk import GateClient
from gate_sdk.testing import DEFAULT_RINGS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def propagation(changes: int) -> tuple[float, float, float]:
    server = Server(workers=2)
    try:
        doc = "feature: live\nname: Live\nowner: bench\ncriteria: []\n"
        server.session.put(
            f"{server.url}/api/v1/features/live/criteria", data=doc, headers={"Content-Type": "application/yaml"}
        ).raise_for_status()
        server.session.post(
            f"{server.url}/api/v1/features/live/promote",
            json={"ring": "internal", "percent": 1, "override_reason": "bench"},
        ).raise_for_status()
        client = GateClient(server.url, sdk_key=server.token("sdk"))
        assert client.wait_until_ready(5)
        latencies = []
        for i in range(changes):
            started = time.perf_counter()
            r = server.session.post(f"{server.url}/api/v1/features/live/rollout", json={"percent": 2 + i % 90})
            version = r.json()["version"]
            while client.snapshot is None or client.snapshot.version < version:
                time.sleep(0.0002)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)
        client.close()
    finally:
        server.stop()
    return statistics.median(latencies), percentile(latencies, 0.95), max(latencies)


def document(flags: int) -> dict[str, object]:
    return {
        "version": 1,
        "rings": list(DEFAULT_RINGS),
        "flags": {
            f"flag-{i:05d}": {
                "ring": ("internal", "preview", "ga", None)[i % 4],
                "percent": (i % 100) + 0.5,
                "killed": i % 50 == 0,
            }
            for i in range(flags)
        },
    }


def memory(flags: int) -> float:
    body = json.dumps(document(flags)).encode()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    client = GateClient("http://127.0.0.1:9", "k", bootstrap=json.loads(body), stream=False, poll_interval=3600)
    for i in range(flags):  # the worst case: every flag evaluated, so every flag's answers are built
        client.is_enabled(f"flag-{i:05d}", {"user": "u"})
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    client.close()
    return held / 1024 / 1024


def cold_start(flags: int, runs: int = 20) -> float:
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "flags.json"
        cache.write_text(json.dumps(document(flags)))
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            client = GateClient("http://127.0.0.1:9", "k", cache_path=cache, connect_timeout=0.2)
            answer = client.is_enabled("flag-00002", {"user": "u", "groups": ["product"]})  # ga flag, staff: on
            times.append((time.perf_counter() - started) * 1000)
            assert answer is True
            client.close()
    return statistics.median(times)


def import_time(runs: int = 7) -> float:
    code = "import time; t = time.perf_counter(); import gate_sdk; print((time.perf_counter() - t) * 1000)"
    return statistics.median(
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        for _ in range(runs)
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--changes", type=int, default=100)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    p50, p95, worst = propagation(args.changes)
    print(f"propagation to a streaming client, {args.changes} changes (write sent → client has it), loopback:")
    print(
        f"  p50 {p50:.1f} ms   p95 {p95:.1f} ms   max {worst:.1f} ms   (target p95 < 200 ms: "
        f"{'met' if p95 < 200 else 'NOT met'})"
    )
    mb = memory(10_000)
    verdict = "met" if mb < 20 else "NOT met"
    print(f"memory of a client holding 10,000 flags, each evaluated: {mb:.1f} MB (target < 20 MB: {verdict})")
    for flags in (1_000, 10_000):
        ms = cold_start(flags)
        print(
            f"first answer from the disk cache, server down, {flags:,} flags: {ms:.2f} ms"
            f" (target < 5 ms: {'met' if ms < 5 else 'NOT met'})"
        )
    imported = import_time()
    print(f"import gate_sdk: {imported:.1f} ms (target < 50 ms: {'met' if imported < 50 else 'NOT met'})")


if __name__ == "__main__":
    main()
