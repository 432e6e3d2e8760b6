"""Snapshot requests/s under `gate serve --workers 2`, beside a trivial JSON endpoint, in one run.

Drives the server from another process (wrk) on loopback; five interleaved rounds, medians.
Target (issue 2): the 304 path at 80% or more of the trivial endpoint.

    .venv/bin/python benchmarks/snapshot_http.py [--flags 1000] [--rounds 5] [--seconds 5]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys

from _server import Server


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int = 16) -> float:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="e.g. PostgreSQL; default: a scratch SQLite store")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed (Debian: apt-get install wrk)")
    server = Server(workers=2, database_url=args.database_url)
    try:
        for i in range(args.flags):
            doc = f"feature: flag-{i:05d}\nname: Flag {i}\nowner: bench\ncriteria: []\n"
            server.session.put(
                f"{server.url}/api/v1/features/flag-{i:05d}/criteria",
                data=doc,
                headers={"Content-Type": "application/yaml"},
            ).raise_for_status()
        for i in range(0, args.flags, 3):
            server.session.post(
                f"{server.url}/api/v1/features/flag-{i:05d}/promote",
                json={"ring": "internal", "percent": 50, "override_reason": "bench"},
            )
        sdk = {"Authorization": f"Bearer {server.token('sdk')}"}
        snapshot = server.session.get(f"{server.url}/api/v1/sdk/snapshot", headers=sdk)
        etag = snapshot.headers["ETag"]
        size = len(snapshot.content)
        targets = {
            "trivial /healthz": (f"{server.url}/healthz", {}),
            "snapshot 304": (f"{server.url}/api/v1/sdk/snapshot", {**sdk, "If-None-Match": etag}),
            "snapshot 200": (f"{server.url}/api/v1/sdk/snapshot", sdk),
        }
        for url, headers in targets.values():  # warm every worker
            wrk(url, headers, 1)
        results: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, headers) in targets.items():
                results[name].append(wrk(url, headers, args.seconds))
    finally:
        server.stop()
    base = statistics.median(results["trivial /healthz"])
    print(
        f"snapshot: {args.flags} flags, {size / 1024:.0f} KiB; gate serve --workers 2 (gevent); "
        f"wrk -t2 -c16, {args.rounds} rounds x {args.seconds}s, medians"
    )
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:<18} {median:8.0f} req/s   {median / base:6.1%} of trivial")
    ratio = statistics.median(results["snapshot 304"]) / base
    print(f"target: 304 path >= 80% of trivial: {'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.0%})")


if __name__ == "__main__":
    main()
