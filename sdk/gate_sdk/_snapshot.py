"""The snapshot: every ring and flag, parsed strictly, frozen, and compiled for fast evaluation."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from gate_sdk._bucket import threshold
from gate_sdk._result import EvaluationDetails, Reason

BUCKET_BY = ("user", "tenant")
RING_PROBE = "\x00ring"  # never a flag key: keys are [a-z0-9][a-z0-9._-]*
_NO_TALLY = (count(), count())


class SnapshotError(ValueError):
    """The snapshot document does not have the contract's shape."""


class PatchGap(SnapshotError):
    """A patch that does not start from the client's version: the client fetches the snapshot again."""


@dataclass(frozen=True, slots=True)
class RingAudience:
    """Who a ring reaches: listed users, tenants and groups, or everyone."""

    users: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    everyone: bool = False


@dataclass(frozen=True, slots=True)
class SnapshotRing:
    """One ring as the evaluator sees it."""

    name: str
    audience: RingAudience
    bucket_by: str = "user"


@dataclass(frozen=True, slots=True)
class FlagState:
    """A flag's exposure: the ring it has reached (and its index), its rollout there, the kill switch."""

    ring: str | None
    ring_index: int | None
    percent: float
    killed: bool


class CompiledFlag:
    """A flag's answers, built once per snapshot: one per context ring, two for its rollout ring.

    `hits` are the flag's (off, on) evaluation tallies; a newer snapshot takes them over from an older one.
    """

    __slots__ = ("hits", "inside", "outcomes", "outside", "suffix", "threshold")

    def __init__(
        self,
        key: str,
        state: FlagState,
        rings: tuple[SnapshotRing, ...],
        version: int,
        hits: tuple[count[int], count[int]] | None = None,
    ) -> None:
        self.hits = hits or (count(), count())

        def shared(enabled: bool, reason: Reason, ring: str) -> EvaluationDetails:
            return EvaluationDetails(key, enabled, reason, ring, version, hits=self.hits[enabled])

        self.threshold = threshold(state.percent)  # inside the rollout iff hash32(value + suffix) < threshold
        self.suffix = "\n" + key
        outcomes: list[EvaluationDetails | None] = []
        target = state.ring_index
        for i, ring in enumerate(rings):
            if state.killed:
                outcomes.append(shared(False, Reason.KILLED, ring.name))
            elif target is None:
                outcomes.append(shared(False, Reason.OFF, ring.name))
            elif i < target:
                outcomes.append(shared(True, Reason.RING, ring.name))
            elif i > target:
                outcomes.append(shared(False, Reason.NOT_IN_RING, ring.name))
            elif state.percent >= 100:
                outcomes.append(shared(True, Reason.ROLLOUT, ring.name))
            else:
                outcomes.append(None)  # inside or outside the rollout: decided by bucketing
        rollout_ring = rings[target].name if target is not None else rings[-1].name
        self.inside = shared(True, Reason.ROLLOUT, rollout_ring)
        self.outside = shared(False, Reason.ROLLOUT, rollout_ring)
        self.outcomes = tuple(outcomes)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable view of every flag at one version."""

    version: int
    rings: tuple[SnapshotRing, ...]
    flags: Mapping[str, FlagState]
    previous: Snapshot | None = field(default=None, repr=False, compare=False)
    compiled: dict[str, CompiledFlag] = field(init=False, repr=False, compare=False)
    tallies: dict[str, tuple[count[int], count[int]]] = field(init=False, repr=False, compare=False)
    user_ring: dict[str, int] = field(init=False, repr=False, compare=False)
    tenant_ring: dict[str, int] = field(init=False, repr=False, compare=False)
    group_ring: dict[str, int] = field(init=False, repr=False, compare=False)
    bucket_by: tuple[str, ...] = field(init=False, repr=False, compare=False)
    last: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the first ring naming a user, tenant or group wins; the last ring matches everyone
        first: dict[str, dict[str, int]] = {"users": {}, "tenants": {}, "groups": {}}
        for i, ring in reversed(list(enumerate(self.rings[:-1]))):
            for kind in first:
                for name in getattr(ring.audience, kind):
                    first[kind][name] = i
        set_ = object.__setattr__
        set_(self, "user_ring", first["users"])
        set_(self, "tenant_ring", first["tenants"])
        set_(self, "group_ring", first["groups"])
        set_(self, "bucket_by", tuple(r.bucket_by for r in self.rings))
        set_(self, "last", len(self.rings) - 1)

        # each flag's (off, on) tallies carry over from the previous snapshot, so counts survive updates
        older = self.previous.tallies if self.previous is not None else {}
        set_(self, "tallies", {k: older[k] for k in self.flags if k in older})
        set_(self, "previous", None)  # only its tallies were wanted: no chain of snapshots stays alive
        # a flag that is off everywhere: evaluating it tells a context's ring (see context_ring)
        probe = CompiledFlag(RING_PROBE, FlagState(None, None, 0.0, False), self.rings, self.version, _NO_TALLY)
        set_(self, "compiled", {RING_PROBE: probe})

    def compile(self, flag: str) -> CompiledFlag | None:
        """Build `flag`'s answers on its first evaluation (None: no such flag); cheap starts, lean memory."""
        state = self.flags.get(flag)
        if state is None:
            return None
        hits = self.tallies.setdefault(flag, (count(), count()))  # setdefault: one tally, whichever thread wins
        compiled = self.compiled[flag] = CompiledFlag(flag, state, self.rings, self.version, hits)
        return compiled

    @classmethod
    def from_dict(cls, data: Any, previous: Snapshot | None = None) -> Snapshot:
        """Parse the snapshot JSON document, refusing anything off-contract (`previous`: hand over its tallies)."""
        if not isinstance(data, Mapping):
            raise SnapshotError("snapshot: not an object")
        version = data.get("version")
        if type(version) is not int or version < 0:
            raise SnapshotError("version: not a non-negative integer")
        rings = tuple(_ring(i, r) for i, r in enumerate(_list(data.get("rings"), "rings")))
        if not rings:
            raise SnapshotError("rings: empty")
        index = {r.name: i for i, r in enumerate(rings)}
        raw_flags = data.get("flags")
        if not isinstance(raw_flags, Mapping):
            raise SnapshotError("flags: not an object")
        flags = {str(k): _flag(str(k), v, index) for k, v in raw_flags.items()}
        return cls(version=version, rings=rings, flags=flags, previous=previous)

    def to_dict(self) -> dict[str, Any]:
        """Render the snapshot as its JSON document: the one writer, the server's included."""
        return {
            "version": self.version,
            "rings": [
                {
                    "name": r.name,
                    "audience": "all"
                    if r.audience.everyone
                    else {
                        "users": sorted(r.audience.users),
                        "tenants": sorted(r.audience.tenants),
                        "groups": sorted(r.audience.groups),
                    },
                    "bucket_by": r.bucket_by,
                }
                for r in self.rings
            ],
            "flags": {k: _flag_dict(f) for k, f in self.flags.items()},
        }

    def patch_since(self, older: Snapshot) -> dict[str, Any] | None:
        """The patch event's document that turns `older` into this snapshot: only the flags that changed
        (None: gone). None when a patch cannot say it (the rings differ): send the whole snapshot then."""
        if older.rings != self.rings:
            return None
        changed: dict[str, Any] = {k: _flag_dict(f) for k, f in self.flags.items() if older.flags.get(k) != f}
        changed.update({k: None for k in older.flags if k not in self.flags})
        return {"base": older.version, "version": self.version, "flags": changed}

    def apply_patch(self, data: Any) -> Snapshot:
        """This snapshot with a patch event applied; PatchGap unless the patch starts from this version."""
        if not isinstance(data, Mapping):
            raise SnapshotError("patch: not an object")
        base, version, raw_flags = data.get("base"), data.get("version"), data.get("flags")
        if type(base) is not int or type(version) is not int or version <= base:
            raise SnapshotError("patch: base and version must be integers, version after base")
        if not isinstance(raw_flags, Mapping):
            raise SnapshotError("patch: flags: not an object")
        if base != self.version:
            raise PatchGap(f"patch from version {base}, but this snapshot is version {self.version}")
        index = {r.name: i for i, r in enumerate(self.rings)}
        flags = dict(self.flags)
        for key, raw in raw_flags.items():
            if raw is None:
                flags.pop(str(key), None)
            else:
                flags[str(key)] = _flag(str(key), raw, index)
        return Snapshot(version=version, rings=self.rings, flags=flags, previous=self)


def _flag_dict(f: FlagState) -> dict[str, Any]:
    return {"ring": f.ring, "percent": _number(f.percent), "killed": f.killed}


def _number(value: float) -> int | float:
    """50.0 as 50, 12.5 as 12.5: the document carries percents as the API shows them."""
    return int(value) if value.is_integer() else value


def etag_for(version: int) -> str:
    """The ETag of a snapshot version, as the server sends it and the client sends it back."""
    return f'"{version}"'


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise SnapshotError(f"{path}: not a list")
    return value


def _strings(value: Any, path: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    items = _list(value, path)
    if not all(isinstance(s, str) for s in items):
        raise SnapshotError(f"{path}: not a list of strings")
    return frozenset(items)


def _ring(i: int, raw: Any) -> SnapshotRing:
    path = f"rings[{i}]"
    if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
        raise SnapshotError(f"{path}: not a ring")
    audience = raw.get("audience")
    if audience == "all":
        parsed = RingAudience(everyone=True)
    elif isinstance(audience, Mapping):
        parsed = RingAudience(
            users=_strings(audience.get("users"), f"{path}.audience.users"),
            tenants=_strings(audience.get("tenants"), f"{path}.audience.tenants"),
            groups=_strings(audience.get("groups"), f"{path}.audience.groups"),
        )
    else:
        raise SnapshotError(f"{path}.audience: not 'all' or an object")
    bucket_by = raw.get("bucket_by", "user")
    if bucket_by not in BUCKET_BY:
        raise SnapshotError(f"{path}.bucket_by: not user or tenant")
    return SnapshotRing(name=raw["name"], audience=parsed, bucket_by=bucket_by)


def _flag(key: str, raw: Any, index: Mapping[str, int]) -> FlagState:
    path = f"flags.{key}"
    if not isinstance(raw, Mapping):
        raise SnapshotError(f"{path}: not an object")
    ring = raw.get("ring")
    if ring is not None and ring not in index:
        raise SnapshotError(f"{path}.ring: unknown ring {ring!r}")
    percent = raw.get("percent", 0)
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not math.isfinite(percent):
        raise SnapshotError(f"{path}.percent: not a number")
    killed = raw.get("killed", False)
    if not isinstance(killed, bool):
        raise SnapshotError(f"{path}.killed: not a boolean")
    return FlagState(ring=ring, ring_index=None if ring is None else index[ring], percent=float(percent), killed=killed)
