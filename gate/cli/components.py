"""`gate components`: which team delivers what by when, and who is late (contract 8.3)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import click

from gate.cli.client import Remote, needs_server
from gate.cli.group import main


def delivery_words(component: dict[str, Any]) -> str:
    """'delivered 2026-12-18', 'LATE by 3 days', 'pending'."""
    if component["delivered_at"]:
        return f"delivered {component['delivered_at'][:10]}"
    if component["late"]:
        days = component["days_late"]
        return f"LATE by {days} day{'s' if days != 1 else ''}"
    return "pending"


@main.command("components")
@click.option("--team", default=None, help="only this team's components")
@click.option("--late", is_flag=True, help="only those late")
@needs_server
def components(team: str | None, late: bool, remote: Remote) -> None:
    """Every component of every live feature: team, due day, delivery (a table; --json for the API's answer)."""
    query = urlencode({k: v for k, v in (("team", team), ("late", "true" if late else None)) if v})
    listed = remote.call("GET", "/components" + (f"?{query}" if query else ""), shape=list)
    if remote.json:
        return
    rows = [("FEATURE", "COMPONENT", "TEAM", "DUE", "STATE")]
    rows += [(c["feature"], c["id"], c["team"], c["due"], delivery_words(c)) for c in listed]
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    for row in rows:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
