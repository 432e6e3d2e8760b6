"""Gather what the gate needs to know about a feature, in a constant number of queries."""

from __future__ import annotations

from gate.domain.gate import GateFacts
from gate.models import Feature
from gate.services.features import criterion_statuses, current_revisions, exposure_of, state_version


def gather(feature: Feature) -> GateFacts:
    """Collect the feature's exposure and criteria statuses (two queries, whatever the size)."""
    statuses = criterion_statuses(current_revisions(feature.id))
    return GateFacts(exposure=exposure_of(feature), criteria=statuses)


def version() -> int:
    """The current snapshot version."""
    return state_version()
