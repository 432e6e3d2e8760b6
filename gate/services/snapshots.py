"""The SDK snapshot: built once per state version in each worker, shared by every request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gate_sdk import Snapshot, etag_for
from sqlalchemy import select

from gate.domain.exposure import percent_number
from gate.domain.rings import RingsConfig
from gate.models import Feature, GateState
from gate.services.context import session


@dataclass(frozen=True)
class BuiltSnapshot:
    """One version of the snapshot: its JSON body, ETag, and the parsed form the evaluator uses."""

    version: int
    body: bytes
    etag: str
    document: dict[str, object] = field(repr=False)
    _parsed: list[Snapshot] = field(default_factory=list, repr=False, compare=False)

    @property
    def parsed(self) -> Snapshot:
        """The SDK's Snapshot of this version, parsed on first use."""
        if not self._parsed:
            self._parsed.append(Snapshot.from_dict(self.document))
        return self._parsed[0]


class SnapshotCache:
    """Holds the newest snapshot this worker has built; rebuilds only when the version moved."""

    def __init__(self, rings: RingsConfig) -> None:
        self._rings = [
            {"name": r.name, "audience": r.audience.to_dict(), "bucket_by": r.bucket_by} for r in rings.rings
        ]
        self._current: BuiltSnapshot | None = None

    def get(self, min_version: int) -> BuiltSnapshot:
        """Return a snapshot at `min_version` or newer."""
        current = self._current
        if current is not None and current.version >= min_version:
            return current
        built = self._build()  # two threads may race to build; both results are right, one is kept
        self._current = built
        return built

    def _build(self) -> BuiltSnapshot:
        # one statement, so the version and the flags come from the same consistent read
        rows = (
            session()
            .execute(
                select(GateState.version, Feature.key, Feature.ring, Feature.percent_bp, Feature.killed)
                .select_from(GateState)
                .outerjoin(Feature, Feature.archived_at.is_(None))
                .where(GateState.id == 1)
                .order_by(Feature.key)
            )
            .all()
        )
        version = int(rows[0][0])
        flags = {
            key: {"ring": ring, "percent": percent_number(bp), "killed": killed}
            for _, key, ring, bp, killed in rows
            if key is not None
        }
        document: dict[str, object] = {"version": version, "rings": self._rings, "flags": flags}
        body = json.dumps(document, separators=(",", ":")).encode()
        return BuiltSnapshot(version=version, body=body, etag=etag_for(version), document=document)
