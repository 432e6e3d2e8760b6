"""incidents bugs changes outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 17:10:13.628648
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bugs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("reporter", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name=op.f("fk_bugs_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bugs")),
    )
    with op.batch_alter_table("bugs", schema=None) as batch_op:
        batch_op.create_index("ix_bugs_feature", ["feature_id", "closed_at"], unique=False)

    op.create_table(
        "changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sha", sa.String(length=64), nullable=False),
        sa.Column("committed_at", sa.DateTime(), nullable=False),
        sa.Column("reported_at", sa.DateTime(), nullable=False),
        sa.Column("reporter", sa.String(length=200), nullable=False),
        sa.Column("deployed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name=op.f("fk_changes_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_changes")),
    )
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.create_index("ix_changes_deployed", ["deployed_at"], unique=False)
        batch_op.create_index("ix_changes_pending", ["feature_id", "deployed_at"], unique=False)

    op.create_table(
        "incidents",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("ring", sa.String(length=64), nullable=True),
        sa.Column("dedup_key", sa.String(length=255), nullable=True),
        sa.Column("caused_by", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("reporter", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("deadline_at", sa.DateTime(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.Column("restored_at", sa.DateTime(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(), nullable=True),
        sa.Column("notified", sa.String(length=10), nullable=True),
        sa.ForeignKeyConstraint(
            ["caused_by"], ["deployment_events.id"], name=op.f("fk_incidents_caused_by_deployment_events")
        ),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name=op.f("fk_incidents_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.create_index("ix_incidents_caused_by", ["caused_by"], unique=False)
        batch_op.create_index("ix_incidents_feature", ["feature_id", "resolved_at"], unique=False)
        batch_op.create_index("ix_incidents_opened", ["opened_at"], unique=False)
        batch_op.create_index(
            "uq_incidents_open_dedup",
            ["dedup_key"],
            unique=True,
            postgresql_where=sa.text("resolved_at IS NULL AND dedup_key IS NOT NULL"),
            sqlite_where=sa.text("resolved_at IS NULL AND dedup_key IS NOT NULL"),
        )

    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("locked_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_outbox_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["delivered_at", "next_attempt_at"], unique=False)

    op.create_table(
        "rca_items",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("incident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_rca_items_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rca_items")),
    )
    with op.batch_alter_table("rca_items", schema=None) as batch_op:
        batch_op.create_index("ix_rca_items_incident", ["incident_id", "closed_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rca_items", schema=None) as batch_op:
        batch_op.drop_index("ix_rca_items_incident")

    op.drop_table("rca_items")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_incidents_open_dedup",
            postgresql_where=sa.text("resolved_at IS NULL AND dedup_key IS NOT NULL"),
            sqlite_where=sa.text("resolved_at IS NULL AND dedup_key IS NOT NULL"),
        )
        batch_op.drop_index("ix_incidents_opened")
        batch_op.drop_index("ix_incidents_feature")
        batch_op.drop_index("ix_incidents_caused_by")

    op.drop_table("incidents")
    with op.batch_alter_table("changes", schema=None) as batch_op:
        batch_op.drop_index("ix_changes_pending")
        batch_op.drop_index("ix_changes_deployed")

    op.drop_table("changes")
    with op.batch_alter_table("bugs", schema=None) as batch_op:
        batch_op.drop_index("ix_bugs_feature")

    op.drop_table("bugs")
