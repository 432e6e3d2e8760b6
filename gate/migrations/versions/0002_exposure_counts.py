"""exposure counts

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:39:54.463087
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exposure_counts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("feature_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("enabled", sa.BigInteger(), nullable=False),
        sa.Column("disabled", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["feature_id"], ["features.id"], name=op.f("fk_exposure_counts_feature_id_features")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exposure_counts")),
        sa.UniqueConstraint("feature_id", "day", name="uq_exposure_counts_day"),
    )


def downgrade() -> None:
    op.drop_table("exposure_counts")
