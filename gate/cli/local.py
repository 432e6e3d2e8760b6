"""Commands that work on the local store (no --url): the app, who acts, and failures in words."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from gate.cli.exits import FAILED, code_for, fail
from gate.config import load_settings
from gate.domain.errors import ParseError
from gate.errors import GateError

SERVER_HINT = " (or give --url and --token to work against a server)"


def parse_errors(exc: ParseError, prefix: str = "") -> str:
    """Every error of a parse, one line each with its path."""
    return "\n".join(f"{prefix}{where}: {msg}" for where, msgs in exc.errors.items() for msg in msgs)


def _check_local_setup(hint: str) -> None:
    """Say what is missing for a local command, naming the paths and variables, before anything is created."""
    from sqlalchemy.engine import make_url

    from gate import migrate
    from gate.config import sqlite_path

    settings = load_settings()
    rings = os.path.abspath(settings["RINGS_FILE"])
    if not os.path.exists(rings):
        fail(FAILED, f"no rings file at {rings}: set GATE_RINGS_FILE or run from the folder that holds it{hint}")
    url = settings["DATABASE_URL"]
    path = sqlite_path(url)
    if path is not None and not os.path.exists(path):
        fail(FAILED, f"no database at {path}: run `gate db upgrade` there, or set GATE_DATABASE_URL{hint}")
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        current = migrate.is_current(url)
    except Exception as exc:
        fail(FAILED, f"cannot use the database {shown} (GATE_DATABASE_URL): {exc.__class__.__name__}")
    if not current:
        fail(FAILED, f"the database {shown} is not at the newest migration: run `gate db upgrade`")


@contextmanager
def local_app(*, server_hint: bool = True) -> Iterator[Flask]:
    """Gate's app on the local store; a GateError inside is said in words with the contract's exit code.
    `server_hint`: whether the command also takes --url (only then is it suggested)."""
    from gate.app import create_app

    _check_local_setup(SERVER_HINT if server_hint else "")
    try:
        app = create_app({"NUDGE_STORE": True})  # a write here reaches a SQLite file's servers at once
    except ParseError as exc:
        fail(FAILED, parse_errors(exc))
    with app.app_context():
        try:
            yield app
        except GateError as exc:
            fail(code_for(exc.status), exc.detail)
        finally:
            from gate.extensions import db

            db.session.remove()
            db.engine.dispose()


def cli_actor() -> str:
    """The actor of a local write: the operating-system user."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in some containers
        return "cli"
