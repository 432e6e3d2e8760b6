"""evidence (contract 8.2): a criterion revision may ask for a CI report; reports' verdicts are kept per build

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("criterion_revisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("max_age_seconds", sa.Integer(), nullable=True))
    op.create_table(
        "evidence",
        sa.Column("id", ID, nullable=False),
        sa.Column("revision_id", ID, nullable=False),
        sa.Column("build", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("link", sa.Text(), nullable=True),
        sa.Column("reporter", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"], ["criterion_revisions.id"], name="fk_evidence_revision_id_criterion_revisions"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_evidence"),
    )
    op.create_index("ix_evidence_revision", "evidence", ["revision_id", "id"])
    op.create_index("ix_evidence_revision_build", "evidence", ["revision_id", "build", "id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_revision_build", table_name="evidence")
    op.drop_index("ix_evidence_revision", table_name="evidence")
    op.drop_table("evidence")
    with op.batch_alter_table("criterion_revisions", schema=None) as batch_op:
        batch_op.drop_column("max_age_seconds")
        batch_op.drop_column("evidence")
