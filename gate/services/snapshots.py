"""The SDK snapshot: built once per state version in each worker, shared by every request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from gate_sdk import FlagState, RingAudience, Snapshot, SnapshotRing, etag_for
from sqlalchemy import select

from gate.domain.rings import RingsConfig
from gate.models import Feature, GateState
from gate.services.context import session


@dataclass(frozen=True)
class BuiltSnapshot:
    """One version of the snapshot: the SDK's own Snapshot, its JSON body (the SDK's writer) and ETag."""

    version: int
    body: bytes
    etag: str
    parsed: Snapshot = field(repr=False)


class SnapshotCache:
    """Holds the newest snapshot this worker has built; rebuilds only when the version moved."""

    def __init__(self, rings: RingsConfig) -> None:
        self._rings = tuple(
            SnapshotRing(
                name=r.name,
                audience=RingAudience(
                    users=frozenset(r.audience.users),
                    tenants=frozenset(r.audience.tenants),
                    groups=frozenset(r.audience.groups),
                    everyone=r.audience.everyone,
                ),
                bucket_by=r.bucket_by,
            )
            for r in rings.rings
        )
        self._index = {r.name: i for i, r in enumerate(self._rings)}
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
            key: FlagState(ring, None if ring is None else self._index[ring], bp / 100, killed)
            for _, key, ring, bp, killed in rows
            if key is not None
        }
        snapshot = Snapshot(version=version, rings=self._rings, flags=flags)
        body = json.dumps(snapshot.to_dict(), separators=(",", ":")).encode()
        return BuiltSnapshot(version=version, body=body, etag=etag_for(version), parsed=snapshot)
