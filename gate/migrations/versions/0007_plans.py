"""release plans: one row per feature with a plan, the spec and where its run stands

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("spec", sa.JSON(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("step", sa.Integer(), nullable=True),
        sa.Column("step_at", sa.DateTime(), nullable=True),
        sa.Column("started_by", sa.String(length=200), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rev", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name=op.f("fk_plans_feature_id_features")),
        sa.PrimaryKeyConstraint("feature_id", name=op.f("pk_plans")),
    )
    op.create_index(op.f("ix_plans_state"), "plans", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_plans_state"), table_name="plans")
    op.drop_table("plans")
