"""Mutation testing of the pure core (`make mutate`): mutmut over gate/domain and the SDK's evaluation.

mutmut mutates files under the folder it runs in and imports them by their path, so the run happens in
a workspace (`.mutate/`) where the SDK sits as `gate_sdk/` beside `gate/`, as it is imported. Kept
between runs, mutmut retests only the functions that changed (its incremental mode); `--fresh` starts over.

Survivors listed in mutation/equivalent.txt (one mutant name a line, `#` and the reason after it) change
no behaviour. The run fails below 85% of all mutants killed, when a survivor is not listed (kill it with a
test, or list it with the reason it is equivalent), and when a listed mutant is no longer a survivor (the
list must not rot).

    .venv/bin/python mutation/run.py [--fresh] [--jobs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".mutate"
TARGET = 0.85

# the pure core: rules and parsing in the domain; bucketing, the snapshot and evaluation in the SDK. Left
# out: the SDK's client, transport and HTTP (threads and sockets, tested against a live server) and the
# OpenFeature provider (a thin adapter over evaluate, tested through the OpenFeature SDK)
MUTATE = [
    "gate/domain/",
    "gate_sdk/_bucket.py",
    "gate_sdk/_evaluate.py",
    "gate_sdk/_result.py",
    "gate_sdk/_snapshot.py",
    "gate_sdk/_openfeature.py",
]
# the fast unit tests of that core, and the shared evaluation vectors
TESTS = ["tests/domain", "tests/sdk/test_snapshot_and_evaluate.py", "tests/spec"]

CONFIG = f"""[mutmut]
source_paths =
    gate/
    gate_sdk/
only_mutate =
{chr(10).join("    " + (p + "*" if p.endswith("/") else p) for p in MUTATE)}
pytest_add_cli_args_test_selection =
{chr(10).join("    " + t for t in TESTS)}
pytest_add_cli_args =
    -p
    no:cacheprovider
    -q
    -x
also_copy =
    tests/
    rings.yaml
    pyproject.toml
"""


def workspace(fresh: bool) -> None:
    """Mirror the code and tests into .mutate/ (mutmut's own state beside them is kept unless fresh)."""
    if fresh and WORK.exists():
        shutil.rmtree(WORK)
    WORK.mkdir(exist_ok=True)
    for source, target in ((ROOT / "gate", WORK / "gate"), (ROOT / "sdk/gate_sdk", WORK / "gate_sdk")):
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "tests", WORK / "tests", dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("rings.yaml", "pyproject.toml"):
        shutil.copy2(ROOT / name, WORK / name)
    (WORK / "setup.cfg").write_text(CONFIG)


def equivalents() -> dict[str, str]:
    """The mutants listed as equivalent, with the reason given for each."""
    listed: dict[str, str] = {}
    for line in (ROOT / "mutation/equivalent.txt").read_text().splitlines():
        name, _, reason = line.partition("#")
        if name.strip():
            listed[name.strip()] = reason.strip()
    return listed


def unkilled(mutmut: str) -> dict[str, str]:
    """Each mutant that was not killed outright, with its status (survived, timeout, ...)."""
    out = subprocess.run([mutmut, "results"], cwd=WORK, capture_output=True, text=True, check=True).stdout
    statuses = (line.rsplit(": ", 1) for line in out.splitlines() if ": " in line)
    return {name.strip(): status.strip() for name, status in statuses}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="forget earlier results and test every mutant")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    mutmut = str(Path(sys.executable).parent / "mutmut")
    workspace(args.fresh)
    env = {k: v for k, v in os.environ.items() if k != "GATE_TEST_POSTGRES_URL"}  # the unit tests need no server
    started = time.monotonic()
    run = subprocess.run([mutmut, "run", "--max-children", str(args.jobs)], cwd=WORK, env=env, check=False)
    seconds = time.monotonic() - started
    if run.returncode != 0:
        print(f"mutmut failed (exit {run.returncode})")
        return 2
    subprocess.run([mutmut, "export-cicd-stats"], cwd=WORK, capture_output=True, check=True)
    stats = json.loads((WORK / "mutants/mutmut-cicd-stats.json").read_text())
    status = unkilled(mutmut)
    left = [name for name, state in status.items() if state == "survived"]
    listed = equivalents()
    equivalent = [name for name in left if name in listed]
    unexplained = [name for name in left if name not in listed]
    # a listed mutant that only timed out (a loaded machine) is inconclusive, not killed: the list stays
    stale = sorted(name for name in set(listed) - set(left) if status.get(name) != "timeout")
    killed = stats["killed"] + stats.get("timeout", 0)
    total = stats["total"]
    score = killed / total if total else 0.0  # equivalents count against it: they were not killed
    judged = total - len(equivalent)
    print(
        f"\nmutants: {total}; killed {killed}; equivalent (listed) {len(equivalent)}; "
        f"survived {len(unexplained)}; not covered {stats.get('no_tests', 0)}; "
        f"suspicious {stats.get('suspicious', 0)}; in {seconds:.0f} s"
    )
    for name in unexplained:
        print(f"  survived: {name}   (mutmut show {name}, in .mutate/)")
    for name in stale:
        print(f"  listed as equivalent but not a survivor now: {name}")
    print(f"score: {score:.1%} of all mutants killed; {killed / judged if judged else 0:.1%} of those not equivalent")
    verdict = "met" if score >= TARGET and not stale and not unexplained else "NOT met"
    print(f"target: {TARGET:.0%} killed, every survivor listed, every listed one a survivor: {verdict}")
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    raise SystemExit(main())
