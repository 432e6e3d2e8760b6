"""The SDK snapshot: built once per state version in each worker, shared by every request and stream.

Each build also holds its stream events, serialised once: the whole snapshot, and the patch from the
build before it (only the flags that changed), so ten thousand streams cost one serialisation.
"""

from __future__ import annotations

import gzip
import json
import threading
from dataclasses import dataclass, field
from functools import cached_property

from gate_sdk import FlagState, RingAudience, Snapshot, SnapshotRing, etag_for
from sqlalchemy import select

from gate.domain.rings import RingsConfig
from gate.models import Feature, SharedRow
from gate.services.context import engine


@dataclass(frozen=True)
class BuiltSnapshot:
    """One version of the snapshot: the SDK's own Snapshot, its JSON body (the SDK's writer) and ETag."""

    version: int
    body: bytes
    etag: str
    parsed: Snapshot = field(repr=False)
    base: int | None = None  # the version `patch_event` starts from (the build before this one)
    patch_event: bytes | None = field(default=None, repr=False)

    @cached_property
    def gzipped(self) -> bytes:
        """The body compressed once per version, for clients that accept gzip (a tenth of the size)."""
        return gzip.compress(self.body, compresslevel=6, mtime=0)

    @cached_property
    def snapshot_event(self) -> bytes:
        return b"event: snapshot\nid: %d\ndata: %s\n\n" % (self.version, self.body)

    def event_after(self, known: int, patches: bool) -> bytes:
        """What a stream at version `known` is sent: the patch when it starts there and was asked for."""
        if patches and self.patch_event is not None and self.base == known:
            return self.patch_event
        return self.snapshot_event


# the version and every live feature's exposure, in one statement (built once: it runs at every change)
_FLAGS = (
    select(SharedRow.version, Feature.key, Feature.ring, Feature.percent_bp, Feature.killed)
    .select_from(SharedRow)
    .outerjoin(Feature, Feature.archived_at.is_(None))
    .where(SharedRow.id == 1)
    .order_by(Feature.key)
)


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
        self._building = threading.Lock()

    def fresh(self, min_version: int) -> BuiltSnapshot | None:
        """The snapshot built at `min_version` or newer, if there is one yet (no database needed)."""
        current = self._current
        return current if current is not None and current.version >= min_version else None

    def get(self, min_version: int) -> BuiltSnapshot:
        """Return a snapshot at `min_version` or newer; one build per version, however many ask at once."""
        built = self.fresh(min_version)
        if built is not None:
            return built
        with self._building:
            built = self.fresh(min_version)  # built while this one waited for the lock
            if built is None:
                built = self._current = self._build(self._current)
            return built

    def _build(self, previous: BuiltSnapshot | None) -> BuiltSnapshot:
        # one statement on a connection of its own, so the version and the flags come from one consistent
        # read, and the builder never waits for a connection held by a request waiting for this build
        with engine().connect() as conn:
            rows = conn.execute(_FLAGS).all()
        version = int(rows[0][0])
        flags = {
            key: FlagState(ring, None if ring is None else self._index[ring], bp / 100, killed)
            for _, key, ring, bp, killed in rows
            if key is not None
        }
        snapshot = Snapshot(version=version, rings=self._rings, flags=flags)
        body = json.dumps(snapshot.to_dict(), separators=(",", ":")).encode()
        patch = snapshot.patch_since(previous.parsed) if previous is not None else None
        if previous is None or patch is None or previous.version >= version:
            return BuiltSnapshot(version=version, body=body, etag=etag_for(version), parsed=snapshot)
        event = b"event: patch\nid: %d\ndata: %s\n\n" % (version, json.dumps(patch, separators=(",", ":")).encode())
        return BuiltSnapshot(version, body, etag_for(version), snapshot, base=previous.version, patch_event=event)
