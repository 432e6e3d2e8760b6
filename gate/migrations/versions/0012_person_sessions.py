"""sign-in through the identity provider (contract 8.4): a dashboard session may be a person's, with the roles
their groups gave them, instead of a token's

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.alter_column("token_id", existing_type=ID, nullable=True)
        batch_op.add_column(sa.Column("person", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("roles", sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM web_sessions WHERE token_id IS NULL")  # people's sessions end: they sign in again
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_column("roles")
        batch_op.drop_column("person")
        batch_op.alter_column("token_id", existing_type=ID, nullable=False)
