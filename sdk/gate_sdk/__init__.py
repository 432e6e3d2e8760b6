"""Gate's Python SDK: evaluate release flags in-process against the latest snapshot.

from gate_sdk import GateClient
client = GateClient("http://127.0.0.1:8000", sdk_key=KEY)
client.is_enabled("checkout-v2", {"user": "u1", "tenant": "acme"}, default=False)
"""

from gate_sdk import _openfeature as openfeature_shape  # the OpenFeature shape, for OFREP servers (Gate's own)
from gate_sdk._bucket import bucket, in_rollout
from gate_sdk._client import ClientStatus, GateClient
from gate_sdk._evaluate import context_ring, evaluate
from gate_sdk._result import OPENFEATURE_REASONS, EvaluationDetails, Reason
from gate_sdk._snapshot import (
    FlagState,
    PatchGap,
    RingAudience,
    Snapshot,
    SnapshotError,
    SnapshotRing,
    etag_for,
)
from gate_sdk._transport import StreamUnavailable, TransportError
from gate_sdk._version import __version__

__all__ = [
    "OPENFEATURE_REASONS",
    "ClientStatus",
    "EvaluationDetails",
    "FlagState",
    "GateClient",
    "PatchGap",
    "Reason",
    "RingAudience",
    "Snapshot",
    "SnapshotError",
    "SnapshotRing",
    "StreamUnavailable",
    "TransportError",
    "__version__",
    "bucket",
    "context_ring",
    "etag_for",
    "evaluate",
    "in_rollout",
    "openfeature_shape",
]
