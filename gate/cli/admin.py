"""Commands for the operator of one Gate: the schema, tokens, the rings file, product files."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click

from gate.cli.exits import FAILED, REFUSED, fail
from gate.cli.group import main
from gate.cli.local import cli_actor, local_app, parse_errors
from gate.config import load_settings
from gate.domain.errors import ParseError
from gate.domain.roles import ROLES
from gate.domain.words import counted

if TYPE_CHECKING:
    from gate.domain.rings import RingsConfig


# ---- db ------------------------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Database schema."""


@db.command()
def upgrade() -> None:
    """Apply migrations (Alembic)."""
    from gate import migrate as migrations

    migrations.upgrade(load_settings()["DATABASE_URL"])
    click.echo("database is at the newest migration")


# ---- tokens --------------------------------------------------------------------------------------


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.option("--name", required=True, help="who acts with it: the actor of its writes")
@click.option(
    "--role", "roles", required=True, multiple=True, type=click.Choice(ROLES), help="a role; repeat for several"
)
@click.option("--owner", "owners", multiple=True, help="may write only to this owner's features; repeat for several")
@click.option("--expires", default=None, help="stops working after this long: 90d, 12h (at most 3650d)")
def token_create(name: str, roles: tuple[str, ...], owners: tuple[str, ...], expires: str | None) -> None:
    """Create a token and print its secret, alone, on stdout."""
    from gate.domain.durations import parse_duration
    from gate.services.context import now
    from gate.services.tokens import create_token

    try:
        lifetime = parse_duration(expires) if expires is not None else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from exc
    with local_app(server_hint=False):
        _, secret = create_token(
            name=name,
            roles=list(roles),
            owners=list(owners) or None,
            expires_at=now() + lifetime if lifetime is not None else None,
            actor=cli_actor(),
        )
    click.echo(secret)


@token.command("list")
def token_list() -> None:
    """List tokens (never their secrets): roles, owners, expiry, last use."""
    from gate.services.context import now
    from gate.services.tokens import list_tokens

    with local_app(server_hint=False):
        at = now()
        for t in list_tokens(limit=10000):
            if t.revoked_at:
                state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}"
            elif t.expires_at:
                state = f"{'expired' if t.expires_at <= at else 'expires'} {t.expires_at:%Y-%m-%d %H:%M}"
            else:
                state = "active"
            used = f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never"
            owners = f"  owners {','.join(t.owners)}" if t.owners else ""
            click.echo(
                f"{t.id:>5}  {t.name:<24} {','.join(t.roles):<16} created {t.created_at:%Y-%m-%d %H:%M}  "
                f"used {used}  {state}{owners}"
            )


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token: it stops working at once, its streams end."""
    from gate.services.tokens import revoke_token

    with local_app(server_hint=False):
        revoke_token(token_id=token_id, actor=cli_actor())
    click.echo(f"revoked token {token_id}")


# ---- rings and criteria --------------------------------------------------------------------------


@main.group()
def rings() -> None:
    """The rings file."""


@rings.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def rings_check(path: str) -> None:
    """Validate a rings file: a summary, or every error with its path."""
    from gate.domain.durations import format_duration
    from gate.ringsfile import load_rings_file

    try:
        config = load_rings_file(path)
        against = _check_rings_against_database(config)
    except ParseError as exc:
        fail(REFUSED, parse_errors(exc))  # contract 1: exit 1 and every error with its path
    click.echo(f"{path}: {len(config.rings)} rings: {' → '.join(config.names)} ({against})")
    for ring in config.rings:
        asks = []
        if ring.gate.soak:
            asks.append(f"soak {format_duration(ring.gate.soak)}")
        if ring.gate.block_on_incidents is not None:
            asks.append(f"no open incident of severity ≤ {ring.gate.block_on_incidents}")
        if ring.gate.zero_bug_bounce:
            asks.append("zero bugs")
        if ring.gate.rca_complete:
            asks.append("RCA closed")
        click.echo(f"  {ring.name}: {', '.join(asks) or 'criteria only'}")


def _check_rings_against_database(config: RingsConfig) -> str:
    """Refuse (ParseError) a rings file that drops a ring the configured database still uses, as `serve`
    would at start; say what the file was checked against."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from gate import migrate
    from gate.config import sqlite_path
    from gate.ringsfile import check_rings_in_use

    url = load_settings()["DATABASE_URL"]
    shown = make_url(url).render_as_string(hide_password=True)
    path = sqlite_path(url)
    if path is not None and not os.path.exists(path):
        return f"no database at {path} yet: the file alone was checked"
    try:
        current = migrate.is_current(url)
    except Exception as exc:  # unreachable or not a database: the file alone is still worth checking
        return f"the database {shown} cannot be read ({exc.__class__.__name__}): the file alone was checked"
    if not current:
        return f"the database {shown} is not migrated: the file alone was checked"
    engine = create_engine(url)
    try:
        with Session(engine) as session:
            check_rings_in_use(session, config)
    finally:
        engine.dispose()
    return f"every ring in use in {shown} is still there"


@main.group()
def criteria() -> None:
    """Product YAML."""


@criteria.command("apply")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def criteria_apply(paths: tuple[str, ...]) -> None:
    """Apply product YAML files, as PUT /api/v1/features/{key}/criteria does."""
    from gate.domain.features import parse_feature
    from gate.services.context import rings as loaded_rings
    from gate.services.features import apply_criteria
    from gate.yamlio import load_yaml

    with local_app(server_hint=False):
        specs, errors = [], []
        for path in paths:
            try:
                with open(path, "rb") as handle:
                    specs.append(parse_feature(load_yaml(handle.read(), source="$"), loaded_rings()))
            except ParseError as exc:
                errors.append(parse_errors(exc, prefix=f"{path}: "))
        if errors:
            fail(FAILED, "\n".join(errors))  # as the server's 422: refused input, exit 2
        for spec in specs:
            view = apply_criteria(spec=spec, actor=cli_actor())
            click.echo(f"{spec.key}: {counted(len(view.criteria), 'criterion', 'criteria')} applied")
