"""The four DORA metrics from what really happened, aggregated in SQL (no row is loaded into Python)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select

from gate.domain import dora
from gate.domain.incidents import RESTORE_COUNTS_AT_OR_BELOW
from gate.errors import InvalidInput
from gate.models import Change, DeploymentEvent, Incident
from gate.services.context import now, session


@cache
def level_tables() -> dict[str, Any]:
    """The DORA level thresholds by report year, with their sources (gate/dora_levels.json)."""
    return json.loads(resources.files("gate").joinpath("dora_levels.json").read_text())  # type: ignore[no-any-return]


def _hours(later: Any, earlier: Any) -> Any:
    """`later - earlier` in hours, in SQL: PostgreSQL has intervals, SQLite has Julian days."""
    if session().get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier) / 3600.0
    return (func.julianday(later) - func.julianday(earlier)) * 24.0


def _median_p90(value: Any, *where: ColumnElement[bool]) -> tuple[int, float | None, float | None]:
    """Count, median and nearest-rank 90th percentile of `value`: one query, one sort (window functions)."""
    ranked = (
        select(value.label("v"), func.row_number().over(order_by=value).label("rn"), func.count().over().label("n"))
        .where(*where)
        .subquery()
    )
    n_, rn = ranked.c.n, ranked.c.rn
    rows = (
        session()
        .execute(
            select(ranked.c.v, rn, n_).where(or_(rn == (n_ + 1) // 2, rn == (n_ + 2) // 2, rn == (9 * n_ + 9) // 10))
        )
        .all()
    )
    if not rows:
        return 0, None, None
    n = int(rows[0][2])
    at = {int(r): float(v) for v, r, _ in rows}
    median = (at[(n + 1) // 2] + at[(n + 2) // 2]) / 2
    return n, median, at[(9 * n + 9) // 10]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def window(days: int, at: datetime) -> tuple[datetime, datetime]:
    """The last `days` whole UTC days, today included, up to `at`."""
    start = datetime.combine(at.astimezone(UTC).date() - timedelta(days=days - 1), datetime.min.time(), UTC)
    return start, at


@dataclass(frozen=True)
class Figures:
    """The raw DORA figures of one window."""

    deployments: int
    deploy_days: int
    failed: int
    changes: int
    lead_median: float | None
    lead_p90: float | None
    restored: int
    restore_median: float | None

    @property
    def fail_percent(self) -> float | None:
        return round(self.failed / self.deployments * 100, 1) if self.deployments else None


def figures(since: datetime, until: datetime) -> Figures:
    """Count deployments, failures, lead times and restores between `since` and `until`, in SQL."""
    s = session()
    in_window = and_(DeploymentEvent.is_deployment.is_(True), DeploymentEvent.at >= since, DeploymentEvent.at <= until)
    deployments, deploy_days, rolled_back = s.execute(
        select(
            func.count(),
            func.count(func.distinct(DeploymentEvent.day)),
            func.count().filter(DeploymentEvent.failed.is_(True)),
        ).where(in_window)
    ).one()
    # failed = marked failed (lowered, rolled back, killed) or blamed by an incident of severity 0..2
    blamers = select(Incident.caused_by).where(
        Incident.severity <= RESTORE_COUNTS_AT_OR_BELOW, Incident.caused_by.is_not(None)
    )
    blamed = s.scalar(
        select(func.count())
        .select_from(DeploymentEvent)
        .where(in_window, DeploymentEvent.failed.is_(False), DeploymentEvent.id.in_(blamers))
    )
    changes, lead_median, lead_p90 = _median_p90(
        Change.lead_seconds, Change.deployed_at >= since, Change.deployed_at <= until
    )
    restored, restore_median, _ = _median_p90(
        _hours(Incident.restored_at, Incident.opened_at),
        Incident.severity <= RESTORE_COUNTS_AT_OR_BELOW,
        Incident.restored_at.is_not(None),
        Incident.opened_at >= since,
        Incident.opened_at <= until,
    )
    return Figures(
        deployments=int(deployments),
        deploy_days=int(deploy_days),
        failed=int(rolled_back) + int(blamed or 0),
        changes=changes,
        lead_median=None if lead_median is None else lead_median / 3600,
        lead_p90=None if lead_p90 is None else lead_p90 / 3600,
        restored=restored,
        restore_median=restore_median,
    )


def metrics(*, days: int = 30, benchmark: str | None = None) -> dict[str, Any]:
    """Deployment frequency, lead time, change fail rate and time to restore over the last `days` UTC days."""
    tables = level_tables()
    year = benchmark or tables["default"]
    if year not in tables["reports"]:
        known = ", ".join(sorted(tables["reports"]))
        raise InvalidInput(
            f"no DORA table for {year}: the reports known are {known}", errors={"benchmark": [f"one of {known}"]}
        )
    table = tables["reports"][year]
    since, until = window(days, now())
    f = figures(since, until)
    return {
        "days": days,
        "since": since,
        "until": until,
        "benchmark": year,
        "deployment_frequency": {
            "deployments": f.deployments,
            "deploy_days": f.deploy_days,
            "per_week": round(f.deployments / days * 7, 2),
            "level": dora.frequency_level(table, f.deploy_days, days),
        },
        "lead_time_hours": {
            "median": _round(f.lead_median),
            "p90": _round(f.lead_p90),
            "changes": f.changes,
            "level": dora.upper_bound_level(table, "lead_time_hours", f.lead_median),
        },
        "change_fail_rate": {
            "failed": f.failed,
            "deployments": f.deployments,
            "percent": f.fail_percent,
            "level": dora.upper_bound_level(table, "change_fail_rate", f.fail_percent),
        },
        "time_to_restore_hours": {
            "median": _round(f.restore_median),
            "incidents": f.restored,
            "level": dora.upper_bound_level(table, "time_to_restore_hours", f.restore_median),
        },
    }


def weekly(weeks: int = 13) -> list[tuple[datetime, Figures]]:
    """Each of the last `weeks` weeks (UTC, the current one last) with its figures, for charts."""
    end = now()
    first, _ = window(7 * weeks, end)
    return [
        (start, figures(start, min(start + timedelta(days=7), end)))
        for start in (first + timedelta(days=7 * i) for i in range(weeks))
    ]
