"""An in-memory client for applications' own unit tests: same evaluation, no server, no threads.

from gate_sdk.testing import InMemoryClient
flags = InMemoryClient()
flags.set_flag("checkout-v2", ring="internal")
flags.is_enabled("checkout-v2", {"groups": ["product"]})   # True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate_sdk._evaluate import evaluate
from gate_sdk._result import EvaluationDetails
from gate_sdk._snapshot import Snapshot

DEFAULT_RINGS: tuple[dict[str, Any], ...] = (
    {"name": "internal", "audience": {"users": [], "tenants": [], "groups": ["product", "cs"]}, "bucket_by": "user"},
    {
        "name": "preview",
        "audience": {"users": [], "tenants": ["fabrikam", "northwind"], "groups": []},
        "bucket_by": "tenant",
    },
    {"name": "ga", "audience": "all", "bucket_by": "user"},
)


class InMemoryClient:
    """GateClient's evaluation surface over flags the test sets."""

    def __init__(
        self, rings: Sequence[Mapping[str, Any]] = DEFAULT_RINGS, flags: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        self._rings = [dict(r) for r in rings]
        self._flags: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (flags or {}).items()}
        self._version = 0
        self._rebuild()

    def _rebuild(self) -> None:
        self._version += 1
        self.snapshot = Snapshot.from_dict({"version": self._version, "rings": self._rings, "flags": self._flags})

    def set_flag(
        self,
        key: str,
        enabled: bool | None = None,
        *,
        ring: str | None = None,
        percent: float = 100,
        killed: bool = False,
    ) -> None:
        """Set a flag for the test: `set_flag("checkout", True)` is on for everyone and `False` off; or
        expose it up to `ring` (None: off) at `percent` there, and `killed=True` kills it."""
        if enabled is not None:
            ring = self._rings[-1]["name"] if enabled else None
        self._flags[key] = {"ring": ring, "percent": percent if ring is not None else 0, "killed": killed}
        self._rebuild()

    def enable(self, key: str) -> None:
        """On for everyone."""
        self.set_flag(key, True)

    def disable(self, key: str) -> None:
        """Off for everyone."""
        self.set_flag(key, False)

    def remove_flag(self, key: str) -> None:
        """Forget `key`: evaluations answer the default, UNKNOWN_FLAG."""
        self._flags.pop(key, None)
        self._rebuild()

    def evaluate(self, flag: str, context: Mapping[str, Any] | None = None, default: bool = False) -> EvaluationDetails:
        return evaluate(self.snapshot, flag, context, default)

    def is_enabled(self, flag: str, context: Mapping[str, Any] | None = None, default: bool = False) -> bool:
        return evaluate(self.snapshot, flag, context, default).enabled

    def wait_until_ready(self, timeout: float | None = None) -> bool:
        return True

    def close(self) -> None:
        """Nothing to release."""
