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


def per_call(fn: Callable[[str, Any], Any], flag: str, contexts: list[Any], rounds: int) -> float:
    """Median nanoseconds per call over `rounds` passes through every context."""
    results = []
    for _ in range(rounds):
        started = time.perf_counter_ns()
        for context in contexts:
            fn(flag, context)
        results.append((time.perf_counter_ns() - started) / len(contexts))
    return statistics.median(results)


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
    microsoft = FeatureManager({"feature_management": {"feature_flags": [{
        "id": "rollout", "enabled": True,
        "conditions": {"client_filters": [{"name": "Microsoft.Targeting", "parameters": {"Audience": audience}}]},
    }]}})
    client = GateClient("http://127.0.0.1:9", "bench", bootstrap=SNAPSHOT, stream=False, poll_interval=3600,
                        flush_interval=3600)
    try:
        floor = per_call(bare, "rollout", gate_contexts, args.rounds)
        ms = per_call(microsoft.is_enabled, "rollout", ms_contexts, args.rounds)
        rollout = per_call(client.is_enabled, "rollout", gate_contexts, args.rounds)
        ring_only = per_call(client.is_enabled, "ring-only", gate_contexts, args.rounds)
        details = per_call(client.evaluate, "rollout", gate_contexts, args.rounds)
    finally:
        client.close()
    print(f"evaluation, {args.contexts:,} distinct contexts, median of {args.rounds} rounds (ns per call):")
    print(f"  bare dict lookup (floor)          {floor:7.0f}")
    print(f"  featuremanagement, 50% rollout    {ms:7.0f}")
    print(f"  Gate is_enabled, 50% rollout      {rollout:7.0f}   {ms / rollout:4.1f}x faster than featuremanagement"
          f" (target >= 4x: {'met' if ms / rollout >= 4 else 'NOT met'})")
    print(f"  Gate evaluate, 50% rollout        {details:7.0f}")
    print(f"  Gate is_enabled, ring only        {ring_only:7.0f}   {ring_only / floor:4.1f}x the floor"
          f" (target <= 5x: {'met' if ring_only / floor <= 5 else 'NOT met'})")


if __name__ == "__main__":
    main()
