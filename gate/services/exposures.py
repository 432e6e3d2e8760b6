"""Exposure counts sent by SDKs: when each flag was last evaluated, and how often, per day."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from gate.models import ExposureCount, Feature
from gate.services.context import now
from gate.services.transactions import transaction


def record_exposures(batch: Iterable[tuple[str, bool, int]]) -> tuple[int, list[str]]:
    """Add `(flag, enabled, count)` rows to today's counts; return how many counted and the unknown flags."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for flag, enabled, count in batch:
        totals[flag][0 if enabled else 1] += count
    at = now()
    with transaction() as s:
        query = select(Feature.key, Feature.id).where(Feature.key.in_(list(totals)), Feature.archived_at.is_(None))
        ids: dict[str, int] = {key: feature_id for key, feature_id in s.execute(query)}
        insert: Any = pg_insert if s.get_bind().dialect.name == "postgresql" else sqlite_insert
        for key, feature_id in sorted(ids.items()):
            on, off = totals[key]
            statement = insert(ExposureCount).values(feature_id=feature_id, day=at.date(), enabled=on, disabled=off)
            s.execute(
                statement.on_conflict_do_update(
                    index_elements=["feature_id", "day"],
                    set_={
                        "enabled": ExposureCount.enabled + statement.excluded.enabled,
                        "disabled": ExposureCount.disabled + statement.excluded.disabled,
                    },
                )
            )
        if ids:
            s.execute(update(Feature).where(Feature.id.in_(list(ids.values()))).values(last_evaluated_at=at))
    accepted = sum(sum(totals[k]) for k in ids)
    return accepted, sorted(set(totals) - set(ids))
