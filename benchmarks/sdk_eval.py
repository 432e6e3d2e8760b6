"""SDK evaluation speed, beside Microsoft featuremanagement and a bare dict lookup, in one run.

100,000 distinct contexts, median of 5 rounds, exposure counting included (GateClient.is_enabled).
Targets (issue 3): a 50% rollout evaluation at least 4x faster than featuremanagement; a ring-only
evaluation within 5x the bare-lookup floor.

    .venv/bin/python benchmarks/sdk_eval.py [--contexts 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from collections.abc import Callable
from typing import Any

from featuremanagement import FeatureManager, TargetingContext
from gate_sdk import GateClient
from gate_sdk.testing import DEFAULT_RINGS

SNAPSHOT = {
    "version": 1,
    "rings": list(DEFAULT_RINGS),
    "flags": {
        "rollout": {"ring": "ga", "percent": 50, "killed": False},
        "ring-only": {"ring": "ga", "percent": 100, "killed": False},
    },
}


def once(fn: Callable[[str, Any], Any], flag: str, contexts: list[Any]) -> float:
    """Nanoseconds per call over one pass through every context."""
    started = time.perf_counter_ns()
    for context in contexts:
        fn(flag, context)
    return (time.perf_counter_ns() - started) / len(contexts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contexts", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    users = [f"user-{i}" for i in range(args.contexts)]
    gate_contexts = [{"user": u, "tenant": f"tenant-{i % 97}"} for i, u in enumerate(users)]
    ms_contexts = [TargetingContext(user_id=u) for u in users]

    table = {"rollout": True}

    def bare(flag: str, context: Any) -> Any:
        return table.get(flag)

    audience = {"Users": [], "Groups": [], "DefaultRolloutPercentage": 50}
    microsoft = FeatureManager(
        {
            "feature_management": {
                "feature_flags": [
                    {
                        "id": "rollout",
                        "enabled": True,
                        "conditions": {
                            "client_filters": [{"name": "Microsoft.Targeting", "parameters": {"Audience": audience}}]
                        },
                    }
                ]
            }
        }
    )
    client = GateClient(
        "http://127.0.0.1:9", "bench", bootstrap=SNAPSHOT, stream=False, poll_interval=3600, flush_interval=3600
    )
    runs = {
        "bare dict lookup (floor)": (bare, "rollout", gate_contexts),
        "featuremanagement, 50% rollout": (microsoft.is_enabled, "rollout", ms_contexts),
        "Gate is_enabled, 50% rollout": (client.is_enabled, "rollout", gate_contexts),
        "Gate evaluate, 50% rollout": (client.evaluate, "rollout", gate_contexts),
        "Gate is_enabled, ring only": (client.is_enabled, "ring-only", gate_contexts),
    }
    times: dict[str, list[float]] = {name: [] for name in runs}
    try:
        for _ in range(args.rounds):  # rounds interleave, so that a noisy moment hits every contender alike
            for name, (fn, flag, contexts) in runs.items():
                times[name].append(once(fn, flag, contexts))
    finally:
        client.close()
    floor, ms = times["bare dict lookup (floor)"], times["featuremanagement, 50% rollout"]
    speedup = statistics.median(m / g for m, g in zip(ms, times["Gate is_enabled, 50% rollout"], strict=True))
    over_floor = statistics.median(g / f for g, f in zip(times["Gate is_enabled, ring only"], floor, strict=True))
    print(f"evaluation, {args.contexts:,} distinct contexts, {args.rounds} interleaved rounds, medians (ns per call):")
    for name, values in times.items():
        print(f"  {name:<34} {statistics.median(values):7.0f}")
    verdict = "met" if speedup >= 4 else "NOT met"
    print(f"  rollout: {speedup:.1f}x faster than featuremanagement (target >= 4x: {verdict})")
    print(f"  ring only: {over_floor:.1f}x the floor (target <= 5x: {'met' if over_floor <= 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
