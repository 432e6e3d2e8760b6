"""Incidents and changes against a server: what on-call and pipelines report."""

from __future__ import annotations

import click

from gate.cli.client import Remote, needs_server, quoted
from gate.cli.group import main


@main.group("incident")
def incident() -> None:
    """Incidents: open, acknowledge, resolve (against a server).

    An incident that names a feature and is as severe as rings.yaml's incidents.auto_kill_at_or_above or
    more (severity 0 or 1 with the default file) kills the feature's flag at once."""


@incident.command("open")
@click.option("--severity", required=True, type=click.IntRange(0, 3), help="0 outage … 3 user-reported")
@click.option("--title", required=True)
@click.option("--feature", default=None, help="the feature it is about")
@click.option("--dedup-key", default=None, help="an open incident with this key is answered instead of a new one")
@needs_server
def incident_open(severity: int, title: str, feature: str | None, dedup_key: str | None, remote: Remote) -> None:
    """Report an incident. One that names a feature and is as severe as rings.yaml's
    incidents.auto_kill_at_or_above or more (severity 0 or 1 with the default file) kills its flag at once.
    Severity 0 and 1 page, 2 e-mails, 3 tells nobody."""
    body = {"severity": severity, "title": title, "feature": feature, "dedup_key": dedup_key}
    answer = remote.call("POST", "/incidents", body)
    if not remote.json:
        click.echo(f"incident {answer['id']} (severity {answer['severity']}), notified: {answer['notified']}")


def _step(remote: Remote, incident_id: int, step: str) -> None:
    answer = remote.call("POST", f"/incidents/{incident_id}/{step}", {})
    if not remote.json:
        click.echo(f"incident {answer['id']}: {answer['status']}")


@incident.command("ack")
@click.argument("incident_id", type=int)
@needs_server
def incident_ack(incident_id: int, remote: Remote) -> None:
    """Acknowledge an incident (meets its response deadline)."""
    _step(remote, incident_id, "ack")


@incident.command("resolve")
@click.argument("incident_id", type=int)
@needs_server
def incident_resolve(incident_id: int, remote: Remote) -> None:
    """Resolve an incident (never revives a killed flag)."""
    _step(remote, incident_id, "resolve")


@main.command("change")
@click.argument("key")
@click.argument("sha")
@click.option("--committed-at", required=True, help="ISO 8601, e.g. 2026-11-30T09:00:00Z")
@needs_server
def change(key: str, sha: str, committed_at: str, remote: Remote) -> None:
    """Record a commit: its lead time ends at the feature's next deployment."""
    answer = remote.call("POST", f"/features/{quoted(key)}/changes", {"sha": sha, "committed_at": committed_at})
    if not remote.json:
        click.echo(f"change {answer['id']} ({answer['sha']}) recorded for {key}")
