"""Features, their criteria, votes and gates: list, show, check, wait, apply, vote, status."""

from __future__ import annotations

import json
import sys
import time
from typing import Any
from urllib.parse import quote, urlencode

import click

from gate.cli.client import Remote, check_line, exposure_words, needs_server, quoted, remote_options
from gate.cli.exits import FAILED, REFUSED, fail
from gate.cli.group import main
from gate.cli.local import local_app
from gate.cli.plans import plan_headline
from gate.domain.durations import parse_duration
from gate.domain.words import counted


def seconds(text: str) -> float:
    """'90s', '10m', '2h' in seconds (the durations of rings.yaml)."""
    try:
        return parse_duration(text.strip()).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc


@main.command("features")
@click.option("--owner", default=None, help="only this owner's features")
@remote_options
def features(owner: str | None, remote: Remote | None) -> None:
    """List live features and where each stands (locally, or from the server with --url)."""
    if remote is not None:
        listed = remote.call("GET", "/features" + (f"?owner={quote(owner)}" if owner else ""), shape=list)
        if remote.json:
            return
    else:
        from gate.schemas import FeatureSummaryOut
        from gate.services.features import list_features

        with local_app():
            listed = FeatureSummaryOut(many=True).dump(list_features(limit=10000, before=None, owner=owner))
    for f in listed:
        click.echo(f"{f['key']:<32} {exposure_words(f['state']):<28} {f['name']} ({f['owner']})")


@main.command("show")
@click.argument("key")
@needs_server
def show(key: str, remote: Remote) -> None:
    """A feature, its criteria and their votes."""
    f = remote.call("GET", f"/features/{quoted(key)}")
    if remote.json:
        return
    click.echo(f"{f['key']} — {f['name']} (owner {f['owner']}): {exposure_words(f['state'])}")
    for c in f["criteria"]:
        votes = ", ".join(f"{v['voter']} {v['vote']}" for v in c["votes"]) or "no votes"
        mark = "x" if c["passed"] else " "
        click.echo(f"  [{mark}] {c['id']} [{c['ring']}] {c['description']}: {c['detail']} ({votes})")


def _gate_path(key: str, ring: str | None, build: str | None = None) -> str:
    query = urlencode({k: v for k, v in (("ring", ring), ("build", build)) if v})
    return f"/features/{quoted(key)}/gate" + (f"?{query}" if query else "")


@main.command("check")
@click.argument("key")
@click.option("--ring", default=None, help="the ring to enter (default: the next)")
@click.option("--build", default=None, help="judge only this build's evidence")
@needs_server
def check(key: str, ring: str | None, build: str | None, remote: Remote) -> None:
    """Evaluate a gate: exit 0 if it passes, 1 if not (the failed checks on stderr)."""
    gate = remote.call("GET", _gate_path(key, ring, build))
    if not remote.json:
        print_gate(gate, not gate["passed"])
    sys.exit(0 if gate["passed"] is True else REFUSED)


@main.command("wait")
@click.argument("key")
@click.option("--ring", default=None, help="the ring to enter (default: the next)")
@click.option("--timeout", "timeout", default="30m", show_default=True, help="give up after (10s, 30m, 2h)")
@click.option("--interval", default="10s", show_default=True, help="ask again every (10s, 1m)")
@click.option("--build", default=None, help="judge only this build's evidence")
@needs_server
def wait(key: str, ring: str | None, timeout: str, interval: str, build: str | None, remote: Remote) -> None:
    """Wait until a gate passes (exit 0); exit 1 with the failed checks when the time is up."""
    deadline, pause = time.monotonic() + seconds(timeout), seconds(interval)
    json_output, remote.json = remote.json, False  # print the last answer only
    while True:
        gate = remote.call("GET", _gate_path(key, ring, build))
        if gate["passed"] is True or time.monotonic() + pause > deadline:
            break
        time.sleep(pause)
    if json_output:
        click.echo(json.dumps(gate, ensure_ascii=False))
    else:
        print_gate(gate, not gate["passed"])
    if gate["passed"] is not True:
        click.echo(f"timed out after {timeout}: the gate for {gate['ring']} still refuses", err=True)
    sys.exit(0 if gate["passed"] is True else REFUSED)


@main.command("apply")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@needs_server
def apply(paths: tuple[str, ...], remote: Remote) -> None:
    """Apply product YAML files (each names its feature)."""
    from gate.domain.errors import ParseError
    from gate.yamlio import load_yaml

    for path in paths:
        with open(path, "rb") as handle:
            data = handle.read()
        try:
            document = load_yaml(data)
        except ParseError as exc:
            fail(FAILED, f"{path}: {exc}")
        key = document.get("feature") if isinstance(document, dict) else None
        if not isinstance(key, str):
            fail(FAILED, f"{path}: no `feature:` key")
        answer = remote.call("PUT", f"/features/{quoted(key)}/criteria", data=data, content_type="application/yaml")
        if not remote.json:
            click.echo(f"{path}: {answer['key']} has {counted(len(answer['criteria']), 'criterion', 'criteria')}")


@main.command("vote")
@click.argument("key")
@click.argument("criterion")
@click.argument("vote", type=click.Choice(["yes", "no"]))
@click.option("--comment", default=None)
@needs_server
def vote(key: str, criterion: str, vote: str, comment: str | None, remote: Remote) -> None:
    """Vote yes or no on a criterion."""
    body = {"vote": vote, **({"comment": comment} if comment else {})}
    answer = remote.call("POST", f"/features/{quoted(key)}/criteria/{quoted(criterion)}/votes", body)
    if not remote.json:
        click.echo(f"{answer['voter']} voted {answer['vote']} on {key}/{criterion}")


@main.command()
@click.argument("feature")
@remote_options
def status(feature: str, remote: Remote | None) -> None:
    """Ring, rollout and gate of a feature (locally, or from the server with --url)."""
    if remote is not None:
        shown = remote.call("GET", f"/features/{quoted(feature)}")
        gate = remote.call("GET", _gate_path(feature, None))
        if not remote.json:
            code, plan = remote.request("GET", f"/features/{quoted(feature)}/plan")
            print_status(shown, gate, plan if code == 200 and isinstance(plan, dict) else None)
        return
    from gate.errors import NotFound
    from gate.schemas import FeatureOut, GateOut, PlanOut
    from gate.services.features import get_feature
    from gate.services.plans import get_plan
    from gate.services.releases import gate_for

    with local_app():
        view = get_feature(feature)
        result = gate_for(key=feature, ring=None)
        try:
            plan = PlanOut().dump(get_plan(feature))
        except NotFound:
            plan = None
        print_status(FeatureOut().dump(view), GateOut().dump(result), plan)  # the API's words, locally too


def print_status(feature: dict[str, Any], gate: dict[str, Any], plan: dict[str, Any] | None = None) -> None:
    click.echo(f"{feature['key']} — {feature['name']} (owner {feature['owner']})")
    click.echo(f"exposure: {exposure_words(feature['state'])}   snapshot version {feature['version']}")
    print_gate(gate)
    if plan is not None:
        click.echo(f"release {plan_headline(plan)}")


def print_gate(gate: dict[str, Any], err: bool = False) -> None:
    click.echo(f"gate for {gate['ring']}: {'PASSES' if gate['passed'] else 'REFUSED'}", err=err)
    for c in gate["checks"]:
        click.echo(check_line(c), err=err)
