"""core schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 16:22:29.374879
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("feature", sa.String(length=64), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit")),
    )
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.create_index("ix_audit_feature", ["feature", "id"], unique=False)

    op.create_table(
        "features",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("design", sa.Text(), nullable=True),
        sa.Column("ring", sa.String(length=64), nullable=True),
        sa.Column("percent_bp", sa.Integer(), nullable=False),
        sa.Column("killed", sa.Boolean(), nullable=False),
        sa.Column("full_since", sa.DateTime(), nullable=True),
        sa.Column("exposure_rev", sa.Integer(), nullable=False),
        sa.Column("archived_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_evaluated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_features")),
        sa.UniqueConstraint("key", name=op.f("uq_features_key")),
    )
    op.create_table(
        "gate_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("tokens_version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gate_state")),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("secret_hash", name=op.f("uq_tokens_secret_hash")),
    )
    op.create_table(
        "criterion_revisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("criterion", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("ring", sa.String(length=64), nullable=False),
        sa.Column("required_yes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("retired_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feature_id"], ["features.id"], name=op.f("fk_criterion_revisions_feature_id_features")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_criterion_revisions")),
        sa.UniqueConstraint("feature_id", "criterion", "revision", name="uq_criterion_revisions_revision"),
    )
    with op.batch_alter_table("criterion_revisions", schema=None) as batch_op:
        batch_op.create_index("ix_criterion_revisions_current", ["feature_id", "retired_at"], unique=False)

    op.create_table(
        "deployment_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("ring", sa.String(length=64), nullable=True),
        sa.Column("percent_bp", sa.Integer(), nullable=False),
        sa.Column("from_ring", sa.String(length=64), nullable=True),
        sa.Column("from_percent_bp", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("overridden", sa.Boolean(), nullable=False),
        sa.Column("is_deployment", sa.Boolean(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name=op.f("fk_deployment_events_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_events")),
    )
    with op.batch_alter_table("deployment_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployment_events_at"), ["at"], unique=False)
        batch_op.create_index("ix_deployment_events_feature", ["feature_id", "id"], unique=False)

    op.create_table(
        "votes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("revision_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("voter", sa.String(length=200), nullable=False),
        sa.Column("vote", sa.String(length=3), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["criterion_revisions.id"], name=op.f("fk_votes_revision_id_criterion_revisions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_votes")),
    )
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.create_index("ix_votes_revision", ["revision_id", "id"], unique=False)
    state = sa.table(
        "gate_state",
        sa.column("id", sa.Integer),
        sa.column("version", sa.BigInteger),
        sa.column("tokens_version", sa.BigInteger),
    )
    op.bulk_insert(state, [{"id": 1, "version": 1, "tokens_version": 1}])


def downgrade() -> None:
    with op.batch_alter_table("votes", schema=None) as batch_op:
        batch_op.drop_index("ix_votes_revision")

    op.drop_table("votes")
    with op.batch_alter_table("deployment_events", schema=None) as batch_op:
        batch_op.drop_index("ix_deployment_events_feature")
        batch_op.drop_index(batch_op.f("ix_deployment_events_at"))

    op.drop_table("deployment_events")
    with op.batch_alter_table("criterion_revisions", schema=None) as batch_op:
        batch_op.drop_index("ix_criterion_revisions_current")

    op.drop_table("criterion_revisions")
    op.drop_table("tokens")
    op.drop_table("gate_state")
    op.drop_table("features")
    with op.batch_alter_table("audit", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_feature")

    op.drop_table("audit")
