"""Rings: the ordered audiences a feature is exposed to, and the gate each one asks for."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gate.domain.durations import parse_duration
from gate.domain.errors import Problems
from gate.domain.incidents import SEVERITIES

KEY_PATTERN = "[a-z0-9][a-z0-9._-]{0,63}"  # feature keys, criterion ids, ring names: the one pattern of them all
NAME = re.compile(KEY_PATTERN + r"\Z")
_TOP_KEYS = {"version", "rings", "incidents"}
_RING_KEYS = {"name", "description", "audience", "bucket_by", "gate"}
_GATE_KEYS = {"soak", "block_on_incidents", "zero_bug_bounce", "rca_complete"}
_AUDIENCE_KEYS = ("users", "tenants", "groups")
_INCIDENT_KEYS = {"auto_kill_at_or_above"}


@dataclass(frozen=True)
class Audience:
    """Who a ring reaches: named users, tenants and groups, or everyone."""

    users: tuple[str, ...] = ()
    tenants: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    everyone: bool = False

    def to_dict(self) -> dict[str, list[str]] | str:
        """Render as in the snapshot: 'all' or the three lists."""
        if self.everyone:
            return "all"
        return {"users": list(self.users), "tenants": list(self.tenants), "groups": list(self.groups)}


@dataclass(frozen=True)
class GateSpec:
    """What a ring's gate asks for beyond the criteria."""

    soak: timedelta | None = None
    block_on_incidents: int | None = None
    zero_bug_bounce: bool = False
    rca_complete: bool = False


@dataclass(frozen=True)
class Ring:
    """One ring of the exposure order."""

    name: str
    index: int
    audience: Audience
    description: str = ""
    bucket_by: str = "user"
    gate: GateSpec = field(default_factory=GateSpec)


@dataclass(frozen=True)
class RingsConfig:
    """The whole rings file, parsed."""

    rings: tuple[Ring, ...]
    auto_kill_at_or_above: int | None = None
    _by_name: dict[str, Ring] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_name", {r.name: r for r in self.rings})

    def get(self, name: str) -> Ring | None:
        """Return the ring named `name`, or None."""
        return self._by_name.get(name)

    def index(self, name: str | None) -> int | None:
        """Return the position of ring `name` (None for None or an unknown name)."""
        ring = self.get(name) if name is not None else None
        return None if ring is None else ring.index

    @property
    def names(self) -> tuple[str, ...]:
        """The ring names in exposure order."""
        return tuple(r.name for r in self.rings)

    @property
    def last(self) -> Ring:
        """The final ring, whose audience is everyone."""
        return self.rings[-1]


def parse_rings(data: Any) -> RingsConfig:
    """Validate a loaded rings document; raise ParseError naming every problem with its path."""
    problems = Problems()
    if not isinstance(data, Mapping):
        problems.add("$", "must be a mapping with version and rings")
        problems.raise_if_any()
    problems.unknown_keys(data, _TOP_KEYS, "")
    if data.get("version") != 1 or isinstance(data.get("version"), bool):
        problems.add("version", "must be 1")
    raw_rings = data.get("rings")
    rings: list[Ring] = []
    if not isinstance(raw_rings, list):
        problems.add("rings", "must be a list of rings")
    elif not raw_rings:
        problems.add("rings", "must not be empty")
    else:
        seen: set[str] = set()
        for i, raw in enumerate(raw_rings):
            ring = _parse_ring(raw, i, len(raw_rings), problems)
            if ring is None:
                continue
            if ring.name in seen:
                problems.add(f"rings[{i}].name", f"duplicate ring name {ring.name!r}")
            seen.add(ring.name)
            rings.append(ring)
    auto_kill = _parse_incidents(data.get("incidents"), problems)
    problems.raise_if_any()
    return RingsConfig(rings=tuple(rings), auto_kill_at_or_above=auto_kill)


def _parse_ring(raw: Any, i: int, count: int, problems: Problems) -> Ring | None:
    path = f"rings[{i}]"
    if not isinstance(raw, Mapping):
        problems.add(path, "must be a mapping")
        return None
    problems.unknown_keys(raw, _RING_KEYS, path)
    name = raw.get("name")
    if not isinstance(name, str) or not NAME.match(name):
        problems.add(f"{path}.name", f"must be a name like 'preview' ({KEY_PATTERN})")
        name = f"#{i}"
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(f"{path}.description", "must be a string")
        description = ""
    bucket_by = raw.get("bucket_by", "user")
    if bucket_by not in ("user", "tenant"):
        problems.add(f"{path}.bucket_by", "must be user or tenant")
        bucket_by = "user"
    audience = _parse_audience(raw.get("audience"), f"{path}.audience", problems)
    last = i == count - 1
    if last and not audience.everyone:
        problems.add(f"{path}.audience", "the last ring's audience must be all")
    elif not last and audience.everyone:
        problems.add(f"{path}.audience", "only the last ring may reach all; later rings would be unreachable")
    gate = _parse_gate(raw.get("gate", {}), f"{path}.gate", problems)
    return Ring(name=name, index=i, audience=audience, description=description, bucket_by=bucket_by, gate=gate)


def _parse_audience(raw: Any, path: str, problems: Problems) -> Audience:
    if raw == "all":
        return Audience(everyone=True)
    if not isinstance(raw, Mapping):
        problems.add(path, "must be all or a mapping of users, tenants and groups")
        return Audience()
    problems.unknown_keys(raw, set(_AUDIENCE_KEYS), path)
    lists: dict[str, tuple[str, ...]] = {}
    for key in _AUDIENCE_KEYS:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.add(f"{path}.{key}", "must be a list of strings")
            value = []
        lists[key] = tuple(value)
    if not any(lists.values()):
        problems.add(path, "names nobody: give users, tenants or groups")
    return Audience(users=lists["users"], tenants=lists["tenants"], groups=lists["groups"])


def _parse_gate(raw: Any, path: str, problems: Problems) -> GateSpec:
    if raw is None:
        return GateSpec()
    if not isinstance(raw, Mapping):
        problems.add(path, "must be a mapping")
        return GateSpec()
    problems.unknown_keys(raw, _GATE_KEYS, path)
    soak = None
    if raw.get("soak") is not None:
        try:
            soak = parse_duration(raw["soak"])
        except ValueError as exc:
            problems.add(f"{path}.soak", str(exc))
    block = raw.get("block_on_incidents")
    if block is not None and (isinstance(block, bool) or block not in SEVERITIES):
        problems.add(f"{path}.block_on_incidents", "must be a severity from 0 to 3")
        block = None
    flags = {}
    for key in ("zero_bug_bounce", "rca_complete"):
        value = raw.get(key, False)
        if not isinstance(value, bool):
            problems.add(f"{path}.{key}", "must be true or false")
            value = False
        flags[key] = value
    return GateSpec(soak=soak, block_on_incidents=block, **flags)


def _parse_incidents(raw: Any, problems: Problems) -> int | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        problems.add("incidents", "must be a mapping")
        return None
    problems.unknown_keys(raw, _INCIDENT_KEYS, "incidents")
    value = raw.get("auto_kill_at_or_above")
    if value is not None and (isinstance(value, bool) or value not in SEVERITIES):
        problems.add("incidents.auto_kill_at_or_above", "must be a severity from 0 to 3")
        return None
    return None if value is None else int(value)
