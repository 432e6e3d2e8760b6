"""Read rings.yaml and refuse a file that drops or renames a ring still in use."""

from __future__ import annotations

import functools
from collections import defaultdict

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from gate.domain.errors import ParseError
from gate.domain.rings import RingsConfig, parse_rings
from gate.models import CriterionRevision, Feature, Plan
from gate.yamlio import load_yaml


def load_rings_file(path: str) -> RingsConfig:
    """Parse the rings file at `path`; raise ParseError with every problem and its path."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ParseError({path: [f"cannot read the rings file: {exc.strerror}"]}) from None
    return _parsed(raw, path)


@functools.lru_cache(maxsize=16)
def _parsed(raw: bytes, source: str) -> RingsConfig:
    """The same file parses to the same frozen rings: each app of a process (a test's, say) reads it once."""
    return parse_rings(load_yaml(raw, source=source))


def rings_in_use(session: Session, rings: RingsConfig) -> dict[str, list[str]]:
    """Map each ring unknown to `rings` but still used by a live feature, criterion or plan to its users."""
    if not inspect(session.get_bind()).has_table("features"):
        return {}
    known = set(rings.names)
    users: dict[str, list[str]] = defaultdict(list)
    for key, ring in session.execute(
        select(Feature.key, Feature.ring).where(Feature.archived_at.is_(None), Feature.ring.is_not(None))
    ):
        if ring not in known:
            users[str(ring)].append(f"feature {key}")
    for key, criterion, ring in session.execute(
        select(Feature.key, CriterionRevision.criterion, CriterionRevision.ring)
        .join(Feature, Feature.id == CriterionRevision.feature_id)
        .where(Feature.archived_at.is_(None), CriterionRevision.retired_at.is_(None))
    ):
        if ring not in known:
            users[ring].append(f"criterion {key}/{criterion}")
    if inspect(session.get_bind()).has_table("plans"):
        for key, spec in session.execute(
            select(Feature.key, Plan.spec)
            .join(Feature, Feature.id == Plan.feature_id)
            .where(Feature.archived_at.is_(None), Plan.spec.is_not(None))
        ):
            for i, step in enumerate(spec.get("steps", []) if isinstance(spec, dict) else []):
                if step.get("ring") not in known:
                    users[str(step.get("ring"))].append(f"plan {key} step {i + 1}")
    return dict(users)


def check_rings_in_use(session: Session, rings: RingsConfig) -> None:
    """Raise ParseError naming every feature, criterion and plan step that uses a ring the file no longer has."""
    missing = rings_in_use(session, rings)
    if missing:
        raise ParseError(
            {
                f"rings ({name})": [f"ring {name!r} is gone but still used by {', '.join(who)}"]
                for name, who in missing.items()
            }
        )
