"""Snapshot requests/s under `gate serve --workers 2`, beside a trivial JSON endpoint, in one run.

Drives the server from another process (wrk) on loopback; five interleaved rounds, medians.
Targets (issues 2 and 11): the 304 path at 80% or more of the trivial endpoint; with `--unleash URL`
(a stock Unleash server on the same machine, see benchmarks/unleash/start.sh), Gate's 304 throughput at
least Unleash's, and Gate's p99 no worse than Unleash's for 304 and for 200, in the same rounds.

    .venv/bin/python benchmarks/snapshot_http.py [--flags 1000] [--rounds 5] [--seconds 5]
        [--database-url URL] [--unleash http://127.0.0.1:4242]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
from typing import NamedTuple

import requests
from _server import Server

UNLEASH_CLIENT = "default:development.bench-client-token"  # the tokens benchmarks/unleash/start.sh creates
UNLEASH_ADMIN = "*:*.bench-admin-token"


class Run(NamedTuple):
    rate: float  # requests/s
    p99: float  # ms


def wrk(url: str, headers: dict[str, str], seconds: int, connections: int = 16) -> Run:
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        raise SystemExit(f"{url}: {non2xx.group(1)} error responses\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out)
    assert match and p99, out
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    return Run(float(match.group(1)), float(p99.group(1)) * scale)


def unleash_targets(url: str, flags: int) -> dict[str, tuple[str, dict[str, str]]]:
    """Give a stock Unleash server the same number of flags (a third of them on at 50%), and its URLs."""
    admin = requests.Session()
    admin.headers["Authorization"] = UNLEASH_ADMIN  # a local server, answering in milliseconds
    project = f"{url}/api/admin/projects/default/features"
    have = {f["name"] for f in admin.get(project).json()["features"]}
    for i in range(flags):
        name = f"flag-{i:05d}"
        if name in have:
            continue
        admin.post(project, json={"name": name}).raise_for_status()
        if i % 3 == 0:
            strategy = {"name": "flexibleRollout", "parameters": {"rollout": "50", "stickiness": "default"}}
            admin.post(f"{project}/{name}/environments/development/strategies", json=strategy).raise_for_status()
            admin.post(f"{project}/{name}/environments/development/on").raise_for_status()
    client = {"Authorization": UNLEASH_CLIENT}
    etag = requests.get(f"{url}/api/client/features", headers=client, timeout=30).headers["ETag"]
    return {
        "Unleash 304": (f"{url}/api/client/features", {**client, "If-None-Match": etag}),
        "Unleash 200": (f"{url}/api/client/features", client),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flags", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--database-url", default=None, help="e.g. PostgreSQL; default: a scratch SQLite store")
    parser.add_argument("--unleash", default=None, help="a stock Unleash server's URL, to measure beside Gate")
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
        if args.unleash:
            targets.update(unleash_targets(args.unleash.rstrip("/"), args.flags))
        for url, headers in targets.values():  # warm every worker
            wrk(url, headers, 1)
        results: dict[str, list[Run]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, headers) in targets.items():
                results[name].append(wrk(url, headers, args.seconds))
    finally:
        server.stop()
    rate = {name: statistics.median(run.rate for run in runs) for name, runs in results.items()}
    p99 = {name: statistics.median(run.p99 for run in runs) for name, runs in results.items()}
    base = rate["trivial /healthz"]
    print(
        f"snapshot: {args.flags} flags, {size / 1024:.0f} KiB; gate serve --workers 2 (gevent); "
        f"wrk -t2 -c16, {args.rounds} rounds x {args.seconds}s, medians"
    )
    for name in results:
        print(f"  {name:<18} {rate[name]:8.0f} req/s   {rate[name] / base:6.1%} of trivial   p99 {p99[name]:7.1f} ms")
    ratio = rate["snapshot 304"] / base
    print(f"target: 304 path >= 80% of trivial: {'met' if ratio >= 0.8 else 'NOT met'} ({ratio:.0%})")
    if args.unleash:
        versus = rate["snapshot 304"] / rate["Unleash 304"]
        print(f"target: 304 throughput >= Unleash's: {'met' if versus >= 1 else 'NOT met'} ({versus:.2f}x)")
        for code in ("304", "200"):
            gate, unleash = p99[f"snapshot {code}"], p99[f"Unleash {code}"]
            verdict = "met" if gate <= unleash else "NOT met"
            print(f"target: {code} p99 no worse than Unleash's: {verdict} ({gate:.1f} vs {unleash:.1f} ms)")


if __name__ == "__main__":
    main()
