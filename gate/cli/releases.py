"""Exposure against a server: promote, rollout, rollback, kill, revive."""

from __future__ import annotations

from typing import Any

import click

from gate.cli.client import Remote, exposure_words, needs_server, quoted
from gate.cli.group import main


def _expose(remote: Remote, key: str, action: str, body: dict[str, Any]) -> None:
    answer = remote.call("POST", f"/features/{quoted(key)}/{action}", body)
    if not remote.json:
        click.echo(f"{answer['feature']}: {exposure_words(answer)} (version {answer['version']})")


@main.command("promote")
@click.argument("key")
@click.argument("ring")
@click.option("--percent", type=float, default=None, help="in the ring (default 100)")
@click.option("--override-reason", default=None, help="admin: past a failed gate, saying why")
@click.option("--build", default=None, help="judge only this build's evidence")
@needs_server
def promote(
    key: str, ring: str, percent: float | None, override_reason: str | None, build: str | None, remote: Remote
) -> None:
    """Expose a feature to a ring when its gate passes (exit 1 with the checks when it does not)."""
    body: dict[str, Any] = {"ring": ring}
    if build:
        body["build"] = build
    if percent is not None:
        body["percent"] = percent
    if override_reason:
        body["override_reason"] = override_reason
    _expose(remote, key, "promote", body)


@main.command("rollout")
@click.argument("key")
@click.argument("percent", type=float)
@needs_server
def rollout(key: str, percent: float, remote: Remote) -> None:
    """Change the percent in the current ring."""
    _expose(remote, key, "rollout", {"percent": percent})


@main.command("rollback")
@click.argument("key")
@click.argument("ring")
@click.option("--reason", default=None)
@needs_server
def rollback(key: str, ring: str, reason: str | None, remote: Remote) -> None:
    """Roll back to a ring (at 100%), or to off."""
    _expose(remote, key, "rollback", {"ring": None if ring == "off" else ring, "reason": reason})


@main.command("kill")
@click.argument("key")
@click.option("--reason", default=None)
@needs_server
def kill(key: str, reason: str | None, remote: Remote) -> None:
    """Kill a feature's flag everywhere at once."""
    _expose(remote, key, "kill", {"reason": reason})


@main.command("revive")
@click.argument("key")
@needs_server
def revive(key: str, remote: Remote) -> None:
    """Undo a kill: back where the feature was."""
    _expose(remote, key, "revive", {})
