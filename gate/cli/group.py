"""The `gate` command group: a failure is one line on stderr and an exit code, never a traceback."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from gate.cli.exits import FAILED


class GateGroup(click.Group):
    """click's group, with one last net: whatever escapes a command (an answer of a shape no version of
    the server sends, a bug) is said in one line with exit 2, as contract 7.4 asks; GATE_DEBUG=1 shows
    the traceback instead."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("GATE_DEBUG") == "1":
                raise
            click.echo(f"gate: {unexpected(exc)}", err=True)
            sys.exit(FAILED)


def unexpected(exc: Exception) -> str:
    """An exception in words: what a reader can act on, without a traceback."""
    if isinstance(exc, KeyError | TypeError | IndexError | AttributeError):
        return f"the answer lacks what this command reads ({exc.__class__.__name__}: {exc}); is GATE_URL a Gate?"
    return f"{exc.__class__.__name__}: {exc}"


@click.group(cls=GateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gate", message="gate %(version)s")
def main() -> None:
    """Gate: release gates and feature flags for ring deployments."""
