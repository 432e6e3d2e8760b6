"""Run every benchmark in turn (make bench); exit non-zero when any fails or misses a target.

Each script prints its figures and, for each target, `met` or `NOT met`. GATE_TEST_POSTGRES_URL adds
PostgreSQL where a script measures both stores; GATE_BENCH_POSTGRES_URL gives the fleet benchmark a
PostgreSQL database of its own (it starts servers that migrate it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    "snapshot_http.py",
    "gate_queries.py",
    "evidence.py",
    "plan_ticks.py",
    "dora_metrics.py",
    "dashboard_pages.py",
    "sdk_eval.py",
    "sdk_live.py",
    "fleet.py",
]


def main() -> int:
    missed = []
    for script in SCRIPTS:
        args = [sys.executable, str(HERE / script)]
        if script in ("gate_queries.py", "evidence.py", "plan_ticks.py", "dora_metrics.py") and os.environ.get(
            "GATE_TEST_POSTGRES_URL"
        ):
            args += ["--postgres", os.environ["GATE_TEST_POSTGRES_URL"]]
        if script == "fleet.py" and os.environ.get("GATE_BENCH_POSTGRES_URL"):
            args += ["--database-url", os.environ["GATE_BENCH_POSTGRES_URL"]]
        print(f"\n== {script}", flush=True)
        run = subprocess.run(args, cwd=HERE, check=False, capture_output=True, text=True)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        if run.returncode != 0 or "NOT met" in run.stdout:
            missed.append(script)
    print(f"\n{len(SCRIPTS) - len(missed)} of {len(SCRIPTS)} benchmarks met every target", end="")
    print(f"; missed or failed: {', '.join(missed)}" if missed else "")
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
