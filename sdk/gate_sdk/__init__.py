"""Gate's Python SDK: evaluate release flags in-process against the latest snapshot."""

from gate_sdk._bucket import bucket, in_rollout
from gate_sdk._evaluate import EvaluationDetails, Reason, context_ring, evaluate
from gate_sdk._snapshot import FlagState, RingAudience, Snapshot, SnapshotError, SnapshotRing

__all__ = [
    "EvaluationDetails",
    "FlagState",
    "Reason",
    "RingAudience",
    "Snapshot",
    "SnapshotError",
    "SnapshotRing",
    "bucket",
    "context_ring",
    "evaluate",
    "in_rollout",
]
