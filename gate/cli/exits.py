"""The CLI's exit codes (contract 7.4), the same locally and against a server."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

DONE, REFUSED, FAILED = 0, 1, 2


def fail(code: int, message: str) -> NoReturn:
    """Say why on stderr, in one line or a few, and exit with `code`."""
    click.echo(message, err=True)
    sys.exit(code)


def code_for(status: int) -> int:
    """The exit code for an HTTP status or a GateError's: 409 (a gate, a race, a state) is a refusal."""
    return REFUSED if status == 409 else FAILED
