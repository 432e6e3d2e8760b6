"""components and milestones (contract 8.3): a feature's components and integration criterion; events that
happen once across hosts (a component turning late)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.add_column(sa.Column("components", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("integration", sa.String(length=64), nullable=True))
    op.create_table(
        "component_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("feature_id", ID, nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("due", sa.String(length=10), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name="fk_component_events_feature_id_features"),
        sa.PrimaryKeyConstraint("id", name="pk_component_events"),
        sa.UniqueConstraint("feature_id", "component", "due", "kind", name="uq_component_events_once"),
    )


def downgrade() -> None:
    op.drop_table("component_events")
    with op.batch_alter_table("features", schema=None) as batch_op:
        batch_op.drop_column("integration")
        batch_op.drop_column("components")
