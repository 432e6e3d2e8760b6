"""Migrations: from an empty database to the newest, and data kept across a migration that adds columns."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, pool, text

from gate import migrate as migrations


def test_migrating_fills_the_dora_columns_of_older_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/gate.db"
    migrations.upgrade(url, "0003")
    assert not migrations.is_current(url)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO features (id, key, name, owner, percent_bp, killed, exposure_rev, created_at, "
                "updated_at) VALUES (1, 'f', 'F', 'o', 0, 0, 0, '2026-11-01 00:00:00', '2026-11-01 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO deployment_events (feature_id, kind, percent_bp, from_percent_bp, actor, overridden, "
                "is_deployment, failed, version, at) VALUES (1, 'promote', 10000, 0, 'a', 0, 1, 0, 2, "
                "'2026-11-02 23:30:00.000000')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO changes (feature_id, sha, committed_at, reported_at, reporter, deployed_at) VALUES "
                "(1, 'abc', '2026-11-02 20:00:00.000000', '2026-11-02 21:00:00.000000', 'r', "
                "'2026-11-02 23:30:00.000000')"
            )
        )
    migrations.upgrade(url)
    assert migrations.is_current(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT day FROM deployment_events")).scalar() == "2026-11-02"
        assert conn.execute(text("SELECT lead_seconds FROM changes")).scalar() == 3.5 * 3600
    engine.dispose()


def test_the_models_match_the_migrations(database_url: str) -> None:
    """What the typed rows declare is what the migrations build, on both stores."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from gate.models import Base

    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_every_token_keeps_working_across_the_roles_migration(database_url: str) -> None:
    """0008 turns each token's role into a one-element list of roles (and back, on a downgrade)."""
    from alembic import command

    from gate.services.tokens import hash_secret

    command.downgrade(migrations.alembic_config(database_url), "0007")
    engine = create_engine(database_url, poolclass=pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM tokens"))
            conn.execute(
                text(
                    "INSERT INTO tokens (id, name, role, secret_hash, created_at) VALUES "
                    "(1, 'old-qa', 'qa', :h1, '2026-11-01 00:00:00'), (2, 'old-sdk', 'sdk', :h2, '2026-11-01 00:00:00')"
                ),
                {"h1": hash_secret("gate_one"), "h2": hash_secret("gate_two")},
            )
        migrations.upgrade(database_url)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT name, roles, owners, expires_at FROM tokens ORDER BY id")).all()
        assert [tuple(r) for r in rows] == [("old-qa", "qa", None, None), ("old-sdk", "sdk", None, None)]
        from gate.app import create_app
        from tests.support import RINGS

        app = create_app({"DATABASE_URL": database_url, "RINGS_FILE": str(RINGS), "TESTING": True})
        client = app.test_client()
        assert client.get("/api/v1/rings", headers={"Authorization": "Bearer gate_one"}).status_code == 200
        assert client.get("/api/v1/sdk/snapshot", headers={"Authorization": "Bearer gate_two"}).status_code == 200
        from gate.extensions import db
        from gate.runtime import runtime

        runtime(app).watcher.stop()
        with app.app_context():
            db.engine.dispose()
        with engine.begin() as conn:
            conn.execute(text("UPDATE tokens SET roles = 'product,qa' WHERE id = 1"))
        command.downgrade(migrations.alembic_config(database_url), "0007")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT role FROM tokens ORDER BY id")).scalars().all() == ["product", "sdk"]
        migrations.upgrade(database_url)
    finally:
        engine.dispose()
