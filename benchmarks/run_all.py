"""Run every benchmark in turn (make bench). Each prints its figures and whether its target is met."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ["snapshot_http.py", "gate_queries.py", "sdk_eval.py", "sdk_live.py", "fleet.py"]


def main() -> int:
    failed = 0
    for script in SCRIPTS:
        args = [sys.executable, str(HERE / script)]
        if script == "gate_queries.py" and os.environ.get("GATE_TEST_POSTGRES_URL"):
            args += ["--postgres", os.environ["GATE_TEST_POSTGRES_URL"]]
        if script == "fleet.py" and os.environ.get("GATE_BENCH_POSTGRES_URL"):  # a database of its own
            args += ["--database-url", os.environ["GATE_BENCH_POSTGRES_URL"]]
        print(f"\n== {script}", flush=True)
        failed += subprocess.run(args, cwd=HERE, check=False).returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
