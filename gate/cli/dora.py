"""The DORA metrics for a terminal, from the local store or a server."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote

import click

from gate.cli.client import Remote, remote_options
from gate.cli.group import main
from gate.cli.local import local_app
from gate.domain.words import counted


@main.command("dora")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 3650))
@click.option("--benchmark", default=None, help="DORA report year of the level table")
@remote_options
def dora_command(days: int, benchmark: str | None, remote: Remote | None) -> None:
    """The DORA metrics over the last N UTC days, for a terminal (locally, or from the server with --url)."""
    if remote is not None:
        query = f"?days={days}" + (f"&benchmark={quote(benchmark)}" if benchmark else "")
        answer = remote.call("GET", "/metrics/dora" + query)
        if not remote.json:
            answer["since"], answer["until"] = (datetime.fromisoformat(answer[k]) for k in ("since", "until"))
            print_dora(answer, days)
        return
    from gate.services.dora import metrics

    with local_app():
        m = metrics(days=days, benchmark=benchmark)
    print_dora(m, days)


def print_dora(m: dict[str, Any], days: int) -> None:
    """The four metrics in words: the same lines from the local store and from a server."""

    def hours(value: float | None) -> str:
        return "no data" if value is None else f"{value:g} h"

    freq, lead, fail, restore = (
        m[k] for k in ("deployment_frequency", "lead_time_hours", "change_fail_rate", "time_to_restore_hours")
    )
    click.echo(
        f"DORA metrics, {m['since']:%Y-%m-%d} to {m['until']:%Y-%m-%d %H:%M} UTC ({counted(days, 'day')}), "
        f"levels from the {m['benchmark']} report"
    )
    click.echo(
        f"  Deployment frequency  {counted(freq['deployments'], 'deployment')} on "
        f"{counted(freq['deploy_days'], 'day')}, {freq['per_week']:g} a week  [{freq['level']}]"
    )
    click.echo(
        f"  Lead time             median {hours(lead['median'])}, p90 {hours(lead['p90'])} over "
        f"{counted(lead['changes'], 'change')}  [{lead['level'] or '-'}]"
    )
    percent = "no data" if fail["percent"] is None else f"{fail['percent']}%"
    click.echo(
        f"  Change fail rate      {percent} ({fail['failed']} of {fail['deployments']})  [{fail['level'] or '-'}]"
    )
    click.echo(
        f"  Time to restore       median {hours(restore['median'])} over {counted(restore['incidents'], 'incident')}  "
        f"[{restore['level'] or '-'}]"
    )
